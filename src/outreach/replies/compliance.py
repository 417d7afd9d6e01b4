"""Compliance keywords and explicit opt-out wording: the rules nothing may override.

Carrier rules (CTIA; Twilio enforces them with error 21610) fix the keywords. They match the
*whole* message, compared case-insensitively after trimming whitespace and punctuation or emoji
at the ends ("Stop", " STOP ", "stop.", "STOP!" all count; "stp", "stopp", "STOP ME NOW" do not
count as keywords):

* STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT -> opt out (STOPALL: every channel)
* START, UNSTOP -> opt back in; YES too, but only from a number that is opted out
* HELP, INFO -> help

Each supported language's carrier opt-out words are exact keywords too, matched the same way
(accents optional): Portuguese PARE, PARAR, SAIR, CHEGA, DESCADASTRAR, REMOVER; Spanish BAJA,
PARAR, ALTO, DETENER; French ARRET, DESABONNER, DESINSCRIRE; Romanian DEZABONARE, OPRESTE;
German STOPP, ABMELDEN, ENDE; Italian BASTA, FERMA, DISISCRIVI. Words that also mean "cancel
the appointment" in a language (CANCELAR, ANNULLA) are not among them: alone they stay the
appointment answer they are read as (the English CANCEL is the carriers' own keyword).

The single word CANCEL is an opt-out keyword, not an appointment cancellation: the carrier opts
the number out when it sees it, so treating it otherwise would leave us believing we may still
text someone the network already blocks. Appointment cancellation needs more words
("cancel my appointment", "please cancel") or the offered option letter/digit.

Beyond the keywords, explicit free-text opt-outs in the seven supported languages
("stop texting me", "no more messages", "ne plus m'envoyer", "no me escribas más", ...) are
opt-outs too. They are written as narrow phrases: a longer message that merely contains the word
"stop" ("I'll stop by the pharmacy") is not an opt-out, while "please stop", "stop it" and
"STOP merci" are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from outreach.replies.intents import ReplyIntent
from outreach.replies.normalise import NormalisedReply, keyword_form, strip_accents

STOP_KEYWORDS: frozenset[str] = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
)
START_KEYWORDS: frozenset[str] = frozenset({"start", "unstop"})
HELP_KEYWORDS: frozenset[str] = frozenset({"help", "info"})
# Only an opted-out number's YES re-subscribes; from anyone else YES answers the question asked.
OPTED_OUT_START_KEYWORDS: frozenset[str] = frozenset({"yes"})
STOP_ALL_KEYWORD = "stopall"
# Carrier opt-out words per supported language, as ``keyword_form`` gives them without accents.
LANGUAGE_STOP_KEYWORDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "pt": frozenset({"pare", "parar", "sair", "chega", "descadastrar", "remover"}),
        "es": frozenset({"baja", "parar", "alto", "detener"}),
        "fr": frozenset({"arret", "desabonner", "desinscrire"}),
        "ro": frozenset({"dezabonare", "opreste"}),
        "de": frozenset({"stopp", "abmelden", "ende"}),
        "it": frozenset({"basta", "ferma", "disiscrivi"}),
    }
)

ALL_KEYWORDS: frozenset[str] = (
    STOP_KEYWORDS | START_KEYWORDS | HELP_KEYWORDS | OPTED_OUT_START_KEYWORDS
)


@dataclass(frozen=True, slots=True)
class ComplianceMatch:
    """A compliance rule fired: ``rule`` names it for the audit trail."""

    intent: ReplyIntent
    rule: str
    is_stop_all: bool = False
    language: str | None = None


def match_compliance_keyword(text: str, *, opted_out: bool = False) -> ComplianceMatch | None:
    """The carrier keyword the whole of ``text`` is, if any (see the module docstring)."""
    word = keyword_form(text)
    if word in STOP_KEYWORDS:
        return ComplianceMatch(
            ReplyIntent.STOP, f"compliance:{word.upper()}", is_stop_all=word == STOP_ALL_KEYWORD
        )
    plain = strip_accents(word)
    for language, words in LANGUAGE_STOP_KEYWORDS.items():
        if plain in words:
            return ComplianceMatch(
                ReplyIntent.STOP, f"compliance:{language}:{plain.upper()}", language=language
            )
    if word in START_KEYWORDS:
        return ComplianceMatch(ReplyIntent.START, f"compliance:{word.upper()}")
    if opted_out and word in OPTED_OUT_START_KEYWORDS:
        return ComplianceMatch(ReplyIntent.START, f"compliance:{word.upper()}")
    if word in HELP_KEYWORDS:
        return ComplianceMatch(ReplyIntent.HELP, f"compliance:{word.upper()}")
    return None


# Politeness or emphasis that may surround a bare "stop" in any of the languages.
_COURTESY = (
    r"(?:please|pls|plz|now|it|already|thanks|thank you|thx|right now|immediately|"
    r"merci|svp|s il vous plait|stp|maintenant|"
    r"por favor|porfa|gracias|ya|"
    r"obrigad[oa]|agora|"
    r"va rog|multumesc|mersi|"
    r"bitte|danke|sofort|"
    r"grazie|per favore|subito)"
)
_MESSAGES_EN = (
    r"(?:texts?|texting|messages?|messaging|sms|emails?|e mails?|reminders?|notifications?"
    r"|spam|calls?)"
)
_MESSAGES_ES = r"(?:mensajes?|sms|correos?|recordatorios?|avisos?|notificaciones|whatsapps?)"
_MESSAGES_FR = r"(?:messages?|sms|textos?|rappels?|mails?|e mails?|notifications?)"
_MESSAGES_PT = r"(?:mensagens?|sms|lembretes?|avisos?|emails?|e mails?|notificacoes|whatsapps?)"
_MESSAGES_RO = r"(?:mesaje(?:le)?|sms(?: uri(?:le)?)?|mementouri(?:le)?|notificari(?:le)?|emailuri)"
_MESSAGES_DE = r"(?:nachrichten|sms|mails?|e mails?|erinnerungen|benachrichtigungen|whatsapps?)"
_MESSAGES_IT = r"(?:messaggi|sms|promemoria|avvisi|notifiche|email|e mail|mail)"

# (language, pattern over NormalisedReply.text, is_stop_all). Anchors matter: see module docstring.
_OPT_OUT_PHRASES: tuple[tuple[str | None, str, bool], ...] = (
    # bare stop dressed up: "please stop", "stop please", "STOP STOP", "stop merci"
    (None, rf"^(?:{_COURTESY} )*stop(?: stop)*(?: {_COURTESY})*$", False),
    (None, r"^stop ?all(?: (?:messages|texts|of (?:it|them)))?$", True),
    # en
    (
        "en",
        r"\bstop (?:texting|messaging|sending|contacting|emailing|calling|spamming|bothering)\b",
        False,
    ),
    ("en", rf"\bstop (?:(?:all|these|the|those|your|this|my) )*{_MESSAGES_EN}\b", False),
    ("en", rf"\b{_MESSAGES_EN}\b.*\bstop$", False),
    ("en", rf"\b(?:no more|enough(?: with)?(?: the| these| your)?) {_MESSAGES_EN}\b", False),
    ("en", r"\b(?:don t|dont|do not|never) (?:text|message|sms|email|contact|call) me\b", False),
    (
        "en",
        rf"\b(?:don t|dont|do not) (?:really |ever |even )?(?:send|want) (?:me )?"
        rf"(?:to (?:receive|get) )?(?:any )?(?:more )?(?:\w+ )?{_MESSAGES_EN}\b",
        False,
    ),
    ("en", r"\bunsubscribe\b", False),
    ("en", r"\bopt (?:me )?out\b", False),
    ("en", r"\b(?:remove|take) (?:me|my number|this number) (?:off|from|out of)\b", False),
    ("en", r"\bremove (?:me|my number|this number)$", False),
    ("en", r"\bleave me alone\b", False),
    ("en", r"\bquit (?:sending|texting|messaging)\b", False),
    ("en", r"\bunsubscribe (?:me )?from (?:everything|all)\b", True),
    # es
    (
        "es",
        r"\bno me (?:escribas|escriban|envies|envien|mandes|manden|contactes|contacten"
        r"|vuelvan a escribir|vuelvas a escribir)\b",
        False,
    ),
    ("es", r"\bno quiero que me (?:escriban|escribas|manden|envien|contacten)\b", False),
    ("es", rf"\bno (?:quiero|deseo) (?:recibir )?(?:mas )?{_MESSAGES_ES}\b", False),
    ("es", r"\bno (?:quiero|deseo) recibir mas\b", False),
    ("es", rf"\bya no quiero (?:recibir )?{_MESSAGES_ES}\b", False),
    ("es", r"\bdej(?:en|a|e) de (?:enviar|mandar|escribir|molestar)", False),
    ("es", r"\bdar(?:me|se)? de baja\b", False),
    ("es", r"^(?:baja|parar|basta)$", False),
    ("es", rf"\b(?:basta|no mas|sin mas|suficiente) (?:de )?{_MESSAGES_ES}\b", False),
    ("es", r"\bquit(?:en|ame|enme|adme) (?:de la lista|mi numero)\b", False),
    ("es", r"\bquitenme\b", False),
    ("es", r"\bborr(?:en|a|e) mi numero\b", False),
    # fr
    ("fr", r"\bne (?:plus )?m (?:envoyez|envoyer|ecrivez|ecrire|contactez|contacter)\b", False),
    ("fr", r"\bne plus (?:m envoyer|me contacter|m ecrire|recevoir)\b", False),
    ("fr", r"\bne m (?:envoyez|ecrivez) plus\b", False),
    ("fr", r"\bne me contactez plus\b", False),
    (
        "fr",
        rf"\barret(?:ez|e|er)? (?:de m|d envoyer|de m envoyer|de m ecrire"
        rf"|les {_MESSAGES_FR}|vos {_MESSAGES_FR})",
        False,
    ),
    ("fr", r"^arret(?:ez|e|er)?$", False),
    ("fr", r"\bdes(?:inscri\w*|abonn\w*)\b", False),
    ("fr", rf"\bplus de {_MESSAGES_FR}\b", False),
    ("fr", rf"\bje ne (?:veux|souhaite) plus (?:recevoir|de {_MESSAGES_FR})", False),
    ("fr", rf"\bstop (?:aux|les|a vos) {_MESSAGES_FR}\b", False),
    ("fr", r"\b(?:retirez|supprimez|effacez) (?:moi|mon numero)\b", False),
    ("fr", r"\blaissez moi tranquille\b", False),
    # pt
    ("pt", r"\bpar(?:e|em|ar) de (?:me )?(?:enviar|mandar|escrever)\b", False),
    ("pt", rf"\bparem com (?:essas|estas|as) {_MESSAGES_PT}\b", False),
    (
        "pt",
        r"\bnao (?:me )?(?:envie|enviem|mande|mandem|escreva|escrevam|contate|contatem) mais\b",
        False,
    ),
    ("pt", r"\bnao me (?:envie|enviem|mande|mandem|escreva|escrevam|contate|contatem)\b", False),
    ("pt", r"\bnao quero que me (?:escrevam|mandem|enviem|contatem)\b", False),
    ("pt", rf"\bnao (?:quero|desejo) (?:receber )?(?:mais )?{_MESSAGES_PT}\b", False),
    ("pt", r"\bnao (?:quero|desejo) receber mais\b", False),
    ("pt", rf"\b(?:chega de|sem mais) {_MESSAGES_PT}\b", False),
    ("pt", r"^(?:sair|parar|chega)$", False),
    ("pt", r"\bsair da lista\b", False),
    ("pt", r"\b(?:me )?tir(?:em|a|e) (?:me )?(?:da lista|meu numero)\b", False),
    ("pt", r"\bapag(?:uem|ue|a) (?:o )?meu numero\b", False),
    ("pt", r"\bdescadastr\w*\b", False),
    ("pt", r"\bcancelar (?:a )?inscricao\b", False),
    # ro
    ("ro", r"\bnu (?:mai )?(?:imi |mi |ma )(?:mai )?(?:trimite\w*|scrie\w*|contact\w*)\b", False),
    ("ro", r"\bnu mai (?:trimite\w*|scrie\w*|contact\w*)\b", False),
    (
        "ro",
        r"\bnu mai (?:vreau|doresc) sa (?:imi |mi |ma )?(?:mai )?"
        r"(?:scrie\w*|trimite\w*|contact\w*|fiu contact\w*)",
        False,
    ),
    ("ro", rf"\bnu mai (?:vreau|doresc) (?:sa primesc )?(?:\w+ )?{_MESSAGES_RO}\b", False),
    ("ro", r"\bdezabon\w*\b", False),
    ("ro", rf"\b(?:opriti|fara|gata cu|destul cu) {_MESSAGES_RO}\b", False),
    ("ro", r"\bincetati sa\b", False),
    ("ro", r"\b(?:stergeti|scoateti) (?:ma|numarul meu)\b", False),
    # de
    ("de", rf"\bkeine (?:\w+ )?{_MESSAGES_DE} mehr\b", False),
    ("de", r"\b(?:abmelden|abbestellen|austragen)\b", False),
    ("de", r"^stopp?(?: bitte| danke)?$", False),
    ("de", r"\bhor(?:t|en sie|e) auf\b", False),
    (
        "de",
        r"\b(?:schreiben|kontaktieren|schicken) sie mi(?:r|ch) (?:nicht mehr|nie wieder)\b",
        False,
    ),
    (
        "de",
        r"\bnicht mehr (?:kontaktieren|schreiben|anschreiben|anrufen|angeschrieben|kontaktiert)\b",
        False,
    ),
    ("de", rf"\bschluss mit (?:den |diesen )?{_MESSAGES_DE}\b", False),
    ("de", r"\b(?:meine nummer loschen|loschen sie meine nummer)\b", False),
    ("de", r"\blass(?:en sie|t) mich in ruhe\b", False),
    # it
    ("it", r"\bnon (?:scrivetemi|mandatemi|inviatemi|contattatemi|scrivermi|mandarmi)\b", False),
    ("it", r"\bnon voglio piu che mi (?:scriviate|mandiate|contattiate)\b", False),
    ("it", rf"\bnon (?:voglio|desidero) piu (?:ricevere )?(?:\w+ )?{_MESSAGES_IT}\b", False),
    ("it", rf"\b(?:basta|niente piu) (?:con )?(?:i |questi )?{_MESSAGES_IT}\b", False),
    ("it", r"^basta$", False),
    ("it", r"\bsmettete(?:la)? (?:di|con)\b", False),
    ("it", r"\bdisiscriv\w*\b", False),
    ("it", r"\bcancella(?:temi|mi)\b", False),
    ("it", r"\btoglie\w* (?:il mio numero|mi)\b", False),
    ("it", r"\blasciatemi in pace\b", False),
)
_COMPILED_OPT_OUTS = tuple(
    (language, re.compile(pattern), stop_all) for language, pattern, stop_all in _OPT_OUT_PHRASES
)
# Asking to keep the messages is not an opt-out, whatever words it shares with one.
_KEEP_MESSAGES = re.compile(
    r"\b(?:don t|dont|do not|never|please don t) (?:stop|unsubscribe|remove)\b"
    r"|\bno (?:me )?(?:den|des) de baja\b"
    r"|\bn arretez pas\b|\bnao (?:parem|pare)\b|\bnicht abmelden\b|\bnon smettete\b"
)


def asks_to_keep_messages(reply: NormalisedReply) -> bool:
    """ "Don't stop the reminders", "n'arrêtez pas": wording that shares words with an opt-out
    but asks the opposite. Neither the phrases nor the classifier may read it as one."""
    return _KEEP_MESSAGES.search(reply.text) is not None


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, giving up (returning ``limit + 1``) once it must exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def _misspelt_unsubscribe(text: str) -> bool:
    """ "unsbuscribe", "unsubcribe": an opt-out misspelt is still an opt-out.

    Only for opting out: erring towards stopping messages is the safe side, so the typo
    tolerance the keywords refuse (they must match exactly) is allowed for this one word.
    "subscribe" alone is two edits away but does not start with "un", so it is not caught.
    """
    return any(
        word.startswith("un") and len(word) >= 9 and _edit_distance(word, "unsubscribe", 2) <= 2
        for word in text.split()
    )


def match_optout_phrase(reply: NormalisedReply) -> ComplianceMatch | None:
    """An explicit free-text opt-out in any supported language, if ``reply`` is one.

    The first matching phrase names the rule; any all-channel phrase makes it a STOPALL.
    """
    text = reply.text
    if not text or asks_to_keep_messages(reply):
        return None
    matches = [
        (language, stop_all)
        for language, pattern, stop_all in _COMPILED_OPT_OUTS
        if pattern.search(text)
    ]
    if not matches and _misspelt_unsubscribe(text):
        matches = [("en", False)]
    if not matches:
        return None
    language = matches[0][0]
    rule = f"optout_phrase:{language}" if language else "optout_phrase"
    stop_all = any(stop_all for _, stop_all in matches)
    return ComplianceMatch(ReplyIntent.STOP, rule, is_stop_all=stop_all, language=language)
