"""The new-campaign form: what a marketer typed, as the document the API's ``CampaignBody``
validates, and each problem placed next to the field it concerns.

The form posts flat fields (``steps-0-offset_hours``, ``variant-B``, ``exit_on``...). They become
the API's JSON document, checked by the same pydantic model and then by the definition's own
rules (``CampaignDefinition.parse``, which ``create_campaign`` applies again), so the console and
the API accept and refuse the same campaigns. Pydantic reports a location (``loc``), the
definition a JSON pointer; both are mapped back to the name of the form field at fault. Empty step
rows are dropped, so a pointer's step index is mapped back to its row.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from outreach.api.campaigns import CampaignBody
from outreach.campaigns import BEST_CHANNEL, CampaignDefinition, CampaignDefinitionError
from outreach.campaigns.definition import DEFAULT_EXIT_ON, MAX_STEPS

FORM = "form"  # problems that belong to no one field
STEP_FIELDS = ("offset_hours", "template_family", "channel", "wait_until", "wait_timeout_hours")
MAX_ROWS = 2 * MAX_STEPS  # rows read from a post; more is not a form a person filled in
VARIANT_NAMES = ("A", "B", "C", "D")
TOP_FIELDS = frozenset(
    {
        "name",
        "description",
        "segment_id",
        "purpose",
        "holdout_percent",
        "recurring",
        "starts_at",
        "ends_at",
        "exit_on",
        "steps",
        "variants",
    }
)
_STEP_KEY = re.compile(r"^steps-(\d{1,3})-(" + "|".join(STEP_FIELDS) + ")$")
_INTEGER = re.compile(r"^[+-]?\d{1,18}$")

FieldErrors = dict[str, list[str]]


@dataclass
class StepRow:
    """One step row as typed (text, so a wrong value is shown back as it was)."""

    offset_hours: str = "0"
    template_family: str = ""
    channel: str = BEST_CHANNEL
    wait_until: str = ""
    wait_timeout_hours: str = ""

    def blank(self) -> bool:
        return (
            not self.template_family
            and self.offset_hours.strip() in {"", "0"}
            and not self.wait_until
            and not self.wait_timeout_hours.strip()
        )


def _default_exit_on() -> list[str]:
    return sorted(c.value for c in DEFAULT_EXIT_ON)


@dataclass
class CampaignForm:
    """The form's values, as typed."""

    name: str = ""
    description: str = ""
    segment_id: str = ""
    purpose: str = "campaign_education"
    steps: list[StepRow] = field(default_factory=lambda: [StepRow()])
    variants: dict[str, str] = field(default_factory=lambda: {"A": "100"})
    holdout_percent: str = "0"
    recurring: bool = False
    starts_at: str = ""
    ends_at: str = ""
    exit_on: list[str] = field(default_factory=_default_exit_on)

    @classmethod
    def posted(cls, form: Mapping[str, Any], exit_on: Sequence[str]) -> CampaignForm:
        """The values of a post (``exit_on``: the ticked exit conditions)."""

        def text(name: str) -> str:
            value = form.get(name)
            return value.strip() if isinstance(value, str) else ""

        rows: dict[int, StepRow] = {}
        for key in form:
            found = _STEP_KEY.match(key)
            if found and int(found.group(1)) < MAX_ROWS:
                row = rows.setdefault(int(found.group(1)), StepRow(offset_hours=""))
                setattr(row, found.group(2), text(key))
        return cls(
            name=text("name"),
            description=text("description"),
            segment_id=text("segment_id"),
            purpose=text("purpose"),
            steps=[rows[index] for index in sorted(rows)] or [StepRow()],
            variants={name: text(f"variant-{name}") for name in VARIANT_NAMES},
            holdout_percent=text("holdout_percent"),
            recurring=text("recurring") in {"on", "true", "1"},
            starts_at=text("starts_at"),
            ends_at=text("ends_at"),
            exit_on=[str(value) for value in exit_on],
        )

    def document(self) -> tuple[dict[str, Any], list[int]]:
        """The API's JSON document, and for each of its steps the row it came from."""
        steps, rows = [], []
        for index, row in enumerate(self.steps):
            if row.blank():
                continue
            step: dict[str, Any] = {"template_family": row.template_family or None}
            if row.offset_hours.strip():
                step["offset_hours"] = _number(row.offset_hours)
            if row.channel:
                step["channel"] = row.channel
            if row.wait_until:
                step["wait_until"] = row.wait_until
            if row.wait_timeout_hours.strip():
                step["wait_timeout_hours"] = _number(row.wait_timeout_hours)
            steps.append({k: v for k, v in step.items() if v is not None})
            rows.append(index)
        document: dict[str, Any] = {
            "name": self.name,
            "steps": steps,
            "purpose": self.purpose or None,
            "description": self.description or None,
            "segment_id": _number(self.segment_id) if self.segment_id else None,
            "holdout_percent": _number(self.holdout_percent) if self.holdout_percent else None,
            "recurring": self.recurring,
            "starts_at": _moment(self.starts_at),
            "ends_at": _moment(self.ends_at),
            "exit_on": list(self.exit_on),
        }
        weights = {name: _number(w) for name, w in self.variants.items() if w.strip()}
        if weights:
            document["variants"] = weights
        return {k: v for k, v in document.items() if v is not None}, rows


def _number(text: str) -> Any:
    """A number from what was typed; the text itself when it is none (the model says why)."""
    value = text.strip()
    if _INTEGER.match(value):
        return int(value)
    try:
        number = float(value)
    except ValueError:
        return value
    return number if math.isfinite(number) else value


def _moment(text: str) -> str | None:
    """A date and time; one without an offset (a browser's date-time field) is UTC."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text  # the model says what is wrong with it
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def field_of(location: Sequence[str | int], rows: Sequence[int], variants: Sequence[str]) -> str:
    """The form field a problem's location (pydantic's ``loc``, or a JSON pointer's parts)
    concerns."""
    if not location:
        return FORM
    head = str(location[0])
    if head == "steps" and len(location) > 1 and str(location[1]).isdigit():
        index = int(location[1])
        row = rows[index] if index < len(rows) else index
        if len(location) > 2 and str(location[2]) in STEP_FIELDS:
            return f"steps-{row}-{location[2]}"
        return f"steps-{row}"
    if head == "variants" and len(location) > 1 and str(location[1]) in variants:
        return f"variant-{location[1]}"
    return head if head in TOP_FIELDS else FORM


def _pointer_parts(pointer: str) -> list[str]:
    return [part for part in pointer.split("/") if part]


def _said(error: Mapping[str, Any]) -> str:
    """Pydantic's message, in the words of a form (never the value sent)."""
    kind = error.get("type")
    if kind == "missing":
        return "required"
    if kind == "too_short" and tuple(error.get("loc", ())) == ("steps",):
        return "at least one step is required"
    return str(error.get("msg", "not valid"))


def _add(errors: FieldErrors, name: str, message: str) -> None:
    found = errors.setdefault(name, [])
    if message not in found:
        found.append(message)


def definition_errors(
    error: CampaignDefinitionError, rows: Sequence[int], errors: FieldErrors | None = None
) -> FieldErrors:
    """The definition's problems by form field (those on fields that already have one are
    left out: the first problem of a field is the one to fix)."""
    found: FieldErrors = {} if errors is None else errors
    already = set(found)
    for problem in error.problems:
        name = field_of(_pointer_parts(problem.pointer), rows, VARIANT_NAMES)
        if name not in already:
            _add(found, name, problem.message)
    return found


def checked_document(
    entered: CampaignForm, org_id: str
) -> tuple[dict[str, Any] | None, FieldErrors]:
    """The document to create the campaign from (the API's, with the session's organisation),
    or every problem found, by form field."""
    document, rows = entered.document()
    try:
        body = CampaignBody.model_validate(document)
    except ValidationError as invalid:
        errors: FieldErrors = {}
        for error in invalid.errors():
            _add(errors, field_of(error["loc"], rows, VARIANT_NAMES), _said(error))
        try:
            CampaignDefinition.parse(document | {"org_id": org_id})
        except CampaignDefinitionError as wrong:
            definition_errors(wrong, rows, errors)
        return None, errors
    return body.model_dump(mode="json", exclude_none=True) | {"org_id": org_id}, {}
