"""The template editor's draft: the form read with the templates API's own validation, the PHI
policy's verdict on it as problems an author can act on, and what an SMS body costs.

The verdict is ``find_violations`` on the draft, the very check ``validate_template`` runs when
the service saves a version, so the live feedback, the "Check" button and the refused save agree.
The editor declares the variables the author's text reads (``variables_read``) instead of asking
for a list: one problem per variable and line is then enough, and the declaration-level copy of
a problem the text already shows on its line is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from outreach.api.templates import TemplateContent, TemplateCreate
from outreach.domain import Channel, Purpose, known_channels
from outreach.preferences.organisation_settings import OrgSettings
from outreach.services.template_versions import preview_version
from outreach.templating import (
    DEFAULT_PHI_POLICY,
    VARIABLE_REGISTRY,
    Sensitivity,
    Surface,
    TemplateRecord,
    TemplatingError,
    Violation,
    find_violations,
    sms_cost,
    surfaces_of,
    variables_read,
)
from outreach.templating.sms_encoding import normalize_typography
from outreach.templating.sms_limits import SMS_SEGMENT_LIMITS

MAX_BODY_CHARS = 20_000
MAX_SUBJECT_CHARS = 500

PURPOSE_LABELS: Mapping[Purpose, str] = {
    Purpose.APPT_CONFIRM: "Appointment confirmation",
    Purpose.APPT_REMINDER: "Appointment reminder",
    Purpose.NO_SHOW: "Missed appointment",
    Purpose.RX_REFILL: "Prescription refill",
    Purpose.LAB_READY: "Lab results ready",
    Purpose.CAMPAIGN_EDUCATION: "Campaign / education",
    Purpose.URGENT: "Urgent notice",
}

# What each field must hold, said the way an author can act on it (never echoing the value).
FIELD_MESSAGES: Mapping[str, str] = {
    "purpose": "Choose a purpose from the list.",
    "channel": "Choose a channel from the list.",
    "language": "A language tag such as en, es or pt-BR.",
    "variant": "1 to 16 letters, digits, _ or - (A and B for an A/B test).",
    "family": "Lower-case letters, digits and _ (at most 64), or leave it empty.",
    "subject": f"At most {MAX_SUBJECT_CHARS} characters.",
    "body": f"Write the message: 1 to {MAX_BODY_CHARS:,} characters.",
    "declared_variables": "A template may read at most 100 different variables.",
    "whatsapp_template_name": "The name Meta approved: lower-case letters, digits and _.",
}
_FIELD_SHOWN_AT = {"declared_variables": "body"}


def purpose_label(purpose: Purpose | str) -> str:
    try:
        return PURPOSE_LABELS[Purpose(purpose)]
    except ValueError:
        return str(purpose)


@dataclass(frozen=True, slots=True)
class EditorFields:
    """The editor's values as the author typed them, to show again whatever happens."""

    purpose: str = Purpose.APPT_REMINDER.value
    channel: str = Channel.SMS
    language: str = "en"
    variant: str = "A"
    family: str = ""
    subject: str = ""
    body: str = ""
    whatsapp_template_name: str = ""
    activate: bool = False

    @classmethod
    def of_version(cls, record: TemplateRecord) -> EditorFields:
        """A version's text as the start of the next one."""
        return cls(
            purpose=record.purpose.value,
            channel=str(record.channel),
            language=record.language,
            variant=record.variant,
            family=record.family or "",
            subject=record.subject or "",
            body=record.body,
            whatsapp_template_name=record.whatsapp_template_name or "",
        )

    def subject_or_none(self) -> str | None:
        """Only e-mail has a subject; a blank one is none (the policy says if one is needed)."""
        return self.subject if self.subject.strip() else None

    def declared_variables(self) -> list[str]:
        return list(variables_read(self.body, self.subject))

    def content(self) -> dict[str, Any]:
        """The fields ``TemplateContent`` (a family's next version) reads."""
        return {
            "subject": self.subject_or_none(),
            "body": self.body,
            "declared_variables": self.declared_variables(),
            "whatsapp_template_name": self.whatsapp_template_name.strip() or None,
            "activate": self.activate,
        }


def _field_errors(error: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else "body"
        shown_at = _FIELD_SHOWN_AT.get(name, name)
        found.setdefault(shown_at, FIELD_MESSAGES.get(name, "Check this field."))
    return found


def _whatsapp_name_errors(fields: EditorFields, channel: str) -> dict[str, str]:
    if fields.whatsapp_template_name.strip() and channel != Channel.WHATSAPP:
        return {"whatsapp_template_name": "Only WhatsApp templates have an approved name."}
    return {}


def new_family(fields: EditorFields, org_id: str) -> tuple[TemplateCreate | None, dict[str, str]]:
    """The form as the API's ``TemplateCreate`` of the caller's organisation, or field errors."""
    try:
        created = TemplateCreate.model_validate(
            fields.content()
            | {
                "org_id": org_id,
                "purpose": fields.purpose,
                "channel": fields.channel,
                "language": fields.language.strip(),
                "variant": fields.variant.strip() or "A",
                "family": fields.family.strip() or None,
            }
        )
    except ValidationError as error:
        return None, _field_errors(error) | _whatsapp_name_errors(fields, fields.channel)
    errors = _whatsapp_name_errors(fields, created.channel)
    return (None, errors) if errors else (created, {})


def next_version(
    fields: EditorFields, family: TemplateRecord
) -> tuple[TemplateContent | None, dict[str, str]]:
    """The form as the API's ``TemplateContent`` of ``family``'s next version, or field errors."""
    try:
        content = TemplateContent.model_validate(fields.content())
    except ValidationError as error:
        return None, _field_errors(error) | _whatsapp_name_errors(fields, family.channel)
    errors = _whatsapp_name_errors(fields, family.channel)
    return (None, errors) if errors else (content, {})


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One reason the policy refuses the draft: the variable (or construct), where, and why."""

    code: str
    variable: str
    line: int | None
    surface: str
    reason: str
    phi: bool

    @property
    def where(self) -> str:
        place = "Subject" if self.surface == Surface.SUBJECT else "Body"
        if self.line is None:
            return place if self.surface == Surface.SUBJECT else "Template"
        return f"{place}, line {self.line}"

    def view(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "variable": self.variable,
            "line": self.line,
            "surface": self.surface,
            "where": self.where,
            "reason": self.reason,
            "phi": self.phi,
        }


def policy_problems(violations: Iterable[Violation]) -> tuple[PolicyProblem, ...]:
    """``violations`` as the editor shows them: a declaration-level problem (no line) is left
    out when the same problem about the same variable is shown on a line of the text."""
    found = tuple(violations)
    located = {(v.code, v.subject) for v in found if v.line is not None}
    return tuple(
        PolicyProblem(
            code=v.code.value,
            variable=v.subject,
            line=v.line,
            surface=v.surface.value,
            reason=v.message,
            phi=v.is_phi,
        )
        for v in found
        if v.line is not None or (v.code, v.subject) not in located
    )


def draft_record(
    fields: EditorFields, *, org_id: str, family: TemplateRecord | None = None
) -> TemplateRecord | None:
    """The record the policy judges: ``family``'s scope with the new text, or the form's scope.

    None when purpose or channel do not name one (the field errors say so)."""
    if family is not None:
        return TemplateRecord(
            id="unsaved",
            org_id=family.org_id,
            provider_id=family.provider_id,
            purpose=family.purpose,
            channel=family.channel,
            language=family.language,
            variant=family.variant,
            family=family.family,
            subject=fields.subject_or_none(),
            body=fields.body,
            declared_variables=tuple(fields.declared_variables()),
            whatsapp_template_name=fields.whatsapp_template_name.strip() or None,
            is_active=False,
        )
    if fields.purpose not in set(Purpose) or fields.channel not in known_channels():
        return None
    return TemplateRecord(
        id="unsaved",
        org_id=org_id,
        purpose=Purpose(fields.purpose),
        channel=Channel(fields.channel),
        language=fields.language.strip()[:16] or "en",
        subject=fields.subject_or_none(),
        body=fields.body,
        declared_variables=tuple(fields.declared_variables()),
        is_active=False,
    )


@dataclass(frozen=True, slots=True)
class SmsCount:
    """What an SMS body costs: characters, encoding, segments, and the purpose's limit."""

    characters: int
    encoding: str
    units: int  # septets (GSM-7) or UTF-16 units (UCS-2)
    segments: int
    per_segment: int
    limit: int
    for_sample: bool  # counted on the sample patient's message; else on the text as written

    @property
    def over_limit(self) -> bool:
        return self.segments > self.limit

    @property
    def summary(self) -> str:
        noun = "segment" if self.segments == 1 else "segments"
        return (
            f"{self.characters} characters · {self.encoding} · {self.segments} {noun} "
            f"({self.per_segment} per segment)"
        )

    def view(self) -> dict[str, Any]:
        return {
            "characters": self.characters,
            "encoding": self.encoding,
            "units": self.units,
            "segments": self.segments,
            "per_segment": self.per_segment,
            "limit": self.limit,
            "over_limit": self.over_limit,
            "for_sample": self.for_sample,
            "summary": self.summary,
        }


def _count(text: str, limit: int, *, for_sample: bool) -> SmsCount:
    cost = sms_cost(text)
    return SmsCount(
        characters=len(text),
        encoding=cost.encoding.value,
        units=cost.units,
        segments=cost.segments,
        per_segment=cost.segment_capacity,
        limit=limit,
        for_sample=for_sample,
    )


def sample_patient(settings: OrgSettings | None, now: datetime) -> dict[str, str]:
    """A made-up patient and appointment with the organisation's own clinic details: what
    previews and the SMS counter render. It holds no PHI: previews mask PHI variables anyway."""
    appointment = (now + timedelta(days=2)).replace(hour=10, minute=30, second=0, microsecond=0)
    portal = "https://portal.clinic.example/p/"
    return {
        "first_name": "Alex",
        "clinic_name": settings.name if settings and settings.name else "Sunrise Clinic",
        "clinic_phone": (settings.clinic_phone if settings else None) or "555-0100",
        "clinic_address": "1 Main Street",
        "appointment_date": appointment.isoformat(),
        "appointment_time": appointment.isoformat(),
        "provider_display_name": "Dr. Kim",
        "refill_due_date": (appointment + timedelta(days=3)).isoformat(),
        # As long as a signed one-time portal link (about 125 characters), so counts are true.
        "portal_link": portal + "sample-" + "0123456789abcdef" * 5 + "-0000",
        "booking_link": (settings.booking_url if settings else None) or portal + "book",
        "reschedule_link": portal + "move/sample",
        "unsubscribe_link": portal + "unsubscribe/sample",
        "opt_out_text": "Reply STOP to opt out.",
    }


def sms_count(
    record: TemplateRecord, sample: Mapping[str, str], *, now: datetime, clean: bool
) -> SmsCount | None:
    """The cost of ``record``'s SMS: as the sample patient would receive it (opt-out line and
    typography as sent) when the policy accepts it, else of the text as written."""
    if record.channel is not Channel.SMS:
        return None
    limit = SMS_SEGMENT_LIMITS[record.purpose]
    if clean:
        try:
            shown = preview_version(record, sample, now=now, timezone="UTC", locale=None)
        except TemplatingError:  # e.g. a sample the template cannot format: count the text
            pass
        else:
            return _count(shown.body, limit, for_sample=True)
    return _count(normalize_typography(record.body), limit, for_sample=False)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The policy's answer on a draft and, for SMS, its cost."""

    problems: tuple[PolicyProblem, ...]
    sms: SmsCount | None
    variables: tuple[str, ...] = field(default=())

    @property
    def accepted(self) -> bool:
        return not self.problems

    def flagged_lines(self) -> frozenset[int]:
        return frozenset(
            p.line for p in self.problems if p.line is not None and p.surface == Surface.BODY
        )

    def view(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "problems": [p.view() for p in self.problems],
            "sms": self.sms.view() if self.sms else None,
            "variables": list(self.variables),
        }


def judge(record: TemplateRecord, sample: Mapping[str, str], *, now: datetime) -> Verdict:
    """The policy's verdict on ``record``, the same check a save runs, and its SMS cost."""
    problems = policy_problems(find_violations(record))
    return Verdict(
        problems,
        sms_count(record, sample, now=now, clean=not problems),
        record.declared_variables,
    )


@dataclass(frozen=True, slots=True)
class VariableRow:
    name: str
    description: str
    phi: bool
    allowed_on: str  # where the policy allows it, in words


def variable_rows(channels: Iterable[Channel]) -> list[VariableRow]:
    """Every classified variable and where this deployment's policy allows it."""
    places = [(c, s) for c in channels for s in surfaces_of(c)]
    rows = []
    for spec in VARIABLE_REGISTRY.values():
        allowed = [f"{c} {s}" for c, s in places if DEFAULT_PHI_POLICY.allows(c, s, spec.name)]
        if len(allowed) == len(places):
            allowed_on = "everywhere"
        elif not allowed:
            allowed_on = "nowhere"
        else:
            allowed_on = ", ".join(allowed)
        rows.append(
            VariableRow(
                spec.name, spec.description, spec.sensitivity is Sensitivity.PHI, allowed_on
            )
        )
    return rows


def body_lines(body: str, flagged: frozenset[int]) -> list[tuple[int, bool]]:
    """The body's line numbers, each marked when a problem sits on it (the editor's gutter)."""
    count = body.count("\n") + 1
    return [(n, n in flagged) for n in range(1, count + 1)]
