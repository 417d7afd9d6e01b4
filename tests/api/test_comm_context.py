"""GET /api/v1/patients/{id}/comm-context: where each preference came from, consent, jobs."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import Engine

from outreach.domain import Channel, JobStatus, Purpose, Role, SuppressionReason
from outreach.sql.models import (
    CommInbound,
    CommJob,
    CommStatusEvent,
    OrgCommPrefs,
    Patient,
    PatientChannelOptOut,
    PatientCommPrefs,
    ProviderCommPrefs,
)

from .conftest import ApiHarness, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")

NOW = datetime.now(UTC).replace(microsecond=0)
PHONE = "+12025550143"
EMAIL = "maria.lopez@example.org"


def _job(
    org_id: str,
    patient_id: str,
    purpose: Purpose,
    status: JobStatus,
    scheduled_for: datetime,
    **extra: object,
) -> dict[str, object]:
    return {
        "idempotency_key": unique("job"),
        "org_id": org_id,
        "patient_id": patient_id,
        "purpose": purpose.value,
        "channel": Channel.SMS.value,
        "status": status.value,
        "requested_at": scheduled_for,
        "scheduled_for": scheduled_for,
        "context": {"appointment_reason": "SECRET-REASON"},
        "suppression_reason": None,
        **extra,
    }


def create_patient(engine: Engine) -> tuple[str, str, str]:
    org_id, provider_id, patient_id = unique("org"), unique("prov"), unique("pat")
    with engine.begin() as connection:
        connection.execute(
            OrgCommPrefs.__table__.insert(),
            [
                {
                    "org_id": org_id,
                    "name": "Sunrise Clinic",
                    "timezone": "America/New_York",
                    "quiet_hours_start": time(20, 0),
                    "quiet_hours_end": time(9, 0),
                }
            ],
        )
        connection.execute(
            ProviderCommPrefs.__table__.insert(),
            [{"provider_id": provider_id, "org_id": org_id, "language": "es"}],
        )
        connection.execute(
            Patient.__table__.insert(),
            [
                {
                    "id": patient_id,
                    "org_id": org_id,
                    "provider_id": provider_id,
                    "first_name": "Maria",
                    "last_name": "Lopez",
                }
            ],
        )
        connection.execute(
            PatientCommPrefs.__table__.insert(),
            [
                {
                    "patient_id": patient_id,
                    "phone": PHONE,
                    "email": EMAIL,
                    "quiet_hours_start": time(22, 0),
                    "quiet_hours_end": time(7, 30),
                    "contact_consent": True,
                    "consent_granted_at": NOW - timedelta(days=30),
                    "consent_expires_at": NOW + timedelta(days=700),
                    "marketing_opt_in_sms": True,
                    "whatsapp_opt_in": False,
                    "failed_channels": ["email"],
                }
            ],
        )
        connection.execute(
            PatientChannelOptOut.__table__.insert(),
            [
                {
                    "patient_id": patient_id,
                    "channel": "email",
                    "opted_out_at": NOW - timedelta(days=3),
                    "source": "reply",
                }
            ],
        )
        connection.execute(
            CommJob.__table__.insert(),
            [
                _job(
                    org_id,
                    patient_id,
                    Purpose.APPT_CONFIRM,
                    JobStatus.DELIVERED,
                    NOW - timedelta(days=2),
                ),
                _job(
                    org_id,
                    patient_id,
                    Purpose.CAMPAIGN_EDUCATION,
                    JobStatus.SUPPRESSED,
                    NOW - timedelta(days=1),
                    suppression_reason=SuppressionReason.FREQUENCY_CAP.value,
                ),
                _job(
                    org_id,
                    patient_id,
                    Purpose.APPT_REMINDER,
                    JobStatus.QUEUED,
                    NOW + timedelta(days=1),
                ),
            ],
        )
    return org_id, provider_id, patient_id


async def test_comm_context_shows_values_sources_consent_and_jobs(
    api: ApiHarness, mariadb_engine: Engine
) -> None:
    org_id, provider_id, patient_id = create_patient(mariadb_engine)
    api.act_as(Role.PLATFORM, org_id)
    response = await api.client.get(f"/api/v1/patients/{patient_id}/comm-context")
    assert response.status_code == 200, response.text
    context = response.json()
    assert (context["patient_id"], context["org_id"], context["provider_id"]) == (
        patient_id,
        org_id,
        provider_id,
    )

    values, sources = context["preferences"]["values"], context["preferences"]["sources"]
    assert (values["timezone"], sources["timezone"]) == ("America/New_York", "organisation")
    assert (values["language"], sources["language"]) == ("es", "provider")
    assert (values["quiet_hours_start"], sources["quiet_hours_start"]) == ("22:00:00", "patient")
    assert sources["work_days"] == "global"
    assert sources["phone"] == "patient" and values["phone"].endswith("43")

    consent = context["consent"]
    assert consent["contact_consent"] is True and consent["expired"] is False
    assert consent["marketing_opt_in"] == ["sms"]
    assert consent["opted_out"] == ["email"]
    assert consent["whatsapp_opt_in"] is False
    assert context["consent_by_channel"]["email"]["transactional"] == "opted_out"
    assert context["consent_by_channel"]["sms"] == {"transactional": None, "marketing": None}
    assert context["consent_by_channel"]["whatsapp"]["transactional"] == "no_whatsapp_opt_in"
    assert context["failed_channels"] == ["email"]

    recent, upcoming = context["jobs"]["recent"], context["jobs"]["upcoming"]
    assert [j["purpose"] for j in upcoming] == ["appt_reminder"]
    assert upcoming[0]["status"] == "queued" and upcoming[0]["channel"] == "sms"
    assert [(j["purpose"], j["status"], j["suppression_reason"]) for j in recent] == [
        ("campaign_education", "suppressed", "frequency_cap"),
        ("appt_confirm", "delivered", None),
    ]
    assert set(upcoming[0]) == {
        "id",
        "purpose",
        "channel",
        "status",
        "scheduled_for",
        "suppression_reason",
        "appointment_id",
    }

    # Addresses masked; no names, no message context.
    for secret in (PHONE, EMAIL, "maria.lopez", "Maria", "Lopez", "SECRET-REASON"):
        assert secret not in response.text


async def test_unknown_patient_is_a_404(api: ApiHarness) -> None:
    api.act_as(Role.PLATFORM, "org-1")
    response = await api.client.get(f"/api/v1/patients/{unique('nobody')}/comm-context")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "unknown patient"}


async def test_a_patient_known_only_by_id_has_global_defaults_and_no_consent(
    api: ApiHarness, mariadb_engine: Engine
) -> None:
    patient_id = unique("stub")
    with mariadb_engine.begin() as connection:
        connection.execute(Patient.__table__.insert(), [{"id": patient_id, "org_id": "org-x"}])
    api.act_as(Role.PLATFORM, "org-x")
    context = (await api.client.get(f"/api/v1/patients/{patient_id}/comm-context")).json()
    assert context["preferences"]["sources"]["timezone"] == "global"
    assert context["consent"]["contact_consent"] is False
    assert context["jobs"] == {"recent": [], "upcoming": []}
    assert context["recent_activity"] == {
        "last_sent": None,
        "last_opened": None,
        "last_replied": None,
    }


def _sent_job(
    engine: Engine,
    org_id: str,
    patient_id: str,
    purpose: Purpose = Purpose.APPT_REMINDER,
    **values: object,
) -> int:
    row = _job(org_id, patient_id, purpose, JobStatus.SENT, NOW, **values)
    with engine.begin() as connection:
        inserted = connection.execute(CommJob.__table__.insert().values(**row))
    return int(inserted.inserted_primary_key[0])


def _status_event(engine: Engine, job_id: int | None, status: str, at: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            CommStatusEvent.__table__.insert(),
            [
                {
                    "job_id": job_id,
                    "provider": "sendgrid",
                    "provider_message_id": unique("msg"),
                    "status": status,
                    "occurred_at": at,
                    "raw": {"email": EMAIL},
                }
            ],
        )


def _reply(engine: Engine, patient_id: str | None, job_id: int | None, at: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            CommInbound.__table__.insert(),
            [
                {
                    "provider": "twilio",
                    "provider_message_id": unique("in"),
                    "channel": Channel.SMS.value,
                    "from_address": PHONE,
                    "body": "SECRET-REPLY",
                    "received_at": at,
                    "patient_id": patient_id,
                    "job_id": job_id,
                }
            ],
        )


async def test_recent_activity_shows_the_last_send_open_and_reply(
    api: ApiHarness, mariadb_engine: Engine
) -> None:
    org_id, _, patient_id = create_patient(mariadb_engine)
    api.act_as(Role.PLATFORM, org_id)
    day = timedelta(days=1)
    older = _sent_job(mariadb_engine, org_id, patient_id, channel="email", sent_at=NOW - 3 * day)
    newest = _sent_job(
        mariadb_engine,
        org_id,
        patient_id,
        Purpose.LAB_READY,
        channel="whatsapp",
        sent_at=NOW - day,
    )
    _status_event(mariadb_engine, older, "opened", NOW - 3 * day + timedelta(hours=1))
    _status_event(mariadb_engine, older, "clicked", NOW - 2 * day)  # the latest engagement
    _status_event(mariadb_engine, newest, "delivered", NOW - day)  # not an engagement
    _reply(mariadb_engine, patient_id, older, NOW - 2 * day)
    _reply(mariadb_engine, patient_id, None, NOW - timedelta(hours=2))  # matched no job
    _reply(mariadb_engine, None, None, NOW)  # nobody's: not this patient's

    response = await api.client.get(f"/api/v1/patients/{patient_id}/comm-context")
    assert response.status_code == 200, response.text
    activity = response.json()["recent_activity"]
    at = {name: datetime.fromisoformat(moment.pop("at")) for name, moment in activity.items()}
    assert at == {
        "last_sent": NOW - day,
        "last_opened": NOW - 2 * day,
        "last_replied": NOW - timedelta(hours=2),
    }
    assert activity == {
        "last_sent": {"channel": "whatsapp", "purpose": "lab_ready", "job_id": newest},
        "last_opened": {
            "channel": "email",
            "purpose": "appt_reminder",
            "job_id": older,
            "signal": "clicked",
        },
        "last_replied": {"channel": "sms", "purpose": None, "job_id": None},
    }
    for secret in (PHONE, EMAIL, "SECRET-REPLY", "SECRET-REASON"):
        assert secret not in response.text


async def test_comm_context_explains_the_best_hour_and_fatigue(
    api: ApiHarness, mariadb_engine: Engine
) -> None:
    org_id, _, learnt = create_patient(mariadb_engine)
    other_org, _, fresh = create_patient(mariadb_engine)
    table = PatientCommPrefs.__table__
    with mariadb_engine.begin() as connection:
        connection.execute(
            table.update()
            .where(table.c.patient_id == learnt)
            .values(
                best_hour=18,
                best_hour_model_version=4,
                best_hour_source="model",
                best_hour_confidence=0.83,
                best_hour_interactions=14,
                best_hour_learnt_at=NOW,
                fatigue_score=0.75,
                fatigue_scored_at=NOW,
                marketing_max_per_week=3,
            )
        )

    api.act_as(Role.PLATFORM, org_id)
    context = (await api.client.get(f"/api/v1/patients/{learnt}/comm-context")).json()
    api.act_as(Role.PLATFORM, other_org)
    untouched = (await api.client.get(f"/api/v1/patients/{fresh}/comm-context")).json()

    assert context["best_hour"] == {
        "value": 18,
        "source": "model v4",
        "model_version": 4,
        "confidence": 0.83,
        "interactions": 14,
        "learnt_at": NOW.isoformat().replace("+00:00", "Z"),
    }
    assert context["fatigue_score"] == 0.75
    assert context["fatigue"]["fatigued"] is True
    # The caps the decisions use: the fatigued ones, not the patient's own 3 a week.
    assert context["preferences"]["values"]["marketing_max_per_week"] == 1
    assert untouched["best_hour"]["value"] is None and untouched["best_hour"]["source"] is None
    assert untouched["fatigue"] == {
        "score": None,
        "threshold": 0.6,
        "fatigued": False,
        "scored_at": None,
    }
