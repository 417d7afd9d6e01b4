from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from outreach.channels import ChannelWorker, UnknownChannelError, load_channels, registry
from outreach.config import Settings
from outreach.domain import AddressKind


class FaxChannel(ChannelWorker):
    """A plugin as another package would ship it."""

    name = "fax"
    provider = "acme-fax"
    address_kind = AddressKind.PHONE
    max_body_chars = 10_000  # a few pages
    supports_phi = True  # fax lines are point to point
    default_rate_per_sec = 0.5  # one page takes seconds
    status_webhook_path = "/webhooks/fax/status"
    inbound_webhook_path = "/webhooks/fax/inbound"

    @classmethod
    def from_settings(cls, settings):
        return cls()

    def send(self, message):
        raise NotImplementedError

    def verify(self, request):
        raise NotImplementedError

    def parse_status(self, request):
        return []

    def parse_inbound(self, request):
        return []


class Misnamed(FaxChannel):
    name = "telex"


def _with_plugin(monkeypatch: pytest.MonkeyPatch, name: str, target: str) -> None:
    real = registry.available_channels()
    plugin = EntryPoint(name=name, value=target, group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "available_channels", lambda: {**real, name: plugin})


def test_outreach_registers_its_three_channels() -> None:
    assert {"email", "sms", "whatsapp"} <= set(registry.available_channels())


def test_unknown_channel_fails_at_start_up_naming_what_exists() -> None:
    with pytest.raises(UnknownChannelError) as raised:
        load_channels(Settings(), names=["sms", "pigeon"])

    assert raised.value.unknown == ["pigeon"]
    assert "pigeon" in str(raised.value) and "whatsapp" in str(raised.value)


def test_a_plugin_registered_by_entry_point_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_plugin(monkeypatch, "fax", f"{__name__}:FaxChannel")

    workers = load_channels(Settings(), names=["fax"])

    assert isinstance(workers["fax"], FaxChannel)


def test_a_plugin_must_be_a_channel_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_plugin(monkeypatch, "fax", f"{__name__}:test_outreach_registers_its_three_channels")

    with pytest.raises(registry.ChannelPluginError, match="no ChannelWorker"):
        load_channels(Settings(), names=["fax"])


def test_a_plugin_must_declare_its_registered_name(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_plugin(monkeypatch, "fax", f"{__name__}:Misnamed")

    with pytest.raises(registry.ChannelPluginError, match="declares name 'telex'"):
        load_channels(Settings(), names=["fax"])


def test_a_broken_plugin_names_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_plugin(monkeypatch, "fax", "acme_fax_not_installed:FaxChannel")

    with pytest.raises(registry.ChannelPluginError, match="'fax'"):
        load_channels(Settings(), names=["fax"])


@pytest.mark.parametrize(
    ("name", "field", "missing"),
    [
        ("sms", "twilio_auth_token", "OUTREACH_TWILIO_AUTH_TOKEN"),
        ("email", "sendgrid_api_key", "OUTREACH_SENDGRID_API_KEY"),
        ("whatsapp", "whatsapp_token", "OUTREACH_WHATSAPP_TOKEN"),
    ],
)
def test_a_channel_without_credentials_refuses_to_start(name, field, missing) -> None:
    with pytest.raises(ValueError, match=missing):
        load_channels(Settings(**{field: None}), names=[name])


def test_a_malformed_sendgrid_key_refuses_to_start() -> None:
    settings = Settings(sendgrid_api_key="k", sendgrid_webhook_public_key="bm90IGEga2V5")

    with pytest.raises(ValueError, match="PUBLIC_KEY"):
        load_channels(settings, names=["email"])
