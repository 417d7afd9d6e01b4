"""What a decision can be: scheduled on a channel at an instant, or suppressed with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from outreach.domain import Channel, SendTimeSource, SuppressionReason
from outreach.preferences.addresses import mask_email, mask_phone


@dataclass(frozen=True, slots=True, repr=False)
class Scheduled:
    """Send on ``channel`` to ``address`` at ``send_at`` (aware UTC), rendered in ``language``.

    ``timezone`` is the patient's zone, for rendering local times in the message.
    ``send_time_source`` says how ``send_at`` was chosen and ``send_time_propensity`` the
    probability its hour had of being chosen (see ``send_time``).
    """

    channel: Channel
    address: str
    send_at: datetime
    language: str
    timezone: str
    send_time_source: SendTimeSource = SendTimeSource.DEFAULT
    send_time_propensity: float = 1.0

    def __repr__(self) -> str:
        masked = (
            mask_email(self.address) if self.channel is Channel.EMAIL else mask_phone(self.address)
        )
        return (
            f"Scheduled(channel={self.channel.value!r}, address={masked!r}, "
            f"send_at={self.send_at.isoformat()!r}, language={self.language!r}, "
            f"timezone={self.timezone!r}, send_time_source={self.send_time_source.value!r})"
        )


@dataclass(frozen=True, slots=True)
class Suppressed:
    """The job ends ``suppressed``: a machine-readable reason and a detail free of personal data."""

    reason: SuppressionReason
    detail: str


Decision = Scheduled | Suppressed
