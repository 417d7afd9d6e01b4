"""Hypothesis strategies: random segment rules over the catalogue, and random patients whose
values sit on the edges those rules test (case, trailing spaces, code point order, missing
fields, attributes of the wrong type, dates a microsecond either side of a day boundary)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from outreach.domain import AppointmentStatus
from outreach.segments import AppointmentSummary, PatientFacts, segment_catalogue

NOW = datetime(2026, 3, 2, 15, 0, 0, 500_000, tzinfo=UTC)
TODAY = NOW.date()
ATTRIBUTES = {"plan": "string", "score": "number", "vip": "boolean"}
CATALOGUE = segment_catalogue(ATTRIBUTES)

# Data and rule constants come from the same small pools, so comparisons land on their edges:
# texts that differ only by case, a trailing space, accents or code point order; day counts a
# rule names and appointments that fall on them (to the microsecond); ages on birthdays.
TEXTS = ["", "FL", "fl", "FL ", "GA", "a", "A", "é", "e\u0301", "\uffff", "\U00010000", "0",
         "10", "9"]  # fmt: skip
DAYS = [0, 1, 7, 30, 180, 182, 365]
DAY_CONSTANTS = [*DAYS, *(-d for d in DAYS), 0.5, 180.5, -1.5]
AGES = [0, 17, 18, 30, 64, 65, 90]
AGE_CONSTANTS = [*AGES, 17.5, 64.9, -1]
SCORES = [-1, 0, 0.5, 1, 2, 2.5, 10, 1_000_000]
COUNTS = [0, 1, 2, 0.5, 3]
TEXT_FIELDS = ["sex", "region", "postal_prefix", "provider_id", "language", "timezone",
               "preferred_channel", "attributes.plan"]  # fmt: skip
FLAG_FIELDS = ["contact_consent", "marketing_opt_in_email", "marketing_opt_in_sms",
               "opted_out_sms", "has_future_appointment", "attributes.vip"]  # fmt: skip
DATE_FIELDS = ["last_attended_at", "next_appointment_at"]
EQUALITY = ["==", "!=", "===", "!=="]
ORDER = ["<", "<=", ">", ">="]

texts = st.sampled_from(TEXTS)


def _instant(days: int, microseconds: int) -> datetime:
    return NOW + timedelta(days=days, microseconds=microseconds)


instants = st.builds(
    _instant,
    st.sampled_from([*DAYS, *(-d for d in DAYS), -183, 400, -800]),
    st.sampled_from([0, 0, -1, 1, 3_600_000_000]),
)


@st.composite
def birth_dates(draw: st.DrawFn) -> date | None:
    if draw(st.integers(0, 4)) == 0:
        return None
    if draw(st.integers(0, 9)) == 0:
        return date(1984, 2, 29)
    birthday = date(TODAY.year - draw(st.sampled_from(AGES)), TODAY.month, TODAY.day)
    return birthday + timedelta(days=draw(st.sampled_from([0, -1, 1, 40, -200])))


attribute_values = st.one_of(
    texts, st.sampled_from(SCORES), st.booleans(), st.none(), st.just([1]), st.just({"x": 1})
)


@st.composite
def attribute_maps(draw: st.DrawFn) -> dict[str, Any] | None:
    if draw(st.integers(0, 4)) == 0:
        return None
    present = draw(st.lists(st.sampled_from(sorted(ATTRIBUTES)), unique=True))
    return {key: draw(attribute_values) for key in present}


@st.composite
def preference_rows(draw: st.DrawFn) -> dict[str, Any] | None:
    if draw(st.integers(0, 3)) == 0:
        return None
    return {
        "language": draw(st.none() | texts),
        "timezone": draw(st.none() | st.sampled_from(["America/New_York", "UTC", ""])),
        "preferred_channel": draw(st.none() | st.sampled_from(["sms", "email", "whatsapp"])),
        "contact_consent": draw(st.booleans()),
        "marketing_opt_in_email": draw(st.booleans()),
        "marketing_opt_in_sms": draw(st.booleans()),
        "marketing_opt_in_whatsapp": draw(st.booleans()),
        "opted_out_email": draw(st.booleans()),
        "opted_out_sms": draw(st.booleans()),
        "opted_out_whatsapp": draw(st.booleans()),
    }


appointment_summaries = st.builds(
    AppointmentSummary, st.sampled_from(list(AppointmentStatus)), st.none() | instants
)


@st.composite
def patient_facts(draw: st.DrawFn, org_id: str, index: int) -> PatientFacts:
    return PatientFacts(
        patient_id=f"{org_id}-{index}",
        org_id=org_id,
        provider_id=draw(st.none() | st.sampled_from(["dr-1", "DR-1", "dr-2"])),
        date_of_birth=draw(birth_dates()),
        sex=draw(st.none() | texts),
        postal_code=draw(st.none() | st.sampled_from(["33101", "331", "33", "", "ab cd", "ÉÉÉx"])),
        region=draw(st.none() | texts),
        attributes=draw(attribute_maps()),
        preferences=draw(preference_rows()),
        appointments=tuple(draw(st.lists(appointment_summaries, max_size=4))),
    )


@st.composite
def clinics(draw: st.DrawFn, org_id: str) -> list[PatientFacts]:
    size = draw(st.integers(0, 30))
    return [draw(patient_facts(org_id, index)) for index in range(size)]


# ---- rules ----


def var(name: str) -> dict[str, Any]:
    return {"var": name}


@st.composite
def measured(draw: st.DrawFn) -> tuple[Any, st.SearchStrategy[Any]]:
    """A value a rule reads and constants of its type."""
    kind = draw(st.sampled_from(["text", "age", "score", "days", "count", "flag"]))
    if kind == "text":
        return var(draw(st.sampled_from(TEXT_FIELDS))), texts
    if kind == "age":
        return var("age"), st.sampled_from(AGE_CONSTANTS)
    if kind == "score":
        return var("attributes.score"), st.sampled_from(SCORES)
    if kind == "days":
        operator = draw(st.sampled_from(["days_since", "days_until"]))
        return {operator: var(draw(st.sampled_from(DATE_FIELDS)))}, st.sampled_from(DAY_CONSTANTS)
    if kind == "count":
        if draw(st.booleans()):
            return var("no_show_count"), st.sampled_from(COUNTS)
        status = draw(st.sampled_from([s.value for s in AppointmentStatus]))
        days = draw(st.sampled_from([d for d in DAYS if d] + [800]))
        return {"event_count": [status, days]}, st.sampled_from(COUNTS)
    return var(draw(st.sampled_from(FLAG_FIELDS))), st.booleans()


@st.composite
def comparisons(draw: st.DrawFn) -> dict[str, Any]:
    subject, constants = draw(measured())
    is_flag = "var" in subject and subject["var"] in FLAG_FIELDS
    operator = draw(st.sampled_from(EQUALITY if is_flag else EQUALITY + ORDER))
    constant = draw(st.none() | constants) if operator in EQUALITY else draw(constants)
    if operator in ("<", "<=") and not is_flag and draw(st.booleans()):
        return {operator: [draw(constants), subject, draw(constants)]}  # between
    pair = [subject, constant] if draw(st.booleans()) else [constant, subject]
    return {operator: pair}


@st.composite
def date_presence(draw: st.DrawFn) -> dict[str, Any]:
    operator = draw(st.sampled_from(EQUALITY))
    return {operator: [var(draw(st.sampled_from(DATE_FIELDS))), None]}


@st.composite
def memberships(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        subject, constants = draw(
            measured().filter(lambda m: "var" not in m[0] or m[0]["var"] not in FLAG_FIELDS)
        )
        return {"in": [subject, draw(st.lists(constants, max_size=4))]}
    return {"in": [draw(texts), var(draw(st.sampled_from(TEXT_FIELDS)))]}


@st.composite
def refused_by_sql(draw: st.DrawFn) -> dict[str, Any]:
    """Valid rules the compiler must refuse: two fields compared, an or's value compared."""
    if draw(st.booleans()):
        return {"==": [var("region"), var("sex")]}
    return {"==": [{"or": [var("region"), var("sex")]}, draw(texts)]}


compilable_leaves = st.one_of(
    comparisons(),
    comparisons(),
    comparisons(),
    memberships(),
    date_presence(),
    st.builds(var, st.sampled_from(TEXT_FIELDS + FLAG_FIELDS + DATE_FIELDS + ["age"])),
    st.sampled_from([True, False, None, 0, "", "x"]),
)
# One leaf in thirty is one SQL must refuse, so most rules stay compilable.
leaves = st.integers(0, 29).flatmap(lambda n: refused_by_sql() if n == 17 else compilable_leaves)


def _compose(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda xs: {"and": xs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda xs: {"or": xs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda x: {"!": x}, children),
        st.builds(lambda x: {"!!": [x]}, children),
        st.builds(lambda xs: {"if": xs}, st.lists(children, min_size=2, max_size=5)),
    )


rules = st.recursive(leaves, _compose, max_leaves=6)
