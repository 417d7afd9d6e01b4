"""Which purposes may move to the next allowed channel when one fails.

Time-bound and care messages are worth another channel: a confirmation that bounced by e-mail
should still reach the patient by SMS. Marketing is not: a campaign goes on the channel the
patient opted into for it, or not at all.
"""

from __future__ import annotations

from outreach.domain import Purpose


def may_fall_back(purpose: Purpose) -> bool:
    """Whether a job of this purpose may go on another channel after failing on one."""
    return not purpose.is_marketing
