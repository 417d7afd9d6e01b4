"""One-click unsubscribe (RFC 8058): the POST opts the patient out of e-mail, cancels their
queued e-mails, ends their enrolment in the campaign, audits, and tells the core platform once;
the GET page changes nothing; a forged link opens nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, select

from outreach import topics
from outreach.campaigns import CampaignState
from outreach.domain import Actor, Channel
from outreach.events import PatientOptedOutOutcome
from outreach.services.campaigns import create_campaign
from outreach.sql.models import CampaignEnrollment, CommAuditLog, CommJob, PatientCommPrefs
from outreach.sql.store import Store
from outreach.templating import UnsubscribeClaim, make_unsubscribe_link
from tests.factories import (
    add_segment,
    campaign_document,
    consenting_prefs_row,
    insert_rows,
    job_row,
    patient_row,
)

from .conftest import PORTAL_SECRET, PUBLIC_BASE_URL, ApiHarness, TopicProbe, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")
ACTOR = Actor("test:campaigns")

ONE_CLICK = {"content": b"List-Unsubscribe=One-Click"}
HEADERS = {"content-type": "application/x-www-form-urlencoded"}
prefs = PatientCommPrefs.__table__
jobs = CommJob.__table__
enrolments = CampaignEnrollment.__table__
audit = CommAuditLog.__table__


def enrolled_patient(engine: Engine) -> tuple[str, int, list[int]]:
    """A patient enrolled in an active campaign, with a queued e-mail and a queued SMS of it."""
    now = datetime.now(UTC)
    org, patient = unique("org"), unique("pat")
    store = Store(engine)
    campaign = create_campaign(
        store, campaign_document(org, add_segment(engine, org)), actor=ACTOR, now=now
    )
    with store.transaction() as repos:
        repos.campaigns.move(campaign.id, CampaignState.DRAFT, CampaignState.ACTIVE, now)
    later = now + timedelta(days=7)
    job_ids = insert_rows(
        engine,
        patients=[patient_row(patient, org_id=org)],
        prefs=[consenting_prefs_row(patient, now, email=f"{patient}@example.com")],
        jobs=[
            job_row(
                f"{patient}:e",
                patient,
                now,
                org_id=org,
                channel="email",
                purpose="campaign_education",
                campaign_id=campaign.id,
                scheduled_for=later,
            ),
            job_row(
                f"{patient}:s",
                patient,
                now,
                org_id=org,
                channel="sms",
                purpose="campaign_education",
                campaign_id=campaign.id,
                scheduled_for=later,
            ),
        ],
    )
    with engine.begin() as connection:
        connection.execute(
            insert(enrolments).values(
                campaign_id=campaign.id,
                patient_id=patient,
                variant="A",
                state="active",
                next_step=1,
                enrolled_at=now,
            )
        )
    return patient, campaign.id, job_ids


def link_path(patient: str, campaign_id: int | None, job_id: int | None = None) -> str:
    link = make_unsubscribe_link(
        PUBLIC_BASE_URL,
        PORTAL_SECRET,
        UnsubscribeClaim(patient, Channel.EMAIL, campaign_id, job_id),
    )
    return link.removeprefix(PUBLIC_BASE_URL)


def state_of(engine: Engine, patient: str, campaign_id: int, job_ids: list[int]) -> dict:
    with engine.connect() as connection:
        opted_out = connection.execute(
            select(prefs.c.opted_out_email, prefs.c.opted_out_sms).where(
                prefs.c.patient_id == patient
            )
        ).one()
        statuses = dict(
            connection.execute(select(jobs.c.id, jobs.c.status).where(jobs.c.id.in_(job_ids))).all()
        )
        enrolment = connection.execute(
            select(enrolments.c.state, enrolments.c.exit_reason).where(
                enrolments.c.campaign_id == campaign_id, enrolments.c.patient_id == patient
            )
        ).one()
        audits = connection.execute(
            select(audit.c.action, audit.c.actor, audit.c.detail).where(
                audit.c.patient_id == patient
            )
        ).all()
    return {
        "opted_out": tuple(opted_out),
        "jobs": [statuses[j] for j in job_ids],
        "enrolment": tuple(enrolment),
        "audits": [(a.action, a.actor, a.detail.get("via")) for a in audits],
    }


async def test_one_click_opts_out_of_email_once(api: ApiHarness, mariadb_engine: Engine) -> None:
    patient, campaign_id, job_ids = enrolled_patient(mariadb_engine)
    path = link_path(patient, campaign_id, job_ids[0])
    async with TopicProbe(api.bootstrap, topics.OUTCOMES) as probe:
        first = await api.client.post(path, headers=HEADERS, **ONE_CLICK)
        again = await api.client.post(path, headers=HEADERS, **ONE_CLICK)
        [record] = await probe.expect(lambda v: v.get("patient_id") == patient)
    assert first.status_code == again.status_code == 200
    assert "no more e-mails" in first.text and patient not in first.text
    outcome = PatientOptedOutOutcome.model_validate(json.loads(record.value))
    assert outcome.data.channels == [Channel.EMAIL] and outcome.data.via == "unsubscribe_link"
    assert (outcome.data.campaign_id, outcome.job_id, outcome.data.inbound_id) == (
        campaign_id,
        job_ids[0],
        None,
    )
    assert record.key == patient.encode()
    assert state_of(mariadb_engine, patient, campaign_id, job_ids) == {
        "opted_out": (True, False),
        "jobs": ["cancelled", "queued"],  # e-mail only: SMS is another consent
        "enrolment": ("exited", "unsubscribed"),
        "audits": [
            ("opt_out", "patient:unsubscribe-link", "unsubscribe_link"),
            ("opt_out_repeated", "patient:unsubscribe-link", "unsubscribe_link"),
        ],
    }


async def test_opening_the_link_changes_nothing(api: ApiHarness, mariadb_engine: Engine) -> None:
    patient, campaign_id, job_ids = enrolled_patient(mariadb_engine)
    before = state_of(mariadb_engine, patient, campaign_id, job_ids)
    page = await api.client.get(link_path(patient, campaign_id))
    assert page.status_code == 200 and '<form method="post">' in page.text
    assert state_of(mariadb_engine, patient, campaign_id, job_ids) == before


async def test_a_forged_link_opens_nothing(api: ApiHarness, mariadb_engine: Engine) -> None:
    patient, campaign_id, job_ids = enrolled_patient(mariadb_engine)
    forged = make_unsubscribe_link(
        PUBLIC_BASE_URL, "another-secret", UnsubscribeClaim(patient, Channel.EMAIL, campaign_id)
    ).removeprefix(PUBLIC_BASE_URL)
    before = state_of(mariadb_engine, patient, campaign_id, job_ids)
    for answer in (
        await api.client.post(forged, headers=HEADERS, **ONE_CLICK),
        await api.client.get(forged),
        await api.client.post(link_path(unique("nobody"), None), headers=HEADERS, **ONE_CLICK),
    ):
        assert answer.status_code == 404 and answer.json()["error"] == "invalid_token"
    assert state_of(mariadb_engine, patient, campaign_id, job_ids) == before


async def test_when_kafka_cannot_take_the_outcome_nothing_changes_and_a_retry_works(
    api: ApiHarness, mariadb_engine: Engine
) -> None:
    patient, campaign_id, job_ids = enrolled_patient(mariadb_engine)
    before = state_of(mariadb_engine, patient, campaign_id, job_ids)
    await api.publisher.stop()
    refused = await api.client.post(link_path(patient, campaign_id), headers=HEADERS, **ONE_CLICK)
    assert refused.status_code == 503
    assert state_of(mariadb_engine, patient, campaign_id, job_ids) == before
    await api.publisher.start()
    done = await api.client.post(link_path(patient, campaign_id), headers=HEADERS, **ONE_CLICK)
    assert done.status_code == 200
    assert state_of(mariadb_engine, patient, campaign_id, job_ids)["opted_out"] == (True, False)
