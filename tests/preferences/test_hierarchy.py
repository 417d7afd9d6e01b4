"""Resolving the hierarchy: the most specific non-null value wins, and says where it came from."""

from __future__ import annotations

import json
from datetime import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.domain import BUILTIN_CHANNELS, Channel
from outreach.preferences import (
    GLOBAL_DEFAULTS,
    ConsentState,
    PatientLayers,
    PreferenceLayer,
    PreferenceLevel,
    normalise_email,
    normalise_phone,
    resolve_effective_preferences,
    resolve_patients,
)
from outreach.preferences.hierarchy import REQUIRED_FIELDS

from .strategies import FLORIDA_PHONE, LAYER_FIELDS, layers

LEVELS = (
    PreferenceLevel.PATIENT,
    PreferenceLevel.PROVIDER,
    PreferenceLevel.ORGANISATION,
    PreferenceLevel.GLOBAL,
)


@settings(max_examples=300)
@given(
    global_overrides=layers(),
    org=st.one_of(st.none(), layers()),
    provider=st.one_of(st.none(), layers()),
    patient=st.one_of(st.none(), layers()),
)
def test_every_field_takes_the_most_specific_non_null_value(
    global_overrides: PreferenceLayer,
    org: PreferenceLayer | None,
    provider: PreferenceLayer | None,
    patient: PreferenceLayer | None,
) -> None:
    # A complete global layer: the defaults with some fields replaced.
    global_layer = PreferenceLayer(
        **{
            name: getattr(global_overrides, name)
            if getattr(global_overrides, name) is not None
            else getattr(GLOBAL_DEFAULTS, name)
            for name in LAYER_FIELDS
        }
    )
    prefs = resolve_effective_preferences(global_layer, org, provider, patient)
    chain = list(zip(LEVELS, (patient, provider, org, global_layer), strict=True))
    for name in LAYER_FIELDS:
        expected_level, expected = next(
            ((level, getattr(layer, name)) for level, layer in chain
             if layer is not None and getattr(layer, name) is not None),
            (None, None),
        )  # fmt: skip
        assert prefs.sources[name] == expected_level, name
        if name == "email" and expected is not None:
            expected = normalise_email(expected)
        elif name in ("phone", "whatsapp") and expected is not None:
            expected = normalise_phone(expected)
        assert getattr(prefs, name) == expected, name


def test_sources_name_each_level() -> None:
    prefs = resolve_effective_preferences(
        GLOBAL_DEFAULTS,
        PreferenceLayer(timezone="Europe/Bucharest", language="ro"),
        PreferenceLayer(language="es-MX", quiet_hours_start=time(20)),
        PreferenceLayer(language="en-US", phone=FLORIDA_PHONE),
    )
    assert prefs.timezone == "Europe/Bucharest"
    assert prefs.language == "en-US"
    assert prefs.quiet_hours_start == time(20)
    assert prefs.quiet_hours_end == time(8)
    assert prefs.sources["timezone"] is PreferenceLevel.ORGANISATION
    assert prefs.sources["language"] is PreferenceLevel.PATIENT
    assert prefs.sources["quiet_hours_start"] is PreferenceLevel.PROVIDER
    assert prefs.sources["quiet_hours_end"] is PreferenceLevel.GLOBAL
    assert prefs.sources["best_hour"] is None
    assert prefs.best_hour is None


def test_global_defaults() -> None:
    prefs = resolve_effective_preferences(GLOBAL_DEFAULTS, None, None, None)
    assert prefs.timezone == "UTC"
    assert prefs.language == "en"
    assert (prefs.quiet_hours_start, prefs.quiet_hours_end) == (time(21), time(8))
    assert prefs.channel_order == (Channel.SMS, Channel.EMAIL, Channel.WHATSAPP)
    assert prefs.allowed_channels == frozenset(BUILTIN_CHANNELS)
    assert prefs.healthcare_reminder_profile is False


def test_an_incomplete_global_layer_is_refused() -> None:
    # Even when every other level is set, the global layer is the guarantee of completeness.
    full = PreferenceLayer(**{name: getattr(GLOBAL_DEFAULTS, name) for name in REQUIRED_FIELDS})
    with pytest.raises(ValueError, match="global preference layer must set"):
        resolve_effective_preferences(PreferenceLayer(), None, None, None)
    assert resolve_effective_preferences(full, None, None, None).timezone == "UTC"


def test_an_invalid_patient_address_does_not_fall_back_to_someone_elses() -> None:
    prefs = resolve_effective_preferences(
        GLOBAL_DEFAULTS,
        PreferenceLayer(email="front-desk@clinic.example.org"),
        None,
        PreferenceLayer(email="not-an-address", phone="555-1234"),
    )
    assert prefs.email is None
    assert prefs.phone is None
    assert prefs.invalid_addresses == frozenset({"email", "phone"})


def test_addresses_are_normalised() -> None:
    prefs = resolve_effective_preferences(
        GLOBAL_DEFAULTS,
        None,
        None,
        PreferenceLayer(email="Ann@Example.ORG", phone="+1 (305) 234-5678"),
    )
    assert prefs.email == "Ann@example.org"
    assert prefs.phone == "+13052345678"


def test_repr_masks_addresses() -> None:
    layer = PreferenceLayer(
        email="ann.smith@example.org", phone=FLORIDA_PHONE, whatsapp=FLORIDA_PHONE
    )
    prefs = resolve_effective_preferences(GLOBAL_DEFAULTS, None, None, layer)
    for text in (repr(prefs), repr(layer), str(prefs)):
        assert "ann.smith" not in text
        assert "example.org" not in text
        assert "3052345678" not in text
        assert "5678" not in text


def test_as_dict_is_json_with_values_and_sources() -> None:
    prefs = resolve_effective_preferences(
        GLOBAL_DEFAULTS,
        PreferenceLayer(timezone="Asia/Kolkata"),
        None,
        PreferenceLayer(email="ann@example.org", preferred_channel=Channel.EMAIL, best_hour=18),
    )
    masked = json.loads(json.dumps(prefs.as_dict()))
    assert masked["values"]["timezone"] == "Asia/Kolkata"
    assert masked["values"]["quiet_hours_start"] == "21:00:00"
    assert masked["values"]["preferred_channel"] == "email"
    assert masked["values"]["channel_order"] == ["sms", "email", "whatsapp"]
    assert masked["values"]["email"] != "ann@example.org"
    assert masked["sources"]["timezone"] == "organisation"
    assert masked["sources"]["best_hour"] == "patient"
    assert masked["sources"]["phone"] is None
    clear = prefs.as_dict(mask_addresses=False)
    assert clear["values"]["email"] == "ann@example.org"


@pytest.mark.parametrize(
    "bad",
    [
        {"timezone": "Mars/Olympus_Mons"},
        {"language": "spanish please"},
        {"best_hour": 24},
        {"best_hour": True},
        {"marketing_max_per_day": -1},
        {"quiet_hours_start": time(21, 0, 0, 500)},
        {"work_days": frozenset({7})},
        {"channel_order": (Channel.SMS, Channel.SMS)},
        {"allowed_channels": frozenset({"Pager!"})},
    ],
)
def test_bad_configuration_fails_loudly(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        PreferenceLayer(**bad)  # type: ignore[arg-type]


def test_adapters_may_pass_plain_strings_and_sets() -> None:
    layer = PreferenceLayer(
        allowed_channels={"sms", "email"},  # type: ignore[arg-type]
        preferred_channel="email",  # type: ignore[arg-type]
        channel_order=["email", "sms"],  # type: ignore[arg-type]
        work_days={0, 1},  # type: ignore[arg-type]
    )
    assert layer.allowed_channels == frozenset({Channel.SMS, Channel.EMAIL})
    assert layer.preferred_channel is Channel.EMAIL
    assert layer.channel_order == (Channel.EMAIL, Channel.SMS)
    assert layer.work_days == frozenset({0, 1})


def test_a_number_checked_when_stored_is_not_checked_again() -> None:
    # The stored checks answer for their numbers (here, contrary to what parsing would say, so
    # the test sees which was used); a number without one is checked as usual.
    patient = PreferenceLayer(phone="+12125550147", whatsapp="+1555012")
    checked = {"+12125550147": None}
    prefs = resolve_effective_preferences(GLOBAL_DEFAULTS, None, None, patient, checked)
    assert prefs.phone is None
    assert prefs.whatsapp is None
    assert prefs.invalid_addresses == {"phone", "whatsapp"}
    trusted = resolve_effective_preferences(
        GLOBAL_DEFAULTS,
        None,
        None,
        PreferenceLayer(phone="+1 212 555 0147"),
        {"+1 212 555 0147": "+12125550147"},
    )
    assert trusted.phone == "+12125550147" and not trusted.invalid_addresses


@settings(max_examples=100)
@given(
    org=st.one_of(st.none(), layers()),
    providers=st.lists(st.one_of(st.none(), layers()), min_size=1, max_size=3),
    own=st.lists(layers(), min_size=1, max_size=8),
)
def test_resolving_many_patients_at_once_resolves_each_as_alone(
    org: PreferenceLayer | None,
    providers: list[PreferenceLayer | None],
    own: list[PreferenceLayer],
) -> None:
    """``resolve_patients`` resolves the levels above the patients once per provider: each
    patient still gets what resolving them alone gives, values and sources."""
    patients = [
        PatientLayers(
            patient_id=f"p{n}",
            org_id="o",
            provider_id=None,
            org=org,
            provider=providers[n % len(providers)],
            own=layer,
            consent=ConsentState(),
            failed_channels=frozenset(),
            first_name=None,
        )
        for n, layer in enumerate(own)
    ]
    together = resolve_patients(patients)
    for patient in patients:
        alone = resolve_effective_preferences(
            GLOBAL_DEFAULTS, patient.org, patient.provider, patient.own
        )
        assert together[patient.patient_id].prefs == alone
        assert dict(together[patient.patient_id].prefs.sources) == dict(alone.sources)
