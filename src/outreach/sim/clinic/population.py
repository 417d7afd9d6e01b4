"""The synthetic clinic's people: organisations, their providers and their patients.

Deterministic for a given ``random.Random``: every draw comes from the generator passed in, in a
fixed order, so a seed always yields the same clinic.
"""

from __future__ import annotations

import random
import unicodedata
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Generic, TypeVar

from outreach.domain import Channel
from outreach.sim.clinic.catalog import (
    AGE_BANDS,
    CONDITIONS,
    NAMES,
    ORG_TEMPLATES,
    QUIET_HOURS,
    TAGS,
    ZONES,
    Locality,
    PhoneRange,
    ZoneProfile,
)
from outreach.sim.clinic.engagement import EngagementProfile, plant_profile, profile_rng

ItemT = TypeVar("ItemT")

# Shares of patients, as probabilities.
NO_CONSENT_SHARE = 0.05
UNREACHABLE_SHARE = 0.006  # an invalid phone and nothing else: exercises no_reachable_channel
EMAIL_ONLY_SHARE_OF_EMAIL_PREFERRING = 0.25
QUIET_HOURS_SHARE = 0.07
RESTRICTED_CHANNELS_SHARE = 0.04
CONSENT_AGE_DAYS = (30, 700)  # consent granted 1 to 23 months before the simulated day
_VALUE = {channel: channel.value for channel in Channel}  # Enum.value is slow in bulk


@dataclass(frozen=True, slots=True)
class Org:
    org_id: str
    name: str
    timezone: str
    language: str
    clinic_phone: str
    locations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Provider:
    provider_id: str
    org_id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class SyntheticPatient:
    """A patient as the core platform knows them; personal fields stay out of the repr."""

    patient_id: str
    org_id: str
    provider_id: str
    timezone: str
    language: str
    preferred_channel: Channel
    contact_consent: bool
    consent_granted_at: datetime | None
    marketing_opt_in: tuple[Channel, ...]
    whatsapp_opt_in: bool
    allowed_channels: tuple[Channel, ...] | None
    quiet_hours: tuple[str, str] | None
    # False for the few whose only address is a deliberately invalid phone number.
    reachable: bool
    # The planted engagement truth (``engagement``): never sent to outreach, only simulated.
    preferred_hour: int
    responsiveness: float
    first_name: str = field(repr=False)
    last_name: str = field(repr=False)
    sex: str = field(repr=False)
    date_of_birth: str = field(repr=False)
    record_number: str = field(repr=False)
    region: str = field(repr=False)
    postal_code: str = field(repr=False)
    phone: str | None = field(repr=False)
    email: str | None = field(repr=False)
    whatsapp: str | None = field(repr=False)
    attributes: dict[str, Any] = field(repr=False)

    def engagement_profile(self) -> EngagementProfile:
        """How this patient engages, for the provider simulator and the send-time experiment."""
        return EngagementProfile(self.timezone, self.preferred_hour, self.responsiveness)

    def addresses(self) -> tuple[str, ...]:
        """The addresses messages to this patient go to (the phone serves SMS and WhatsApp)."""
        return tuple(a for a in (self.phone, self.email, self.whatsapp) if a is not None)

    def profile(self) -> dict[str, Any]:
        """The ``patient.upserted`` data (``PatientData``), JSON-ready; unset fields left out."""
        profile: dict[str, Any] = {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "date_of_birth": self.date_of_birth,
            "record_number": self.record_number,
            "sex": self.sex,
            "postal_code": self.postal_code,
            "region": self.region,
            "language": self.language,
            "timezone": self.timezone,
            "preferred_channel": _VALUE[self.preferred_channel],
            "contact_consent": self.contact_consent,
            "marketing_opt_in": [_VALUE[channel] for channel in self.marketing_opt_in],
            "whatsapp_opt_in": self.whatsapp_opt_in,
            "attributes": self.attributes,
        }
        if self.consent_granted_at is not None:
            profile["consent_granted_at"] = self.consent_granted_at.isoformat()
        for name in ("email", "phone", "whatsapp"):
            value = getattr(self, name)
            if value is not None:
                profile[name] = value
        if self.allowed_channels is not None:
            profile["allowed_channels"] = [_VALUE[channel] for channel in self.allowed_channels]
        if self.quiet_hours is not None:
            profile["quiet_hours_start"], profile["quiet_hours_end"] = self.quiet_hours
        return profile


def below(rng: random.Random, n: int) -> int:
    """A uniform integer in ``[0, n)``: ``randrange`` costs ten times more, at benchmark sizes."""
    return int(rng.random() * n)


class Weighted(Generic[ItemT]):
    """A weighted choice with its cumulative table built once (``random.choices`` rebuilds it)."""

    __slots__ = ("_items", "_cumulative", "_total")

    def __init__(self, pairs: Sequence[tuple[ItemT, float]]) -> None:
        self._items = [item for item, _ in pairs]
        self._cumulative: list[float] = []
        total = 0.0
        for _, weight in pairs:
            total += weight
            self._cumulative.append(total)
        self._total = total

    def pick(self, rng: random.Random) -> ItemT:
        return self._items[bisect(self._cumulative, rng.random() * self._total)]


def draw_number(rng: random.Random, phones: PhoneRange, prefix: str) -> str:
    """A valid E.164 number in ``phones`` starting with ``prefix`` (after the country code)."""
    if phones.country_code == "1":
        # NANP: the exchange starts with 2-9 and is neither N11 nor the fictional 555.
        exchange = 200 + below(rng, 800)
        while exchange % 100 == 11 or exchange == 555:
            exchange = 200 + below(rng, 800)
        return f"+1{prefix}{exchange}{below(rng, 10_000):04d}"
    width = phones.digits
    return f"+{phones.country_code}{prefix}{below(rng, 10**width):0{width}d}"


def _invalid_number(rng: random.Random) -> str:
    # Forms a patient might really have given: the fictional 555 area code, a number cut short.
    form = below(rng, 3)
    if form == 0:
        return f"+1555010{below(rng, 10_000):04d}"
    if form == 1:
        return f"+4071{below(rng, 10_000):04d}"
    return f"+34{below(rng, 100_000):05d}"


def build_orgs(
    rng: random.Random, org_count: int, providers_per_org: int
) -> tuple[tuple[Org, ...], tuple[Provider, ...]]:
    """Clinics from the catalogue (cycled, numbered, when more are asked for) and their doctors."""
    orgs: list[Org] = []
    providers: list[Provider] = []
    for index in range(org_count):
        template = ORG_TEMPLATES[index % len(ORG_TEMPLATES)]
        round_ = index // len(ORG_TEMPLATES)
        org_id = f"org-{index + 1}"
        name = template.name if round_ == 0 else f"{template.name} {round_ + 1}"
        clinic_phone = draw_number(rng, template.clinic_phone, template.clinic_phone.prefixes[0])
        orgs.append(
            Org(
                org_id, name, template.timezone, template.language, clinic_phone, template.locations
            )
        )
        doctors = list(template.doctors)
        rng.shuffle(doctors)
        for number in range(providers_per_org):
            display_name = doctors[number % len(doctors)]
            if number >= len(doctors):
                display_name = f"{display_name} ({number // len(doctors) + 1})"
            providers.append(Provider(f"prov-{index + 1}-{number + 1}", org_id, display_name))
    return tuple(orgs), tuple(providers)


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _date_of_birth(rng: random.Random, today: date, age: int) -> date:
    last_birthday = today - timedelta(days=below(rng, 365))
    try:
        return last_birthday.replace(year=last_birthday.year - age)
    except ValueError:  # 29 February in a year that has none
        return last_birthday.replace(year=last_birthday.year - age, day=28)


class PatientFactory:
    """Draws patients one after another; remembers addresses so that none is given twice."""

    def __init__(
        self,
        rng: random.Random,
        orgs: Sequence[Org],
        providers: Sequence[Provider],
        day_start: datetime,
        seed: int = 0,
    ) -> None:
        self._rng = rng
        self._seed = seed
        self._day_start = day_start
        self._today = day_start.date()
        self._orgs = list(orgs)
        self._providers_by_org = {
            org.org_id: [p for p in providers if p.org_id == org.org_id] for org in orgs
        }
        # Orgs were built from the catalogue in order, cycling: the same index finds the template.
        self._zones_by_org = {
            org.org_id: Weighted(
                [
                    (ZONES[zone], weight)
                    for zone, weight in ORG_TEMPLATES[index % len(ORG_TEMPLATES)].patient_zones
                ]
            )
            for index, org in enumerate(orgs)
        }
        self._languages = {tz: Weighted(zone.languages) for tz, zone in ZONES.items()}
        self._channels = {tz: Weighted(zone.channels) for tz, zone in ZONES.items()}
        self._ages = Weighted([((low, high), share) for low, high, share in AGE_BANDS])
        self._sexes = Weighted([("female", 51.0), ("male", 48.0), ("other", 1.0)])
        self._quiet_hours = Weighted(
            [(pair, 1.0 if pair[0] != "08:00" else 0.3) for pair in QUIET_HOURS]
        )
        self._phones: set[str] = set()
        self._email_uses: dict[str, int] = {}
        self._ascii: dict[str, str] = {}

    def patient(self, number: int) -> SyntheticPatient:
        rng = self._rng
        org = self._orgs[below(rng, len(self._orgs))]
        providers = self._providers_by_org[org.org_id]
        provider = providers[below(rng, len(providers))]
        zone = self._zones_by_org[org.org_id].pick(rng)
        language = self._languages[zone.timezone].pick(rng)
        sex = self._sexes.pick(rng)
        pool = NAMES[zone.name_culture or language]
        if sex == "other":
            firsts = pool.female if rng.random() < 0.5 else pool.male
        else:
            firsts = pool.female if sex == "female" else pool.male
        first_name = firsts[below(rng, len(firsts))]
        last_name = pool.last[below(rng, len(pool.last))]
        low, high = self._ages.pick(rng)
        age = low + below(rng, high - low + 1)
        date_of_birth = _date_of_birth(rng, self._today, age)
        locality = zone.localities[below(rng, len(zone.localities))]
        postal_code = self._postal_code(locality)

        preferred = self._channels[zone.timezone].pick(rng)
        reachable = rng.random() >= UNREACHABLE_SHARE
        phone: str | None
        email: str | None
        whatsapp: str | None = None
        if not reachable:
            preferred, phone, email = Channel.SMS, _invalid_number(rng), None
        else:
            email_only = (
                preferred is Channel.EMAIL and rng.random() < EMAIL_ONLY_SHARE_OF_EMAIL_PREFERRING
            )
            phone = None if email_only else self._phone(zone, locality)
            email_share = {Channel.EMAIL: 1.0, Channel.SMS: 0.8, Channel.WHATSAPP: 0.6}[preferred]
            email = self._email(first_name, last_name) if rng.random() < email_share else None
            if preferred is Channel.WHATSAPP and rng.random() < 0.7:
                whatsapp = phone  # otherwise WhatsApp falls back to the phone number
        valid_phone = reachable and phone is not None
        whatsapp_opt_in = valid_phone and (
            rng.random() < (0.92 if preferred is Channel.WHATSAPP else 0.04)
        )

        contact_consent = rng.random() >= NO_CONSENT_SHARE
        consent_granted_at = None
        marketing: list[Channel] = []
        if contact_consent:
            low_days, high_days = CONSENT_AGE_DAYS
            seconds = (low_days + below(rng, high_days - low_days)) * 86_400 + below(rng, 86_400)
            consent_granted_at = (self._day_start - timedelta(seconds=seconds)).replace(
                microsecond=0
            )
            if email is not None and rng.random() < 0.35:
                marketing.append(Channel.EMAIL)
            if valid_phone and rng.random() < 0.18:
                marketing.append(Channel.SMS)
            if whatsapp_opt_in and rng.random() < 0.5:
                marketing.append(Channel.WHATSAPP)

        allowed: tuple[Channel, ...] | None = None
        if rng.random() < RESTRICTED_CHANNELS_SHARE:
            allowed = (
                (preferred,)
                if preferred is Channel.EMAIL or email is None
                else (preferred, Channel.EMAIL)
            )
        quiet_hours = self._quiet_hours.pick(rng) if rng.random() < QUIET_HOURS_SHARE else None
        patient_id = f"pat-{number:06d}"
        # Its own random source: planting the truth leaves every other draw of the clinic as is.
        truth = plant_profile(profile_rng(self._seed, patient_id), age, zone.timezone)

        return SyntheticPatient(
            patient_id=patient_id,
            org_id=org.org_id,
            provider_id=provider.provider_id,
            timezone=zone.timezone,
            language=language,
            preferred_channel=preferred,
            contact_consent=contact_consent,
            consent_granted_at=consent_granted_at,
            marketing_opt_in=tuple(marketing),
            whatsapp_opt_in=whatsapp_opt_in,
            allowed_channels=allowed,
            quiet_hours=quiet_hours,
            reachable=reachable,
            preferred_hour=truth.preferred_hour,
            responsiveness=truth.responsiveness,
            first_name=first_name,
            last_name=last_name,
            sex=sex,
            date_of_birth=date_of_birth.isoformat(),
            record_number=f"MRN{number:08d}",
            region=locality.region,
            postal_code=postal_code,
            phone=phone,
            email=email,
            whatsapp=whatsapp,
            attributes=self._attributes(age, sex),
        )

    def _postal_code(self, locality: Locality) -> str:
        width = locality.postal_digits - len(locality.postal_prefix)
        return f"{locality.postal_prefix}{below(self._rng, 10**width):0{width}d}"

    def _phone(self, zone: ZoneProfile, locality: Locality) -> str:
        rng = self._rng
        prefixes = locality.area_codes or zone.phones.prefixes
        while True:
            number = draw_number(rng, zone.phones, prefixes[below(rng, len(prefixes))])
            if number not in self._phones:  # one number, one patient: inbound replies map back
                self._phones.add(number)
                return number

    def _email(self, first_name: str, last_name: str) -> str:
        rng = self._rng
        first, last = self._fold(first_name), self._fold(last_name)
        local = f"{first}.{last}" if rng.random() < 0.7 else f"{first[0]}{last}"
        uses = self._email_uses.get(local, 0) + 1
        self._email_uses[local] = uses
        if uses > 1:
            local = f"{local}{uses}"
        domain = "example.com" if rng.random() < 0.7 else "example.org"
        return f"{local}@{domain}"

    def _fold(self, name: str) -> str:
        folded = self._ascii.get(name)
        if folded is None:
            folded = self._ascii[name] = _ascii(name)
        return folded

    def _attributes(self, age: int, sex: str) -> dict[str, Any]:
        rng = self._rng
        conditions = [
            name
            for name, young, old, threshold in CONDITIONS
            if rng.random() < (old if age >= threshold else young)
        ]
        tags = [name for name, share in TAGS if rng.random() < share]
        # Most patients were seen within the year; a long tail has lapsed.
        last_visit_days = min(int(rng.expovariate(1 / 220)), 1_800)
        if last_visit_days > 540:
            tags.append("lapsed")
        return {
            "age": age,
            "sex": sex,
            "conditions": conditions,
            "last_visit_days": last_visit_days,
            "tags": tags,
        }
