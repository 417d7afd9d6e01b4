"""Use case "train the send-time model": read the engagement of the training window, fit a
best-hour model, store it as the next version with its metrics, and put it in use only if it does
at least as well on the held-out sends as the model in use (``ml.registry``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from outreach.ml.best_hour import (
    BestHourModel,
    HeldoutScores,
    NotEnoughEngagement,
    fit_best_hour_model,
    heldout_scores,
)
from outreach.ml.engagement import engagement_table
from outreach.ml.features import patient_cohorts
from outreach.ml.registry import BEST_HOUR_MODEL, promotion_decision
from outreach.sql.store import Repositories, Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SendTimeLearning:
    """How engagement is read and weighed (from ``Settings.ml_*``)."""

    training_window: timedelta = timedelta(days=180)
    prompt_window: timedelta = timedelta(minutes=60)
    engagement_window: timedelta = timedelta(hours=24)
    max_weight: float = 3.0
    fatigue_window: timedelta = timedelta(days=14)


def load_engagement(
    repos: Repositories, now: datetime, learning: SendTimeLearning
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(engagement table, patient cohorts) of the training window.

    Messages sent within the prompt window before ``now`` are left out: whether they will be
    engaged with promptly is not known yet.
    """
    sent = repos.engagement.sent_messages(
        now - learning.training_window, now - learning.prompt_window
    )
    cohorts = patient_cohorts(repos.engagement.patients(), now.date())
    table = engagement_table(
        sent,
        cohorts,
        prompt_window=learning.prompt_window,
        engagement_window=learning.engagement_window,
        max_weight=learning.max_weight,
    )
    return table, cohorts


@dataclass(frozen=True)
class TrainingReport:
    version: int | None  # None: nothing was trained (not enough engagement)
    promoted: bool
    reason: str
    active_version: int | None  # the version in use afterwards
    metrics: dict[str, Any] = field(default_factory=dict)


def train_send_time_model(
    store: Store, now: datetime, learning: SendTimeLearning
) -> TrainingReport:
    """Train, register and (if it does no worse than the model in use) promote."""
    with store.reading() as repos:
        table, _ = load_engagement(repos, now, learning)
        active = repos.models.active(BEST_HOUR_MODEL)
    active_version = active.version if active is not None else None
    try:
        fitted = fit_best_hour_model(table)
    except NotEnoughEngagement as error:
        logger.info("send-time model not trained: %s", error)
        return TrainingReport(None, False, f"not enough engagement: {error}", active_version)
    candidate = HeldoutScores(
        fitted.metrics["heldout_policy_value"], fitted.metrics["heldout_log_loss"]
    )
    in_use = (
        heldout_scores(BestHourModel.from_artifact(active.artifact), table)
        if active is not None
        else None
    )
    decision = promotion_decision(candidate, in_use)
    metrics = {
        **fitted.metrics,
        "compared_with_version": active_version,
        "compared_policy_value": in_use.policy_value if in_use is not None else None,
        "compared_log_loss": in_use.log_loss if in_use is not None else None,
        "promoted": decision.promote,
        "reason": decision.reason,
    }
    metrics = {name: _json_number(value) for name, value in metrics.items()}
    with store.transaction() as repos:
        version = repos.models.latest_version(BEST_HOUR_MODEL) + 1
        repos.models.add(BEST_HOUR_MODEL, version, now, metrics, fitted.model.to_artifact())
        if decision.promote:
            repos.models.activate(BEST_HOUR_MODEL, version)
    logger.info(
        "send-time model version %d trained on %d sends: %s; version in use: %s (%s)",
        version,
        len(table),
        "promoted" if decision.promote else "not promoted",
        version if decision.promote else active_version,
        decision.reason,
    )
    return TrainingReport(
        version,
        decision.promote,
        decision.reason,
        version if decision.promote else active_version,
        metrics,
    )


def _json_number(value: Any) -> Any:
    """NaN is not JSON: the metrics column stores it as null."""
    if isinstance(value, float) and value != value:
        return None
    return value
