"""Cohort priors: how likely a patient of a cohort is to engage with a message sent at each hour.

A logistic regression (scikit-learn) over the engagement table, fitted on aggregated rows (one
per hour, weekend flag and cohort, with the summed weights of engaged and ignored sends), so ten
million sends fit in seconds. Its logit is additive:

    intercept + hour[h] + weekend + sum over features f of (level[f] + curve[f] . basis(h))

where the features are age band, channel, language and region, and ``basis(h)`` is a short
Fourier series of the hour: each cohort bends the shared hourly curve smoothly, with few
parameters, so sparse cohorts borrow from the rest. Unknown levels contribute nothing.

The fitted prior is a handful of NumPy arrays, stored as JSON: the model registry never unpickles
anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from outreach.ml.features import COHORT_FEATURES

HOURS = 24
FOURIER_ORDER = 3
BASIS_SIZE = 2 * FOURIER_ORDER
# L2 strength of the logistic regression (scikit-learn's C: larger trusts the data more).
REGULARISATION_C = 1.0
_MAX_ITERATIONS = 500


def hour_basis(hours: np.ndarray) -> np.ndarray:
    """Fourier features of the local hour: (n, BASIS_SIZE)."""
    angle = 2.0 * np.pi * np.asarray(hours, dtype=float)[:, None] / HOURS
    orders = np.arange(1, FOURIER_ORDER + 1)[None, :]
    return np.hstack([np.sin(angle * orders), np.cos(angle * orders)])


_ALL_HOURS_BASIS = hour_basis(np.arange(HOURS))


@dataclass(frozen=True)
class CohortPrior:
    intercept: float
    hour_effects: np.ndarray  # (24,)
    weekend_effect: float
    levels: Mapping[str, tuple[str, ...]]  # per feature, its known levels in code order
    level_effects: Mapping[str, np.ndarray]  # per feature, (levels,)
    level_curves: Mapping[str, np.ndarray]  # per feature, (levels, BASIS_SIZE)

    def codes(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Per feature, each row's level index (-1 for a level the prior never saw)."""
        return {
            feature: level_codes(frame[feature], self.levels[feature])
            for feature in COHORT_FEATURES
        }

    def logits(
        self, codes: Mapping[str, np.ndarray], hours: np.ndarray, weekend: np.ndarray
    ) -> np.ndarray:
        """Logit of engagement for each row's cohort, hour and weekend flag."""
        hours = np.asarray(hours, dtype=np.int64)
        logit = (
            self.intercept
            + self.hour_effects[hours]
            + self.weekend_effect * np.asarray(weekend, dtype=float)
        )
        for feature in COHORT_FEATURES:
            # (levels + 1, 24): each level's effect at every hour; the last row, for unknown
            # levels (code -1), is zero.
            by_hour = np.vstack(
                [
                    self.level_effects[feature][:, None]
                    + self.level_curves[feature] @ _ALL_HOURS_BASIS.T,
                    np.zeros((1, HOURS)),
                ]
            )
            logit = logit + by_hour[codes[feature], hours]
        return logit

    def probabilities(self, frame: pd.DataFrame) -> np.ndarray:
        """P(engaged) for each send of an engagement table (its own hour, channel, weekday)."""
        logit = self.logits(
            self.codes(frame), frame["local_hour"].to_numpy(), frame["weekend"].to_numpy()
        )
        return 1.0 / (1.0 + np.exp(-logit))

    def curves(self, cohorts: pd.DataFrame, hours: np.ndarray | None = None) -> np.ndarray:
        """(rows, hours): P(engaged) at each local hour (default all 24) of a weekday, for each
        row's cohort. Computed once per distinct cohort, then spread to the rows."""
        hours = np.arange(HOURS) if hours is None else np.asarray(hours)
        distinct, inverse = _distinct_rows(cohorts[list(COHORT_FEATURES)])
        codes = self.codes(distinct)
        basis = _ALL_HOURS_BASIS[hours]
        logit = np.tile(self.hour_effects[hours] + self.intercept, (len(distinct), 1))
        for feature in COHORT_FEATURES:
            code = codes[feature]
            safe = np.where(code >= 0, code, 0)
            shape = self.level_effects[feature][safe][:, None] + (
                self.level_curves[feature][safe] @ basis.T
            )
            logit = logit + np.where((code >= 0)[:, None], shape, 0.0)
        return (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)[inverse]

    def to_json(self) -> dict[str, Any]:
        return {
            "intercept": self.intercept,
            "hour_effects": self.hour_effects.tolist(),
            "weekend_effect": self.weekend_effect,
            "features": {
                feature: {
                    "levels": list(self.levels[feature]),
                    "effects": self.level_effects[feature].tolist(),
                    "curves": self.level_curves[feature].tolist(),
                }
                for feature in COHORT_FEATURES
            },
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> CohortPrior:
        features = document["features"]
        return cls(
            intercept=float(document["intercept"]),
            hour_effects=np.array(document["hour_effects"], dtype=float),
            weekend_effect=float(document["weekend_effect"]),
            levels={f: tuple(features[f]["levels"]) for f in COHORT_FEATURES},
            level_effects={
                f: np.array(features[f]["effects"], dtype=float) for f in COHORT_FEATURES
            },
            level_curves={
                f: np.array(features[f]["curves"], dtype=float).reshape(-1, BASIS_SIZE)
                for f in COHORT_FEATURES
            },
        )


def level_codes(column: pd.Series, levels: tuple[str, ...]) -> np.ndarray:
    """Each value's index in ``levels`` (-1 for others); a categorical column is mapped once
    per category."""
    known = pd.Index(levels)
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        lookup = np.append(known.get_indexer(column.cat.categories.astype(str)), -1)
        return lookup[codes].astype(np.int32)
    return known.get_indexer(column.astype(str)).astype(np.int32)


def _distinct_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The distinct rows of ``frame`` and, for each row, the index of its distinct row."""
    inverse = (
        frame.groupby(list(frame.columns), sort=False, dropna=False, observed=True)
        .ngroup()
        .to_numpy()
    )
    _, first = np.unique(inverse, return_index=True)
    return frame.iloc[first].reset_index(drop=True), inverse


def fit_cohort_prior(table: pd.DataFrame, regularisation: float = REGULARISATION_C) -> CohortPrior:
    """Fit the prior on an engagement table (its ``weight`` column weighs each send)."""
    levels: dict[str, tuple[str, ...]] = {}
    codes: dict[str, np.ndarray] = {}
    for feature in COHORT_FEATURES:
        values = pd.Categorical(table[feature])
        codes[feature] = values.codes.astype(np.int32)
        levels[feature] = tuple(str(level) for level in values.categories)
    weight = table["weight"].to_numpy(dtype=float)
    engaged = table["engaged"].to_numpy(dtype=float)
    # One integer key per (hour, weekend, cohort): summing by key is the aggregation.
    columns = {
        "hour": table["local_hour"].to_numpy(dtype=np.int64),
        "weekend": table["weekend"].to_numpy(dtype=np.int64),
        **{feature: codes[feature].astype(np.int64) for feature in COHORT_FEATURES},
    }
    shape = (HOURS, 2, *(max(len(levels[f]), 1) for f in COHORT_FEATURES))
    key = np.ravel_multi_index(tuple(columns.values()), shape)
    distinct, cell = np.unique(key, return_inverse=True)
    grouped = pd.DataFrame(
        dict(zip(columns, np.unravel_index(distinct, shape), strict=True))
        | {
            "engaged": np.bincount(cell, weights=weight * engaged),
            "ignored": np.bincount(cell, weights=weight * (1.0 - engaged)),
        }
    )
    design, layout = _design(grouped, levels)
    stacked = sparse.vstack([design, design]).tocsr()
    outcome = np.concatenate([np.ones(len(grouped)), np.zeros(len(grouped))])
    sample_weight = np.concatenate([grouped["engaged"], grouped["ignored"]])
    keep = sample_weight > 0
    if not keep.any() or outcome[keep].min() == outcome[keep].max():
        return _constant_prior(levels, float(np.average(outcome[keep])) if keep.any() else 0.0)
    # The weights sum to the number of sends: scale them to average 1 so that the penalty means
    # the same whatever the table's size.
    scale = keep.sum() / sample_weight[keep].sum()
    regression = LogisticRegression(C=regularisation, max_iter=_MAX_ITERATIONS)
    regression.fit(stacked[keep], outcome[keep], sample_weight=sample_weight[keep] * scale)
    coefficients = regression.coef_[0]
    return CohortPrior(
        intercept=float(regression.intercept_[0]),
        hour_effects=coefficients[layout["hour"]],
        weekend_effect=float(coefficients[layout["weekend"]][0]),
        levels=levels,
        level_effects={f: coefficients[layout[f"{f}:level"]] for f in COHORT_FEATURES},
        level_curves={
            f: coefficients[layout[f"{f}:curve"]].reshape(len(levels[f]), BASIS_SIZE)
            for f in COHORT_FEATURES
        },
    )


def _constant_prior(levels: Mapping[str, tuple[str, ...]], rate: float) -> CohortPrior:
    """The prior of a table where everyone or no one engaged: the same rate everywhere."""
    rate = min(max(rate, 1e-3), 1 - 1e-3)
    return CohortPrior(
        intercept=float(np.log(rate / (1 - rate))),
        hour_effects=np.zeros(HOURS),
        weekend_effect=0.0,
        levels=levels,
        level_effects={f: np.zeros(len(levels[f])) for f in COHORT_FEATURES},
        level_curves={f: np.zeros((len(levels[f]), BASIS_SIZE)) for f in COHORT_FEATURES},
    )


def _design(
    grouped: pd.DataFrame, levels: Mapping[str, tuple[str, ...]]
) -> tuple[sparse.csr_matrix, dict[str, np.ndarray]]:
    """The sparse design matrix of aggregated rows, and which columns hold which coefficients."""
    rows = len(grouped)
    row_index = np.arange(rows)
    hours = grouped["hour"].to_numpy()
    basis = _ALL_HOURS_BASIS[hours]
    blocks_rows, blocks_cols, blocks_values = [row_index], [hours], [np.ones(rows)]
    layout: dict[str, np.ndarray] = {"hour": np.arange(HOURS)}
    column = HOURS
    blocks_rows.append(row_index)
    blocks_cols.append(np.full(rows, column))
    blocks_values.append(grouped["weekend"].to_numpy(dtype=float))
    layout["weekend"] = np.array([column])
    column += 1
    for feature in COHORT_FEATURES:
        count = len(levels[feature])
        code = grouped[feature].to_numpy()
        layout[f"{feature}:level"] = np.arange(column, column + count)
        blocks_rows.append(row_index)
        blocks_cols.append(column + code)
        blocks_values.append(np.ones(rows))
        column += count
        layout[f"{feature}:curve"] = np.arange(column, column + count * BASIS_SIZE)
        for term in range(BASIS_SIZE):
            blocks_rows.append(row_index)
            blocks_cols.append(column + code * BASIS_SIZE + term)
            blocks_values.append(basis[:, term])
        column += count * BASIS_SIZE
    design = sparse.csr_matrix(
        (
            np.concatenate(blocks_values),
            (np.concatenate(blocks_rows), np.concatenate(blocks_cols)),
        ),
        shape=(rows, column),
    )
    return design, layout
