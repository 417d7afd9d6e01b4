"""What a save of organisation or provider settings changes, and how the audit log shows it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach.domain import Channel
from outreach.preferences import (
    OrgSettings,
    PreferenceLayer,
    ProviderSettings,
    settings_audit_detail,
    settings_changes,
)

from .strategies import layers

SMS, EMAIL, WHATSAPP = Channel.SMS, Channel.EMAIL, Channel.WHATSAPP
SAVED_AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def org(name: str = "Sunrise Clinic", **layer: Any) -> OrgSettings:
    return OrgSettings(org_id="org-1", name=name, layer=PreferenceLayer(**layer))


STORED = OrgSettings(
    org_id="org-1",
    name="Sunrise Clinic",
    clinic_phone="+12025550100",
    layer=PreferenceLayer(
        timezone="America/Phoenix",
        quiet_hours_start=time(20, 30),
        quiet_hours_end=time(8, 0),
        allowed_channels=frozenset({SMS, EMAIL}),
        channel_order=(EMAIL, SMS),
        work_days=frozenset({0, 2, 4}),
        marketing_max_per_day=1,
    ),
    updated_at=SAVED_AT,
)


def stored_with(**changes: Any) -> OrgSettings:
    """``STORED`` saved again with some layer fields changed."""
    return replace(STORED, layer=replace(STORED.layer, **changes), updated_at=None)


@pytest.mark.parametrize(
    ("stored", "new", "expected"),
    [
        # A first save names every field it sets, from nothing.
        (None, org(), {"name": (None, "Sunrise Clinic")}),
        (
            None,
            org(timezone="Asia/Kolkata", allowed_channels={EMAIL, SMS}, avoid_work_hours=False),
            {
                "name": (None, "Sunrise Clinic"),
                "timezone": (None, "Asia/Kolkata"),
                "avoid_work_hours": (None, False),
                "allowed_channels": (None, ["email", "sms"]),
            },
        ),
        # The same settings again change nothing; nor does the save time.
        (STORED, stored_with(), {}),
        # Sets compare unordered; the fallback order is an order.
        (STORED, stored_with(allowed_channels=[EMAIL, SMS], work_days=[4, 2, 0]), {}),
        (
            STORED,
            stored_with(channel_order=(SMS, EMAIL)),
            {"channel_order": (["email", "sms"], ["sms", "email"])},
        ),
        (
            STORED,
            stored_with(allowed_channels={SMS, EMAIL, WHATSAPP}),
            {"allowed_channels": (["email", "sms"], ["email", "sms", "whatsapp"])},
        ),
        # Times show in ISO form; a field left out inherits again.
        (
            STORED,
            stored_with(quiet_hours_start=time(21, 0), marketing_max_per_day=None),
            {
                "quiet_hours_start": ("20:30:00", "21:00:00"),
                "marketing_max_per_day": (1, None),
            },
        ),
        (
            STORED,
            stored_with(preferred_channel=WHATSAPP),
            {"preferred_channel": (None, "whatsapp")},
        ),
        (STORED, stored_with(work_days={0}), {"work_days": ([0, 2, 4], [0])}),
        # The descriptive fields count as much as the layer.
        (
            STORED,
            OrgSettings(org_id="org-1", name="Sunset Clinic", layer=STORED.layer),
            {"name": ("Sunrise Clinic", "Sunset Clinic"), "clinic_phone": ("+12025550100", None)},
        ),
        (
            ProviderSettings(provider_id="p-1", org_id="org-1", display_name="Dr. Kim"),
            ProviderSettings(provider_id="p-1", org_id="org-1", display_name="Dr. Park"),
            {"display_name": ("Dr. Kim", "Dr. Park")},
        ),
        (
            None,
            ProviderSettings(provider_id="p-1", org_id="org-1"),
            {"org_id": (None, "org-1")},
        ),
    ],
)
def test_changes_name_each_changed_field_as_shown(
    stored: OrgSettings | ProviderSettings | None,
    new: OrgSettings | ProviderSettings,
    expected: dict[str, tuple[Any, Any]],
) -> None:
    changes = settings_changes(stored, new)
    assert {name: (c.before, c.after) for name, c in changes.items()} == expected


def test_changes_come_in_field_order() -> None:
    new = stored_with(healthcare_reminder_profile=True, timezone="UTC", quiet_hours_end=time(7))
    assert list(settings_changes(STORED, new)) == [
        "timezone",
        "quiet_hours_end",
        "healthcare_reminder_profile",
    ]


def test_the_audit_detail_names_the_settings_and_shows_from_and_to() -> None:
    new = stored_with(timezone="Europe/Bucharest", marketing_max_per_day=None)
    detail = settings_audit_detail(new, settings_changes(STORED, new), created=False)
    assert detail == {
        "org_id": "org-1",
        "created": False,
        "changes": {
            "timezone": {"from": "America/Phoenix", "to": "Europe/Bucharest"},
            "marketing_max_per_day": {"from": 1, "to": None},
        },
    }
    provider = ProviderSettings(provider_id="p-9", org_id="org-1", display_name="Dr. Kim")
    assert settings_audit_detail(provider, settings_changes(None, provider), created=True) == {
        "provider_id": "p-9",
        "created": True,
        "changes": {
            "org_id": {"from": None, "to": "org-1"},
            "display_name": {"from": None, "to": "Dr. Kim"},
        },
    }


NO_ADDRESSES = {"email": None, "phone": None, "whatsapp": None}


@given(layers(**NO_ADDRESSES), layers(**NO_ADDRESSES), st.sampled_from(["A", "B"]))
def test_nothing_changes_exactly_when_the_settings_are_equal(
    before: PreferenceLayer, after: PreferenceLayer, name: str
) -> None:
    stored = OrgSettings(org_id="org-1", name="A", layer=before, updated_at=SAVED_AT)
    new = OrgSettings(org_id="org-1", name=name, layer=after)
    changes = settings_changes(stored, new)
    assert (changes == {}) == (before == after and name == "A")
    assert all(c.before != c.after for c in changes.values())
