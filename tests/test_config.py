"""Production refuses to start without its secrets, and secrets are only reported as present."""

from __future__ import annotations

import pytest

from outreach.config import EMBEDDED, MissingSecretsError, Settings, check_startup


def test_development_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("OUTREACH_VAR_DIR", str(tmp_path))
    settings = Settings()
    assert settings.kafka_bootstrap_servers == EMBEDDED and settings.redis_url == EMBEDDED
    assert settings.resolved_database_url().startswith("sqlite:///")
    check_startup(settings)  # nothing required outside production


def test_production_lists_every_missing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTREACH_ENV", "production")
    monkeypatch.setenv("OUTREACH_TWILIO_AUTH_TOKEN", "tok")
    with pytest.raises(MissingSecretsError) as error:
        check_startup(Settings())
    assert "OUTREACH_TWILIO_AUTH_TOKEN" not in error.value.missing
    assert {
        "OUTREACH_SENDGRID_API_KEY",
        "OUTREACH_DATABASE_URL",
        "OUTREACH_KAFKA_BOOTSTRAP_SERVERS",
    } <= set(error.value.missing)


def test_secrets_are_reported_not_revealed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTREACH_SENDGRID_API_KEY", "SG.very-secret")
    settings = Settings()
    report = settings.secrets_report()
    assert report["sendgrid_api_key"] == "configured" and report["twilio_auth_token"] == "missing"
    assert "very-secret" not in repr(settings) and "very-secret" not in str(report)


def test_production_refuses_development_placeholders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTREACH_ENV", "production")
    monkeypatch.setenv("OUTREACH_TWILIO_BASE_URL", "http://127.0.0.1:8025")
    with pytest.raises(MissingSecretsError) as error:
        check_startup(Settings())
    refused = " ".join(error.value.missing)
    for name in (
        "OUTREACH_PUBLIC_BASE_URL",
        "OUTREACH_PORTAL_BASE_URL",
        "OUTREACH_TWILIO_FROM_NUMBER",
        "OUTREACH_TWILIO_BASE_URL",
    ):
        assert name in refused


def test_a_production_deployment_with_its_own_addresses_passes_the_placeholder_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "OUTREACH_PUBLIC_BASE_URL": "https://hooks.clinic.org",
        "OUTREACH_PORTAL_BASE_URL": "https://portal.clinic.org",
        "OUTREACH_DEFAULT_BOOKING_URL": "https://portal.clinic.org/book",
        "OUTREACH_SENDGRID_FROM_EMAIL": "reminders@clinic.org",
        "OUTREACH_TWILIO_FROM_NUMBER": "+14155550123",
    }.items():
        monkeypatch.setenv(name, value)
    assert Settings().development_placeholders() == []
