"""Preferences: whether, where and when a patient may be contacted. Pure rules, no I/O.

The pipeline calls ``resolve_effective_preferences`` to merge the hierarchy, ``decide`` to plan a
communication, and ``recheck_at_send_time`` just before sending.
"""

from outreach.preferences.addresses import (
    mask_email,
    mask_phone,
    normalise_email,
    normalise_phone,
)
from outreach.preferences.channel_choice import (
    DEFAULT_FALLBACK_ORDER,
    REASON_PRECEDENCE,
    ChannelRanking,
    address_for,
    channel_order_for,
    choose_channel,
    most_telling_reason,
    rank_channels,
)
from outreach.preferences.consent import (
    CONSENT_VALIDITY_YEARS,
    ConsentState,
    ConsentUpdate,
    ExpiringConsent,
    channel_permission,
    consent_changes,
    consent_update_from_record,
    consents_expiring,
)
from outreach.preferences.decision import CommRequest, decide, recheck_at_send_time
from outreach.preferences.frequency_caps import (
    REMINDER_PROFILE_MAX_PER_DAY,
    REMINDER_PROFILE_MAX_PER_WEEK,
    FatiguePolicy,
    SentRecord,
    frequency_refusal,
    is_fatigued,
    with_fatigue,
)
from outreach.preferences.hierarchy import (
    GLOBAL_DEFAULTS,
    LEVEL_FIELDS,
    EffectivePreferences,
    PreferenceLayer,
    PreferenceLevel,
    json_ready,
    resolve_effective_preferences,
)
from outreach.preferences.legal_floor import (
    FLORIDA_AREA_CODES,
    FLORIDA_MARKETING_MAX,
    is_florida_number,
)
from outreach.preferences.organisation_settings import (
    FieldChange,
    OrgSettings,
    ProviderSettings,
    settings_audit_detail,
    settings_changes,
)
from outreach.preferences.outcomes import Decision, Scheduled, Suppressed
from outreach.preferences.patient_profile import (
    PatientDecisionInputs,
    PatientLayers,
    resolve_patient,
    resolve_patients,
)
from outreach.preferences.send_time import (
    FLEXIBLE_PURPOSES,
    Exploration,
    SendTime,
    choose_send_time,
    exploration_for,
    next_allowed_send_time,
)

__all__ = [
    "CONSENT_VALIDITY_YEARS",
    "DEFAULT_FALLBACK_ORDER",
    "FLEXIBLE_PURPOSES",
    "FLORIDA_AREA_CODES",
    "FLORIDA_MARKETING_MAX",
    "GLOBAL_DEFAULTS",
    "LEVEL_FIELDS",
    "REASON_PRECEDENCE",
    "REMINDER_PROFILE_MAX_PER_DAY",
    "REMINDER_PROFILE_MAX_PER_WEEK",
    "ChannelRanking",
    "CommRequest",
    "ConsentState",
    "ConsentUpdate",
    "Decision",
    "EffectivePreferences",
    "ExpiringConsent",
    "Exploration",
    "FatiguePolicy",
    "FieldChange",
    "OrgSettings",
    "PatientDecisionInputs",
    "PatientLayers",
    "PreferenceLayer",
    "PreferenceLevel",
    "ProviderSettings",
    "Scheduled",
    "SendTime",
    "SentRecord",
    "Suppressed",
    "address_for",
    "channel_order_for",
    "channel_permission",
    "choose_channel",
    "choose_send_time",
    "consent_changes",
    "consent_update_from_record",
    "consents_expiring",
    "decide",
    "exploration_for",
    "frequency_refusal",
    "is_fatigued",
    "is_florida_number",
    "json_ready",
    "mask_email",
    "mask_phone",
    "most_telling_reason",
    "next_allowed_send_time",
    "normalise_email",
    "normalise_phone",
    "rank_channels",
    "recheck_at_send_time",
    "resolve_effective_preferences",
    "resolve_patient",
    "resolve_patients",
    "with_fatigue",
    "settings_audit_detail",
    "settings_changes",
]
