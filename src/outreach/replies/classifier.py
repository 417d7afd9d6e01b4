"""The statistical layer: TF-IDF n-grams and logistic regression for free wording.

It sees only what the rules left undecided. Trained lazily, once per process, on the packaged
training split (well under a second), with a fixed random state so two processes agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from outreach.replies.dataset import LabelledReply, Split, load_labelled_replies, rows_in_split
from outreach.replies.intents import ReplyIntent
from outreach.replies.normalise import NormalisedReply, normalise

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


@dataclass(frozen=True, slots=True)
class IntentScore:
    intent: ReplyIntent
    probability: float


def build_pipeline() -> Pipeline:
    """Character n-grams (2-5, within word boundaries) absorb typos and inflections; word
    uni- and bigrams carry phrases such as "no more" or "can't make"."""
    # Imported here so that importing outreach.replies (matching, actions) stays cheap.
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion(
        [
            (
                "chars",
                TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
            ),
            (
                "words",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, 2),
                    token_pattern=r"(?u)\b\w+\b|[^\w\s]",
                    sublinear_tf=True,
                ),
            ),
        ]
    )
    # newton-cg with a loose tolerance converges in a handful of iterations (~0.3 s here);
    # lbfgs needed ~20x longer for the same fit.
    model = LogisticRegression(
        C=10.0, solver="newton-cg", tol=1e-3, class_weight="balanced", random_state=0
    )
    return Pipeline([("features", features), ("model", model)])


class IntentClassifier:
    """A fitted intent model; build it with :func:`train_intent_classifier`."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        self._intents = tuple(ReplyIntent(label) for label in pipeline.classes_)

    def scores(self, reply: NormalisedReply) -> tuple[IntentScore, ...]:
        """Every intent's probability, best first."""
        probabilities = self._pipeline.predict_proba([reply.for_model])[0]
        ranked = sorted(zip(self._intents, probabilities, strict=True), key=lambda p: -p[1])
        return tuple(IntentScore(intent, float(probability)) for intent, probability in ranked)

    def predict(self, reply: NormalisedReply) -> IntentScore:
        return self.scores(reply)[0]


def train_intent_classifier(rows: Iterable[LabelledReply]) -> IntentClassifier:
    """Fit a classifier on ``rows`` (their text normalised exactly as at prediction time)."""
    rows = list(rows)
    pipeline = build_pipeline()
    pipeline.fit(
        [normalise(row.text).for_model for row in rows], [row.intent.value for row in rows]
    )
    return IntentClassifier(pipeline)


@lru_cache(maxsize=1)
def default_intent_classifier() -> IntentClassifier:
    """The classifier fitted on the packaged training split, built once per process."""
    return train_intent_classifier(rows_in_split(load_labelled_replies(), Split.TRAIN))
