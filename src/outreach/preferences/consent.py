"""Consent: may this patient be contacted, for this purpose, on this channel, now?

Rules, checked in this order (the first that fails gives the reason):
1. an opt-out on the channel is absolute, whatever the purpose, urgent included -> ``opted_out``;
2. every purpose needs contact consent -> ``no_consent``; consent past its expiry
   (by default two years after it was granted) counts as none -> ``consent_expired``;
3. WhatsApp needs the patient's explicit WhatsApp opt-in, for any purpose -> ``no_consent``;
4. marketing (``campaign_education``) also needs the channel's marketing opt-in
   -> ``no_marketing_opt_in``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from outreach.domain import BUILTIN_CHANNELS, Channel, Purpose, SuppressionReason
from outreach.preferences.boundary import (
    as_channel,
    as_channels,
    as_purpose,
    as_utc,
    optional_utc,
)

CONSENT_VALIDITY_YEARS = 2

IdT = TypeVar("IdT")


def add_years(moment: datetime, years: int) -> datetime:
    """The same calendar date ``years`` later; 29 February becomes 28 February."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


@dataclass(frozen=True, slots=True)
class ConsentState:
    """What a patient agreed to. Contact consent and marketing opt-ins are separate records.

    ``expires_at`` defaults to ``CONSENT_VALIDITY_YEARS`` after ``granted_at``. Granted consent
    must say when it was granted: consent nobody can date cannot be shown to an auditor.
    """

    contact_granted: bool = False
    granted_at: datetime | None = None
    expires_at: datetime | None = None
    marketing_opt_in: frozenset[Channel] = frozenset()
    opted_out: frozenset[Channel] = frozenset()
    whatsapp_opt_in: bool = False

    def __post_init__(self) -> None:
        granted_at = optional_utc(self.granted_at, "granted_at")
        expires_at = optional_utc(self.expires_at, "expires_at")
        if self.contact_granted and granted_at is None:
            raise ValueError("granted contact consent needs granted_at")
        if expires_at is None and granted_at is not None:
            expires_at = add_years(granted_at, CONSENT_VALIDITY_YEARS)
        object.__setattr__(self, "granted_at", granted_at)
        object.__setattr__(self, "expires_at", expires_at)
        object.__setattr__(self, "marketing_opt_in", as_channels(frozenset(self.marketing_opt_in)))
        object.__setattr__(self, "opted_out", as_channels(frozenset(self.opted_out)))

    def with_opt_out(self, channel: Channel) -> ConsentState:
        """This consent with the patient also opted out of ``channel``."""
        return replace(self, opted_out=self.opted_out | {as_channel(channel)})

    def is_expired(self, now: datetime) -> bool:
        """Whether the contact consent has lapsed at ``now`` (expiry instant included)."""
        return self.expires_at is not None and now >= self.expires_at


@dataclass(frozen=True, slots=True)
class ConsentUpdate:
    """What a patient record from the core platform says about consent; ``None``: it is silent.

    A silent field keeps what is stored. Opt-outs are not here: only the patient's own STOP sets
    them, and only START clears them.
    """

    contact_granted: bool | None = None
    granted_at: datetime | None = None
    expires_at: datetime | None = None
    marketing_opt_in: frozenset[Channel] | None = None
    whatsapp_opt_in: bool | None = None


def consent_update_from_record(
    contact_consent: bool | None,
    consent_granted_at: datetime | None,
    marketing_opt_in: Iterable[Channel] | None,
    whatsapp_opt_in: bool | None,
    occurred_at: datetime,
) -> ConsentUpdate:
    """The update a patient record makes: granted consent is dated (the record's own date, else
    the event's) and valid for ``CONSENT_VALIDITY_YEARS``."""
    granted_at = expires_at = None
    if contact_consent:
        granted_at = consent_granted_at or occurred_at
        expires_at = add_years(granted_at, CONSENT_VALIDITY_YEARS)
    return ConsentUpdate(
        contact_granted=contact_consent,
        granted_at=granted_at,
        expires_at=expires_at,
        marketing_opt_in=frozenset(marketing_opt_in) if marketing_opt_in is not None else None,
        whatsapp_opt_in=whatsapp_opt_in,
    )


def consent_changes(stored: ConsentState, update: ConsentUpdate) -> dict[str, bool]:
    """The consent flags an update changes, by their stored names (for the audit log)."""
    changes: dict[str, bool] = {}
    if update.contact_granted is not None and update.contact_granted != stored.contact_granted:
        changes["contact_consent"] = update.contact_granted
    if update.marketing_opt_in is not None:
        for channel in BUILTIN_CHANNELS:
            wanted = channel in update.marketing_opt_in
            if wanted != (channel in stored.marketing_opt_in):
                changes[f"marketing_opt_in_{channel.value}"] = wanted
    if update.whatsapp_opt_in is not None and update.whatsapp_opt_in != stored.whatsapp_opt_in:
        changes["whatsapp_opt_in"] = update.whatsapp_opt_in
    return changes


def channel_permission(
    purpose: Purpose, channel: Channel, consent: ConsentState, now: datetime
) -> SuppressionReason | None:
    """``None`` when consent allows ``purpose`` on ``channel`` at ``now``, else the reason not."""
    return consent_refusal(as_purpose(purpose), as_channel(channel), consent, as_utc(now, "now"))


def consent_refusal(
    purpose: Purpose, channel: Channel, consent: ConsentState, now: datetime
) -> SuppressionReason | None:
    """``channel_permission`` for callers already holding enum members and a UTC ``now``."""
    if channel in consent.opted_out:
        return SuppressionReason.OPTED_OUT
    if not consent.contact_granted:
        return SuppressionReason.NO_CONSENT
    if consent.expires_at is not None and now >= consent.expires_at:
        return SuppressionReason.CONSENT_EXPIRED
    if channel is Channel.WHATSAPP and not consent.whatsapp_opt_in:
        return SuppressionReason.NO_WHATSAPP_OPT_IN
    if purpose is Purpose.CAMPAIGN_EDUCATION and channel not in consent.marketing_opt_in:
        return SuppressionReason.NO_MARKETING_OPT_IN
    return None


@dataclass(frozen=True, slots=True)
class ExpiringConsent(Generic[IdT]):
    """A consent the daily audit should flag: whose it is and when it lapses."""

    consent_id: IdT
    expires_at: datetime


def consents_expiring(
    consents_with_ids: Iterable[tuple[IdT, ConsentState]], now: datetime, within: timedelta
) -> list[ExpiringConsent[IdT]]:
    """Granted consents still valid at ``now`` that lapse within ``within``, soonest first.

    Feeds the daily audit job, which asks patients to renew before messages start being
    suppressed with ``consent_expired``.
    """
    now = as_utc(now, "now")
    horizon = now + within
    expiring = [
        ExpiringConsent(consent_id, consent.expires_at)
        for consent_id, consent in consents_with_ids
        if consent.contact_granted
        and consent.expires_at is not None
        and now < consent.expires_at <= horizon
    ]
    expiring.sort(key=lambda item: item.expires_at)
    return expiring
