"""Compliance keywords: exact, unbeatable, 100%."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.replies import ReplyIntent, parse_reply
from outreach.replies.compliance import (
    ALL_KEYWORDS,
    HELP_KEYWORDS,
    LANGUAGE_STOP_KEYWORDS,
    START_KEYWORDS,
    STOP_KEYWORDS,
    match_compliance_keyword,
    match_optout_phrase,
)
from outreach.replies.evaluation import compliance_cases, evaluate_compliance
from outreach.replies.normalise import keyword_form, normalise

STOP_FAMILY = sorted(STOP_KEYWORDS)
EDGE_NOISE = st.text(alphabet=" \t\n.!?,;:\"'()…¡¿🛑😡", max_size=4)


def _random_casing(word: str, flags: list[bool]) -> str:
    return "".join(ch.upper() if up else ch for ch, up in zip(word, flags, strict=False))


@settings(deadline=None)
@given(
    keyword=st.sampled_from(STOP_FAMILY),
    flags=st.lists(st.booleans(), min_size=11, max_size=11),
    before=EDGE_NOISE,
    after=EDGE_NOISE,
    opted_out=st.booleans(),
)
def test_any_casing_and_padding_of_a_stop_keyword_is_an_opt_out(
    keyword: str, flags: list[bool], before: str, after: str, opted_out: bool
) -> None:
    text = before + _random_casing(keyword, flags) + after
    parsed = parse_reply(text, opted_out=opted_out)
    assert parsed.intent is ReplyIntent.STOP
    assert parsed.matched_rule == f"compliance:{keyword.upper()}"
    assert parsed.is_stop_all == (keyword == "stopall")
    assert parsed.confidence == 1.0


@given(st.text(max_size=30))
def test_nothing_but_a_keyword_matches_the_keyword_layer(text: str) -> None:
    match = match_compliance_keyword(text, opted_out=True)
    word = keyword_form(text)
    if word in ALL_KEYWORDS:
        assert match is not None
    else:
        assert match is None


@settings(deadline=None)
@given(
    keyword=st.sampled_from(STOP_FAMILY),
    position=st.integers(min_value=0, max_value=20),
    extra=st.sampled_from(["p", "s", "x", "o", " ", "-"]),
    mode=st.sampled_from(["insert", "delete", "swap"]),
)
def test_near_misses_are_not_keywords(keyword: str, position: int, extra: str, mode: str) -> None:
    i = position % len(keyword)
    if mode == "insert":
        variant = keyword[:i] + extra + keyword[i:]
    elif mode == "delete":
        variant = keyword[:i] + keyword[i + 1 :]
    else:
        j = min(i + 1, len(keyword) - 1)
        chars = list(keyword)
        chars[i], chars[j] = chars[j], chars[i]
        variant = "".join(chars)
    language_words = set().union(*LANGUAGE_STOP_KEYWORDS.values())
    if keyword_form(variant) in ALL_KEYWORDS | language_words:
        return  # e.g. swapping two equal letters gives the keyword back; STOP+P is German STOPP
    parsed = parse_reply(variant)
    assert not (parsed.matched_rule or "").startswith("compliance:")


def test_compliance_suite_scores_100_percent() -> None:
    report = evaluate_compliance(parse_reply)
    assert report.total >= 1000
    assert report.failures == ()
    assert report.score == 1.0


def test_compliance_suite_covers_every_keyword_and_casing() -> None:
    texts = {case.text for case in compliance_cases()}
    for keyword in STOP_KEYWORDS | START_KEYWORDS | HELP_KEYWORDS:
        for variant in (keyword, keyword.upper(), keyword.capitalize(), f" {keyword.upper()} "):
            assert variant in texts
        assert f"{keyword}." in texts and f"{keyword.upper()}!" in texts


def test_compliance_suite_fails_a_parser_that_misses_a_keyword() -> None:
    def lax(text: str, language_hint: str | None = None, *, opted_out: bool = False):
        if text.strip().casefold() == "quit":
            return parse_reply("thanks")
        return parse_reply(text, language_hint, opted_out=opted_out)

    report = evaluate_compliance(lax)
    assert report.score < 1.0
    assert {case.text for case, _ in report.failures} >= {"quit", "QUIT", " quit "}


@pytest.mark.parametrize(
    ("text", "intent", "rule"),
    [
        ("CANCEL", ReplyIntent.STOP, "compliance:CANCEL"),  # carrier opt-out, not the appointment
        ("cancel.", ReplyIntent.STOP, "compliance:CANCEL"),
        ("End", ReplyIntent.STOP, "compliance:END"),
        ("OPTOUT", ReplyIntent.STOP, "compliance:OPTOUT"),
        ("Revoke!", ReplyIntent.STOP, "compliance:REVOKE"),
        ("unstop", ReplyIntent.START, "compliance:UNSTOP"),
        ("Start", ReplyIntent.START, "compliance:START"),
        ("INFO", ReplyIntent.HELP, "compliance:INFO"),
        ("help?", ReplyIntent.HELP, "compliance:HELP"),
        ("ＳＴＯＰ", ReplyIntent.STOP, "compliance:STOP"),  # fullwidth, NFKC
    ],
)
def test_keywords(text: str, intent: ReplyIntent, rule: str) -> None:
    parsed = parse_reply(text)
    assert (parsed.intent, parsed.matched_rule) == (intent, rule)


def test_stopall_sets_the_all_channels_flag() -> None:
    assert parse_reply("StopAll").is_stop_all
    assert not parse_reply("stop").is_stop_all


def test_cancel_with_more_words_is_an_appointment_cancellation() -> None:
    assert parse_reply("cancel my appointment").intent is ReplyIntent.CANCEL
    assert parse_reply("please cancel").intent is ReplyIntent.CANCEL


FREE_TEXT_OPT_OUTS = [
    ("stop texting me", "en"),
    ("no more messages", "en"),
    ("unsubscribe me please", "en"),
    ("Please remove me from your list", "en"),
    ("I don't want to receive texts anymore", "en"),
    ("ne plus m'envoyer de SMS", "fr"),
    ("Désabonnez-moi", "fr"),
    ("no me escribas más", "es"),
    ("darme de baja", "es"),
    ("pare de enviar mensagens", "pt"),
    ("nu mai trimiteti", "ro"),
    ("Nu-mi mai scrieți", "ro"),
    ("keine Nachrichten mehr", "de"),
    ("Bitte abmelden", "de"),
    ("non scrivetemi più", "it"),
    ("basta messaggi", "it"),
]


@pytest.mark.parametrize(("text", "language"), FREE_TEXT_OPT_OUTS)
def test_free_text_opt_outs(text: str, language: str) -> None:
    parsed = parse_reply(text)
    assert parsed.intent is ReplyIntent.STOP
    assert parsed.matched_rule == f"optout_phrase:{language}"


@pytest.mark.parametrize(
    "text",
    [
        "I'll stop by the pharmacy first",
        "Can you take me at 3 instead?",
        "don't stop the reminders please",
        "please don't unsubscribe me",
        "non voglio più l'appuntamento di martedì",
        "Quiten la cita del martes",
    ],
)
def test_wording_near_an_opt_out_is_not_one(text: str) -> None:
    assert match_optout_phrase(normalise(text)) is None
    assert parse_reply(text).intent is not ReplyIntent.STOP


def test_stop_all_in_words_reaches_every_channel() -> None:
    assert parse_reply("STOP ALL").is_stop_all
    assert parse_reply("unsubscribe me from everything").is_stop_all


@pytest.mark.parametrize(
    "text",
    [
        "I want to unsbuscribe",
        "unsubcribe me",
        "pls unsuscribe",
        "Unsubscibe!!",
        "please unsubscribed",
    ],
)
def test_a_misspelt_unsubscribe_is_still_an_opt_out(text: str) -> None:
    from outreach.replies import ReplyIntent, parse_reply

    assert parse_reply(text).intent is ReplyIntent.STOP


@pytest.mark.parametrize(
    "text", ["universal studios", "subscribe me to the newsletter", "unsure about tuesday"]
)
def test_words_near_unsubscribe_but_not_it_are_not_opt_outs(text: str) -> None:
    from outreach.replies import ReplyIntent, parse_reply

    assert parse_reply(text).intent is not ReplyIntent.STOP


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("PARE", "pt"),  # the held-out reply once read as "other"
        ("pare!", "pt"),
        ("Sair", "pt"),
        ("Descadastrar", "pt"),
        ("BAJA", "es"),
        ("Alto.", "es"),
        ("ARRÊT", "fr"),
        ("arret", "fr"),
        ("Désinscrire", "fr"),
        ("Dezabonare", "ro"),
        ("OPREȘTE", "ro"),
        ("STOPP", "de"),
        ("Ende", "de"),
        ("Abmelden", "de"),
        ("BASTA", "it"),
        ("Disiscrivi", "it"),
    ],
)
def test_each_languages_carrier_opt_out_words_are_exact_rules(text: str, language: str) -> None:
    parsed = parse_reply(text)
    assert parsed.intent is ReplyIntent.STOP
    assert (parsed.matched_rule or "").startswith(f"compliance:{language}:")
    assert parsed.language == language


def test_a_language_keyword_needs_the_whole_message() -> None:
    assert parse_reply("pare na farmácia amanhã").intent is not ReplyIntent.STOP
    assert parse_reply("CANCELAR").intent is ReplyIntent.CANCEL  # the appointment, not a STOP


def test_every_language_keyword_is_in_the_compliance_suite() -> None:
    texts = {case.text for case in compliance_cases()}
    for words in LANGUAGE_STOP_KEYWORDS.values():
        for word in words:
            assert {word, word.upper(), f" {word.upper()} "} <= texts
