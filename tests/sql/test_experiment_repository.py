"""A campaign's arms for the A/B verdict: enrolled patients per variant and in the hold-out, and
how many booked a visit after their enrolment; the report makes the hold-out the control."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert

from outreach.analytics.rollup_rows import ReportScope
from outreach.services.funnel_reports import funnel_report
from outreach.sql.models import (
    Appointment,
    CampaignEnrollment,
    CommCampaign,
    Patient,
    PatientSegment,
)
from outreach.sql.store import Store

pytestmark = pytest.mark.services

ENROLLED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# (arm, patients, of whom booked after enrolment)
ARMS = [("A", 150, 30), ("B", 150, 45), (None, 120, 12)]


def build_campaign(engine: Engine) -> tuple[str, int]:
    org_id = f"org-{uuid.uuid4().hex[:10]}"
    with engine.begin() as connection:
        segment = connection.execute(
            insert(PatientSegment.__table__).values(
                org_id=org_id, name="lapsed", definition={"==": [1, 1]}, is_active=True
            )
        ).inserted_primary_key[0]
        campaign = connection.execute(
            insert(CommCampaign.__table__).values(
                org_id=org_id,
                name="recall",
                segment_id=segment,
                purpose="campaign_education",
                status="active",
                steps=[],
                exit_on=["booked"],
                variants={"A": 50, "B": 50},
                holdout_percent=30.0,
                recurring=False,
            )
        ).inserted_primary_key[0]
        for variant, patients, booked in ARMS:
            for index in range(patients):
                patient_id = f"{org_id}-{variant or 'hold'}-{index}"
                connection.execute(insert(Patient.__table__).values(id=patient_id, org_id=org_id))
                connection.execute(
                    insert(CampaignEnrollment.__table__).values(
                        campaign_id=campaign,
                        patient_id=patient_id,
                        variant=variant,
                        state="held_out" if variant is None else "active",
                        enrolled_at=ENROLLED,
                    )
                )
                if index < booked:
                    connection.execute(
                        insert(Appointment.__table__).values(
                            appointment_id=f"apt-{patient_id}",
                            org_id=org_id,
                            patient_id=patient_id,
                            starts_at=ENROLLED + timedelta(days=9),
                            status="booked",
                            last_event_id=uuid.uuid4().hex,
                            last_event_type="appointment.booked",
                            last_event_at=ENROLLED + timedelta(days=1),
                        )
                    )
            # A visit booked before the enrolment is no conversion.
            connection.execute(
                insert(Appointment.__table__).values(
                    appointment_id=f"apt-before-{org_id}-{variant}",
                    org_id=org_id,
                    patient_id=f"{org_id}-{variant or 'hold'}-{patients - 1}",
                    starts_at=ENROLLED + timedelta(days=2),
                    status="booked",
                    last_event_id=uuid.uuid4().hex,
                    last_event_type="appointment.booked",
                    last_event_at=ENROLLED - timedelta(days=3),
                )
            )
    return org_id, int(campaign)


def test_arms_count_enrolments_and_bookings_since(mariadb_engine: Engine) -> None:
    org_id, campaign_id = build_campaign(mariadb_engine)
    scope = ReportScope(date(2026, 3, 1), date(2026, 3, 7), org_id)
    with Store(mariadb_engine).reading() as repos:
        outcomes = repos.experiments.enrolment_outcomes(scope)
    assert sorted((o.variant or "-", o.enrolled, o.converted) for o in outcomes) == [
        ("-", 120, 12),
        ("A", 150, 30),
        ("B", 150, 45),
    ]
    assert {o.campaign_id for o in outcomes} == {campaign_id}


def test_the_report_judges_the_variants_against_the_holdout(mariadb_engine: Engine) -> None:
    org_id, campaign_id = build_campaign(mariadb_engine)
    scope = ReportScope(date(2026, 3, 1), date(2026, 3, 7), org_id)
    report = funnel_report(Store(mariadb_engine), scope, ENROLLED + timedelta(days=7))
    [(campaign, verdict)] = report.variant_verdicts
    assert campaign == campaign_id
    assert verdict.control == "hold-out"
    b = verdict.result("B")
    # 30 % of B booked against 10 % of the hold-out: +20 points, three times as many.
    assert b.difference == pytest.approx(0.20)
    assert b.lift == pytest.approx(2.0)
    assert any(c.startswith("B beats the hold-out") for c in verdict.conclusions)


def test_a_purpose_narrows_the_arms_and_a_channel_leaves_the_holdout_out(
    mariadb_engine: Engine,
) -> None:
    org_id, _ = build_campaign(mariadb_engine)
    week = (date(2026, 3, 1), date(2026, 3, 7))
    with Store(mariadb_engine).reading() as repos:
        education = repos.experiments.enrolment_outcomes(
            ReportScope(*week, org_id, purpose="campaign_education")
        )
        reminders = repos.experiments.enrolment_outcomes(
            ReportScope(*week, org_id, purpose="appt_reminder")
        )
        with pytest.raises(ValueError, match="not kept per channel"):
            repos.experiments.enrolment_outcomes(ReportScope(*week, org_id, channel="sms"))
        with pytest.raises(ValueError, match="not kept per purpose"):
            repos.stats.latency_totals(ReportScope(*week, org_id, purpose="appt_reminder"))
    assert sum(o.enrolled for o in education) == 420 and reminders == []
    report = funnel_report(
        Store(mariadb_engine),
        ReportScope(*week, org_id, channel="sms"),
        ENROLLED + timedelta(days=7),
    )
    assert report.variant_verdicts == ()  # a hold-out is sent nothing on any channel
