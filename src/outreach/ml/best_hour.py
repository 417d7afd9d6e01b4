"""The best-hour model: each patient's engagement probability per local hour, and its best hour.

For a message on channel ``c`` at local hour ``h`` to patient ``p`` of cohort ``x``:

    P(engaged promptly) = prior(x, c, h) * ratio(p, h)

``prior`` is the cohort prior (``priors``). ``ratio`` is how much more (or less) the patient
engaged around hour ``h`` than their cohort would have: observed prompt engagements over the
engagements the prior expected for the same sends, both smoothed over neighbouring hours (a
Gaussian kernel around the clock) and both started at ``prior_strength`` pseudo-engagements:

    ratio(p, h) = (observed~(p, h) + k) / (expected~(p, h) + k)

A message engaged with later (it waited until the patient looked) counts as a prompt failure at
its send hour and, with weight ``later_weight``, as if a message sent at the hour it was engaged
with had been engaged with promptly: it shows when the patient reads. With no history the ratio
is 1 and the cohort decides; as sends accumulate around an hour, the patient's own record takes
over there. Sends are weighted by how their hour was chosen
(``engagement``). The best hour is the hour of the legal window (08:00-21:00 local) with the
highest probability on the channel the patient is usually reached on; its confidence is the
approximate posterior probability that the true best hour is within an hour of it.

Training holds out a fifth of the sends (chosen by job id, so the split is stable from one run to
the next), fits the prior on the rest, and picks the kernel width, prior strength and weight of
later engagement with the best held-out policy value (the first of equals, in the order of the
grid): the weighted prompt-engagement rate of the
held-out sends that went within an hour of the best hour it gives their patient (an
inverse-propensity estimate of what timing sends by the model achieves). Nothing loops over
patients in Python: per-patient histories are (patients x 24) matrices built with
``numpy.bincount``.
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from outreach.ml.features import COHORT_FEATURES
from outreach.ml.priors import HOURS, REGULARISATION_C, CohortPrior, fit_cohort_prior
from outreach.preferences.legal_floor import LEGAL_WINDOW

# Hours a best hour may be: those of the legal window, when any non-urgent message may go.
CANDIDATE_HOURS = np.arange(LEGAL_WINDOW[0] // 3600, LEGAL_WINDOW[1] // 3600)
HELDOUT_SHARE = 0.2
# The settings training chooses from, by held-out policy value.
BANDWIDTHS_HOURS = (0.75, 1.0, 1.5)
PRIOR_STRENGTHS = (1.0, 2.0, 4.0, 8.0)
LATER_WEIGHTS = (0.0, 1.0, 2.0, 4.0)
ARTIFACT_FORMAT = 1
_PROBABILITY_FLOOR = 1e-4
_KNUTH = np.uint64(2654435761)


class BestHourSource(enum.StrEnum):
    """Where a patient's best hour came from."""

    MODEL = "model"  # their own messages weighed in
    COHORT_PRIOR = "cohort_prior"  # the model had no history of them: their cohort's best hour


class NotEnoughEngagement(ValueError):
    """The engagement table is too small to fit a model on."""


def hours_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in hours between hours of the day, around the clock (23 to 1 is 2)."""
    gap = np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)) % HOURS
    return np.minimum(gap, HOURS - gap)


def smoothing_kernel(bandwidth_hours: float) -> np.ndarray:
    """(24, 24): how much a send at hour i tells about hour j."""
    hours = np.arange(HOURS)
    distance = hours_apart(hours[:, None], hours[None, :])
    return np.exp(-(distance**2) / (2.0 * bandwidth_hours**2)).astype(np.float32)


def heldout_mask(job_ids: pd.Series | np.ndarray, share: float = HELDOUT_SHARE) -> np.ndarray:
    """Which sends are held out: a stable pseudo-random share, by job id."""
    ids = np.asarray(job_ids).astype(np.uint64)
    with np.errstate(over="ignore"):
        mixed = (ids * _KNUTH) % np.uint64(2**32)
    return mixed.astype(np.float64) / 2**32 < share


@dataclass(frozen=True)
class HistorySummary:
    """Per patient, weighted engaged sends and the engagements the prior expected, by hour."""

    patient_ids: pd.Index
    observed: np.ndarray  # (patients, 24) float32: prompt engagements by send hour
    expected: np.ndarray  # (patients, 24) float32: what the prior expected of those sends
    later_observed: np.ndarray  # (patients, 24) float32: later engagements by engagement hour
    later_expected: np.ndarray  # (patients, 24) float32: the prior at those hours
    interactions: np.ndarray  # (patients,) messages sent
    usual_channel: np.ndarray  # (patients,) the channel most of them went on

    def rows_for(self, patient_ids: pd.Index | np.ndarray) -> np.ndarray:
        """Positions of ``patient_ids`` in the summary (-1 for patients it has no history of)."""
        return self.patient_ids.get_indexer(pd.Index(patient_ids))


def summarise_history(table: pd.DataFrame, prior: CohortPrior) -> HistorySummary:
    """Each patient's history as (patients x 24) matrices, with the prior's expectations."""
    codes, patient_ids = pd.factorize(table["patient_id"])
    patients = len(patient_ids)
    cells = patients * HOURS
    weight = table["weight"].to_numpy(dtype=float)
    cell = codes * HOURS + table["local_hour"].to_numpy(dtype=np.int64)
    observed = np.bincount(
        cell, weights=weight * table["engaged"].to_numpy(dtype=float), minlength=cells
    )
    expected = np.bincount(cell, weights=weight * prior.probabilities(table), minlength=cells)
    later = table["engaged_later"].to_numpy(dtype=bool)
    later_hours = table["engaged_hour"].to_numpy(dtype=np.int64)[later]
    later_rows = table[later]
    later_cell = codes[later] * HOURS + later_hours
    later_observed = np.bincount(later_cell, weights=weight[later], minlength=cells)
    later_prior = prior.probabilities(later_rows.assign(local_hour=later_hours))
    later_expected = np.bincount(later_cell, weights=weight[later] * later_prior, minlength=cells)
    channel_codes, channels = pd.factorize(table["channel"])
    width = max(len(channels), 1)
    by_channel = np.bincount(codes * width + channel_codes, minlength=patients * width)
    usual = np.asarray(channels, dtype=object)[by_channel.reshape(patients, width).argmax(axis=1)]

    def matrix(values: np.ndarray) -> np.ndarray:
        return values.reshape(patients, HOURS).astype(np.float32)

    return HistorySummary(
        patient_ids=pd.Index(patient_ids),
        observed=matrix(observed),
        expected=matrix(expected),
        later_observed=matrix(later_observed),
        later_expected=matrix(later_expected),
        interactions=np.bincount(codes, minlength=patients),
        usual_channel=usual if len(channels) else np.array([], dtype=object),
    )


@dataclass(frozen=True)
class BestHourModel:
    prior: CohortPrior
    bandwidth_hours: float
    prior_strength: float
    later_weight: float

    def to_artifact(self) -> bytes:
        """The model as JSON bytes, for the registry."""
        return json.dumps(
            {
                "format": ARTIFACT_FORMAT,
                "bandwidth_hours": self.bandwidth_hours,
                "prior_strength": self.prior_strength,
                "later_weight": self.later_weight,
                "prior": self.prior.to_json(),
            }
        ).encode()

    @classmethod
    def from_artifact(cls, artifact: bytes) -> BestHourModel:
        document = json.loads(artifact)
        if document.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"unknown best-hour artifact format {document.get('format')!r}")
        return cls(
            prior=CohortPrior.from_json(document["prior"]),
            bandwidth_hours=float(document["bandwidth_hours"]),
            prior_strength=float(document["prior_strength"]),
            later_weight=float(document["later_weight"]),
        )


@dataclass(frozen=True)
class _Patients:
    """The patients a prediction is for: their rows in the summary and their prior curves over
    the candidate hours (on the channel they are usually reached on)."""

    rows: np.ndarray
    known: np.ndarray
    prior_rates: np.ndarray  # (patients, candidate hours): P(prompt engagement) by the prior

    @classmethod
    def of(cls, prior: CohortPrior, cohorts: pd.DataFrame, summary: HistorySummary) -> _Patients:
        rows = summary.rows_for(cohorts.index)
        known = rows >= 0
        rows = np.where(known, rows, 0)
        channel = cohorts["channel"].to_numpy(dtype=object).copy()
        if len(summary.usual_channel):
            channel[known] = summary.usual_channel[rows[known]]
        curves = prior.curves(cohorts.assign(channel=channel), CANDIDATE_HOURS)
        return cls(rows, known, np.maximum(curves, np.float32(_PROBABILITY_FLOOR)))


def _scores(
    patients: _Patients,
    summary: HistorySummary,
    bandwidth_hours: float,
    prior_strength: float,
    later_weight: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(log P(prompt engagement), posterior shape) at each candidate hour, for each patient."""
    strength = np.float32(prior_strength)
    if len(summary.patient_ids):
        # Smooth every summarised patient once, then pick the rows: a quarter of the copying.
        kernel = smoothing_kernel(bandwidth_hours)[:, CANDIDATE_HOURS]
        weight = np.float32(later_weight)
        observed = (summary.observed + weight * summary.later_observed) @ kernel
        expected = (summary.expected + weight * summary.later_expected) @ kernel
        mask = patients.known[:, None]
        shape = np.where(mask, observed[patients.rows], np.float32(0)) + strength
        rate = np.where(mask, expected[patients.rows], np.float32(0)) + strength
    else:
        shape = rate = np.full(patients.prior_rates.shape, strength)
    return np.log(patients.prior_rates * shape / rate), shape


def predict_best_hours(
    model: BestHourModel, cohorts: pd.DataFrame, summary: HistorySummary
) -> pd.DataFrame:
    """For each patient of ``cohorts`` (indexed by patient id): ``best_hour``, ``confidence``
    and ``interactions`` (messages in their history; 0 means the cohort prior alone decided)."""
    patients = _Patients.of(model.prior, cohorts, summary)
    score, shape = _scores(
        patients, summary, model.bandwidth_hours, model.prior_strength, model.later_weight
    )
    best = score.argmax(axis=1)
    return pd.DataFrame(
        {
            "best_hour": CANDIDATE_HOURS[best].astype(np.int16),
            "confidence": _confidence(score, 1.0 / shape, best),
            "interactions": np.where(patients.known, summary.interactions[patients.rows], 0),
        },
        index=cohorts.index,
    )


# Gauss-Hermite nodes and weights for an expectation over a standard normal.
_NODES, _NODE_WEIGHTS = np.polynomial.hermite_e.hermegauss(5)
_NODE_WEIGHTS = _NODE_WEIGHTS / _NODE_WEIGHTS.sum()


def _confidence(score: np.ndarray, variance: np.ndarray, best: np.ndarray) -> np.ndarray:
    """Approximate P(the true best hour is within an hour of ``best``).

    Each hour's log rate is taken as normal (variance 1 / posterior shape) and independent of the
    others; the probability that the best hour beats every hour further than an hour away is the
    expectation, over its own value (Gauss-Hermite quadrature), of the product of the others'
    chances of lying below it.
    """
    count = score.shape[0]
    pick = np.arange(count)
    score = score.astype(np.float32)
    top = score[pick, best]
    top_sd = np.sqrt(variance[pick, best]).astype(np.float32)
    far = np.abs(np.arange(score.shape[1])[None, :] - best[:, None]) > 1
    # Hours within an hour of the best one never count against it.
    rivals = np.where(far, score, np.float32(-np.inf))
    inverse_sd = (1.0 / np.sqrt(variance)).astype(np.float32)
    confidence = np.zeros(count, dtype=np.float32)
    for node, node_weight in zip(_NODES, _NODE_WEIGHTS, strict=True):
        value = top + np.float32(node) * top_sd
        below = ndtr((value[:, None] - rivals) * inverse_sd)
        confidence += np.float32(node_weight) * below.prod(axis=1)
    return confidence


def _log_loss(probability: np.ndarray, engaged: np.ndarray, weight: np.ndarray) -> float:
    p = np.clip(probability, _PROBABILITY_FLOOR, 1.0 - _PROBABILITY_FLOOR)
    loss = -(engaged * np.log(p) + (1.0 - engaged) * np.log(1.0 - p))
    return float(np.average(loss, weights=weight))


class _Heldout:
    """Held-out sends, ready to score settings on: their patients' evidence from the training
    sends (smoothed once per kernel width), and what each send was."""

    def __init__(self, prior: CohortPrior, summary: HistorySummary, heldout: pd.DataFrame):
        first = ~heldout["patient_id"].duplicated()
        cohorts = heldout.loc[first, ["patient_id", *COHORT_FEATURES]].set_index("patient_id")
        self.patients = _Patients.of(prior, cohorts, summary)
        self.send_patient = cohorts.index.get_indexer(heldout["patient_id"])
        self.hours = heldout["local_hour"].to_numpy(dtype=np.int64)
        self.engaged = heldout["engaged"].to_numpy(dtype=float)
        self.weight = heldout["weight"].to_numpy(dtype=float)
        self.prior_each = prior.probabilities(heldout)
        self._engaged_weight = self.engaged * self.weight
        mask = self.patients.known[:, None].astype(np.float32)
        rows = self.patients.rows
        self._evidence = (
            [
                m[rows] * mask
                for m in (
                    summary.observed,
                    summary.expected,
                    summary.later_observed,
                    summary.later_expected,
                )
            ]
            if len(summary.patient_ids)
            else [np.zeros((len(rows), HOURS), dtype=np.float32)] * 4
        )
        self._smoothed: dict[float, tuple[list[np.ndarray], list[np.ndarray]]] = {}

    def _smooth(self, bandwidth: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per evidence matrix: smoothed at the candidate hours (patients x hours), and at each
        held-out send's own hour (sends)."""
        if bandwidth not in self._smoothed:
            kernel = smoothing_kernel(bandwidth)
            at_candidates = [m @ kernel[:, CANDIDATE_HOURS] for m in self._evidence]
            at_sends = [(m @ kernel)[self.send_patient, self.hours] for m in self._evidence]
            self._smoothed[bandwidth] = (at_candidates, at_sends)
        return self._smoothed[bandwidth]

    def policy_value(self, bandwidth: float, strength: float, later_weight: float) -> float:
        """The held-out policy value of a setting (see ``HeldoutScores``)."""
        at_candidates, _ = self._smooth(bandwidth)
        observed, expected, later_observed, later_expected = at_candidates
        # The argmax of prior x ratio: no logarithm needed to rank the hours.
        score = self.patients.prior_rates * (
            (observed + later_weight * later_observed + strength)
            / (expected + later_weight * later_expected + strength)
        )
        best = score.argmax(axis=1).astype(np.int64)[self.send_patient]
        return self._value(np.abs(self.hours - CANDIDATE_HOURS[0] - best) <= 1)

    def log_loss(self, bandwidth: float, strength: float, later_weight: float) -> float:
        """The weighted log loss of a setting's predicted prompt engagement."""
        _, at_sends = self._smooth(bandwidth)
        observed, expected, later_observed, later_expected = at_sends
        ratio = (observed + later_weight * later_observed + strength) / (
            expected + later_weight * later_expected + strength
        )
        return _log_loss(self.prior_each * ratio, self.engaged, self.weight)

    def scores(self, bandwidth: float, strength: float, later_weight: float) -> HeldoutScores:
        return HeldoutScores(
            self.policy_value(bandwidth, strength, later_weight),
            self.log_loss(bandwidth, strength, later_weight),
        )

    def constant_hour_value(self, hour: int) -> float:
        """The held-out policy value of sending everyone at ``hour``."""
        return self._value(np.abs(self.hours - hour) <= 1)

    def _value(self, matched: np.ndarray) -> float:
        sent = float(np.dot(matched, self.weight))
        return float(np.dot(matched, self._engaged_weight)) / sent if sent > 0 else math.nan


@dataclass(frozen=True, slots=True)
class HeldoutScores:
    """How a model did on held-out sends.

    ``policy_value``: the weighted prompt-engagement rate of held-out sends that went within an
    hour of the model's best hour for their patient (an inverse-propensity estimate of what
    sending at the best hour achieves; higher is better). ``log_loss``: of its predicted prompt
    engagement for every held-out send (lower is better).
    """

    policy_value: float
    log_loss: float


def population_best_hour(table: pd.DataFrame) -> int:
    """The candidate hour with the highest weighted prompt-engagement rate over every send: what
    a clinic without a per-patient model would pick."""
    weight = table["weight"].to_numpy(dtype=float)
    hours = table["local_hour"].to_numpy(dtype=np.int64)
    engaged = np.bincount(hours, weights=weight * table["engaged"].to_numpy(float), minlength=24)
    sent = np.bincount(hours, weights=weight, minlength=24)
    rate = np.divide(engaged, sent, out=np.zeros(HOURS), where=sent > 0)
    return int(CANDIDATE_HOURS[rate[CANDIDATE_HOURS].argmax()])


@dataclass(frozen=True)
class FittedBestHourModel:
    model: BestHourModel
    metrics: dict[str, Any]


def split_table(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training sends, held-out sends): the split every model is judged on."""
    mask = heldout_mask(table["job_id"])
    return table[~mask], table[mask]


def heldout_scores(model: BestHourModel, table: pd.DataFrame) -> HeldoutScores:
    """How ``model`` does on the held-out sends of ``table``, its patients' histories taken from
    the training sends: comparable between models judged on the same table."""
    train, heldout = split_table(table)
    if heldout.empty:
        return HeldoutScores(math.nan, math.nan)
    summary = summarise_history(train, model.prior)
    return _Heldout(model.prior, summary, heldout).scores(
        model.bandwidth_hours, model.prior_strength, model.later_weight
    )


def fit_best_hour_model(
    table: pd.DataFrame, regularisation: float = REGULARISATION_C
) -> FittedBestHourModel:
    """Fit the prior on the training sends, then pick the kernel width, prior strength and weight
    of later engagement with the best held-out policy value (ties: the lower log loss). Raises
    ``NotEnoughEngagement`` when there is nothing to learn from."""
    train, heldout = split_table(table)
    if train.empty or not train["engaged"].any() or heldout.empty:
        raise NotEnoughEngagement(
            f"{len(train)} training sends ({int(train['engaged'].sum())} engaged promptly) and "
            f"{len(heldout)} held-out sends"
        )
    prior = fit_cohort_prior(train, regularisation)
    summary = summarise_history(train, prior)
    judged = _Heldout(prior, summary, heldout)
    grid = [(b, k, g) for b in BANDWIDTHS_HOURS for k in PRIOR_STRENGTHS for g in LATER_WEIGHTS]
    values = np.array([judged.policy_value(*setting) for setting in grid])
    if np.isnan(values).all():
        # No held-out send went near any best hour (a tiny table): judge by log loss alone.
        chosen = int(np.argmin([judged.log_loss(*setting) for setting in grid]))
    else:
        chosen = int(np.nanargmax(values))
    bandwidth, strength, later_weight = grid[chosen]
    chosen_scores = judged.scores(bandwidth, strength, later_weight)
    # The cohort prior alone is the limit of an infinitely strong prior.
    cohort_only = judged.scores(1.0, 1e12, 0.0)
    rate = float(np.average(train["engaged"], weights=train["weight"]))
    population_hour = population_best_hour(train)
    metrics = {
        "heldout_policy_value": chosen_scores.policy_value,
        "heldout_log_loss": chosen_scores.log_loss,
        "cohort_prior_policy_value": cohort_only.policy_value,
        "cohort_prior_log_loss": cohort_only.log_loss,
        "population_hour": population_hour,
        "population_hour_policy_value": judged.constant_hour_value(population_hour),
        "constant_log_loss": _log_loss(np.full(len(heldout), rate), judged.engaged, judged.weight),
        "training_sends": len(train),
        "heldout_sends": len(heldout),
        "patients": len(summary.patient_ids),
        "prompt_engagement_rate": rate,
        "bandwidth_hours": bandwidth,
        "prior_strength": strength,
        "later_weight": later_weight,
        "cohort_levels": {f: len(prior.levels[f]) for f in COHORT_FEATURES},
    }
    return FittedBestHourModel(BestHourModel(prior, bandwidth, strength, later_weight), metrics)
