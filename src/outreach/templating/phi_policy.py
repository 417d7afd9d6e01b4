"""Which variables exist, which of them are PHI, and which surfaces may carry which.

The registry is the single list of variables patients and events expose to templates. A variable
missing from it is unclassified and therefore refused everywhere (fail closed): adding a variable
to templates means classifying it here first.

Default policy, and why: SMS bodies, WhatsApp bodies and e-mail subjects travel through carriers,
lock screens, notification previews and shared inboxes, so they carry the minimum necessary only.
E-mail bodies are minimum-necessary too by default: e-mail is neither encrypted end to end nor
reliably read by the patient alone, and PHI reaches the patient behind a signed portal link
instead. The rule is data keyed by (channel, surface), so an organisation that has a lawful basis
(e.g. patient-requested, encrypted e-mail) can be given a policy allowing PHI on e-mail bodies
without touching code.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from outreach.domain import BUILTIN_CHANNELS, Channel


class Surface(enum.StrEnum):
    """The part of a message a template renders; PHI policy is decided per channel and surface."""

    BODY = "body"
    SUBJECT = "subject"


class Sensitivity(enum.StrEnum):
    MINIMUM_NECESSARY = "minimum_necessary"  # may appear in any message
    PHI = "phi"  # health information or identifiers beyond the first name


class VariableKind(enum.StrEnum):
    """How a variable's value is typed, so the renderer can format it in the patient's locale."""

    TEXT = "text"
    DATE = "date"
    TIME = "time"
    URL = "url"


@dataclass(frozen=True, slots=True)
class VariableSpec:
    name: str
    sensitivity: Sensitivity
    kind: VariableKind
    description: str


def _spec(
    name: str, sensitivity: Sensitivity, kind: VariableKind, description: str
) -> VariableSpec:
    return VariableSpec(name, sensitivity, kind, description)


_MIN = Sensitivity.MINIMUM_NECESSARY
_PHI = Sensitivity.PHI
_TEXT, _DATE, _TIME, _URL = (
    VariableKind.TEXT,
    VariableKind.DATE,
    VariableKind.TIME,
    VariableKind.URL,
)

_SPECS: tuple[VariableSpec, ...] = (
    # Minimum necessary: enough to identify the sender, the appointment slot and where to act.
    _spec("first_name", _MIN, _TEXT, "patient's first (given) name"),
    _spec("clinic_name", _MIN, _TEXT, "the organisation or site name the patient knows"),
    _spec("clinic_phone", _MIN, _TEXT, "the clinic's call-back number"),
    _spec("clinic_address", _MIN, _TEXT, "where the appointment takes place"),
    _spec("appointment_date", _MIN, _DATE, "appointment start (aware datetime or date)"),
    _spec("appointment_time", _MIN, _TIME, "appointment start (aware datetime)"),
    _spec("provider_display_name", _MIN, _TEXT, "e.g. 'Dr. Smith'; no specialty"),
    _spec("refill_due_date", _MIN, _DATE, "when a refill is due; never the medication"),
    _spec("portal_link", _MIN, _URL, "signed, expiring link to the patient portal"),
    _spec("booking_link", _MIN, _URL, "link to book or rebook an appointment"),
    _spec("reschedule_link", _MIN, _URL, "link to move an appointment"),
    _spec("unsubscribe_link", _MIN, _URL, "e-mail unsubscribe link"),
    _spec("opt_out_text", _MIN, _TEXT, "the organisation's opt-out wording"),
    # PHI: health information, and identifiers that tie a message to one patient's record.
    _spec("diagnosis", _PHI, _TEXT, "diagnosis text"),
    _spec("diagnosis_code", _PHI, _TEXT, "ICD code"),
    _spec("procedure", _PHI, _TEXT, "procedure name"),
    _spec("procedure_code", _PHI, _TEXT, "CPT code"),
    _spec("lab_result", _PHI, _TEXT, "a result value or interpretation"),
    _spec("lab_test_name", _PHI, _TEXT, "which test was run (reveals the condition)"),
    _spec("medication", _PHI, _TEXT, "drug name"),
    _spec("medication_dose", _PHI, _TEXT, "dose and schedule"),
    _spec("allergies", _PHI, _TEXT, "allergy list"),
    _spec("date_of_birth", _PHI, _DATE, "birth date"),
    _spec("record_number", _PHI, _TEXT, "medical record number"),
    _spec("mrn", _PHI, _TEXT, "medical record number (alias)"),
    _spec("insurance_id", _PHI, _TEXT, "insurance member id"),
    _spec("insurance_plan", _PHI, _TEXT, "insurance plan name"),
    _spec("appointment_reason", _PHI, _TEXT, "reason for visit"),
    _spec("appointment_type", _PHI, _TEXT, "visit type, e.g. 'chemotherapy infusion'"),
    _spec("provider_specialty", _PHI, _TEXT, "specialty reveals the condition (e.g. oncology)"),
    _spec("department", _PHI, _TEXT, "department reveals the condition"),
    _spec("last_name", _PHI, _TEXT, "family name: an identifier beyond the minimum"),
    _spec("full_name", _PHI, _TEXT, "full name"),
    _spec("email_address", _PHI, _TEXT, "the patient's e-mail address"),
    _spec("phone_number", _PHI, _TEXT, "the patient's phone number"),
    _spec("home_address", _PHI, _TEXT, "the patient's address"),
    _spec("ssn", _PHI, _TEXT, "national identifier"),
    _spec("visit_notes", _PHI, _TEXT, "clinical notes"),
)

VARIABLE_REGISTRY: Mapping[str, VariableSpec] = MappingProxyType({s.name: s for s in _SPECS})


def surfaces_of(channel: Channel) -> tuple[Surface, ...]:
    """The surfaces a channel's templates render: only e-mail has a subject."""
    if channel is Channel.EMAIL:
        return (Surface.SUBJECT, Surface.BODY)
    return (Surface.BODY,)


@dataclass(frozen=True, slots=True)
class SurfaceRule:
    channel: Channel
    surface: Surface
    allowed: frozenset[Sensitivity]


@dataclass(frozen=True, eq=False)
class PhiPolicy:
    """Which sensitivities each (channel, surface) may carry, over a variable registry.

    A (channel, surface) without a rule allows nothing, except on a channel the policy names
    nowhere (a plugin's): its surfaces allow ``other_channels``. A variable outside the registry
    is refused. Compared and hashed by identity (cheap cache keys): build each policy once, at
    wiring time.
    """

    rules: frozenset[SurfaceRule]
    registry: Mapping[str, VariableSpec] = field(default_factory=lambda: VARIABLE_REGISTRY)
    other_channels: frozenset[Sensitivity] = frozenset({Sensitivity.MINIMUM_NECESSARY})
    _allowed: Mapping[tuple[Channel, Surface], frozenset[Sensitivity]] = field(
        init=False, repr=False
    )
    _ruled: frozenset[Channel] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        allowed = {(r.channel, r.surface): r.allowed for r in self.rules}
        object.__setattr__(self, "_allowed", MappingProxyType(allowed))
        object.__setattr__(self, "_ruled", frozenset(r.channel for r in self.rules))

    def spec(self, name: str) -> VariableSpec | None:
        return self.registry.get(name)

    def allows(self, channel: Channel, surface: Surface, name: str) -> bool:
        """Whether ``name`` may be read on this surface; unknown variables never are."""
        spec = self.registry.get(name)
        if spec is None:
            return False
        allowed = self._allowed.get((channel, surface))
        if allowed is None:
            allowed = frozenset() if channel in self._ruled else self.other_channels
        return spec.sensitivity in allowed

    def allows_anywhere(self, channel: Channel, name: str) -> bool:
        return any(self.allows(channel, s, name) for s in surfaces_of(channel))

    def allowing(
        self, channel: Channel, surface: Surface, sensitivities: Iterable[Sensitivity]
    ) -> PhiPolicy:
        """A copy of this policy with one (channel, surface) rule replaced."""
        kept = {r for r in self.rules if (r.channel, r.surface) != (channel, surface)}
        kept.add(SurfaceRule(channel, surface, frozenset(sensitivities)))
        return PhiPolicy(frozenset(kept), self.registry, self.other_channels)


def _minimum_necessary_everywhere() -> frozenset[SurfaceRule]:
    return frozenset(
        SurfaceRule(channel, surface, frozenset({Sensitivity.MINIMUM_NECESSARY}))
        for channel in BUILTIN_CHANNELS
        for surface in surfaces_of(channel)
    )


DEFAULT_PHI_POLICY = PhiPolicy(_minimum_necessary_everywhere())

# For an organisation with a lawful basis for PHI in e-mail bodies; subjects stay minimum-necessary.
EMAIL_BODY_PHI_POLICY = DEFAULT_PHI_POLICY.allowing(
    Channel.EMAIL, Surface.BODY, {Sensitivity.MINIMUM_NECESSARY, Sensitivity.PHI}
)
