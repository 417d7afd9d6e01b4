"""The labelled multilingual reply set shipped with the package (see ``data/README.md``).

Reading the package's own data file is the only I/O in the replies core.
"""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from outreach.replies.intents import ReplyIntent

DATA_PACKAGE = "outreach.replies"
DATA_FILE = "data/labelled_replies.csv"
COLUMNS = ("text", "intent", "language", "split", "source")
SUPPORTED_LANGUAGES = ("en", "es", "fr", "pt", "ro", "de", "it")


class Split(enum.StrEnum):
    TRAIN = "train"
    TEST = "test"  # held out: written separately, never used to fit or tune anything


@dataclass(frozen=True, slots=True)
class LabelledReply:
    """One synthetic reply with its intended meaning. ``language`` is None for "1", "👍"..."""

    text: str
    intent: ReplyIntent
    language: str | None
    split: Split
    source: str


class DatasetError(ValueError):
    """The labelled file is malformed: a bad header, intent, language or split."""


def parse_labelled_rows(lines: Iterable[str]) -> tuple[LabelledReply, ...]:
    """Parse CSV text (header included) into validated rows."""
    reader = csv.DictReader(lines)
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise DatasetError(f"expected columns {COLUMNS}, got {reader.fieldnames}")
    rows: list[LabelledReply] = []
    for line_number, record in enumerate(reader, start=2):
        try:
            intent = ReplyIntent(record["intent"])
            split = Split(record["split"])
        except ValueError as error:
            raise DatasetError(f"line {line_number}: {error}") from error
        language = record["language"] or None
        if language is not None and language not in SUPPORTED_LANGUAGES:
            raise DatasetError(f"line {line_number}: unsupported language {language!r}")
        if not record["text"]:
            raise DatasetError(f"line {line_number}: empty text")
        rows.append(LabelledReply(record["text"], intent, language, split, record["source"]))
    return tuple(rows)


@lru_cache(maxsize=1)
def load_labelled_replies() -> tuple[LabelledReply, ...]:
    """Every row of the packaged data set, read once per process."""
    raw = resources.files(DATA_PACKAGE).joinpath(DATA_FILE).read_text(encoding="utf-8")
    return parse_labelled_rows(io.StringIO(raw, newline=""))


def rows_in_split(rows: Sequence[LabelledReply], split: Split) -> tuple[LabelledReply, ...]:
    return tuple(row for row in rows if row.split is split)
