"""A campaign as a marketer defines it: who (a segment), what (steps), how it is measured (A/B
variants, hold-out), when (start and end dates, recurring or not) and when a patient leaves it.

Steps are timed from the patient's enrolment (day 0, day 7, ...), not from the step before, so a
late planning round never shifts the rest of the sequence. A step names a template family, and a
channel or ``best`` (the patient's best allowed channel among those the family has templates
for). ``wait_until`` holds a step until a condition holds, at most ``wait_timeout`` past its
offset; then the step is skipped.

``CampaignDefinition.parse`` validates everything at once and raises ``CampaignDefinitionError``
listing each problem with the JSON pointer of the field at fault.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from outreach.campaigns.assignment import MAX_HOLDOUT_PERCENT, MIN_HOLDOUT_PERCENT
from outreach.campaigns.conditions import Condition
from outreach.domain import Channel, Purpose

BEST_CHANNEL = "best"  # a step's channel: the patient's best allowed one
MAX_STEPS = 10
MAX_VARIANTS = 10
MAX_WEIGHT = 10_000
MAX_OFFSET = timedelta(days=366)
FAMILY_PATTERN = re.compile(r"^[a-z0-9_]{1,64}$")
VARIANT_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
DEFAULT_EXIT_ON = frozenset({Condition.BOOKED, Condition.REPLIED_STOP})
DEFAULT_VARIANTS: Mapping[str, int] = {"A": 100}


@dataclass(frozen=True, slots=True)
class DefinitionProblem:
    """One thing wrong with a definition: where (a JSON pointer) and what."""

    pointer: str
    message: str


class CampaignDefinitionError(ValueError):
    def __init__(self, problems: list[DefinitionProblem]) -> None:
        super().__init__("; ".join(f"{p.pointer or '/'}: {p.message}" for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class CampaignStep:
    offset: timedelta
    template_family: str
    channel: Channel | None = None  # None: the patient's best allowed channel
    wait_until: Condition | None = None
    wait_timeout: timedelta | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "offset_hours": _hours(self.offset),
            "template_family": self.template_family,
            "channel": self.channel.value if self.channel else BEST_CHANNEL,
            "wait_until": self.wait_until.value if self.wait_until else None,
            "wait_timeout_hours": _hours(self.wait_timeout) if self.wait_timeout else None,
        }


@dataclass(frozen=True, slots=True)
class CampaignDefinition:
    """What ``comm_campaigns`` stores for one campaign, validated."""

    org_id: str
    name: str
    segment_id: int
    steps: tuple[CampaignStep, ...]
    purpose: Purpose = Purpose.CAMPAIGN_EDUCATION
    description: str | None = None
    exit_on: frozenset[Condition] = DEFAULT_EXIT_ON
    variants: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_VARIANTS))
    holdout_percent: float = 0.0
    recurring: bool = False
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    def steps_json(self) -> list[dict[str, Any]]:
        return [step.as_json() for step in self.steps]

    @property
    def template_families(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(step.template_family for step in self.steps))

    @classmethod
    def parse(cls, document: Mapping[str, Any]) -> CampaignDefinition:
        """A definition from its JSON form (the API's body, the CLI's file, a stored row)."""
        problems: list[DefinitionProblem] = []

        def problem(pointer: str, message: str) -> None:
            problems.append(DefinitionProblem(pointer, message))

        org_id = document.get("org_id")
        if not isinstance(org_id, str) or not 1 <= len(org_id) <= 64:
            problem("/org_id", "an organisation id of 1 to 64 characters is required")
        name = document.get("name")
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200:
            problem("/name", "a name of 1 to 200 characters is required")
        segment_id = document.get("segment_id")
        if isinstance(segment_id, bool) or not isinstance(segment_id, int) or segment_id < 1:
            problem("/segment_id", "a segment id (a positive integer) is required")
        description = document.get("description")
        if description is not None and not isinstance(description, str):
            problem("/description", "must be text")
        purpose = _purpose(document.get("purpose", Purpose.CAMPAIGN_EDUCATION.value), problem)
        steps = _steps(document.get("steps"), problem)
        exit_on = _exit_on(document.get("exit_on"), problem)
        variants = _variants(document.get("variants"), problem)
        holdout = _holdout(document.get("holdout_percent", 0), problem)
        recurring = document.get("recurring", False)
        if not isinstance(recurring, bool):
            problem("/recurring", "must be true or false")
        starts_at = _moment(document.get("starts_at"), "/starts_at", problem)
        ends_at = _moment(document.get("ends_at"), "/ends_at", problem)
        if starts_at and ends_at and ends_at <= starts_at:
            problem("/ends_at", "the end date must come after the start date")
        for index, step in enumerate(steps):
            if step.wait_until is not None and step.wait_until in exit_on:
                problem(
                    f"/steps/{index}/wait_until",
                    f"{step.wait_until.value} is also an exit condition: the patient would leave "
                    "the campaign before this step could be sent",
                )
        if problems:
            raise CampaignDefinitionError(problems)
        return cls(
            org_id=str(org_id),
            name=str(name).strip(),
            segment_id=int(segment_id),  # type: ignore[arg-type]
            steps=tuple(steps),
            purpose=purpose or Purpose.CAMPAIGN_EDUCATION,
            description=description,
            exit_on=exit_on,
            variants=variants,
            holdout_percent=holdout,
            recurring=bool(recurring),
            starts_at=starts_at,
            ends_at=ends_at,
        )


Report = Any  # the ``problem(pointer, message)`` callback of ``parse``


def _hours(value: timedelta) -> float:
    hours = value.total_seconds() / 3600
    return int(hours) if hours == int(hours) else hours


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _purpose(value: Any, problem: Report) -> Purpose | None:
    try:
        purpose = Purpose(value)
    except ValueError:
        problem("/purpose", f"unknown purpose; one of {', '.join(p.value for p in Purpose)}")
        return None
    if purpose is Purpose.URGENT:
        problem("/purpose", "a campaign is never urgent")
        return None
    return purpose


def _duration(value: Any, pointer: str, problem: Report) -> timedelta | None:
    if not _number(value) or not math.isfinite(value) or value < 0:
        problem(pointer, "a number of hours, 0 or more, is required")
        return None
    if value > MAX_OFFSET / timedelta(hours=1):
        problem(pointer, f"at most {MAX_OFFSET.days} days")
        return None
    return timedelta(hours=value)


def _steps(value: Any, problem: Report) -> list[CampaignStep]:
    if not isinstance(value, list) or not value:
        problem("/steps", "at least one step is required")
        return []
    if len(value) > MAX_STEPS:
        problem("/steps", f"at most {MAX_STEPS} steps")
        return []
    steps: list[CampaignStep] = []
    previous = timedelta(0)
    for index, raw in enumerate(value):
        where = f"/steps/{index}"
        if not isinstance(raw, dict):
            problem(where, "a step is an object")
            continue
        unknown = set(raw) - {
            "offset_hours",
            "template_family",
            "channel",
            "wait_until",
            "wait_timeout_hours",
        }
        for name in sorted(unknown):
            problem(f"{where}/{name}", "unknown field")
        offset = _duration(raw.get("offset_hours", 0), f"{where}/offset_hours", problem)
        if offset is not None and offset < previous:
            problem(f"{where}/offset_hours", "steps go in order: no earlier than the step before")
        previous = offset if offset is not None else previous
        family = raw.get("template_family")
        if not isinstance(family, str) or not FAMILY_PATTERN.match(family):
            problem(
                f"{where}/template_family",
                "a template family name (lower-case letters, digits, _; up to 64) is required",
            )
        channel: Channel | None = None
        raw_channel = raw.get("channel", BEST_CHANNEL)
        if raw_channel != BEST_CHANNEL:
            try:
                channel = Channel(raw_channel)
            except ValueError:
                problem(
                    f"{where}/channel",
                    f"one of {', '.join(c.value for c in Channel)} or {BEST_CHANNEL}",
                )
        wait_until: Condition | None = None
        if raw.get("wait_until") is not None:
            try:
                wait_until = Condition(raw["wait_until"])
            except ValueError:
                problem(f"{where}/wait_until", f"one of {', '.join(c.value for c in Condition)}")
        timeout: timedelta | None = None
        if raw.get("wait_timeout_hours") is not None:
            timeout = _duration(raw["wait_timeout_hours"], f"{where}/wait_timeout_hours", problem)
        if wait_until is not None and timeout is None and "wait_timeout_hours" not in raw:
            problem(f"{where}/wait_timeout_hours", "a step that waits needs a timeout")
        if wait_until is None and raw.get("wait_timeout_hours") is not None:
            problem(f"{where}/wait_timeout_hours", "only a step that waits has a timeout")
        if index == 0 and wait_until is Condition.CLICKED:
            problem(f"{where}/wait_until", "the first step cannot wait for a click on nothing")
        if offset is not None and isinstance(family, str) and FAMILY_PATTERN.match(family):
            steps.append(CampaignStep(offset, family, channel, wait_until, timeout))
    return steps


def _exit_on(value: Any, problem: Report) -> frozenset[Condition]:
    if value is None:
        return DEFAULT_EXIT_ON
    if not isinstance(value, list):
        problem("/exit_on", "a list of conditions")
        return frozenset()
    conditions = set()
    for index, raw in enumerate(value):
        try:
            conditions.add(Condition(raw))
        except ValueError:
            problem(f"/exit_on/{index}", f"one of {', '.join(c.value for c in Condition)}")
    return frozenset(conditions)


def _variants(value: Any, problem: Report) -> dict[str, int]:
    if value is None:
        return dict(DEFAULT_VARIANTS)
    if not isinstance(value, dict) or not value:
        problem("/variants", "an object of variant names and integer weights")
        return {}
    if len(value) > MAX_VARIANTS:
        problem("/variants", f"at most {MAX_VARIANTS} variants")
        return {}
    variants: dict[str, int] = {}
    for name, weight in value.items():
        if not isinstance(name, str) or not VARIANT_PATTERN.match(name):
            problem(f"/variants/{name}", "a variant name is 1-16 letters, digits, _ or -")
        elif (
            isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT
        ):
            problem(f"/variants/{name}", f"a weight is an integer from 0 to {MAX_WEIGHT}")
        else:
            variants[name] = weight
    if variants and sum(variants.values()) == 0:
        problem("/variants", "the weights add up to zero: nobody would be messaged")
    return variants


def _holdout(value: Any, problem: Report) -> float:
    if not _number(value) or not (
        value == 0 or MIN_HOLDOUT_PERCENT <= value <= MAX_HOLDOUT_PERCENT
    ):
        problem(
            "/holdout_percent",
            f"0 (none) or a percentage from {MIN_HOLDOUT_PERCENT:g} to {MAX_HOLDOUT_PERCENT:g}",
        )
        return 0.0
    return round(float(value), 2)


def _moment(value: Any, pointer: str, problem: Report) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            problem(pointer, "an ISO 8601 date and time with its offset")
            return None
    else:
        problem(pointer, "an ISO 8601 date and time with its offset")
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        problem(pointer, "give the time zone offset (e.g. 2027-01-04T09:00:00+00:00)")
        return None
    return moment
