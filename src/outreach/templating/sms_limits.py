"""How many SMS segments each purpose may cost.

Long texts cost money and read badly; a template that renders past its purpose's limit is a
template to shorten, so the renderer refuses it instead of quietly sending four segments.
Limits are sized so every seed template fits in its worst realistic case: UCS-2 (one accented
letter in a clinic or patient name is enough: 67 characters a part instead of 153) and, for
purposes carrying a one-time signed portal link, about 125 characters of URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from outreach.domain import Purpose
from outreach.templating.errors import SmsSegmentLimitExceeded
from outreach.templating.sms_encoding import SmsCost

SMS_SEGMENT_LIMITS: Mapping[Purpose, int] = MappingProxyType(
    {
        Purpose.APPT_REMINDER: 2,
        Purpose.URGENT: 2,
        Purpose.APPT_CONFIRM: 3,  # also carries the call-back number
        Purpose.NO_SHOW: 3,  # carries a booking link
        Purpose.RX_REFILL: 4,  # portal link
        Purpose.LAB_READY: 4,  # portal link
        Purpose.CAMPAIGN_EDUCATION: 4,  # portal link
    }
)


def check_segment_limit(
    purpose: Purpose, cost: SmsCost, limits: Mapping[Purpose, int] = SMS_SEGMENT_LIMITS
) -> None:
    """Raise ``SmsSegmentLimitExceeded`` when ``cost`` is over the purpose's limit."""
    limit = limits[purpose]
    if cost.segments > limit:
        raise SmsSegmentLimitExceeded(purpose, cost.segments, limit, cost.encoding)
