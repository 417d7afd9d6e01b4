"""Which language a reply is written in: character n-grams over the labelled set.

Accents are kept here (ç, ã, ș, ß and ñ say a lot about the language) while the intent layers
strip them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from outreach.replies.dataset import LabelledReply, Split, load_labelled_replies, rows_in_split

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# Fewer letters than this ("ok", "1", "👍") do not show a language.
MIN_LETTERS = 3


def letters_form(text: str) -> str:
    """Casefolded letters and spaces only, accents kept."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(ch if ch.isalpha() else " " for ch in folded)
    return " ".join(kept.split())


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    language: str | None
    probability: float


class LanguageDetector:
    """A fitted character n-gram model; build it with :func:`train_language_detector`."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    def detect(self, text: str) -> LanguageGuess:
        letters = letters_form(text)
        if sum(ch.isalpha() for ch in letters) < MIN_LETTERS:
            return LanguageGuess(None, 0.0)
        probabilities = self._pipeline.predict_proba([letters])[0]
        best = int(probabilities.argmax())
        return LanguageGuess(str(self._pipeline.classes_[best]), float(probabilities[best]))


def train_language_detector(rows: Iterable[LabelledReply]) -> LanguageDetector:
    """Fit the detector on the rows that have a language."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    usable = [row for row in rows if row.language]
    pipeline = Pipeline(
        [
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True)),
            (
                "model",
                LogisticRegression(C=20.0, solver="newton-cg", tol=1e-3, random_state=0),
            ),
        ]
    )
    pipeline.fit([letters_form(row.text) for row in usable], [row.language for row in usable])
    return LanguageDetector(pipeline)


@lru_cache(maxsize=1)
def default_language_detector() -> LanguageDetector:
    """The detector fitted on the packaged training split, built once per process."""
    return train_language_detector(rows_in_split(load_labelled_replies(), Split.TRAIN))
