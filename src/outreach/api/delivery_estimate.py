"""When a scheduled message should reach the patient: an estimate, never a promise.

Once a provider reported delivery that time is the answer. Before, it is the moment the message
went (or is planned to go) out plus a typical latency of the channel: the dispatcher's polling,
the provider's queue and the carrier or mailbox. Retries, rate limits, carrier filtering and a
phone that is off make real deliveries later; a message that ended without delivery (cancelled,
suppressed, failed, bounced) has no estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from outreach.domain import Channel, JobStatus

# Typical time from the planned send moment to the patient's device, per channel.
TYPICAL_DELIVERY_LATENCY: Mapping[Channel, timedelta] = {
    Channel.EMAIL: timedelta(minutes=2),  # relays and greylisting: seconds to a few minutes
    Channel.SMS: timedelta(seconds=30),  # carrier hand-off: usually a few seconds
    Channel.WHATSAPP: timedelta(seconds=15),  # Cloud API to an online phone: seconds
}
# A plugin channel not listed above.
DEFAULT_DELIVERY_LATENCY = timedelta(minutes=2)

_NOT_DELIVERABLE = frozenset(
    {JobStatus.CANCELLED, JobStatus.SUPPRESSED, JobStatus.FAILED, JobStatus.BOUNCED}
)


def estimated_delivery(
    channel: Channel | None,
    status: JobStatus,
    scheduled_for: datetime,
    sent_at: datetime | None = None,
    delivered_at: datetime | None = None,
) -> datetime | None:
    """The reported delivery time, else (sent or scheduled moment) + the channel's latency."""
    if channel is None or status in _NOT_DELIVERABLE:
        return None
    if delivered_at is not None:
        return delivered_at
    latency = TYPICAL_DELIVERY_LATENCY.get(channel, DEFAULT_DELIVERY_LATENCY)
    return (sent_at or scheduled_for) + latency
