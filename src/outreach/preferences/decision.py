"""The one entry point: whether, where and when a communication goes out.

``decide`` combines the other rules in the order a compliance officer would read them: the
deadline, then channels by reachability and consent, then for each usable channel in order the send
time (quiet hours, legal floor, work hours, best hour), consent still valid at that time, and
frequency caps. The first channel that passes everything is scheduled; otherwise the job is
suppressed with the most telling reason (see ``channel_choice.REASON_PRECEDENCE``).

Caps are per channel, so a marketing message capped on e-mail may still go by SMS within the SMS
cap. The Florida floor and marketing cap follow the number: they bind SMS and WhatsApp to a Florida
number, not e-mail, so a reminder too late for a Florida SMS may still go by e-mail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from outreach.domain import Channel, Purpose, SuppressionReason
from outreach.preferences.boundary import as_purpose, as_utc, optional_utc
from outreach.preferences.channel_choice import rank_channels, suppressed_for
from outreach.preferences.consent import ConsentState, channel_permission
from outreach.preferences.frequency_caps import SentRecord, frequency_refusal
from outreach.preferences.hierarchy import EffectivePreferences
from outreach.preferences.legal_floor import is_florida_number
from outreach.preferences.outcomes import Decision, Scheduled, Suppressed
from outreach.preferences.send_time import Exploration, SendTime, choose_send_time


@dataclass(frozen=True, slots=True)
class CommRequest:
    """A communication the pipeline wants sent.

    ``deadline`` is the last acceptable send instant (a reminder must go before the appointment);
    ``None`` means the message stays useful whenever it goes.
    """

    purpose: Purpose
    requested_at: datetime
    deadline: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "purpose", as_purpose(self.purpose))


def decide(
    request: CommRequest,
    prefs: EffectivePreferences,
    consent: ConsentState,
    history: Sequence[SentRecord],
    now: datetime,
    permanently_failed_channels: frozenset[Channel] = frozenset(),
    exploration: Exploration | None = None,
) -> Decision:
    """Schedule the request on the best permitted channel at the earliest allowed time, or say no.

    ``history`` holds the patient's sent (and already planned) messages, for frequency caps.
    ``exploration`` lets a flexible message go at a random allowed hour (``send_time``).
    Naive datetimes are refused with ``ValueError``.
    """
    now = as_utc(now, "now")
    requested_at = as_utc(request.requested_at, "requested_at")
    deadline = optional_utc(request.deadline, "deadline")
    purpose = as_purpose(request.purpose)
    earliest = requested_at if requested_at > now else now
    if deadline is not None and deadline < earliest:
        return Suppressed(SuppressionReason.DEADLINE_PASSED, "the deadline passed before planning")

    ranking = rank_channels(purpose, prefs, consent, now, permanently_failed_channels)
    later_refusals: list[tuple[Channel, SuppressionReason]] = []
    # The send time depends on the channel only through the Florida floor: plan at most twice.
    planned: dict[bool, SendTime | Suppressed] = {}
    for channel, address in ranking.usable:
        florida = channel is not Channel.EMAIL and is_florida_number(address)
        chosen = planned.get(florida)
        if chosen is None:
            chosen = planned[florida] = choose_send_time(
                earliest, deadline, purpose, prefs, florida, exploration
            )
        if isinstance(chosen, Suppressed):
            later_refusals.append((channel, chosen.reason))
            continue
        send_at = chosen.at
        if consent.expires_at is not None and send_at >= consent.expires_at:
            later_refusals.append((channel, SuppressionReason.CONSENT_EXPIRED))
            continue
        capped = frequency_refusal(purpose, channel, send_at, prefs, history, florida)
        if capped is not None:
            later_refusals.append((channel, capped))
            continue
        return Scheduled(
            channel,
            address,
            send_at,
            prefs.language,
            prefs.timezone,
            chosen.source,
            chosen.propensity,
        )

    suppressed = suppressed_for(ranking, later_refusals)
    timing = [p.detail for p in planned.values() if isinstance(p, Suppressed)]
    if timing and suppressed.reason is SuppressionReason.QUIET_HOURS_DEADLINE:
        return Suppressed(suppressed.reason, f"{suppressed.detail} ({timing[0]})")
    return suppressed


def recheck_at_send_time(
    purpose: Purpose, channel: Channel, consent: ConsentState, now: datetime
) -> SuppressionReason | None:
    """The scheduler's last word before sending: ``None`` to send, else why the job is suppressed.

    Consent may have changed since planning (a STOP, an expiry); opt-outs bind urgent messages too.
    """
    return channel_permission(purpose, channel, consent, now)
