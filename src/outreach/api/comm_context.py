"""``GET /api/v1/patients/{patient_id}/comm-context``: why a patient is (or is not) contacted.

The effective preferences with the level each value came from, consent, failed channels, the
patient's recent and upcoming jobs, their latest activity (sent, opened, replied), and what the
send-time model learnt (best hour with its source and confidence, fatigue score). Addresses are
masked; no names, no message bodies, no message context.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from outreach.api.access import PlatformCaller
from outreach.api.dependencies import ClockDep, SettingsDep, StoreDep
from outreach.api.errors import ApiError, ErrorBody
from outreach.domain import Channel, JobStatus, Purpose, SuppressionReason
from outreach.ml.best_hour import BestHourSource
from outreach.preferences import ConsentState, channel_permission, is_fatigued, resolve_patients
from outreach.sql.activity_repository import ActivityMoment, JobSummary, RecentActivity
from outreach.sql.engagement_repository import StoredSendTimeProfile
from outreach.wiring import fatigue_policy

router = APIRouter(prefix="/api/v1/patients", tags=["comm-context"])

JOBS_SHOWN = 20


class ConsentView(BaseModel):
    """What the patient agreed to, as stored."""

    contact_consent: bool = Field(description="Consent to be contacted at all.")
    granted_at: datetime | None
    expires_at: datetime | None
    expired: bool = Field(description="Granted, but lapsed at the time of the answer.")
    marketing_opt_in: list[Channel] = Field(
        description="Channels the patient opted into marketing (campaign) messages on."
    )
    opted_out: list[Channel] = Field(description="Channels the patient opted out of (STOP).")
    whatsapp_opt_in: bool


class ChannelPermissionView(BaseModel):
    """What consent alone says about a channel: null when allowed, else the suppression reason."""

    transactional: SuppressionReason | None = Field(description="For a reminder.")
    marketing: SuppressionReason | None = Field(description="For a campaign message.")


class JobView(BaseModel):
    """One of the patient's jobs (no message context, no provider ids)."""

    id: int
    purpose: Purpose
    channel: Channel | None
    status: JobStatus
    scheduled_for: datetime
    suppression_reason: SuppressionReason | None
    appointment_id: str | None


class JobsView(BaseModel):
    recent: list[JobView] = Field(
        description=f"Up to {JOBS_SHOWN} jobs already due or finished, newest first."
    )
    upcoming: list[JobView] = Field(
        description=f"Up to {JOBS_SHOWN} pending jobs still to come, soonest first."
    )


class ActivityView(BaseModel):
    """When something last happened, and to which message."""

    at: datetime
    channel: Channel | None
    purpose: Purpose | None = Field(description="Null for a reply that matched no message.")
    job_id: int | None = Field(description="Null for a reply that matched no message.")


class OpenedView(ActivityView):
    signal: str = Field(description="`opened` or `clicked`: the provider report it came from.")


class RecentActivityView(BaseModel):
    """The patient's latest engagement; null where it never happened."""

    last_sent: ActivityView | None = Field(description="The last message a provider accepted.")
    last_opened: OpenedView | None = Field(
        description="The last open or link click a provider reported (e-mail and WhatsApp)."
    )
    last_replied: ActivityView | None = Field(description="The patient's last inbound message.")


class BestHourView(BaseModel):
    """The learnt best hour: flexible messages are moved to it, inside the allowed hours and
    before their deadline."""

    value: int | None = Field(description="Local hour 0-23; null when nothing was learnt yet.")
    source: str | None = Field(
        description="`model vN` when the patient's own messages weighed in, `cohort prior vN` "
        "when only their cohort's did (N: the model version); `preferences` when set by hand."
    )
    model_version: int | None
    confidence: float | None = Field(
        description="Approximate probability that the true best hour is within an hour of it."
    )
    interactions: int | None = Field(description="Messages of the patient it was learnt from.")
    learnt_at: datetime | None


class FatigueView(BaseModel):
    score: float | None = Field(
        description="Recent sends against recent engagement, 0 to 1; null when never scored."
    )
    threshold: float
    fatigued: bool = Field(
        description="At or above the threshold: marketing caps are lowered (see `preferences`); "
        "transactional messages are unchanged."
    )
    scored_at: datetime | None


class CommContext(BaseModel):
    """Why the patient is, or is not, contacted, and what they got lately."""

    patient_id: str
    org_id: str
    provider_id: str | None
    preferences: dict[str, Any] = Field(
        description="`values` (addresses masked), `sources` (the level each value came from: "
        "patient, provider, organisation or global) and `invalid_addresses`."
    )
    consent: ConsentView
    consent_by_channel: dict[Channel, ChannelPermissionView]
    failed_channels: list[Channel] = Field(
        description="Channels whose address failed permanently (skipped until updated)."
    )
    jobs: JobsView
    recent_activity: RecentActivityView
    best_hour: BestHourView
    fatigue_score: float | None = Field(description="The same as `fatigue.score`.")
    fatigue: FatigueView
    as_of: datetime = Field(description="The time the answer was computed for.")


def _consent_view(consent: ConsentState, now: datetime) -> ConsentView:
    return ConsentView(
        contact_consent=consent.contact_granted,
        granted_at=consent.granted_at,
        expires_at=consent.expires_at,
        expired=consent.contact_granted and consent.is_expired(now),
        marketing_opt_in=sorted(consent.marketing_opt_in),
        opted_out=sorted(consent.opted_out),
        whatsapp_opt_in=consent.whatsapp_opt_in,
    )


def _permissions(consent: ConsentState, now: datetime) -> dict[Channel, ChannelPermissionView]:
    """Per channel, what consent alone says for a reminder and for a campaign (None: allowed)."""
    return {
        channel: ChannelPermissionView(
            transactional=channel_permission(Purpose.APPT_REMINDER, channel, consent, now),
            marketing=channel_permission(Purpose.CAMPAIGN_EDUCATION, channel, consent, now),
        )
        for channel in Channel
    }


def _job_view(job: JobSummary) -> JobView:
    return JobView(
        id=job.id,
        purpose=job.purpose,
        channel=job.channel,
        status=job.status,
        scheduled_for=job.scheduled_for,
        suppression_reason=job.suppression_reason,
        appointment_id=job.appointment_id,
    )


def _moment(moment: ActivityMoment | None) -> ActivityView | None:
    if moment is None:
        return None
    return ActivityView(
        at=moment.at, channel=moment.channel, purpose=moment.purpose, job_id=moment.job_id
    )


def _opened(moment: ActivityMoment | None) -> OpenedView | None:
    if moment is None:
        return None
    return OpenedView(
        at=moment.at,
        channel=moment.channel,
        purpose=moment.purpose,
        job_id=moment.job_id,
        signal=moment.signal or JobStatus.OPENED.value,
    )


def _activity_view(activity: RecentActivity) -> RecentActivityView:
    return RecentActivityView(
        last_sent=_moment(activity.last_sent),
        last_opened=_opened(activity.last_opened),
        last_replied=_moment(activity.last_replied),
    )


def _best_hour_view(profile: StoredSendTimeProfile | None, value: int | None) -> BestHourView:
    if (
        profile is None
        or profile.best_hour is None
        or profile.model_version is None
        or profile.best_hour != value
    ):
        # Not learnt, or a level of the hierarchy set it by hand.
        return BestHourView(
            value=value,
            source="preferences" if value is not None else None,
            model_version=None,
            confidence=None,
            interactions=None,
            learnt_at=None,
        )
    kind = "model" if profile.source == BestHourSource.MODEL.value else "cohort prior"
    return BestHourView(
        value=profile.best_hour,
        source=f"{kind} v{profile.model_version}",
        model_version=profile.model_version,
        confidence=profile.confidence,
        interactions=profile.interactions,
        learnt_at=profile.learnt_at,
    )


@router.get(
    "/{patient_id}/comm-context",
    response_model=CommContext,
    responses={404: {"model": ErrorBody, "description": "Unknown patient."}},
)
def comm_context(
    store: StoreDep,
    clock: ClockDep,
    settings: SettingsDep,
    caller: PlatformCaller,
    patient_id: str = Path(min_length=1, max_length=64),
) -> CommContext:
    """The patient's effective preferences and their sources, consent, jobs, latest activity,
    learnt best hour and fatigue score.

    Only for a patient of the caller's organisation (another one is a 404, like an unknown
    one); every read is recorded in the audit log with the caller.
    """
    now = clock()
    fatigue = fatigue_policy(settings)
    with store.transaction() as repos:
        inputs = resolve_patients(repos.patients.decision_layers([patient_id]), fatigue).get(
            patient_id
        )
        if inputs is None or inputs.org_id != caller.org_id:
            raise ApiError(404, "not_found", "unknown patient")
        jobs = repos.activity.jobs_of_patient(patient_id, now, JOBS_SHOWN)
        activity = repos.activity.recent_activity(patient_id)
        profile = repos.engagement.send_time_profile(patient_id)
        repos.audit.record([caller.audit("comm_context_read", now, patient_id=patient_id)])
    return CommContext(
        patient_id=inputs.patient_id,
        org_id=inputs.org_id,
        provider_id=inputs.provider_id,
        preferences=inputs.prefs.as_dict(),
        consent=_consent_view(inputs.consent, now),
        consent_by_channel=_permissions(inputs.consent, now),
        failed_channels=sorted(inputs.failed_channels),
        jobs=JobsView(
            recent=[_job_view(job) for job in jobs.recent],
            upcoming=[_job_view(job) for job in jobs.upcoming],
        ),
        recent_activity=_activity_view(activity),
        best_hour=_best_hour_view(profile, inputs.prefs.best_hour),
        fatigue_score=inputs.fatigue_score,
        fatigue=FatigueView(
            score=inputs.fatigue_score,
            threshold=fatigue.threshold,
            fatigued=is_fatigued(inputs.fatigue_score, fatigue),
            scored_at=profile.fatigue_scored_at if profile is not None else None,
        ),
        as_of=now,
    )
