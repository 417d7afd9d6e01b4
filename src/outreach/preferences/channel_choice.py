"""Channel choice: which channels to try for a message, in what order, and why others are refused.

Order: the patient's preferred channel first, then the fallback order. The fallback order is the
purpose's default below unless a level more specific than global set ``channel_order``, which is
then an explicit choice and applies to every purpose. Channels outside ``allowed_channels``, or
not in the order, are never tried.

A channel is reachable when it has a valid address (WhatsApp uses the phone number when no
WhatsApp number is given) and is not in ``permanently_failed_channels``. When no channel can be
used, the reason reported is ``no_reachable_channel`` if none was reachable, else the most telling
of the refusals, by ``REASON_PRECEDENCE`` — counting only the permitted channels' timing and cap
refusals when there are any (they are what stopped the message): the patient's own word first
(``opted_out``), then what a renewal would fix (``consent_expired``), missing consent
(``no_consent``), missing marketing opt-in (``no_marketing_opt_in``), and only then the temporary
refusals (``frequency_cap``, ``quiet_hours_deadline``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType

from outreach.domain import AddressKind, Channel, Purpose, SuppressionReason, address_kind_of
from outreach.preferences.boundary import as_channel, as_channels, as_purpose, as_utc
from outreach.preferences.consent import ConsentState, consent_refusal
from outreach.preferences.hierarchy import EffectivePreferences, PreferenceLevel
from outreach.preferences.outcomes import Suppressed

_EMAIL, _SMS, _WHATSAPP = Channel.EMAIL, Channel.SMS, Channel.WHATSAPP

DEFAULT_FALLBACK_ORDER: Mapping[Purpose, tuple[Channel, ...]] = MappingProxyType(
    {
        # Time-bound and short: the phone first.
        Purpose.APPT_CONFIRM: (_SMS, _WHATSAPP, _EMAIL),
        Purpose.APPT_REMINDER: (_SMS, _WHATSAPP, _EMAIL),
        Purpose.NO_SHOW: (_SMS, _EMAIL, _WHATSAPP),
        Purpose.RX_REFILL: (_SMS, _EMAIL, _WHATSAPP),
        # A portal link to results reads better in a mailbox than on a lock screen.
        Purpose.LAB_READY: (_EMAIL, _SMS, _WHATSAPP),
        # Marketing is least intrusive by e-mail.
        Purpose.CAMPAIGN_EDUCATION: (_EMAIL, _SMS, _WHATSAPP),
        # The fastest channel that is read at once.
        Purpose.URGENT: (_SMS, _WHATSAPP, _EMAIL),
    }
)

REASON_PRECEDENCE: tuple[SuppressionReason, ...] = (
    SuppressionReason.OPTED_OUT,
    SuppressionReason.CONSENT_EXPIRED,
    SuppressionReason.NO_CONSENT,
    SuppressionReason.NO_MARKETING_OPT_IN,
    SuppressionReason.NO_WHATSAPP_OPT_IN,
    SuppressionReason.FREQUENCY_CAP,
    SuppressionReason.QUIET_HOURS_DEADLINE,
    SuppressionReason.DEADLINE_PASSED,
    SuppressionReason.PHI_POLICY,
    SuppressionReason.NO_REACHABLE_CHANNEL,
)
_RANK = {reason: rank for rank, reason in enumerate(REASON_PRECEDENCE)}


@lru_cache(maxsize=4_096)
def _ordered(
    purpose: Purpose,
    preferred: Channel | None,
    allowed: frozenset[Channel],
    explicit_order: tuple[Channel, ...] | None,
) -> tuple[Channel, ...]:
    fallback = explicit_order if explicit_order is not None else DEFAULT_FALLBACK_ORDER[purpose]
    order = ((preferred,) if preferred is not None else ()) + fallback
    seen: list[Channel] = []
    for channel in order:
        if channel in allowed and channel not in seen:
            seen.append(channel)
    return tuple(seen)


def channel_order_for(purpose: Purpose, prefs: EffectivePreferences) -> tuple[Channel, ...]:
    """The channels to try for ``purpose``, best first, restricted to the allowed ones."""
    purpose = as_purpose(purpose)
    explicit = (
        prefs.channel_order
        if prefs.sources.get("channel_order") is not PreferenceLevel.GLOBAL
        else None
    )
    return _ordered(purpose, prefs.preferred_channel, prefs.allowed_channels, explicit)


def address_for(channel: Channel, prefs: EffectivePreferences) -> str | None:
    """The validated address a channel would use, or ``None`` when the channel cannot reach."""
    kind = address_kind_of(as_channel(channel))
    if kind is AddressKind.EMAIL:
        return prefs.email
    if kind is AddressKind.PHONE:
        return prefs.phone
    if kind is AddressKind.WHATSAPP:
        return prefs.whatsapp if prefs.whatsapp is not None else prefs.phone
    return None  # a channel no plugin registered here reaches nobody


@dataclass(frozen=True, slots=True)
class ChannelRanking:
    """Channels usable for a message, best first, and why the others were set aside."""

    usable: tuple[tuple[Channel, str], ...]
    refused: tuple[tuple[Channel, SuppressionReason], ...]  # reachable but refused by consent
    unreachable: tuple[Channel, ...]


def rank_channels(
    purpose: Purpose,
    prefs: EffectivePreferences,
    consent: ConsentState,
    now: datetime,
    permanently_failed_channels: frozenset[Channel] = frozenset(),
) -> ChannelRanking:
    """Split the candidate channels into usable (reachable and consented), refused, unreachable."""
    purpose = as_purpose(purpose)
    now = as_utc(now, "now")
    permanently_failed_channels = as_channels(permanently_failed_channels)
    usable: list[tuple[Channel, str]] = []
    refused: list[tuple[Channel, SuppressionReason]] = []
    unreachable: list[Channel] = []
    for channel in channel_order_for(purpose, prefs):
        address = address_for(channel, prefs)
        if address is None or channel in permanently_failed_channels:
            unreachable.append(channel)
            continue
        reason = consent_refusal(purpose, channel, consent, now)
        if reason is None:
            usable.append((channel, address))
        else:
            refused.append((channel, reason))
    return ChannelRanking(tuple(usable), tuple(refused), tuple(unreachable))


def most_telling_reason(reasons: Iterable[SuppressionReason]) -> SuppressionReason:
    """The reason to report when every channel was refused; see ``REASON_PRECEDENCE``."""
    return min(reasons, key=_RANK.__getitem__, default=SuppressionReason.NO_REACHABLE_CHANNEL)


def refusal_detail(refusals: Iterable[tuple[Channel, SuppressionReason]]) -> str:
    """A per-channel account of refusals, free of personal data, for the suppressed job."""
    return "; ".join(f"{channel.value}: {reason.value}" for channel, reason in refusals)


def choose_channel(
    purpose: Purpose,
    prefs: EffectivePreferences,
    consent: ConsentState,
    now: datetime,
    permanently_failed_channels: frozenset[Channel] = frozenset(),
) -> tuple[Channel, str] | Suppressed:
    """The best channel and its address by reachability and consent alone, or why there is none.

    ``decide`` goes further (caps and send time may move it to the next channel); this is the
    answer for callers that only need the channel, such as a fallback after a permanent failure.
    """
    ranking = rank_channels(purpose, prefs, consent, now, permanently_failed_channels)
    if ranking.usable:
        return ranking.usable[0]
    return suppressed_for(ranking)


def suppressed_for(
    ranking: ChannelRanking, extra: Iterable[tuple[Channel, SuppressionReason]] = ()
) -> Suppressed:
    """The suppression for a ranking none of whose channels could be used."""
    refusals = list(ranking.refused) + list(extra)
    unreachable = [
        (channel, SuppressionReason.NO_REACHABLE_CHANNEL) for channel in ranking.unreachable
    ]
    if not refusals:
        detail = refusal_detail(unreachable) or "no channel is allowed for this purpose"
        return Suppressed(SuppressionReason.NO_REACHABLE_CHANNEL, detail)
    # When some channel was permitted and only its timing or caps failed, that is what stopped
    # the message: a channel the patient never opted into (say WhatsApp) must not hide it.
    deciding = list(extra) or refusals
    reason = most_telling_reason(r for _, r in deciding)
    return Suppressed(reason, refusal_detail(refusals + unreachable))
