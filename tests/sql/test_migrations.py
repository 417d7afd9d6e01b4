"""The migrations build the same schema on MariaDB and SQLite, and every model round-trips."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import IntegrityError
from tests.sql.schema_shape import shape_of_database, shape_of_models

from outreach.campaigns import CampaignState, EnrolmentState
from outreach.domain import Channel, JobStatus, Purpose, SuppressionReason
from outreach.sql.engine import session_factory
from outreach.sql.migrate import current_revision, downgrade, upgrade
from outreach.sql.models import (
    Base,
    CampaignEnrollment,
    CommAuditLog,
    CommCampaign,
    CommFunnelFact,
    CommInbound,
    CommJob,
    CommReportDelivery,
    CommRollupState,
    CommStats,
    CommStatsBreakdown,
    CommStatusEvent,
    CommTemplate,
    MlModel,
    OrgCommPrefs,
    Patient,
    PatientChannelOptOut,
    PatientCommPrefs,
    PatientSegment,
    ProviderCommPrefs,
)

WHEN = datetime(2026, 3, 29, 0, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture(params=["mariadb", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Engine:
    fixture = "mariadb_engine" if request.param == "mariadb" else "sqlite_engine"
    return request.getfixturevalue(fixture)


@pytest.fixture(params=["mariadb", "sqlite"])
def migrated(request: pytest.FixtureRequest) -> Engine:
    """A database exactly as the migrations built it (on MariaDB the untouched template)."""
    fixture = "mariadb_template_engine" if request.param == "mariadb" else "sqlite_engine"
    return request.getfixturevalue(fixture)


def test_migrations_create_every_model_table_and_no_other(migrated: Engine) -> None:
    tables = set(inspect(migrated).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


# The models' func.now() is CURRENT_TIMESTAMP in the database, spelled as each engine likes:
# now(), (CURRENT_TIMESTAMP), current_timestamp(6).
_NOW = re.compile(r"\(?(now|current_timestamp)(\(\d*\))?\)?")


def _means_now(default: str | None) -> bool:
    return default is not None and _NOW.fullmatch(default.strip().lower()) is not None


def _unquoted(default: str) -> str:
    text = default.strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else text


def _same_server_default(
    context, inspected_column, metadata_column, inspected, metadata_default, rendered
) -> bool | None:
    """False when both sides mean "now", or the same literal (MariaDB reports a text column's
    default quoted: '[]'); otherwise None, and Alembic compares as usual."""
    if _means_now(inspected) and _means_now(rendered):
        return False
    if (
        inspected is not None
        and rendered is not None
        and _unquoted(inspected) == _unquoted(rendered)
    ):
        return False
    return None


def test_autogenerate_finds_nothing_to_do(migrated: Engine) -> None:
    """The migrations and the models agree on every table, column, type, nullability, server
    default, index, unique constraint and foreign key, as Alembic's autogenerate sees them."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with migrated.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "compare_server_default": _same_server_default},
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_keys_indexes_and_foreign_keys_match_the_models(migrated: Engine) -> None:
    """Checked directly too, not only through autogenerate (which skips some of these on some
    engines): nullability, primary and unique keys, indexes, foreign keys and ON DELETE."""
    expected = shape_of_models(Base.metadata)
    actual = shape_of_database(migrated, sorted(expected))
    mismatches = {
        table: {
            field: (getattr(expected[table], field), getattr(actual[table], field))
            for field in ("nullable", "primary_key", "unique", "indexes", "foreign_keys")
            if getattr(expected[table], field) != getattr(actual[table], field)
        }
        for table in expected
        if expected[table] != actual[table]
    }
    assert mismatches == {}


def test_mariadb_and_sqlite_get_the_same_schema(mariadb_template_engine, sqlite_engine) -> None:
    tables = sorted(Base.metadata.tables)
    assert shape_of_database(mariadb_template_engine, tables) == shape_of_database(
        sqlite_engine, tables
    )


def test_downgrade_and_upgrade_again(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'cycle.sqlite3'}"
    upgrade(url)
    head = current_revision(url)
    downgrade(url, "base")
    assert current_revision(url) is None
    upgrade(url)
    assert current_revision(url) == head is not None


def test_downgrade_and_upgrade_again_on_mariadb(mariadb_template) -> None:
    """Every downgrade runs on MariaDB too, where a foreign key keeps the index it needs."""
    name = mariadb_template.clone()
    url = mariadb_template.url_for(name)
    try:
        head = current_revision(url)
        downgrade(url, "base")
        assert current_revision(url) is None
        upgrade(url)
        assert current_revision(url) == head is not None
    finally:
        mariadb_template.drop(name)


def _every_model(suffix: str) -> list[Base]:
    patient_id = f"p-{suffix}"
    org = OrgCommPrefs(
        org_id=f"org-{suffix}",
        name="Clinic",
        timezone="America/New_York",
        quiet_hours_start=time(21),
        quiet_hours_end=time(8),
        channel_order=["sms", "email"],
        healthcare_reminder_profile=True,
    )
    provider = ProviderCommPrefs(
        provider_id=f"dr-{suffix}", org_id=org.org_id, display_name="Dr. Ana Pop", language="ro"
    )
    patient = Patient(
        id=patient_id,
        org_id=org.org_id,
        provider_id=provider.provider_id,
        first_name="Zoë",
        last_name="Ionescu",
        date_of_birth=date(1980, 2, 29),
        attributes={"conditions": ["diabetes"], "age": 46},
    )
    prefs = PatientCommPrefs(
        patient_id=patient_id,
        email="zoe@example.com",
        phone="+40721234567",
        preferred_channel=Channel.SMS,
        allowed_channels=["sms", "email"],
        contact_consent=True,
        consent_granted_at=WHEN,
        consent_expires_at=WHEN.replace(year=2028),
        timezone="Europe/Bucharest",
        quiet_hours_start=time(22, 30),
    )
    template = CommTemplate(
        family_key=f"{suffix}|appt_reminder|sms|ro|A",
        org_id=org.org_id,
        purpose=Purpose.APPT_REMINDER,
        channel=Channel.SMS,
        language="ro",
        version=1,
        body="Bună {{ first_name }} — programare {{ appointment_date }}",
        declared_variables=["first_name", "appointment_date"],
        is_active=True,
    )
    segment = PatientSegment(
        org_id=org.org_id,
        name="Diabetics",
        definition={"==": [{"var": "attributes.diabetes"}, True]},
        created_by="marketer",
    )
    campaign = CommCampaign(
        org_id=org.org_id,
        name="Flu shots",
        status=CampaignState.PAUSED,
        steps=[{"offset_hours": 0, "template_family": "flu", "channel": "best"}],
        exit_on=["booked"],
        variants={"A": 50, "B": 50},
        holdout_percent=7.5,
        recurring=True,
        starts_at=WHEN,
    )
    return [org, provider, patient, prefs, template, segment, campaign]


def test_every_model_round_trips(engine: Engine) -> None:
    suffix = datetime.now(UTC).strftime("%H%M%S%f")
    Session = session_factory(engine)
    with Session.begin() as session:
        org, provider, patient, prefs, template, segment, campaign = _every_model(suffix)
        session.add_all([org, provider, patient, prefs, template, segment])
        session.flush()
        session.add(
            PatientChannelOptOut(
                patient_id=f"p-{suffix}",
                channel=Channel.WHATSAPP,
                opted_out_at=WHEN,
                source="reply",
            )
        )
        session.flush()
        campaign.segment_id = segment.id
        session.add(campaign)
        session.flush()
        job = CommJob(
            idempotency_key=f"evt-{suffix}:appt_reminder:24h",
            org_id=org.org_id,
            patient_id=patient.id,
            purpose=Purpose.APPT_REMINDER,
            channel=Channel.SMS,
            status=JobStatus.SUPPRESSED,
            suppression_reason=SuppressionReason.QUIET_HOURS_DEADLINE,
            requested_at=WHEN,
            scheduled_for=WHEN,
            template_id=template.id,
            context={"appointment_at": WHEN.isoformat()},
        )
        session.add(job)
        session.flush()
        session.add_all(
            [
                CampaignEnrollment(
                    campaign_id=campaign.id,
                    patient_id=patient.id,
                    variant="B",
                    state=EnrolmentState.EXITED,
                    exit_reason="booked",
                    enrolled_at=WHEN,
                ),
                CommInbound(
                    provider="twilio",
                    provider_message_id=f"SM{suffix}",
                    channel=Channel.SMS,
                    from_address="+40721234567",
                    body="DA ✅",
                    received_at=WHEN,
                    patient_id=patient.id,
                    job_id=job.id,
                    intent="confirm",
                    confidence=0.97,
                ),
                CommStatusEvent(
                    job_id=job.id,
                    provider="twilio",
                    provider_message_id=f"SM{suffix}",
                    status="delivered",
                    occurred_at=WHEN,
                    raw={"MessageStatus": "delivered"},
                ),
                CommStats(
                    day=WHEN.date(),
                    org_id=org.org_id,
                    purpose=Purpose.APPT_REMINDER,
                    channel=Channel.SMS,
                    sent=3,
                    delivered=2,
                    cost_micros=15_800,
                    cost_currency="USD",
                ),
                CommStatsBreakdown(
                    day=WHEN.date(),
                    org_id=org.org_id,
                    purpose=Purpose.APPT_REMINDER,
                    channel="-",
                    kind="suppression_reason",
                    label="no_consent",
                    jobs=4,
                ),
                CommFunnelFact(
                    job_id=job.id,
                    day=WHEN.date(),
                    org_id=org.org_id,
                    purpose="appt_reminder",
                    channel="sms",
                    campaign_id=0,
                    variant="-",
                    provider="twilio",
                    state="delivered",
                    planned_at=WHEN,
                    delivered_at=WHEN,
                    reply_intents="confirm,stop",
                    unsubscribed=True,
                    price_micros=7_900,
                    price_unit="USD",
                ),
                CommRollupState(name=f"stats-{suffix}", through_at=WHEN),
                CommReportDelivery(
                    org_id=org.org_id,
                    kind="weekly_funnel",
                    period_start=WHEN.date(),
                    period_end=WHEN.date(),
                    recipients=2,
                    claimed_at=WHEN,
                ),
                CommAuditLog(
                    occurred_at=WHEN,
                    actor="replies",
                    patient_id=patient.id,
                    action="opt_out",
                    detail={"channel": "sms"},
                ),
                MlModel(
                    name=f"best_hour_{suffix}",
                    version=1,
                    trained_at=WHEN,
                    metrics={"mae": 1.5},
                    artifact=b"\x00\x01model",
                ),
            ]
        )
        job_id = job.id

    with Session() as session:
        job = session.get(CommJob, job_id)
        assert job.status is JobStatus.SUPPRESSED
        assert job.suppression_reason is SuppressionReason.QUIET_HOURS_DEADLINE
        assert job.scheduled_for == WHEN  # aware UTC with microseconds, both engines
        assert job.context == {"appointment_at": WHEN.isoformat()}
        prefs = session.get(PatientCommPrefs, f"p-{suffix}")
        assert prefs.quiet_hours_start == time(22, 30)
        assert prefs.preferred_channel is Channel.SMS
        opt_out = session.get(PatientChannelOptOut, (f"p-{suffix}", Channel.WHATSAPP))
        assert opt_out is not None and opt_out.channel is Channel.WHATSAPP
        assert prefs.consent_expires_at == WHEN.replace(year=2028)
        assert "zoe@" not in repr(prefs)
        patient = session.get(Patient, f"p-{suffix}")
        assert patient.first_name == "Zoë" and patient.date_of_birth == date(1980, 2, 29)
        template = session.get(CommTemplate, job.template_id)
        assert "Bună" in template.body and template.declared_variables[0] == "first_name"
        inbound = session.scalars(select(CommInbound).where(CommInbound.job_id == job_id)).one()
        assert inbound.body == "DA ✅"
        enrollment = session.scalars(
            select(CampaignEnrollment).where(CampaignEnrollment.patient_id == patient.id)
        ).one()
        assert (enrollment.variant, enrollment.state, enrollment.next_step) == (
            "B",
            EnrolmentState.EXITED,
            0,
        )
        status = session.scalars(
            select(CommStatusEvent).where(CommStatusEvent.job_id == job_id)
        ).one()
        assert status.raw == {"MessageStatus": "delivered"}
        model = session.scalars(select(MlModel).where(MlModel.name == f"best_hour_{suffix}")).one()
        assert model.artifact == b"\x00\x01model" and model.metrics == {"mae": 1.5}
        org = session.get(OrgCommPrefs, f"org-{suffix}")
        assert org.channel_order == ["sms", "email"] and org.healthcare_reminder_profile
        assert session.get(ProviderCommPrefs, f"dr-{suffix}").language == "ro"
        campaign = session.scalars(
            select(CommCampaign).where(CommCampaign.org_id == org.org_id)
        ).one()
        assert campaign.variants == {"A": 50, "B": 50}
        assert campaign.status is CampaignState.PAUSED
        assert (campaign.holdout_percent, campaign.recurring, campaign.starts_at) == (
            7.5,
            True,
            WHEN,
        )
        stats = session.scalars(select(CommStats).where(CommStats.org_id == org.org_id)).one()
        assert (stats.sent, stats.delivered, stats.campaign_id, stats.variant) == (3, 2, 0, "-")
        assert (stats.provider, stats.cost_micros, stats.planned) == ("-", 15_800, 0)
        fact = session.get(CommFunnelFact, job_id)
        assert (fact.delivered_at, fact.reply_intents, fact.price_micros) == (
            WHEN,
            "confirm,stop",
            7_900,
        )
        delivery = session.scalars(
            select(CommReportDelivery).where(CommReportDelivery.org_id == org.org_id)
        ).one()
        assert (delivery.period_start, delivery.sent_at) == (WHEN.date(), None)
        audit = session.scalars(
            select(CommAuditLog).where(CommAuditLog.patient_id == patient.id)
        ).one()
        assert audit.detail == {"channel": "sms"}
        segment = session.scalars(
            select(PatientSegment).where(PatientSegment.org_id == org.org_id)
        ).one()
        assert segment.definition == {"==": [{"var": "attributes.diabetes"}, True]}
        assert (segment.created_by, segment.is_active) == ("marketer", True)


def test_idempotency_key_is_unique(engine: Engine) -> None:
    suffix = datetime.now(UTC).strftime("%H%M%S%f") + "u"
    Session = session_factory(engine)
    with Session.begin() as session:
        session.add(Patient(id=f"p-{suffix}", org_id="org"))
        session.flush()
        session.add(
            CommJob(
                idempotency_key=f"k-{suffix}",
                org_id="org",
                patient_id=f"p-{suffix}",
                purpose=Purpose.APPT_CONFIRM,
                requested_at=WHEN,
                scheduled_for=WHEN,
            )
        )
    with pytest.raises(IntegrityError), Session.begin() as session:
        session.add(
            CommJob(
                idempotency_key=f"k-{suffix}",
                org_id="org",
                patient_id=f"p-{suffix}",
                purpose=Purpose.APPT_CONFIRM,
                requested_at=WHEN,
                scheduled_for=WHEN,
            )
        )


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    Session = session_factory(engine)
    with pytest.raises(Exception, match="naive datetime"), Session.begin() as session:
        session.add(CommAuditLog(occurred_at=datetime(2026, 1, 1), actor="t", action="x"))
        session.flush()


def test_opt_out_flags_become_rows_and_come_back(tmp_path) -> None:
    """0005 turns each opted_out_<channel> flag into a row, and its downgrade turns them back."""
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'opt-outs.sqlite3'}"
    upgrade(url, "0001")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO patients (id, org_id) VALUES ('p1', 'o'), ('p2', 'o')")
        )
        connection.execute(
            text(
                "INSERT INTO patient_comm_prefs (patient_id, contact_consent, "
                "marketing_opt_in_email, marketing_opt_in_sms, marketing_opt_in_whatsapp, "
                "whatsapp_opt_in, opted_out_email, opted_out_sms, opted_out_whatsapp) VALUES "
                "('p1', 1, 0, 0, 0, 0, 0, 1, 1), ('p2', 1, 0, 0, 0, 0, 0, 0, 0)"
            )
        )
    upgrade(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT patient_id, channel FROM patient_channel_opt_outs ORDER BY channel")
        ).all()
    assert [tuple(r) for r in rows] == [("p1", "sms"), ("p1", "whatsapp")]
    downgrade(url, "0001")
    with engine.connect() as connection:
        flags = connection.execute(
            text(
                "SELECT patient_id, opted_out_email, opted_out_sms, opted_out_whatsapp "
                "FROM patient_comm_prefs ORDER BY patient_id"
            )
        ).all()
    engine.dispose()
    assert [tuple(r) for r in flags] == [("p1", 0, 1, 1), ("p2", 0, 0, 0)]


def test_a_segment_saved_before_keeps_its_rule_as_its_definition(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'segments.sqlite3'}"
    upgrade(url, "0001")
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO patient_segments (org_id, name, rule, created_at, updated_at)"
                " VALUES ('org', 'Seniors', :rule, '2026-01-01', '2026-01-01')"
            ),
            {"rule": '{">=": [{"var": "age"}, 65]}'},
        )
    upgrade(url)
    with engine.connect() as connection:
        row = connection.execute(select(PatientSegment.definition, PatientSegment.is_active)).one()
    engine.dispose()
    assert row == ({">=": [{"var": "age"}, 65]}, True)


def test_campaigns_saved_before_keep_their_data(tmp_path) -> None:
    """0003: a running campaign becomes active with no steps yet; its enrolments stay, active,
    their variant kept (their single job id goes: jobs carry the campaign and patient)."""
    url = f"sqlite:///{tmp_path / 'campaigns.sqlite3'}"
    upgrade(url, "0002")
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        for statement in (
            "INSERT INTO patients (id, org_id, created_at, updated_at)"
            " VALUES ('p1', 'org', '2026-01-01', '2026-01-01')",
            "INSERT INTO patient_segments (id, org_id, name, definition, is_active, created_at,"
            " updated_at) VALUES (1, 'org', 's', '{}', 1, '2026-01-01', '2026-01-01')",
            "INSERT INTO comm_campaigns (id, org_id, name, segment_id, purpose, status, variants,"
            " scheduled_at, created_at) VALUES (1, 'org', 'c', 1, 'campaign_education', 'running',"
            " '{\"A\": 1}', '2026-02-01 09:00:00.000000', '2026-01-01')",
            "INSERT INTO campaign_enrollments (campaign_id, patient_id, variant, enrolled_at)"
            " VALUES (1, 'p1', 'A', '2026-02-01')",
        ):
            connection.execute(text(statement))
    upgrade(url)
    with engine.connect() as connection:
        campaign = connection.execute(
            select(CommCampaign.status, CommCampaign.steps, CommCampaign.starts_at)
        ).one()
        enrolment = connection.execute(
            select(CampaignEnrollment.state, CampaignEnrollment.variant)
        ).one()
    engine.dispose()
    assert campaign == ("active", [], datetime(2026, 2, 1, 9, 0, tzinfo=UTC))
    assert enrolment == ("active", "A")


def test_numbers_stored_before_get_their_check(tmp_path) -> None:
    """0009 checks the numbers already stored, as the patient upsert checks new ones."""
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'numbers.sqlite3'}"
    upgrade(url, "0008")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO patients (id, org_id) VALUES ('p1', 'o'), ('p2', 'o'), ('p3', 'o')")
        )
        connection.execute(
            text(
                "INSERT INTO patient_comm_prefs (patient_id, phone, whatsapp, contact_consent, "
                "marketing_opt_in_email, marketing_opt_in_sms, marketing_opt_in_whatsapp, "
                "whatsapp_opt_in) VALUES ('p1', '+1 212 555 0147', '+1555012', 1, 0, 0, 0, 0), "
                "('p2', NULL, NULL, 1, 0, 0, 0, 0), ('p3', '+14155552671', NULL, 1, 0, 0, 0, 0)"
            )
        )
    upgrade(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT patient_id, phone_checked, phone_e164, whatsapp_checked, whatsapp_e164 "
                "FROM patient_comm_prefs ORDER BY patient_id"
            )
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("p1", "+1 212 555 0147", "+12125550147", "+1555012", ""),
        ("p2", None, None, None, None),
        ("p3", "+14155552671", "+14155552671", None, None),
    ]


def test_emails_stored_before_get_their_check(tmp_path) -> None:
    """0010 checks the e-mail addresses already stored, as the patient upsert checks new ones."""
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'emails.sqlite3'}"
    upgrade(url, "0009")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO patients (id, org_id) VALUES ('p1', 'o'), ('p2', 'o'), ('p3', 'o')")
        )
        connection.execute(
            text(
                "INSERT INTO patient_comm_prefs (patient_id, email, contact_consent, "
                "marketing_opt_in_email, marketing_opt_in_sms, marketing_opt_in_whatsapp, "
                "whatsapp_opt_in) VALUES ('p1', 'ana@Example.COM', 1, 0, 0, 0, 0), "
                "('p2', NULL, 1, 0, 0, 0, 0), ('p3', 'ana@@example', 1, 0, 0, 0, 0)"
            )
        )
    upgrade(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT patient_id, email_checked, email_valid FROM patient_comm_prefs "
                "ORDER BY patient_id"
            )
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("p1", "ana@Example.COM", 1),
        ("p2", None, None),
        ("p3", "ana@@example", 0),
    ]
