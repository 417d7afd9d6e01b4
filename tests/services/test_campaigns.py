"""Campaign use cases against MariaDB: states, pause and resume of dispatch, refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from outreach.campaigns import CampaignAction, CampaignState, InvalidTransition
from outreach.domain import Actor
from outreach.services.campaigns import (
    CampaignNotFound,
    CampaignRefused,
    change_campaign_state,
    create_campaign,
)
from outreach.sql.models import CommAuditLog
from outreach.sql.store import Store
from tests.factories import (
    add_segment,
    campaign_document,
    insert_rows,
    job_row,
    new_tag,
    patient_row,
)

NOW = datetime(2027, 3, 2, 15, 0, tzinfo=UTC)
ACTOR = Actor("test:campaigns")
audit = CommAuditLog.__table__


def active_campaign(engine: Engine, org_id: str) -> int:
    """A campaign made active directly (activation's checks are tested on their own)."""
    store = Store(engine)
    record = create_campaign(
        store,
        campaign_document(org_id, add_segment(engine, org_id)),
        actor=ACTOR,
        now=NOW,
    )
    with store.transaction() as repos:
        assert repos.campaigns.move(record.id, CampaignState.DRAFT, CampaignState.ACTIVE, NOW)
    return record.id


def claim(engine: Engine, now: datetime) -> set[int]:
    with Store(engine).transaction() as repos:
        return {c.job_id for c in repos.jobs.claim_due(now, 100, "scheduler")}


def test_pausing_stops_dispatch_at_once_and_resuming_continues(isolated_mariadb: Engine) -> None:
    org = new_tag("org")
    campaign_id = active_campaign(isolated_mariadb, org)
    other_id = active_campaign(isolated_mariadb, org)
    patient = new_tag("p")
    paused_job, other_campaign_job, event_job, later_job = insert_rows(
        isolated_mariadb,
        patients=[patient_row(patient, org_id=org)],
        jobs=[
            job_row(f"{patient}:1", patient, NOW, org_id=org, campaign_id=campaign_id),
            job_row(f"{patient}:2", patient, NOW, org_id=org, campaign_id=other_id),
            job_row(f"{patient}:3", patient, NOW, org_id=org),
            job_row(
                f"{patient}:4",
                patient,
                NOW,
                org_id=org,
                campaign_id=campaign_id,
                scheduled_for=NOW + timedelta(minutes=5),
            ),
        ],
    )
    store = Store(isolated_mariadb)

    change = change_campaign_state(store, campaign_id, CampaignAction.PAUSE, actor=ACTOR, now=NOW)
    assert change.state is CampaignState.PAUSED
    assert claim(isolated_mariadb, NOW + timedelta(minutes=10)) == {other_campaign_job, event_job}

    change_campaign_state(store, campaign_id, CampaignAction.RESUME, actor=ACTOR, now=NOW)
    # Still queued while paused, so they go now, in the order they fell due.
    assert claim(isolated_mariadb, NOW + timedelta(minutes=10)) == {paused_job, later_job}


def test_completing_cancels_what_is_still_queued(isolated_mariadb: Engine) -> None:
    org = new_tag("org")
    campaign_id = active_campaign(isolated_mariadb, org)
    patient = new_tag("p")
    queued, sent = insert_rows(
        isolated_mariadb,
        patients=[patient_row(patient, org_id=org)],
        jobs=[
            job_row(f"{patient}:q", patient, NOW, org_id=org, campaign_id=campaign_id),
            job_row(
                f"{patient}:s", patient, NOW, org_id=org, campaign_id=campaign_id, status="sent"
            ),
        ],
    )
    store = Store(isolated_mariadb)
    change = change_campaign_state(
        store, campaign_id, CampaignAction.COMPLETE, actor=ACTOR, now=NOW
    )
    assert (change.state, change.jobs_cancelled) == (CampaignState.COMPLETED, 1)
    assert claim(isolated_mariadb, NOW + timedelta(hours=1)) == set()
    with pytest.raises(InvalidTransition, match="cannot resume a completed campaign"):
        change_campaign_state(store, campaign_id, CampaignAction.RESUME, actor=ACTOR, now=NOW)
    change_campaign_state(store, campaign_id, CampaignAction.ARCHIVE, actor=ACTOR, now=NOW)
    with store.reading() as repos:
        assert repos.campaigns.get(campaign_id).state is CampaignState.ARCHIVED
    assert queued and sent


def test_state_changes_are_audited_with_who_made_them(mariadb_engine: Engine) -> None:
    org = new_tag("org")
    campaign_id = active_campaign(mariadb_engine, org)
    store = Store(mariadb_engine)
    change_campaign_state(
        store, campaign_id, CampaignAction.PAUSE, actor=Actor("test:maria"), now=NOW
    )
    with mariadb_engine.connect() as connection:
        entries = [
            (row.actor, row.detail)
            for row in connection.execute(
                select(audit.c.actor, audit.c.detail).where(audit.c.action == "campaign_paused")
            )
            if row.detail == {"campaign_id": campaign_id}
        ]
    assert entries == [("test:maria", {"campaign_id": campaign_id})]


def test_a_campaign_on_another_organisation_s_segment_is_refused(mariadb_engine: Engine) -> None:
    segment = add_segment(mariadb_engine, new_tag("org"))
    with pytest.raises(CampaignRefused, match="not a segment of organisation") as refused:
        create_campaign(
            Store(mariadb_engine),
            campaign_document(new_tag("other"), segment),
            actor=ACTOR,
            now=NOW,
        )
    assert refused.value.code == "unknown_segment"


def test_an_unknown_campaign_is_not_found(mariadb_engine: Engine) -> None:
    with pytest.raises(CampaignNotFound):
        change_campaign_state(
            Store(mariadb_engine), 987654321, CampaignAction.PAUSE, actor=ACTOR, now=NOW
        )
