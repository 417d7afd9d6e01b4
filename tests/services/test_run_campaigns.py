"""The campaign runner against MariaDB (and SQLite for the assignment): enrolment from the
segment, A/B and hold-out, steps into decided jobs, exits, waits, recurring enrolment.

Each test works in a database of its own: rounds and recurring runs act on every active
campaign there.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select, update

from outreach.campaigns import CampaignAction, CampaignState, is_held_out, variant_for
from outreach.domain import Actor, Channel
from outreach.segments import RuleLimits, segment_catalogue
from outreach.segments.records import OPT_OUT_FIELDS
from outreach.services.campaigns import (
    CampaignRefused,
    activate_campaign,
    change_campaign_state,
    create_campaign,
)
from outreach.services.run_campaigns import CampaignRunner
from outreach.sim.deployment import daytime_zone
from outreach.sql.campaign_repository import CampaignRepository
from outreach.sql.errors import is_transient_database_error
from outreach.sql.models import (
    Appointment,
    CampaignEnrollment,
    CommCampaign,
    CommInbound,
    CommJob,
    CommStatusEvent,
    CommTemplate,
)
from outreach.sql.preference_rows import address_check_values
from outreach.sql.situation_repository import SituationRepository
from outreach.sql.store import Store
from outreach.sql.template_repository import TemplateRepository
from outreach.templating import load_seed_templates
from tests.factories import (
    add_segment,
    consenting_prefs_row,
    insert_rows,
    job_row,
    new_tag,
    opt_out,
    patient_row,
)

NOW = datetime(2027, 3, 2, 15, 0, tzinfo=UTC)
ACTOR = Actor("test:campaigns")
CATALOGUE = segment_catalogue()
LIMITS = RuleLimits()
enrolments = CampaignEnrollment.__table__
jobs = CommJob.__table__


class Clinic:
    """One organisation in a database of its own, its patients tagged by region."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = Store(engine)
        self.org = new_tag("org")
        with engine.begin() as connection:
            TemplateRepository(connection).seed(load_seed_templates())

    def patients(self, count: int, region: str, **prefs: Any) -> list[str]:
        ids = [new_tag("p") for _ in range(count)]
        opted_out = [Channel(c) for f, c in OPT_OUT_FIELDS.items() if prefs.pop(f, False)]
        zone = daytime_zone(NOW)
        insert_rows(
            self.engine,
            patients=[patient_row(p, org_id=self.org, region=region) for p in ids],
            prefs=[
                consenting_prefs_row(
                    p,
                    NOW,
                    **{
                        "email": f"{p}@example.com",
                        "phone": None,  # e-mail only: one channel, one reason
                        "timezone": zone,
                        "language": "en",
                        "marketing_opt_in_email": True,
                        **prefs,
                    },
                )
                for p in ids
            ],
        )
        for patient in ids if opted_out else ():
            opt_out(self.engine, patient, *opted_out)
        return ids

    def campaign(self, region: str, **fields: Any) -> int:
        segment = add_segment(self.engine, self.org, {"==": [{"var": "region"}, region]})
        document = {
            "org_id": self.org,
            "name": new_tag("campaign"),
            "segment_id": segment,
            "steps": [
                {"template_family": "dental_recall"},
                {"offset_hours": 168, "template_family": "dental_recall_reminder"},
            ],
            **fields,
        }
        record = create_campaign(self.store, document, actor=ACTOR, now=NOW)
        activate_campaign(self.store, record.id, CATALOGUE, LIMITS, actor=ACTOR, now=NOW)
        return record.id

    def runner(self, at: datetime = NOW) -> CampaignRunner:
        return CampaignRunner(self.store, CATALOGUE, LIMITS, plan_chunk_size=7, clock=lambda: at)

    def enrolled(self, campaign_id: int) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(enrolments).where(enrolments.c.campaign_id == campaign_id)
            ).mappings()
            return {row["patient_id"]: dict(row) for row in rows}

    def jobs(self, campaign_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(jobs).where(jobs.c.campaign_id == campaign_id).order_by(jobs.c.id)
            ).mappings()
            return [dict(row) for row in rows]


@pytest.fixture
def clinic(isolated_mariadb: Engine) -> Clinic:
    return Clinic(isolated_mariadb)


def test_expansion_enrols_the_segment_and_plans_the_first_step_once(clinic: Clinic) -> None:
    region = new_tag("r")
    members = clinic.patients(30, region)
    clinic.patients(5, new_tag("elsewhere"))
    campaign_id = clinic.campaign(region)

    first = clinic.runner().expand(campaign_id)
    again = clinic.runner().expand(campaign_id)

    assert first.enrolled == 30 and first.jobs_created == 30
    assert (again.enrolled, again.jobs_created) == (0, 0)
    assert set(clinic.enrolled(campaign_id)) == set(members)
    planned = clinic.jobs(campaign_id)
    assert len(planned) == 30
    assert {j["idempotency_key"] for j in planned} == {
        f"campaign:{campaign_id}:{p}:step-0" for p in members
    }
    # Consenting, opted in to marketing e-mail, reachable: each queued on e-mail, in its hour.
    assert {(j["status"], j["channel"], j["purpose"]) for j in planned} == {
        ("queued", "email", "campaign_education")
    }
    assert all(
        j["context"] == {"template_family": "dental_recall", "campaign_step": 0} for j in planned
    )


def test_each_job_is_decided_like_any_other(clinic: Clinic) -> None:
    region = new_tag("r")
    clinic.patients(4, region)
    clinic.patients(3, region, marketing_opt_in_email=False)
    clinic.patients(2, region, opted_out_email=True)
    clinic.patients(1, region, contact_consent=False)
    campaign_id = clinic.campaign(region, variants={"A": 1})
    clinic.runner().expand(campaign_id)
    outcomes = Counter((j["status"], j["suppression_reason"]) for j in clinic.jobs(campaign_id))
    assert outcomes == {
        ("queued", None): 4,
        ("suppressed", "no_marketing_opt_in"): 3,
        ("suppressed", "opted_out"): 2,
        ("suppressed", "no_consent"): 1,
    }


def test_variants_and_hold_out_are_the_hash_of_campaign_and_patient(clinic: Clinic) -> None:
    region = new_tag("r")
    clinic.patients(300, region)
    weights = {"A": 30, "B": 60, "C": 10}
    campaign_id = clinic.campaign(region, variants=weights, holdout_percent=15)
    clinic.runner().expand(campaign_id)

    enrolled = clinic.enrolled(campaign_id)
    held = {p for p, row in enrolled.items() if row["state"] == "held_out"}
    assert held == {p for p in enrolled if is_held_out(campaign_id, p, 15)}
    assert 0 < len(held) < 100
    for patient, row in enrolled.items():
        expected = None if patient in held else variant_for(campaign_id, patient, weights)
        assert row["variant"] == expected
    planned = clinic.jobs(campaign_id)
    assert {j["patient_id"] for j in planned} == set(enrolled) - held  # never the hold-out
    assert all(j["variant"] == enrolled[j["patient_id"]]["variant"] for j in planned)


def test_the_sql_assignment_agrees_with_python_on_sqlite_too(sqlite_engine: Engine) -> None:
    clinic = Clinic(sqlite_engine)
    region = new_tag("r")
    clinic.patients(120, region)
    weights = {"A": 1, "B": 1}
    campaign_id = clinic.campaign(region, variants=weights, holdout_percent=10)
    clinic.runner().expand(campaign_id)
    for patient, row in clinic.enrolled(campaign_id).items():
        if is_held_out(campaign_id, patient, 10):
            assert (row["state"], row["variant"]) == ("held_out", None)
        else:
            assert (row["state"], row["variant"]) == (
                "active",
                variant_for(campaign_id, patient, weights),
            )


def test_the_next_step_waits_for_its_offset(clinic: Clinic) -> None:
    region = new_tag("r")
    clinic.patients(5, region)
    campaign_id = clinic.campaign(region)
    clinic.runner().expand(campaign_id)
    assert clinic.runner(NOW + timedelta(days=6)).run_round().jobs_created == 0
    later = clinic.runner(NOW + timedelta(days=7, minutes=1)).run_round()
    assert later.jobs_created == 5
    steps = Counter(j["context"]["campaign_step"] for j in clinic.jobs(campaign_id))
    assert steps == {0: 5, 1: 5}
    assert {row["state"] for row in clinic.enrolled(campaign_id).values()} == {"completed"}


def test_exit_conditions_end_enrolments_and_cancel_what_is_queued(clinic: Clinic) -> None:
    region = new_tag("r")
    booked, stopped, confirmed, clicked, stays = clinic.patients(5, region)
    campaign_id = clinic.campaign(
        region, exit_on=["booked", "replied_stop", "confirmed", "clicked"]
    )
    clinic.runner().expand(campaign_id)
    first_jobs = {j["patient_id"]: j["id"] for j in clinic.jobs(campaign_id)}
    after = NOW + timedelta(hours=2)
    with clinic.engine.begin() as connection:
        # The clicked patient's e-mail went out and was clicked; the others' are still queued.
        connection.execute(
            update(jobs)
            .where(jobs.c.id == first_jobs[clicked])
            .values(status="clicked", provider_message_id=f"m-{clicked}")
        )
        connection.execute(
            insert(CommStatusEvent.__table__).values(
                job_id=first_jobs[clicked],
                provider="sendgrid",
                provider_message_id=f"m-{clicked}",
                status="clicked",
                occurred_at=after,
            )
        )
        connection.execute(
            insert(Appointment.__table__).values(
                appointment_id=new_tag("apt"),
                org_id=clinic.org,
                patient_id=booked,
                starts_at=NOW + timedelta(days=10),
                status="booked",
                last_event_id="e1",
                last_event_type="appointment.booked",
                last_event_at=after,
            )
        )
        for patient, intent in ((stopped, "stop"), (confirmed, "confirm")):
            connection.execute(
                insert(CommInbound.__table__).values(
                    provider="twilio",
                    provider_message_id=new_tag("SM"),
                    channel="sms",
                    from_address="+12125550147",
                    body="...",
                    received_at=after,
                    patient_id=patient,
                    intent=intent,
                )
            )
        # Facts from before the enrolment do not count.
        connection.execute(
            insert(CommInbound.__table__).values(
                provider="twilio",
                provider_message_id=new_tag("SM"),
                channel="sms",
                from_address="+12125550147",
                body="...",
                received_at=NOW - timedelta(days=1),
                patient_id=stays,
                intent="stop",
            )
        )

    round_ = clinic.runner(after + timedelta(minutes=1)).run_round()

    assert round_.exited == {"booked": 1, "replied_stop": 1, "confirmed": 1, "clicked": 1}
    enrolled = clinic.enrolled(campaign_id)
    assert {p: (r["state"], r["exit_reason"]) for p, r in enrolled.items()} == {
        booked: ("exited", "booked"),
        stopped: ("exited", "replied_stop"),
        confirmed: ("exited", "confirmed"),
        clicked: ("exited", "clicked"),
        stays: ("active", None),
    }
    statuses = {j["patient_id"]: j["status"] for j in clinic.jobs(campaign_id)}
    assert statuses == {
        booked: "cancelled",
        stopped: "cancelled",
        confirmed: "cancelled",
        clicked: "clicked",
        stays: "queued",
    }
    # A week on, only the patient still enrolled gets the reminder.
    clinic.runner(NOW + timedelta(days=8)).run_round()
    reminders = [j for j in clinic.jobs(campaign_id) if j["context"]["campaign_step"] == 1]
    assert [j["patient_id"] for j in reminders] == [stays]


def test_a_step_that_waits_goes_once_its_condition_holds_or_is_skipped(clinic: Clinic) -> None:
    region = new_tag("r")
    engaged, silent = clinic.patients(2, region)
    campaign_id = clinic.campaign(
        region,
        exit_on=["booked"],
        steps=[
            {"template_family": "dental_recall"},
            {
                "offset_hours": 24,
                "template_family": "dental_recall_reminder",
                "wait_until": "clicked",
                "wait_timeout_hours": 48,
            },
        ],
    )
    clinic.runner().expand(campaign_id)
    [first] = [j for j in clinic.jobs(campaign_id) if j["patient_id"] == engaged]
    with clinic.engine.begin() as connection:
        connection.execute(
            insert(CommStatusEvent.__table__).values(
                job_id=first["id"],
                provider="sendgrid",
                provider_message_id="m1",
                status="clicked",
                occurred_at=NOW + timedelta(hours=30),
            )
        )
    clinic.runner(NOW + timedelta(hours=31)).run_round()
    clinic.runner(NOW + timedelta(hours=73)).run_round()

    second = [
        j["patient_id"] for j in clinic.jobs(campaign_id) if j["context"]["campaign_step"] == 1
    ]
    assert second == [engaged]
    enrolled = clinic.enrolled(campaign_id)
    assert enrolled[silent]["state"] == "completed" and enrolled[silent]["next_step"] == 2


def test_recurring_enrolment_adds_only_new_matches(clinic: Clinic) -> None:
    region = new_tag("r")
    first = clinic.patients(6, region)
    campaign_id = clinic.campaign(region, recurring=True)
    clinic.runner().run_round()
    with clinic.engine.begin() as connection:  # one of them left the campaign meanwhile
        connection.execute(
            update(enrolments)
            .where(enrolments.c.patient_id == first[0])
            .values(state="exited", exit_reason="booked")
        )
    newcomers = clinic.patients(4, region)
    clinic.patients(3, new_tag("elsewhere"))

    nightly = clinic.runner(NOW + timedelta(days=1)).enrol_new_matches()
    again = clinic.runner(NOW + timedelta(days=1, hours=1)).enrol_new_matches()

    assert (nightly.enrolled, again.enrolled) == (4, 0)
    enrolled = clinic.enrolled(campaign_id)
    assert set(enrolled) == set(first) | set(newcomers)
    assert enrolled[first[0]]["state"] == "exited"  # one enrolment per patient, ever
    new_jobs = [j for j in clinic.jobs(campaign_id) if j["patient_id"] in newcomers]
    assert len(new_jobs) == 4  # planned at once, from their own enrolment


def test_a_one_off_campaign_completes_when_nothing_is_left_and_at_its_end_date(
    clinic: Clinic,
) -> None:
    once, until = new_tag("r"), new_tag("r")
    clinic.patients(3, once)
    clinic.patients(3, until)
    one_step = clinic.campaign(once, steps=[{"template_family": "dental_recall"}])
    dated = clinic.campaign(until, ends_at=(NOW + timedelta(days=3)).isoformat())
    clinic.runner().run_round()
    with clinic.engine.begin() as connection:
        connection.execute(update(jobs).where(jobs.c.campaign_id == one_step).values(status="sent"))
    ended = clinic.runner(NOW + timedelta(days=3)).run_round()
    assert sorted(ended.completed) == sorted([one_step, dated])
    with clinic.store.reading() as repos:
        assert repos.campaigns.get(dated).state is CampaignState.COMPLETED
    assert {j["status"] for j in clinic.jobs(dated)} == {"cancelled"}


def test_activation_refuses_a_template_breaking_the_phi_policy(clinic: Clinic) -> None:
    region = new_tag("r")
    clinic.patients(2, region)
    with clinic.engine.begin() as connection:
        connection.execute(
            insert(CommTemplate.__table__).values(
                family_key=new_tag("fk"),
                org_id=clinic.org,
                purpose="campaign_education",
                channel="sms",
                language="en",
                body="Hi {{ first_name }}, about your {{ diagnosis }}",
                declared_variables=["first_name", "diagnosis"],
                is_active=True,
                family="leaky",
            )
        )
    segment = add_segment(clinic.engine, clinic.org, {"==": [{"var": "region"}, region]})
    record = create_campaign(
        clinic.store,
        {
            "org_id": clinic.org,
            "name": "leaky",
            "segment_id": segment,
            "steps": [{"template_family": "leaky"}],
        },
        actor=ACTOR,
        now=NOW,
    )
    with pytest.raises(CampaignRefused) as refused:
        activate_campaign(clinic.store, record.id, CATALOGUE, LIMITS, actor=ACTOR, now=NOW)
    assert refused.value.code == "phi_policy_violation"
    assert "diagnosis" in str(refused.value)
    with clinic.store.reading() as repos:
        assert repos.campaigns.get(record.id).state is CampaignState.DRAFT


def test_activation_refuses_an_empty_segment(clinic: Clinic) -> None:
    clinic.patients(2, new_tag("r"))
    segment = add_segment(clinic.engine, clinic.org, {"==": [{"var": "region"}, "nowhere"]})
    record = create_campaign(
        clinic.store,
        {
            "org_id": clinic.org,
            "name": "n",
            "segment_id": segment,
            "steps": [{"template_family": "dental_recall"}],
        },
        actor=ACTOR,
        now=NOW,
    )
    with pytest.raises(CampaignRefused, match="matches no patient") as refused:
        activate_campaign(clinic.store, record.id, CATALOGUE, LIMITS, actor=ACTOR, now=NOW)
    assert refused.value.code == "empty_segment"


def test_activation_refuses_a_segment_the_catalogue_cannot_read(clinic: Clinic) -> None:
    clinic.patients(2, new_tag("r"))
    segment = add_segment(clinic.engine, clinic.org, {"==": [{"var": "shoe_size"}, 42]})
    record = create_campaign(
        clinic.store,
        {
            "org_id": clinic.org,
            "name": "n",
            "segment_id": segment,
            "steps": [{"template_family": "dental_recall"}],
        },
        actor=ACTOR,
        now=NOW,
    )
    with pytest.raises(CampaignRefused, match="cannot be evaluated") as refused:
        activate_campaign(clinic.store, record.id, CATALOGUE, LIMITS, actor=ACTOR, now=NOW)
    assert refused.value.code == "invalid_segment"


def test_a_paused_campaign_plans_and_enrols_nothing_until_resumed(clinic: Clinic) -> None:
    region = new_tag("r")
    clinic.patients(3, region)
    campaign_id = clinic.campaign(region, recurring=True)
    clinic.runner().run_round()
    change_campaign_state(clinic.store, campaign_id, CampaignAction.PAUSE, actor=ACTOR, now=NOW)
    clinic.patients(2, region)  # new matches, and the reminder falls due, while paused
    later = NOW + timedelta(days=8)
    paused_round = clinic.runner(later).run_round()
    paused_nightly = clinic.runner(later).enrol_new_matches()
    assert (paused_round.jobs_created, paused_nightly.enrolled) == (0, 0)
    change_campaign_state(clinic.store, campaign_id, CampaignAction.RESUME, actor=ACTOR, now=later)
    resumed = clinic.runner(later).enrol_new_matches()
    assert resumed.enrolled == 2
    steps = Counter(j["context"]["campaign_step"] for j in clinic.jobs(campaign_id))
    assert steps == {0: 5, 1: 3}  # the newcomers' invitation, the first three's reminder


# ---- expansion at scale: worker processes, reruns ----

_ZONES = ("America/New_York", "America/Los_Angeles", "Europe/Bucharest", "Asia/Tokyo")


def _varied_clinic(
    clinic: Clinic, region: str, count: int, *, profiles: int | None = None
) -> list[str]:
    """``count`` patients whose decisions differ: zones day and night, e-mail, SMS or WhatsApp,
    Florida and invalid numbers and addresses, addresses checked when stored or not, no,
    lapsed or soon lapsing consent (inside the sending window), marketing opt-ins or not, a
    best hour, allowed channels, providers, opt-outs, and recent marketing messages that caps
    count.

    With ``profiles``, patients share that many sets of preferences (as a clinic's patients
    do), and differ in their own details: addresses, area codes, consent dates.
    """
    rng = random.Random(count)
    ids = [f"{region}-{n:05d}" for n in range(count)]
    prefs = []
    for number, patient in enumerate(ids):
        shape = random.Random(number % profiles) if profiles else rng
        area = rng.choice(("212", "415", "305", "617"))  # 305: a Florida number
        phone = shape.choice((f"+1{area}555{rng.randrange(1000, 9999)}", "+1555012", None))
        whatsapp = shape.choice((None, None, f"+1{area}555{rng.randrange(1000, 9999)}"))
        email = rng.choice((f"{patient}@example.com",) * 6 + ("not-an-address", None))
        row = consenting_prefs_row(
            patient,
            NOW,
            phone=phone,
            whatsapp=whatsapp,
            email=email,
            timezone=shape.choice(_ZONES),
            language=shape.choice(("en", "es")),
            preferred_channel=shape.choice(("email", "sms", "whatsapp", None)),
            allowed_channels=shape.choice((None, None, ["email", "sms"], ["sms", "whatsapp"])),
            best_hour=shape.choice((None, None, 9, 18)),
            marketing_opt_in_email=shape.random() < 0.6,
            marketing_opt_in_sms=shape.random() < 0.4,
            marketing_opt_in_whatsapp=shape.random() < 0.3,
            whatsapp_opt_in=shape.random() < 0.5,
            fatigue_score=rng.choice((None, rng.random())),
        )
        # Most checked when stored, as the patient upsert does; the others never checked.
        checked = address_check_values(email, phone, whatsapp)
        row.update(checked if rng.random() < 0.8 else dict.fromkeys(checked))
        if rng.random() < 0.03:
            # Changed since its check by another writer, to an address MariaDB's collation
            # takes for the checked one, but which is not deliverable.
            row.update(email=f"josé{number}@example.com", email_checked=f"jose{number}@example.com")
            row["email_valid"] = True
        draw = shape.random() if rng.random() < 0.5 else rng.random()
        if draw < 0.1:
            row.update(contact_consent=False, consent_granted_at=None, consent_expires_at=None)
        elif draw < 0.15:
            row["consent_expires_at"] = NOW - timedelta(days=1)
        elif draw < 0.3:  # lapses while the step may still send
            row["consent_expires_at"] = NOW + timedelta(minutes=rng.randrange(1, 4 * 24 * 60))
        elif draw < 0.33:  # granted with no expiry recorded: two years after the grant
            row["consent_expires_at"] = None
        prefs.append(row)
    history = [
        job_row(
            new_tag("earlier"),
            patient,
            NOW - timedelta(hours=rng.randrange(1, 100)),
            org_id=clinic.org,
            purpose="campaign_education",
            channel=rng.choice(("email", "sms")),
        )
        for patient in ids
        if rng.random() < 0.2
    ]
    insert_rows(
        clinic.engine,
        patients=[
            patient_row(
                p,
                org_id=clinic.org,
                region=region,
                provider_id=("dr-a", "dr-b")[n % profiles % 2 if profiles else rng.randrange(2)],
            )
            for n, p in enumerate(ids)
        ],
        prefs=prefs,
        jobs=history,
    )
    for patient in ids:
        if rng.random() < 0.05:
            opt_out(clinic.engine, patient, rng.choice((Channel.EMAIL, Channel.SMS)))
    return ids


def _outcome(
    clinic: Clinic, campaign_id: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every job and enrolment of the campaign as a user would compare them (no row ids or
    bookkeeping times)."""
    with clinic.engine.connect() as connection:
        planned = connection.execute(
            select(
                jobs.c.idempotency_key,
                jobs.c.patient_id,
                jobs.c.variant,
                jobs.c.purpose,
                jobs.c.channel,
                jobs.c.status,
                jobs.c.suppression_reason,
                jobs.c.requested_at,
                jobs.c.scheduled_for,
                jobs.c.deadline,
                jobs.c.language,
                jobs.c.last_error,
                jobs.c.send_time_source,
                jobs.c.send_time_propensity,
                jobs.c.context,
            )
            .where(jobs.c.campaign_id == campaign_id)
            .order_by(jobs.c.idempotency_key)
        ).all()
        enrolled = connection.execute(
            select(
                enrolments.c.patient_id,
                enrolments.c.variant,
                enrolments.c.state,
                enrolments.c.next_step,
                enrolments.c.finished_at,
            )
            .where(enrolments.c.campaign_id == campaign_id)
            .order_by(enrolments.c.patient_id)
        ).all()
    return [tuple(r) for r in planned], [tuple(r) for r in enrolled]


def _start_again(clinic: Clinic, campaign_id: int) -> None:
    """The campaign as it was just activated: no enrolment, no job."""
    with clinic.engine.begin() as connection:
        connection.execute(delete(jobs).where(jobs.c.campaign_id == campaign_id))
        connection.execute(delete(enrolments).where(enrolments.c.campaign_id == campaign_id))
        connection.execute(
            update(CommCampaign.__table__)
            .where(CommCampaign.__table__.c.id == campaign_id)
            .values(enrolled_through=None, status="active")
        )


def _runner(
    clinic: Clinic, workers: int, *, by_situation: bool = False, at: datetime = NOW
) -> CampaignRunner:
    return CampaignRunner(
        clinic.store,
        CATALOGUE,
        LIMITS,
        enrol_chunk_size=500,
        plan_chunk_size=150,
        expansion_workers=workers,
        plan_by_situation=by_situation,
        situation_chunk_size=400,
        is_transient=is_transient_database_error,
        clock=lambda: at,
    )


def test_worker_processes_plan_exactly_the_jobs_one_process_plans(clinic: Clinic) -> None:
    region = new_tag("r")
    _varied_clinic(clinic, region, 2_500)
    campaign_id = clinic.campaign(region, variants={"A": 50, "B": 50}, holdout_percent=5)

    alone = _runner(clinic, 1).expand(campaign_id)
    by_one = _outcome(clinic, campaign_id)
    _start_again(clinic, campaign_id)
    together = _runner(clinic, 2).expand(campaign_id)
    by_two = _outcome(clinic, campaign_id)

    assert (together.enrolled, together.jobs_created) == (alone.enrolled, alone.jobs_created)
    assert together.by_status == alone.by_status
    assert together.suppressions == alone.suppressions
    assert by_two == by_one
    # The population exercises the decisions, not one easy path.
    assert len(alone.suppressions) >= 4 and alone.by_status["queued"] > 100
    assert len({job[4] for job in by_one[0]}) == 4  # e-mail, SMS, WhatsApp, none
    # A rerun in worker processes adds nothing.
    again = _runner(clinic, 2).expand(campaign_id)
    assert (again.enrolled, again.jobs_created) == (0, 0)
    assert _outcome(clinic, campaign_id) == by_one


def test_a_rerun_after_a_crash_completes_the_expansion_without_duplicates(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    region = new_tag("r")
    _varied_clinic(clinic, region, 1_200)
    campaign_id = clinic.campaign(region, variants={"A": 50, "B": 50})
    _runner(clinic, 1).expand(campaign_id)
    reference = _outcome(clinic, campaign_id)
    _start_again(clinic, campaign_id)

    # The process dies while moving the fourth chunk's enrolments on, after its jobs were
    # inserted in the same transaction.
    advance = CampaignRepository.advance
    calls = []

    def crash_on_the_fourth(self: CampaignRepository, *args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("killed")
        return advance(self, *args, **kwargs)

    monkeypatch.setattr(CampaignRepository, "advance", crash_on_the_fourth)
    with pytest.raises(RuntimeError, match="killed"):
        _runner(clinic, 1).expand(campaign_id)
    monkeypatch.undo()
    planned, enrolled = _outcome(clinic, campaign_id)
    assert len(planned) == 3 * 150  # three chunks committed, the fourth left nothing behind
    assert sum(1 for e in enrolled if e[3] == 1) == 3 * 150

    rerun = _runner(clinic, 2).expand(campaign_id)

    assert rerun.enrolled == 0  # enrolment had finished before the crash
    assert rerun.jobs_created == len(reference[0]) - 3 * 150
    assert _outcome(clinic, campaign_id) == reference


def _by_situation_and_by_patient(
    clinic: Clinic, count: int, at: datetime = NOW, threads: int = 1
) -> None:
    region = new_tag("r")
    _varied_clinic(clinic, region, count, profiles=count // 40)
    campaign_id = clinic.campaign(region, variants={"A": 50, "B": 50}, holdout_percent=5)

    by_patient = _runner(clinic, 1, at=at).expand(campaign_id)
    reference = _outcome(clinic, campaign_id)
    _start_again(clinic, campaign_id)
    by_situation = _runner(clinic, threads, by_situation=True, at=at).expand(campaign_id)

    assert _outcome(clinic, campaign_id) == reference
    assert (by_situation.enrolled, by_situation.jobs_created) == (
        by_patient.enrolled,
        by_patient.jobs_created,
    )
    assert by_situation.by_status == by_patient.by_status
    assert by_situation.suppressions == by_patient.suppressions
    # Most jobs went by situation; the rest (opt-outs, recent messages, unchecked addresses,
    # consent lapsing inside the window...) patient by patient.
    assert by_patient.by_situation == 0
    assert by_patient.jobs_created * 0.3 < by_situation.by_situation < by_patient.jobs_created
    assert len(by_patient.suppressions) >= 5 and by_patient.by_status["queued"] > 100
    # A rerun adds nothing.
    again = _runner(clinic, 1, by_situation=True, at=at).expand(campaign_id)
    assert (again.enrolled, again.jobs_created) == (0, 0)
    assert _outcome(clinic, campaign_id) == reference


def test_deciding_by_situation_plans_exactly_the_jobs_patient_by_patient_decisions_plan(
    clinic: Clinic,
) -> None:
    _by_situation_and_by_patient(clinic, 2_500)


def test_chunks_written_by_situation_in_threads_plan_the_same_jobs(clinic: Clinic) -> None:
    _by_situation_and_by_patient(clinic, 2_500, threads=3)


def test_deciding_by_situation_agrees_at_night_too(clinic: Clinic) -> None:
    """At 03:00 in New York: quiet hours and the legal window move most send times."""
    _by_situation_and_by_patient(clinic, 2_000, at=datetime(2027, 3, 2, 8, 0, tzinfo=UTC))


def test_deciding_by_situation_agrees_in_the_evening_too(clinic: Clinic) -> None:
    """At 20:30 in New York: the legal window has closed for Florida numbers only."""
    _by_situation_and_by_patient(clinic, 2_000, at=datetime(2027, 3, 3, 1, 30, tzinfo=UTC))


def test_deciding_by_situation_agrees_on_sqlite_too(sqlite_engine: Engine) -> None:
    _by_situation_and_by_patient(Clinic(sqlite_engine), 800)


def test_a_crash_while_planning_by_situation_leaves_whole_chunks(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    region = new_tag("r")
    _varied_clinic(clinic, region, 1_600)
    campaign_id = clinic.campaign(region, variants={"A": 50, "B": 50})
    _runner(clinic, 1).expand(campaign_id)
    reference = _outcome(clinic, campaign_id)
    _start_again(clinic, campaign_id)

    plan_chunk = SituationRepository.plan_chunk
    calls = []

    def crash_after_inserting_the_third(self: SituationRepository, *args: Any) -> Any:
        planned = plan_chunk(self, *args)
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("killed")  # after its jobs and enrolments were written
        return planned

    monkeypatch.setattr(SituationRepository, "plan_chunk", crash_after_inserting_the_third)
    with pytest.raises(RuntimeError, match="killed"):
        _runner(clinic, 1, by_situation=True).expand(campaign_id)
    monkeypatch.undo()
    planned, enrolled = _outcome(clinic, campaign_id)
    assert 0 < len(planned) == sum(1 for e in enrolled if e[3] == 1)  # two chunks, no more

    rerun = _runner(clinic, 1, by_situation=True).expand(campaign_id)

    assert rerun.jobs_created == len(reference[0]) - len(planned)
    assert _outcome(clinic, campaign_id) == reference
