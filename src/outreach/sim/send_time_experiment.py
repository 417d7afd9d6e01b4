"""The send-time experiment behind ``outreach ml evaluate``: the best-hour model measured against
the truth the synthetic clinic planted.

1. A synthetic population (the clinic's patient generator) with each patient's planted preferred
   hour and responsiveness (``sim.clinic.engagement``).
2. A past: each patient received between 0 and ``max_history`` messages over half a year, at the
   hours the pipeline would have used. Messages with a fixed time (confirmations, reminders) go
   when their event happened (clinic and booking hours). Flexible ones (a ``flexible_share`` of
   them) went at their default time in the older half of the past and at the best hour of a
   model trained on that half in the recent one; a share of them at a random allowed hour
   (exploration), each with the propensity the planner records. Whether and when each was
   opened, clicked or answered is drawn from the planted truth.
3. The model is trained by the production code path (``patient_cohorts``, ``engagement_table``,
   ``fit_best_hour_model``, ``predict_best_hours``) on those sends and the patients' attributes
   only. The planted hours are read once more, at the end, to score it.
4. A hold-out: future sends to every patient, in three arms (at the learnt best hour, at 10:00,
   at the population's best single hour learnt from the same past), with engagement drawn from
   the planted truth.

Pure and deterministic for a seed; no I/O.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from outreach.domain import Channel, Purpose, SendTimeSource
from outreach.ml.best_hour import (
    CANDIDATE_HOURS,
    NotEnoughEngagement,
    fit_best_hour_model,
    predict_best_hours,
    summarise_history,
)
from outreach.ml.engagement import engagement_table
from outreach.ml.evaluation import (
    ArmResult,
    LearningCurveRow,
    learning_curve,
    population_best_hour,
    share_within_one_hour,
)
from outreach.ml.features import patient_cohorts
from outreach.sim.clinic.engagement import channel_codes, draw_engagement
from outreach.sim.clinic.population import PatientFactory, SyntheticPatient, build_orgs
from outreach.sim.clinic.timeline import PATIENT_ACTIVITY, STAFF_ACTIVITY

FIXED_HOUR = 10
HISTORY_DAYS = 180
PREFERRED_CHANNEL_SHARE = 0.85  # the rest went on another channel (fallbacks, explicit requests)
CLICK_SHARE_OF_OPENS = 0.3
_CHANNELS = tuple(Channel)
_ALLOWED_HOURS = CANDIDATE_HOURS


@dataclass(frozen=True)
class ExperimentOptions:
    patients: int = 20_000
    seed: int = 7
    exploration_share: float = 0.10
    # Share of messages with a flexible purpose (the only ones the model times or explores).
    flexible_share: float = 0.35
    max_history: int = 60
    holdout_sends_per_arm: int = 3
    max_weight: float = 3.0
    prompt_window: timedelta = timedelta(hours=1)
    engagement_window: timedelta = timedelta(hours=24)
    as_of: datetime = datetime(2026, 6, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ExperimentReport:
    options: ExperimentOptions
    past_sends: int
    model_metrics: dict[str, object]
    learning_curve: list[LearningCurveRow]
    within_one_hour: float  # patients with at least 10 past messages
    population_best_hour: int
    arms: list[ArmResult] = field(default_factory=list)

    def arm(self, name: str) -> ArmResult:
        return next(arm for arm in self.arms if arm.name == name)

    @property
    def lift_over_fixed_hour(self) -> float:
        return self.arm("model").relative_lift_over(self.arm("fixed"))

    @property
    def lift_over_population_hour(self) -> float:
        return self.arm("model").relative_lift_over(self.arm("population"))


def synthetic_patients(options: ExperimentOptions) -> list[SyntheticPatient]:
    rng = random.Random(options.seed)
    orgs, providers = build_orgs(rng, org_count=4, providers_per_org=4)
    factory = PatientFactory(rng, orgs, providers, options.as_of, options.seed)
    return [factory.patient(number) for number in range(1, options.patients + 1)]


def patient_frame(patients: list[SyntheticPatient]) -> pd.DataFrame:
    """What outreach stores about the patients, as the repository reads it (no planted truth)."""
    return pd.DataFrame(
        {
            "patient_id": [p.patient_id for p in patients],
            "date_of_birth": [p.date_of_birth for p in patients],
            "region": [p.region for p in patients],
            "patient_timezone": [p.timezone for p in patients],
            "provider_timezone": None,
            "org_timezone": None,
            "patient_language": [p.language for p in patients],
            "provider_language": None,
            "org_language": None,
            "preferred_channel": [p.preferred_channel.value for p in patients],
        }
    )


@dataclass(frozen=True)
class PlantedTruth:
    """The planted truth as arrays, in the order of the population."""

    preferred_hour: np.ndarray
    responsiveness: np.ndarray
    preferred_channel: np.ndarray  # channel codes
    timezone: np.ndarray


def planted_truth(patients: list[SyntheticPatient]) -> PlantedTruth:
    return PlantedTruth(
        preferred_hour=np.array([p.preferred_hour for p in patients]),
        responsiveness=np.array([p.responsiveness for p in patients]),
        preferred_channel=channel_codes([p.preferred_channel for p in patients]),
        timezone=np.array([p.timezone for p in patients], dtype=object),
    )


def _event_hour_weights() -> np.ndarray:
    """When event-timed messages go, over the allowed hours: bookings, results and reminders
    follow the patients' and the clinic's day."""
    activity = np.array(PATIENT_ACTIVITY) + np.array(STAFF_ACTIVITY)
    weights = activity[_ALLOWED_HOURS]
    return weights / weights.sum()


def _utc_instants(
    days: np.ndarray, local_hours: np.ndarray, minutes: np.ndarray, zones: np.ndarray
) -> pd.Series:
    """UTC instants of local wall-clock times (dates as days before ``as_of``), zone by zone."""
    result = pd.Series(pd.NaT, index=np.arange(len(days)), dtype="datetime64[ns, UTC]")
    naive = (
        pd.to_datetime(days, unit="D")
        + pd.to_timedelta(local_hours, unit="h")
        + pd.to_timedelta(minutes, unit="m")
    )
    for zone, positions in pd.Series(zones).groupby(zones).indices.items():
        local = pd.DatetimeIndex(naive[positions]).tz_localize(
            str(zone), ambiguous="NaT", nonexistent="shift_forward"
        )
        result.iloc[positions] = local.tz_convert("UTC")
    return result


def _draw_engagement(
    generator: np.random.Generator,
    truth: PlantedTruth,
    patient: np.ndarray,
    channel: np.ndarray,
    local_time: np.ndarray,
    weekend: np.ndarray,
) -> np.ndarray:
    """Minutes to engagement of messages (NaN: never), from the planted truth."""
    return draw_engagement(
        generator,
        truth.preferred_hour[patient],
        truth.responsiveness[patient],
        channel,
        local_time,
        weekend,
    )


@dataclass(frozen=True)
class _PastSends:
    """What the past's messages were, before their hours are decided."""

    patient: np.ndarray
    channel: np.ndarray
    default_hour: np.ndarray  # when the event would have it go
    flexible: np.ndarray
    explored: np.ndarray
    random_hour: np.ndarray
    minute: np.ndarray
    days_ago: np.ndarray

    def part(self, members: np.ndarray) -> _PastSends:
        return _PastSends(*(getattr(self, f.name)[members] for f in fields(self)))


def _draw_past_sends(
    options: ExperimentOptions, generator: np.random.Generator, truth: PlantedTruth
) -> _PastSends:
    count = len(truth.preferred_hour)
    history = np.floor(np.exp(generator.random(count) * np.log(options.max_history + 1))) - 1
    patient = np.repeat(np.arange(count), history.astype(np.int64))
    sends = len(patient)
    other = generator.integers(0, len(_CHANNELS), sends)
    channel = np.where(
        generator.random(sends) < PREFERRED_CHANNEL_SHARE, truth.preferred_channel[patient], other
    ).astype(np.int8)
    flexible = generator.random(sends) < options.flexible_share
    return _PastSends(
        patient=patient,
        channel=channel,
        default_hour=generator.choice(_ALLOWED_HOURS, size=sends, p=_event_hour_weights()),
        flexible=flexible,
        explored=flexible & (generator.random(sends) < options.exploration_share),
        random_hour=generator.choice(_ALLOWED_HOURS, size=sends),
        minute=generator.integers(0, 60, sends),
        days_ago=generator.integers(1, HISTORY_DAYS + 1, sends),
    )


def _sent_frame(
    options: ExperimentOptions,
    generator: np.random.Generator,
    truth: PlantedTruth,
    patient_ids: np.ndarray,
    sends: _PastSends,
    model_hours: np.ndarray | None,
    first_job_id: int,
) -> pd.DataFrame:
    """The past's sends at the hours the planner would have chosen, and their engagement.

    Flexible messages go at the model's best hour when there is a model, else at the default
    time; a share of them (exploration) at a random allowed hour instead.
    """
    modelled = sends.flexible & ~sends.explored & (model_hours is not None)
    policy_hour = (
        np.where(sends.flexible, model_hours[sends.patient], sends.default_hour)
        if model_hours is not None
        else sends.default_hour
    )
    hour = np.where(sends.explored, sends.random_hour, policy_hour)
    share, allowed = options.exploration_share, len(_ALLOWED_HOURS)
    propensity = np.where(
        sends.flexible, share / allowed + (1.0 - share) * (hour == policy_hour), 1.0
    )
    start = (options.as_of.date() - date(1970, 1, 1)).days
    days = start - sends.days_ago
    sent_at = _utc_instants(days, hour, sends.minute, truth.timezone[sends.patient])
    weekend = pd.to_datetime(days, unit="D").day_of_week.to_numpy() >= 5
    latency = _draw_engagement(
        generator, truth, sends.patient, sends.channel, hour + sends.minute / 60.0, weekend
    )
    engaged = ~np.isnan(latency)
    engaged_at = sent_at + pd.to_timedelta(latency, unit="m")
    is_sms = sends.channel == channel_codes([Channel.SMS])[0]
    clicked = engaged & (sends.channel == channel_codes([Channel.EMAIL])[0])
    clicked &= generator.random(len(hour)) < CLICK_SHARE_OF_OPENS
    none = pd.Series(pd.NaT, index=engaged_at.index, dtype="datetime64[ns, UTC]")
    source = np.where(
        sends.explored,
        SendTimeSource.EXPLORATION.value,
        np.where(modelled, SendTimeSource.MODEL.value, SendTimeSource.DEFAULT.value),
    ).astype(object)
    purpose = np.where(
        sends.flexible, Purpose.CAMPAIGN_EDUCATION.value, Purpose.APPT_REMINDER.value
    ).astype(object)
    frame = pd.DataFrame(
        {
            "job_id": np.arange(first_job_id, first_job_id + len(hour), dtype=np.int64),
            "patient_id": patient_ids[sends.patient],
            "channel": np.array([c.value for c in _CHANNELS], dtype=object)[sends.channel],
            "purpose": purpose,
            "sent_at": sent_at,
            "opened_at": engaged_at.where(~is_sms, none),
            "clicked_at": (engaged_at + pd.Timedelta(minutes=2)).where(clicked, none),
            "replied_at": engaged_at.where(is_sms, none),
            "send_time_source": source,
            "send_time_propensity": propensity,
        }
    )
    return frame[frame["sent_at"].notna()]


def _table(options: ExperimentOptions, sent: pd.DataFrame, cohorts: pd.DataFrame) -> pd.DataFrame:
    return engagement_table(
        sent,
        cohorts,
        prompt_window=options.prompt_window,
        engagement_window=options.engagement_window,
        max_weight=options.max_weight,
    )


def simulate_past(
    options: ExperimentOptions, patient_ids: np.ndarray, truth: PlantedTruth, cohorts: pd.DataFrame
) -> pd.DataFrame:
    """The sent-message frame of the past, as the repository would read it.

    The older half went before any model: flexible messages at their default time. A model
    trained on that half then timed the flexible messages of the recent half, as the nightly
    training would have: the loop whose exposure bias exploration and weighting are there for.
    """
    generator = np.random.default_rng(options.seed)
    sends = _draw_past_sends(options, generator, truth)
    older = sends.days_ago > HISTORY_DAYS // 2
    first = _sent_frame(options, generator, truth, patient_ids, sends.part(older), None, 1)
    try:
        fitted = fit_best_hour_model(_table(options, first, cohorts))
    except NotEnoughEngagement:
        model_hours = None
    else:
        summary = summarise_history(_table(options, first, cohorts), fitted.model.prior)
        learnt = predict_best_hours(fitted.model, cohorts, summary)
        model_hours = learnt["best_hour"].reindex(patient_ids).to_numpy(dtype=np.int64)
    recent = _sent_frame(
        options,
        generator,
        truth,
        patient_ids,
        sends.part(~older),
        model_hours,
        len(first) + 1 + int(older.sum()),
    )
    return pd.concat([first, recent], ignore_index=True)


def _holdout_arm(
    name: str,
    hours: np.ndarray,
    generator: np.random.Generator,
    truth: PlantedTruth,
    channel: np.ndarray,
    repeats: int,
) -> ArmResult:
    count = len(hours)
    patient = np.repeat(np.arange(count), repeats)
    minute = generator.integers(0, 60, len(patient))
    weekend = generator.random(len(patient)) < 2 / 7
    local_time = hours[patient] + minute / 60.0
    minutes = _draw_engagement(generator, truth, patient, channel[patient], local_time, weekend)
    return ArmResult(
        name,
        sends=len(patient),
        engaged=int((~np.isnan(minutes)).sum()),
        engaged_promptly=int((minutes < 60.0).sum()),
    )


@dataclass(frozen=True)
class SimulatedPast:
    """A synthetic population, what outreach would know of it, and its engagement table."""

    patients: list[SyntheticPatient]
    cohorts: pd.DataFrame
    table: pd.DataFrame


def simulated_past(options: ExperimentOptions) -> SimulatedPast:
    patients = synthetic_patients(options)
    cohorts = patient_cohorts(patient_frame(patients), options.as_of.date())
    ids = np.array([p.patient_id for p in patients], dtype=object)
    sent = simulate_past(options, ids, planted_truth(patients), cohorts)
    return SimulatedPast(patients, cohorts, _table(options, sent, cohorts))


def run_send_time_experiment(options: ExperimentOptions) -> ExperimentReport:
    past = simulated_past(options)
    patients, cohorts, table = past.patients, past.cohorts, past.table
    truth = planted_truth(patients)
    ids = [p.patient_id for p in patients]
    fitted = fit_best_hour_model(table)
    summary = summarise_history(table, fitted.model.prior)
    learnt = predict_best_hours(fitted.model, cohorts, summary).loc[ids]
    best = learnt["best_hour"].to_numpy()
    interactions = learnt["interactions"].to_numpy()
    curve = learning_curve(best, truth.preferred_hour, interactions, learnt["confidence"])
    within = share_within_one_hour(best, truth.preferred_hour, interactions, min_interactions=10)
    population_hour = population_best_hour(table)

    generator = np.random.default_rng(options.seed + 1)
    rows = summary.rows_for(ids)
    usual = np.array([c.value for c in _CHANNELS], dtype=object)[truth.preferred_channel]
    known = rows >= 0
    usual[known] = summary.usual_channel[rows[known]]
    channel = channel_codes([Channel(c) for c in usual])
    repeats = options.holdout_sends_per_arm
    arms = [
        _holdout_arm("fixed", np.full(len(ids), FIXED_HOUR), generator, truth, channel, repeats),
        _holdout_arm(
            "population", np.full(len(ids), population_hour), generator, truth, channel, repeats
        ),
        _holdout_arm("model", best.astype(float), generator, truth, channel, repeats),
    ]
    return ExperimentReport(
        options=options,
        past_sends=len(table),
        model_metrics=fitted.metrics,
        learning_curve=curve,
        within_one_hour=within,
        population_best_hour=population_hour,
        arms=arms,
    )
