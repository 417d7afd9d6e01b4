from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach.replies.normalise import (
    CORRECTABLE_WORDS,
    KNOWN_WORDS,
    correct_typo,
    damerau_levenshtein,
    keyword_form,
    normalise,
    strip_edges,
)


def test_keyword_form_keeps_the_word_as_typed() -> None:
    assert keyword_form("  Stop!! ") == "stop"
    assert keyword_form("«STOP»") == "stop"
    assert keyword_form("STOP 🛑") == "stop"
    assert keyword_form("St op") == "st op"
    assert keyword_form("stöp") == "stöp"  # accents are not stripped for keywords


def test_strip_edges_leaves_inner_punctuation() -> None:
    assert strip_edges("...don't!") == "don't"


def test_normalise_strips_accents_splits_apostrophes_and_collects_emoji() -> None:
    reply = normalise("Sí, allí estaré 👍🏽 — n'annulez pas?")
    assert reply.text == "si alli estare n annulez pas"
    assert reply.emoji == ("👍",)
    assert reply.has_question
    assert normalise("Nu mai trimiteți").text == "nu mai trimiteti"
    assert normalise("Straße").text == "strasse"


@pytest.mark.parametrize(
    ("typo", "word"),
    [
        ("confrim", "confirm"),
        ("cnfirm", "confirm"),
        ("reschedual", "reschedule"),
        ("tomorow", "tomorrow"),
        ("cancle", "cancel"),
        ("appointmnet", "appointment"),
        ("annuller", "annuler"),
    ],
)
def test_common_typos_are_repaired(typo: str, word: str) -> None:
    assert correct_typo(typo) == word


@pytest.mark.parametrize(
    "word", ["where", "stp", "stopp", "anmelden", "enviar", "venire", "chance"]
)
def test_real_words_and_short_tokens_are_left_alone(word: str) -> None:
    assert correct_typo(word) == word


def test_vocabulary_never_holds_an_opt_out_word() -> None:
    # typo repair must never manufacture an opt-out (or opt-in) out of something else
    for word in ("stop", "unsubscribe", "abmelden", "desinscrire", "subscribe", "start"):
        assert word not in CORRECTABLE_WORDS
    assert not CORRECTABLE_WORDS & {"stop", "end", "quit"}
    assert KNOWN_WORDS.isdisjoint({"confirm", "cancel"})


@given(st.text(max_size=12), st.text(max_size=12))
def test_damerau_levenshtein_is_a_symmetric_distance(left: str, right: str) -> None:
    assert damerau_levenshtein(left, right) == damerau_levenshtein(right, left)
    assert (damerau_levenshtein(left, right) == 0) == (left == right)
    assert damerau_levenshtein(left, right) <= max(len(left), len(right))


@given(st.text(max_size=40))
def test_normalise_never_fails_and_is_idempotent_on_its_text(text: str) -> None:
    reply = normalise(text)
    assert normalise(reply.text).text == reply.text
