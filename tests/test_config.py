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
