"""GET /api/v1/patients/{id}/comm-context: where each preference came from, consent, jobs."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import Engine

from outreach.domain import Channel, JobStatus, Purpose, SuppressionReason
from outreach.sql.models import CommJob, OrgCommPrefs, Patient, PatientCommPrefs, ProviderCommPrefs

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
                    "opted_out_email": True,
                    "whatsapp_opt_in": False,
                    "failed_channels": ["email"],
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
    assert context["consent_by_channel"]["whatsapp"]["transactional"] == "no_consent"
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
    response = await api.client.get(f"/api/v1/patients/{unique('nobody')}/comm-context")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "unknown patient"}


async def test_a_patient_known_only_by_id_has_global_defaults_and_no_consent(
    api: ApiHarness, mariadb_engine: Engine
) -> None:
    patient_id = unique("stub")
    with mariadb_engine.begin() as connection:
        connection.execute(Patient.__table__.insert(), [{"id": patient_id, "org_id": "org-x"}])
    context = (await api.client.get(f"/api/v1/patients/{patient_id}/comm-context")).json()
    assert context["preferences"]["sources"]["timezone"] == "global"
    assert context["consent"]["contact_consent"] is False
    assert context["jobs"] == {"recent": [], "upcoming": []}
