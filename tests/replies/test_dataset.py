from __future__ import annotations

import io
import re
import unicodedata
from collections import Counter

import pytest

from outreach.replies import ReplyIntent
from outreach.replies.dataset import (
    SUPPORTED_LANGUAGES,
    DatasetError,
    Split,
    load_labelled_replies,
    parse_labelled_rows,
    rows_in_split,
)


def _phrasing_key(text: str) -> str:
    """What is left when case, accents, punctuation and emoji are ignored."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(re.findall(r"[^\W_]+", folded))


def test_the_set_is_large_and_covers_every_language_and_intent() -> None:
    rows = load_labelled_replies()
    assert len(rows) >= 1200
    for split in Split:
        cells = Counter((row.language, row.intent) for row in rows_in_split(rows, split))
        for language in SUPPORTED_LANGUAGES:
            for intent in ReplyIntent:
                assert cells[(language, intent)] >= 4, (split, language, intent)


def test_held_out_phrasings_are_not_train_phrasings_in_disguise() -> None:
    rows = load_labelled_replies()
    train = {_phrasing_key(row.text) for row in rows_in_split(rows, Split.TRAIN)}
    test = rows_in_split(rows, Split.TEST)
    # letters-only texts ("1", "👍") aside, no held-out text reduces to a training text
    leaked = [
        row.text for row in test if _phrasing_key(row.text) and _phrasing_key(row.text) in train
    ]
    assert leaked == []


def test_every_row_says_where_it_came_from() -> None:
    sources = Counter(row.source.split(":")[0] for row in load_labelled_replies())
    assert set(sources) == {"handwritten", "variant"}


def test_bad_rows_are_rejected() -> None:
    header = "text,intent,language,split,source\n"
    with pytest.raises(DatasetError, match="ReplyIntent"):
        parse_labelled_rows(io.StringIO(header + "hola,greet,es,train,handwritten\n"))
    with pytest.raises(DatasetError, match="language"):
        parse_labelled_rows(io.StringIO(header + "hej,confirm,sv,train,handwritten\n"))
    with pytest.raises(DatasetError, match="columns"):
        parse_labelled_rows(io.StringIO("text,label\nyes,confirm\n"))


def test_language_neutral_rows_have_no_language() -> None:
    rows = parse_labelled_rows(
        io.StringIO("text,intent,language,split,source\n1,confirm,,test,x\n")
    )
    assert rows[0].language is None
