"""Campaign use cases against MariaDB: states, pause and resume of dispatch, refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from outreach.campaigns import CampaignAction, CampaignState, InvalidTransition
from outreach.domain import Actor, Channel, Purpose
from outreach.services.campaigns import (
    CampaignNotFound,
    CampaignRefused,
    campaign_choices,
    change_campaign_state,
    create_campaign,
    list_campaigns,
)
from outreach.sql.models import CampaignEnrollment, CommAuditLog
from outreach.sql.store import Store
from tests.factories import (
    add_recall_templates,
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


def test_the_list_shows_the_organisation_s_campaigns_newest_first_with_their_figures(
    mariadb_engine: Engine,
) -> None:
    org = new_tag("org")
    store = Store(mariadb_engine)
    older = active_campaign(mariadb_engine, org)
    newer = create_campaign(
        store, campaign_document(org, add_segment(mariadb_engine, org)), actor=ACTOR, now=NOW
    ).id
    active_campaign(mariadb_engine, new_tag("other"))  # another organisation's: not listed
    patients = [new_tag("p") for _ in range(3)]
    insert_rows(
        mariadb_engine,
        patients=[patient_row(p, org_id=org) for p in patients],
        jobs=[
            job_row(
                f"{patients[0]}:q", patients[0], NOW, org_id=org, campaign_id=older, variant="A"
            ),
            job_row(
                f"{patients[1]}:s",
                patients[1],
                NOW,
                org_id=org,
                campaign_id=older,
                variant="A",
                status="delivered",
            ),
        ],
    )
    with mariadb_engine.begin() as connection:
        connection.execute(
            CampaignEnrollment.__table__.insert(),
            [
                {"campaign_id": older, "patient_id": p, "variant": v, "state": state}
                for p, v, state in zip(
                    patients, ["A", "A", None], ["active", "completed", "held_out"], strict=True
                )
            ],
        )

    listed = list_campaigns(store, org)
    assert [s.campaign.id for s in listed] == [newer, older]
    assert [s.campaign.state for s in listed] == [CampaignState.DRAFT, CampaignState.ACTIVE]
    figures = listed[1].progress
    assert (figures.enrolled, figures.held_out, figures.jobs, figures.sent, figures.queued) == (
        3,
        1,
        2,
        1,
        1,
    )
    assert listed[0].progress.enrolled == 0 and listed[0].progress.jobs == 0
    assert [s.campaign.id for s in list_campaigns(store, org, limit=1)] == [newer]
    assert list_campaigns(store, new_tag("nobody")) == []


def test_the_choices_are_the_organisation_s_segments_and_active_named_families(
    mariadb_engine: Engine,
) -> None:
    org = new_tag("org")
    mine = add_segment(mariadb_engine, org)
    add_segment(mariadb_engine, new_tag("other"))
    add_recall_templates(mariadb_engine, org)
    add_recall_templates(mariadb_engine, new_tag("other"))

    choices = campaign_choices(Store(mariadb_engine), org)
    assert [s.id for s in choices.segments] == [mine]
    families = {f.name: f for f in choices.families}
    assert {"dental_recall", "dental_recall_reminder"} <= set(families)
    recall = families["dental_recall"]
    assert Purpose.CAMPAIGN_EDUCATION in recall.purposes
    assert {Channel.EMAIL, Channel.SMS} <= set(recall.channels)
    assert "A" in recall.variants
    assert campaign_choices(Store(mariadb_engine), new_tag("nobody")).segments == ()
