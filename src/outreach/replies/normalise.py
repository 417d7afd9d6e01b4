"""Text normalisation shared by every parsing layer.

Patients type on phones: capitals, missing accents, fullwidth characters, emoji, stray punctuation
and the odd typo. Two forms come out of here:

* :func:`keyword_form` keeps the words exactly as typed (only case, Unicode compatibility forms,
  whitespace and punctuation/symbols at the ends are normalised). The compliance keywords match
  on it and on nothing looser, so ``STP`` or ``stpo`` is never an opt-out keyword.
* :func:`normalise` additionally strips accents, splits off emoji, drops inner punctuation and
  repairs common typos of the words the rules look for ("confrim" -> "confirm").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Emoji modifiers and joiners carry no meaning for intent: 👍🏽 is 👍.
_EMOJI_NOISE = re.compile("[\U0001f3fb-\U0001f3ff\ufe0e\ufe0f\u200d]")
_WHITESPACE = re.compile(r"\s+")
_APOSTROPHES = re.compile("['\u2018\u2019\u02bc`\u00b4]")
_TOKEN = re.compile(r"[^\W_]+")

# Words the rules look for, long enough that a one- or two-letter slip is not another word.
# Compliance keywords are deliberately absent: they match exactly or not at all.
CORRECTABLE_WORDS: frozenset[str] = frozenset(
    {
        # en
        "confirm",
        "confirmed",
        "confirming",
        "appointment",
        "reschedule",
        "rescheduled",
        "cancel",
        "cancelled",
        "canceled",
        "cancelling",
        "tomorrow",
        "instead",
        "another",
        "postpone",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "monday",
        "sunday",
        "coming",
        "attend",
        "attending",
        "unable",
        "cannot",
        "available",
        "different",
        # es
        "confirmo",
        "confirmar",
        "confirmado",
        "confirmada",
        "cancelar",
        "cancelen",
        "cancelo",
        "reprogramar",
        "cambiar",
        "manana",
        "asistir",
        "asistire",
        "estare",
        "martes",
        "miercoles",
        "jueves",
        "viernes",
        "sabado",
        "domingo",
        "proxima",
        "acudir",
        # fr
        "confirme",
        "annuler",
        "annulez",
        "reporter",
        "decaler",
        "deplacer",
        "rendez",
        "demain",
        "mardi",
        "mercredi",
        "jeudi",
        "vendredi",
        "samedi",
        "dimanche",
        "lundi",
        "viendrai",
        "pourrai",
        # pt
        "remarcar",
        "cancelem",
        "desmarcar",
        "amanha",
        "estarei",
        "consulta",
        "terca",
        "quarta",
        "quinta",
        "sexta",
        "segunda",
        "horario",
        "comparecer",
        # ro
        "confirmat",
        "programarea",
        "programare",
        "reprogramez",
        "reprogramare",
        "anulati",
        "anulez",
        "maine",
        "marti",
        "miercuri",
        "vineri",
        "sambata",
        "duminica",
        "saptamana",
        # de
        "bestatigt",
        "bestatige",
        "termin",
        "verschieben",
        "absagen",
        "stornieren",
        "morgen",
        "dienstag",
        "mittwoch",
        "donnerstag",
        "freitag",
        "samstag",
        "sonntag",
        "montag",
        # it
        "confermo",
        "confermato",
        "confermata",
        "appuntamento",
        "annullare",
        "annullate",
        "disdire",
        "spostare",
        "domani",
        "martedi",
        "mercoledi",
        "giovedi",
        "venerdi",
        "sabato",
        "domenica",
        "lunedi",
    }
)
# Real words one or two edits away from a vocabulary word: never "corrected" into it.
KNOWN_WORDS: frozenset[str] = frozenset(
    {
        "enviar",
        "envien",
        "recibir",
        "receber",
        "contacter",
        "contactez",
        "austragen",
        "borren",
        "venire",
        "cancela",
        "cancele",
        "cancellate",
        "cancellare",
        "cancellami",
        "cancer",
        "conform",
        "annulee",
        "annule",
        "anular",
        "anulare",
        "anulat",
        "morgens",
        "termine",
        "terminen",
        "reporte",
        "reportar",
        "consultar",
        "consulte",
        "quinto",
        "segundo",
        "sexto",
        "martel",
        "jeunes",
        "domingos",
        "sabados",
        "horarios",
        "marito",
        "demande",
        "demandez",
        "mardis",
        "annual",
        "comprar",
        "comparar",
        "combien",
        "confiar",
        "mittag",
        "montage",
        "absage",
        "orario",
        "cambiare",
        "anulen",
        "martin",
        "riprogrammare",
        "sonntags",
        "samstags",
    }
)


def strip_accents(text: str) -> str:
    """``text`` without its accents ("arrêt" -> "arret", "opreşte" -> "oprește" -> "opreste")."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", kept)


def _is_edge_noise(ch: str) -> bool:
    """Punctuation, symbols (emoji included) and whitespace may surround a keyword."""
    return ch.isspace() or unicodedata.category(ch)[0] in "PSZC"


def strip_edges(text: str) -> str:
    """Remove punctuation, symbols and whitespace from both ends of ``text``."""
    start, end = 0, len(text)
    while start < end and _is_edge_noise(text[start]):
        start += 1
    while end > start and _is_edge_noise(text[end - 1]):
        end -= 1
    return text[start:end]


def keyword_form(text: str) -> str:
    """The exact-keyword form: NFKC, casefolded, whitespace collapsed, ends stripped."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _WHITESPACE.sub(" ", strip_edges(folded)).strip()


def damerau_levenshtein(left: str, right: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, transpositions."""
    previous_previous: list[int] = []
    previous = list(range(len(right) + 1))
    for i, left_ch in enumerate(left, start=1):
        current = [i] + [0] * len(right)
        for j, right_ch in enumerate(right, start=1):
            cost = 0 if left_ch == right_ch else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and left_ch == right[j - 2] and left[i - 2] == right_ch:
                current[j] = min(current[j], previous_previous[j - 2] + 1)
        previous_previous, previous = previous, current
    return previous[-1]


def _allowed_distance(word: str) -> int:
    if len(word) >= 10:
        return 2
    if len(word) >= 6:
        return 1
    return 0


def _deletions(word: str, depth: int) -> set[str]:
    """``word`` with up to ``depth`` letters removed (itself included)."""
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {
            variant[:i] + variant[i + 1 :] for variant in frontier for i in range(len(variant))
        }
        found |= frontier
    return found


@lru_cache(maxsize=8)
def _deletion_index(vocabulary: frozenset[str]) -> dict[str, frozenset[str]]:
    """Symmetric-deletion index: two words within edit distance k share a k-deletion variant,
    so candidates come from a dictionary look-up instead of a scan of the vocabulary."""
    index: dict[str, set[str]] = {}
    for word in vocabulary:
        for variant in _deletions(word, 2):
            index.setdefault(variant, set()).add(word)
    return {variant: frozenset(words) for variant, words in index.items()}


@lru_cache(maxsize=8192)
def correct_typo(token: str, vocabulary: frozenset[str] = CORRECTABLE_WORDS) -> str:
    """The vocabulary word ``token`` is a slip of, when exactly one is close enough; else ``token``.

    Short tokens are left alone: at five letters or fewer one edit turns a word into another
    word ("where" -> "there"). Words in :data:`KNOWN_WORDS` are real words, never slips.
    """
    budget = _allowed_distance(token)
    if budget == 0 or token in vocabulary or token in KNOWN_WORDS or not token.isalpha():
        return token
    index = _deletion_index(vocabulary)
    candidates: set[str] = set()
    for variant in _deletions(token, budget):
        candidates |= index.get(variant, frozenset())
    best: list[str] = []
    best_distance = budget + 1
    for word in sorted(candidates):
        distance = damerau_levenshtein(token, word)
        if distance > budget:
            continue
        if distance < best_distance:
            best, best_distance = [word], distance
        elif distance == best_distance:
            best.append(word)
    return best[0] if len(best) == 1 else token


@dataclass(frozen=True, slots=True)
class NormalisedReply:
    """A message reduced to what the matching layers need.

    ``text`` is the accent-free, casefolded, typo-repaired words joined by single spaces
    (apostrophes split words: "don't" -> "don t", "j'annule" -> "j annule").
    """

    keyword: str
    text: str
    tokens: tuple[str, ...]
    emoji: tuple[str, ...]
    has_question: bool

    @property
    def is_empty(self) -> bool:
        return not self.tokens and not self.emoji

    @property
    def for_model(self) -> str:
        """The text a statistical model sees: words, then emoji."""
        return " ".join(filter(None, (self.text, "".join(self.emoji))))


def normalise(text: str) -> NormalisedReply:
    """Reduce ``text`` to a :class:`NormalisedReply` (no I/O, deterministic)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = _EMOJI_NOISE.sub("", folded)
    emoji = tuple(ch for ch in folded if unicodedata.category(ch) == "So")
    plain = strip_accents(_APOSTROPHES.sub(" ", folded))
    raw_tokens = _TOKEN.findall(plain)
    tokens = tuple(correct_typo(token) for token in raw_tokens)
    return NormalisedReply(
        keyword=keyword_form(text),
        text=" ".join(tokens),
        tokens=tokens,
        emoji=emoji,
        has_question="?" in folded or "\u00bf" in folded,
    )
