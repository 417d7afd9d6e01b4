"""Table-driven parser cases: every language, and the edges (case, accents, typos, emoji,
offered letters and digits, negation)."""

from __future__ import annotations

import pytest

from outreach.replies import ParsedReply, ReplyIntent, ReplyParser, parse_reply
from outreach.replies.classifier import IntentScore

C, R, X = ReplyIntent.CONFIRM, ReplyIntent.RESCHEDULE, ReplyIntent.CANCEL
STOP, START, HELP, OTHER = ReplyIntent.STOP, ReplyIntent.START, ReplyIntent.HELP, ReplyIntent.OTHER

LANGUAGE_CASES = [
    # en
    ("Yes I'll be there", C, "en"),
    ("can we do Tuesday instead?", R, "en"),
    ("I can't make it", X, "en"),
    ("I can't make it, can we do next Thursday?", R, "en"),
    ("stop texting me", STOP, "en"),
    ("please resume my reminders", START, "en"),
    ("who is this?", HELP, "en"),
    ("Where do I park?", OTHER, "en"),
    # es
    ("sí, allí estaré", C, "es"),
    ("¿Podemos pasarla al jueves?", R, "es"),
    ("no puedo ir", X, "es"),
    ("no me escribas más", STOP, "es"),
    ("quiero volver a recibir mensajes", START, "es"),
    ("¿Qué es esto?", HELP, "es"),
    # fr
    ("oui je serai là", C, "fr"),
    ("Est-ce qu'on peut décaler à vendredi ?", R, "fr"),
    ("je ne peux pas venir", X, "fr"),
    ("ne plus m'envoyer de messages", STOP, "fr"),
    ("réactivez les rappels svp", START, "fr"),
    ("c'est quoi ce message ?", HELP, "fr"),
    # pt
    ("sim, estarei lá", C, "pt"),
    ("Preciso remarcar a consulta", R, "pt"),
    ("não vou conseguir ir", X, "pt"),
    ("pare de enviar mensagens", STOP, "pt"),
    ("quero voltar a receber mensagens", START, "pt"),
    ("o que é isso?", HELP, "pt"),
    # ro
    ("da, voi fi acolo", C, "ro"),
    ("Putem muta programarea pe joi?", R, "ro"),
    ("nu pot veni", X, "ro"),
    ("nu mai trimiteti", STOP, "ro"),
    ("vreau să primesc mesaje din nou", START, "ro"),
    ("ce înseamnă mesajul?", HELP, "ro"),
    # de
    ("ja, ich komme", C, "de"),
    ("Können wir den Termin verschieben?", R, "de"),
    ("Ich kann leider nicht kommen", X, "de"),
    ("keine Nachrichten mehr", STOP, "de"),
    ("Bitte Erinnerungen wieder aktivieren", START, "de"),
    ("Was ist das?", HELP, "de"),
    # it
    ("sì, ci sarò", C, "it"),
    ("Possiamo spostare a lunedì?", R, "it"),
    ("non posso venire", X, "it"),
    ("non scrivetemi più", STOP, "it"),
    ("riattivate i promemoria", START, "it"),
    ("cosa significa questo messaggio?", HELP, "it"),
]


@pytest.mark.parametrize(("text", "intent", "language"), LANGUAGE_CASES)
def test_each_language_and_intent(text: str, intent: ReplyIntent, language: str) -> None:
    parsed = parse_reply(text)
    assert parsed.intent is intent
    assert parsed.language == language


EDGE_CASES = [
    # case and spacing
    ("YES I'LL BE THERE", C),
    ("   yes   ", C),
    ("Ok 👍", C),
    # accents missing
    ("si, alli estare", C),
    ("nao posso ir", X),
    ("si, ci saro", C),
    ("BESTATIGT", C),
    # typos
    ("confrim", C),
    ("cnfirm", C),
    ("I need to reschedual", R),
    ("pls cancle my appointment", X),
    ("see you tomorow", C),
    # emoji
    ("👍", C),
    ("👍🏽", C),
    ("✅", C),
    ("👌", C),
    ("❌", X),
    ("👎", X),
    ("👍❌", OTHER),
    # offered letters and digits
    ("C", C),
    ("c.", C),
    (" 1 ", C),
    ("R", R),
    ("2", R),
    ("X", X),
    ("3!", X),
    # negation
    ("don't cancel", C),
    ("Please don't cancel, I'll be there", C),
    ("no cancelen, sí voy", C),
    ("n'annulez pas", C),
    ("nicht absagen, ich komme", C),
    ("no, I won't come", X),
    ("I won't be there", X),
    ("not coming", X),
    ("No", X),
    ("Nein", X),
    # inability with or without another time
    ("Can't make it tomorrow", X),
    ("I can't come today", X),
    ("can't make it, could I come at 4pm instead?", R),
    ("no puedo ir, ¿tienen otro día?", R),
    # "stop" inside other wording is not an opt-out; explicit free text is
    ("I'll stop by the pharmacy on the way", OTHER),
    ("please stop", STOP),
    ("STOP merci", STOP),
    # help questions are not confirmations
    ("how do I confirm?", HELP),
    ("¿Cómo confirmo?", HELP),
]


@pytest.mark.parametrize(("text", "intent"), EDGE_CASES)
def test_edges(text: str, intent: ReplyIntent) -> None:
    assert parse_reply(text).intent is intent


def test_yes_confirms_unless_sender_is_opted_out() -> None:
    assert parse_reply("YES").intent is C
    opted_out = parse_reply("YES", opted_out=True)
    assert opted_out.intent is START
    assert opted_out.matched_rule == "compliance:YES"
    # only the bare keyword re-subscribes: longer wording from an opted-out number does not
    assert parse_reply("yes see you then", opted_out=True).intent is C


def test_offered_options_are_a_parameter() -> None:
    parser = ReplyParser(offered_options={"Y": C, "N": X, "9": R})
    assert parser("y").intent is C
    assert parser("9").intent is R
    assert parser("N").matched_rule == "option:N"
    # "1" is not offered by these messages, so it is not an option here
    assert parser("1").matched_rule != "option:1"


def test_empty_message_goes_to_a_person() -> None:
    parsed = parse_reply("  \n ")
    assert parsed.intent is OTHER
    assert parsed.matched_rule == "empty"


def test_language_hint_fills_in_when_the_text_does_not_show_a_language() -> None:
    assert parse_reply("C", "es").language == "es"
    assert parse_reply("👍", "pt-BR").language == "pt"
    assert parse_reply("C").language is None
    # the text's own language wins over the recorded one
    assert parse_reply("je ne peux pas venir", "en").language == "fr"


def test_bad_language_hint_is_rejected() -> None:
    with pytest.raises(ValueError, match="ISO 639-1"):
        parse_reply("yes", "english")


def test_parsing_is_deterministic() -> None:
    texts = ["qué tal", "maybe", "Merci bien", "ok can i bring my dog"]
    assert [parse_reply(t) for t in texts] == [parse_reply(t) for t in texts]


def test_confidence_and_rule_are_reported() -> None:
    parsed = parse_reply("Where do I park?")
    assert isinstance(parsed, ParsedReply)
    assert 0.0 <= parsed.confidence <= 1.0
    assert parsed.matched_rule is not None and parsed.matched_rule.startswith("classifier")


class _StubClassifier:
    """Always answers the same: lets the tests pin what the parser does with a guess."""

    def __init__(self, intent: ReplyIntent, probability: float) -> None:
        self.score = IntentScore(intent, probability)

    def predict(self, reply: object) -> IntentScore:
        return self.score


def _parser_with(intent: ReplyIntent, probability: float) -> ReplyParser:
    return ReplyParser(classifier=_StubClassifier(intent, probability))  # type: ignore[arg-type]


def test_rules_take_precedence_over_the_classifier() -> None:
    assert _parser_with(X, 0.99)("yes I'll be there").intent is C


def test_compliance_keywords_cannot_be_overridden() -> None:
    parsed = _parser_with(C, 1.0)("STOP")
    assert parsed.intent is STOP
    assert parsed.matched_rule == "compliance:STOP"


def test_classifier_below_threshold_means_other() -> None:
    parsed = _parser_with(C, 0.3)("hmm perhaps")
    assert parsed.intent is OTHER
    assert parsed.matched_rule == "classifier:low_confidence"
    assert _parser_with(C, 0.95)("hmm perhaps").intent is C


@pytest.mark.parametrize(
    "text",
    [
        "I do not really want reminders",
        "I'm away, back on Monday",
        "no quiero que me escriban otra vez",
    ],
)
def test_hedged_or_negated_wording_never_resubscribes(text: str) -> None:
    assert parse_reply(text, opted_out=True).intent is not START


def test_classifier_alone_never_resubscribes() -> None:
    parsed = _parser_with(START, 0.99)("hmm perhaps", opted_out=True)
    assert parsed.intent is OTHER
    assert parsed.matched_rule == "classifier:start_unconfirmed"
