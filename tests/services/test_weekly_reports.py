"""The weekly job e-mails each organisation's report once, through the SendGrid channel to the
provider simulator, to its analyst addresses: an HTML file of aggregates, no patient data."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, insert, select, update

from outreach.analytics.small_cells import CellPolicy
from outreach.channels import ChannelWorker
from outreach.channels.report_mailer import ChannelReportMailer
from outreach.services.roll_up_stats import roll_up_changes
from outreach.services.weekly_reports import send_weekly_reports
from outreach.sql.models import CommReportDelivery, OrgCommPrefs
from outreach.sql.store import Store
from tests.funnel_fixture import at, build_funnel_clinic, ingest

pytestmark = pytest.mark.services

# Monday 9 March 2026, 08:00 in New York (the funnel clinic's zone) and later in Paris.
MONDAY_NEW_YORK_8AM = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


def add_org(engine: Engine, zone: str, emails: list[str] | None) -> str:
    org_id = f"org-{uuid.uuid4().hex[:10]}"
    with engine.begin() as connection:
        connection.execute(
            insert(OrgCommPrefs.__table__).values(
                org_id=org_id, name=f"Clinic {org_id}", timezone=zone, analyst_emails=emails
            )
        )
    return org_id


def sent_mails(sim_client: httpx.Client) -> list[dict]:
    return [m for m in sim_client.get("/_sim/messages").json() if m["channel"] == "email"]


@pytest.fixture
def clinic_with_analysts(isolated_mariadb: Engine):
    clinic = build_funnel_clinic(isolated_mariadb)
    for minute, batch in enumerate(clinic.status_batches(), start=1):
        ingest(clinic, batch, at(minute))
    clinic.replies_and_visits(lambda step: at(10 + step))
    roll_up_changes(Store(isolated_mariadb), at(30), margin=timedelta(hours=1))
    with isolated_mariadb.begin() as connection:
        connection.execute(
            update(OrgCommPrefs.__table__)
            .where(OrgCommPrefs.__table__.c.org_id == clinic.org_id)
            .values(analyst_emails=["ana@clinic.example", "lee@clinic.example"])
        )
    return clinic


def test_one_email_per_organisation_with_the_report_attached(
    clinic_with_analysts, isolated_mariadb: Engine, channels: dict[str, ChannelWorker], sim_client
) -> None:
    paris = add_org(isolated_mariadb, "Europe/Paris", ["data@paris.example"])
    add_org(isolated_mariadb, "Asia/Tokyo", None)  # no analysts: no report
    store = Store(isolated_mariadb)
    mailer = ChannelReportMailer(channels["email"])

    sent = send_weekly_reports(store, mailer, MONDAY_NEW_YORK_8AM, policy=CellPolicy(11))

    assert sent == 2
    mails = sent_mails(sim_client)
    # One Mail Send per organisation; the simulator records one message per recipient.
    by_mail = {m["id"].split(".r")[0]: [] for m in mails}
    for mail in mails:
        by_mail[mail["id"].split(".r")[0]].append(mail["to"])
    assert sorted(sorted(v) for v in by_mail.values()) == [
        ["ana@clinic.example", "lee@clinic.example"],
        ["data@paris.example"],
    ]
    clinic_mail = next(m for m in mails if m["to"] == "ana@clinic.example")
    [attachment] = clinic_mail["attachments"]
    assert attachment["type"] == "text/html"
    assert attachment["filename"].endswith("2026-03-02.html")
    html = base64.b64decode(attachment["content"]).decode("utf-8")
    assert "Funnel" in html and "&lt;11" in html
    # Aggregates only: nothing about any patient (ids, the number replies came from).
    for patient_id in clinic_with_analysts.jobs:
        assert f"{clinic_with_analysts.org_id}-{patient_id}" not in html
    assert "+14155550000" not in html and "+14155550000" not in clinic_mail["body"]
    with isolated_mariadb.connect() as connection:
        rows = connection.execute(select(CommReportDelivery.__table__)).mappings().all()
    assert {(r["org_id"], str(r["period_start"])) for r in rows} == {
        (clinic_with_analysts.org_id, "2026-03-02"),
        (paris, "2026-03-02"),
    }
    assert all(r["sent_at"] is not None and r["provider_message_id"] for r in rows)


def test_a_week_is_sent_once_and_not_before_monday_8am_locally(
    clinic_with_analysts, isolated_mariadb: Engine, channels: dict[str, ChannelWorker], sim_client
) -> None:
    store = Store(isolated_mariadb)
    mailer = ChannelReportMailer(channels["email"])
    policy = CellPolicy(11)
    # 07:45 in New York: the week of 2 March is not due; the one before is (no rows: sent anyway).
    early = send_weekly_reports(
        store, mailer, MONDAY_NEW_YORK_8AM - timedelta(minutes=15), policy=policy
    )
    assert early == 1
    assert send_weekly_reports(store, mailer, MONDAY_NEW_YORK_8AM, policy=policy) == 1
    assert send_weekly_reports(store, mailer, MONDAY_NEW_YORK_8AM, policy=policy) == 0
    later = MONDAY_NEW_YORK_8AM + timedelta(days=2)
    assert send_weekly_reports(store, mailer, later, policy=policy) == 0
    assert len(sent_mails(sim_client)) == 2 * 2  # two mails, two recipients each


def test_a_failed_send_is_tried_again_at_the_next_run(
    clinic_with_analysts, isolated_mariadb: Engine, channels: dict[str, ChannelWorker], sim_client
) -> None:
    store = Store(isolated_mariadb)
    mailer = ChannelReportMailer(channels["email"])
    sim_client.post("/_sim/config", json={"forced_errors_by_channel": {"email": 500}})
    assert send_weekly_reports(store, mailer, MONDAY_NEW_YORK_8AM, policy=CellPolicy(11)) == 0
    sim_client.post("/_sim/config", json={"forced_errors_by_channel": {}})
    assert send_weekly_reports(store, mailer, MONDAY_NEW_YORK_8AM, policy=CellPolicy(11)) == 1
