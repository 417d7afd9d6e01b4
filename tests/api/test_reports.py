"""``GET /api/v1/reports/funnel``: the funnel as JSON or CSV, small counts hidden unless exact,
for analysts and admins of their own organisation."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import Engine

from outreach.domain import Role
from outreach.services.roll_up_stats import roll_up_jobs
from outreach.sql.store import Store
from tests.funnel_fixture import at, build_funnel_clinic, ingest

from .conftest import ApiHarness

pytestmark = pytest.mark.asyncio(loop_scope="session")

DAY = "2026-03-02"


@pytest.fixture
def org_id(mariadb_engine: Engine) -> str:
    """The hand-counted clinic, its jobs rolled up (only its own: the database is shared)."""
    clinic = build_funnel_clinic(mariadb_engine)
    for minute, batch in enumerate(clinic.status_batches(), start=1):
        ingest(clinic, batch, at(minute))
    clinic.replies_and_visits(lambda step: at(10 + step))
    roll_up_jobs(Store(mariadb_engine), list(clinic.jobs.values()), at(30))
    return clinic.org_id


async def test_json_hides_small_counts_by_default(api: ApiHarness, org_id: str) -> None:
    api.act_as(Role.ANALYST, org_id)
    answer = await api.client.get("/api/v1/reports/funnel", params={"from": DAY, "to": DAY})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["small_cell_threshold"] == 11
    assert {s["step"]: s["count"] for s in report["steps"]}["sent"] == "<11"
    assert report["scope"] == {
        "org_id": org_id,
        "campaign_id": None,
        "purpose": None,
        "channel": None,
        "from": DAY,
        "to": DAY,
    }


async def test_exact_counts_for_analysts(api: ApiHarness, org_id: str) -> None:
    api.act_as(Role.ANALYST, org_id)
    answer = await api.client.get(
        "/api/v1/reports/funnel",
        params={"org_id": org_id, "from": DAY, "to": DAY, "exact": "true"},
    )
    report = answer.json()
    steps = {s["step"]: s for s in report["steps"]}
    assert (steps["sent"]["count"], steps["delivered"]["count"]) == (7, 4)
    assert steps["replied"]["rate"] == pytest.approx(0.75)
    assert report["reply_intents"] == [
        {"intent": "confirm", "count": 2},
        {"intent": "stop", "count": 1},
    ]
    assert report["small_cell_threshold"] is None


async def test_csv_has_a_line_per_day_and_dimension(api: ApiHarness, org_id: str) -> None:
    api.act_as(Role.ADMIN, org_id)
    answer = await api.client.get(
        "/api/v1/reports/funnel",
        params={"org_id": org_id, "from": DAY, "to": DAY, "format": "csv", "exact": "true"},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert {(r["purpose"], r["channel"]) for r in rows} == {
        ("appt_confirm", "sms"),
        ("appt_confirm", "whatsapp"),
        ("appt_confirm", "-"),
        ("appt_reminder", "email"),
    }
    assert sum(int(r["planned"]) for r in rows) == 10
    assert {r["day"] for r in rows} == {DAY}


async def test_a_purpose_or_a_channel_narrows_every_count(api: ApiHarness, org_id: str) -> None:
    api.act_as(Role.ANALYST, org_id)
    params = {"from": DAY, "to": DAY, "exact": "true"}
    reminders = (
        await api.client.get(
            "/api/v1/reports/funnel", params={**params, "purpose": "appt_reminder"}
        )
    ).json()
    steps = {s["step"]: s for s in reminders["steps"]}
    # J3 and J4 are the reminders (e-mails): J3 delivered and clicked, J4 bounced.
    assert (steps["planned"]["count"], steps["sent"]["count"]) == (2, 2)
    assert (steps["delivered"]["count"], steps["clicked"]["count"]) == (1, 1)
    assert reminders["scope"]["purpose"] == "appt_reminder"
    assert all(s["median_seconds"] is None for s in reminders["steps"])  # not kept per purpose
    assert "purpose appt_reminder" in reminders["title"]

    sms = (
        await api.client.get("/api/v1/reports/funnel", params={**params, "channel": "sms"})
    ).json()
    steps = {s["step"]: s["count"] for s in sms["steps"]}
    # J1 J2 J6 J8 J9 J10 were SMS; J1 J2 J6 J10 went out, J1 J6 arrived.
    assert (steps["planned"], steps["sent"], steps["delivered"]) == (6, 4, 2)
    assert sms["suppression_reasons"] == []  # J7 never had a channel
    assert {r["channel"] for r in sms["rows"]} == {"sms"}

    csv_answer = await api.client.get(
        "/api/v1/reports/funnel", params={**params, "channel": "sms", "format": "csv"}
    )
    rows = list(csv.DictReader(io.StringIO(csv_answer.text)))
    assert {r["channel"] for r in rows} == {"sms"} and sum(int(r["planned"]) for r in rows) == 6


async def test_an_unknown_purpose_or_a_bad_channel_name_is_refused(
    api: ApiHarness, org_id: str
) -> None:
    api.act_as(Role.ANALYST, org_id)
    for params in ({"purpose": "gossip"}, {"channel": "SMS; drop"}):
        answer = await api.client.get("/api/v1/reports/funnel", params=params)
        assert answer.status_code == 422, params


async def test_another_organisations_report_is_refused(api: ApiHarness, org_id: str) -> None:
    api.act_as(Role.ANALYST, "org-elsewhere")
    answer = await api.client.get(
        "/api/v1/reports/funnel", params={"org_id": org_id, "from": DAY, "to": DAY}
    )
    assert answer.status_code == 403
    assert answer.json()["detail"][0]["loc"] == "query.org_id"


async def test_a_backwards_period_is_refused(api: ApiHarness, org_id: str) -> None:
    api.act_as(Role.ANALYST, org_id)
    answer = await api.client.get(
        "/api/v1/reports/funnel", params={"from": "2026-03-05", "to": "2026-03-01"}
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == "query.to"
