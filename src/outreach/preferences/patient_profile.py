"""A patient as the decisions see them: the stored hierarchy levels resolved into one profile.

Repositories read the levels (organisation, provider, the patient's own) and consent as they are
stored; resolving them is a rule, so it happens here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from outreach.domain import Channel
from outreach.preferences.consent import ConsentState
from outreach.preferences.frequency_caps import FatiguePolicy, with_fatigue
from outreach.preferences.hierarchy import (
    GLOBAL_DEFAULTS,
    EffectivePreferences,
    InheritedPreferences,
    PreferenceLayer,
    resolve_inherited,
    resolve_with_inherited,
)


@dataclass(frozen=True, slots=True)
class PatientLayers:
    """What is stored about one patient's preferences, level by level (None: no such row)."""

    patient_id: str
    org_id: str
    provider_id: str | None
    org: PreferenceLayer | None
    provider: PreferenceLayer | None
    own: PreferenceLayer
    consent: ConsentState
    failed_channels: frozenset[Channel]
    first_name: str | None
    fatigue_score: float | None = None  # learnt by ml: recent sends against engagement
    # The patient's numbers as checked when they were stored: number -> E.164 form, or None
    # when not valid (numbers not in it are checked when resolved).
    checked_numbers: Mapping[str, str | None] = field(default_factory=dict)

    def __repr__(self) -> str:  # the patient's own layer holds addresses
        return f"PatientLayers(patient_id={self.patient_id!r}, org_id={self.org_id!r})"


@dataclass(frozen=True, slots=True)
class PatientDecisionInputs:
    """Everything the preferences core needs about one patient."""

    patient_id: str
    org_id: str
    provider_id: str | None
    prefs: EffectivePreferences
    consent: ConsentState
    failed_channels: frozenset[Channel]
    first_name: str | None
    fatigue_score: float | None = None

    def __repr__(self) -> str:
        return f"PatientDecisionInputs(patient_id={self.patient_id!r}, org_id={self.org_id!r})"


def resolve_patient(
    layers: PatientLayers,
    fatigue: FatiguePolicy | None = None,
    inherited: InheritedPreferences | None = None,
) -> PatientDecisionInputs:
    """Merge the hierarchy (patient > provider > organisation > global) for one patient, then
    lower their marketing caps if ``fatigue`` says they are fatigued. ``inherited``: the levels
    above the patient, already resolved."""
    if inherited is None:
        inherited = resolve_inherited(GLOBAL_DEFAULTS, layers.org, layers.provider)
    prefs = resolve_with_inherited(inherited, layers.own, layers.checked_numbers)
    return PatientDecisionInputs(
        patient_id=layers.patient_id,
        org_id=layers.org_id,
        provider_id=layers.provider_id,
        prefs=with_fatigue(prefs, layers.fatigue_score, fatigue),
        consent=layers.consent,
        failed_channels=layers.failed_channels,
        first_name=layers.first_name,
        fatigue_score=layers.fatigue_score,
    )


def resolve_patients(
    layers: Iterable[PatientLayers], fatigue: FatiguePolicy | None = None
) -> dict[str, PatientDecisionInputs]:
    """``resolve_patient`` for each, by patient id; the levels above the patients are resolved
    once per organisation and provider."""
    # By identity: the repository hands every patient of a provider the same level objects.
    # Each entry keeps its levels alive, so no other object can take their ids meanwhile.
    inherited: dict[tuple[int, int], tuple[object, object, InheritedPreferences]] = {}
    resolved = {}
    for item in layers:
        key = (id(item.org), id(item.provider))
        entry = inherited.get(key)
        if entry is None:
            above = resolve_inherited(GLOBAL_DEFAULTS, item.org, item.provider)
            entry = inherited[key] = (item.org, item.provider, above)
        resolved[item.patient_id] = resolve_patient(item, fatigue, entry[2])
    return resolved
