"""Measuring a parser: per-intent precision/recall/F1 on labelled rows, and the compliance suite.

The compliance suite is not a sample: it enumerates every carrier keyword in several casings,
paddings and trailing punctuation, and anything below 100% is a defect.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from outreach.replies.compliance import (
    HELP_KEYWORDS,
    LANGUAGE_STOP_KEYWORDS,
    OPTED_OUT_START_KEYWORDS,
    START_KEYWORDS,
    STOP_ALL_KEYWORD,
    STOP_KEYWORDS,
)
from outreach.replies.dataset import LabelledReply
from outreach.replies.intents import ParsedReply, ReplyIntent


class ReplyParserFunction(Protocol):
    """Anything shaped like :func:`outreach.replies.parse_reply`."""

    def __call__(
        self, text: str, language_hint: str | None = None, *, opted_out: bool = False
    ) -> ParsedReply: ...


@dataclass(frozen=True, slots=True)
class IntentScores:
    intent: ReplyIntent
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Misclassification:
    text: str
    expected: ReplyIntent
    predicted: ReplyIntent
    matched_rule: str | None


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    per_intent: tuple[IntentScores, ...]
    accuracy: float
    macro_f1: float
    total: int
    language_accuracy: float | None  # over rows that have a language
    decided_by: tuple[tuple[str, int], ...]  # layer -> count, e.g. ("rules", 212)
    errors: tuple[Misclassification, ...]
    # confusion[(expected, predicted)] = count
    confusion: tuple[tuple[ReplyIntent, ReplyIntent, int], ...]

    def scores_for(self, intent: ReplyIntent) -> IntentScores:
        return next(scores for scores in self.per_intent if scores.intent is intent)


def _layer(matched_rule: str | None) -> str:
    if not matched_rule:
        return "none"
    head = matched_rule.split(":", 1)[0]
    if head in {"option", "emoji", "phrase", "word"}:
        return "rules"
    return head


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def evaluate(
    parser: ReplyParserFunction,
    rows: Iterable[LabelledReply],
    *,
    use_language_hint: bool = False,
) -> EvaluationReport:
    """Run ``parser`` over ``rows`` and score it per intent.

    By default the parser gets no language hint, the harder case: the reply must speak for itself.
    """
    rows = list(rows)
    expected: list[ReplyIntent] = []
    predicted: list[ReplyIntent] = []
    layers: Counter[str] = Counter()
    errors: list[Misclassification] = []
    language_hits = language_total = 0
    for row in rows:
        hint = row.language if use_language_hint else None
        parsed = parser(row.text, hint)
        expected.append(row.intent)
        predicted.append(parsed.intent)
        layers[_layer(parsed.matched_rule)] += 1
        if parsed.intent is not row.intent:
            errors.append(
                Misclassification(row.text, row.intent, parsed.intent, parsed.matched_rule)
            )
        if row.language:
            language_total += 1
            language_hits += parsed.language == row.language

    pairs = Counter(zip(expected, predicted, strict=True))
    per_intent: list[IntentScores] = []
    for intent in ReplyIntent:
        true_positive = pairs[(intent, intent)]
        predicted_count = sum(count for (_, got), count in pairs.items() if got is intent)
        support = sum(count for (want, _), count in pairs.items() if want is intent)
        precision = _ratio(true_positive, predicted_count)
        recall = _ratio(true_positive, support)
        f1 = _ratio(2 * true_positive, predicted_count + support)
        per_intent.append(IntentScores(intent, precision, recall, f1, support))
    present = [scores for scores in per_intent if scores.support]
    return EvaluationReport(
        per_intent=tuple(per_intent),
        accuracy=_ratio(sum(pairs[(i, i)] for i in ReplyIntent), len(rows)),
        macro_f1=sum(scores.f1 for scores in present) / len(present) if present else 0.0,
        total=len(rows),
        language_accuracy=_ratio(language_hits, language_total) if language_total else None,
        decided_by=tuple(sorted(layers.items(), key=lambda item: -item[1])),
        errors=tuple(errors),
        confusion=tuple(
            (want, got, count) for (want, got), count in sorted(pairs.items()) if count
        ),
    )


def format_report(report: EvaluationReport) -> str:
    """A plain-text table: one line per intent, then the totals."""
    lines = [f"{'intent':<12}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}"]
    for scores in report.per_intent:
        lines.append(
            f"{scores.intent.value:<12}{scores.precision:>10.3f}{scores.recall:>8.3f}"
            f"{scores.f1:>8.3f}{scores.support:>9d}"
        )
    lines.append(f"{'macro-F1':<12}{report.macro_f1:>10.3f}")
    lines.append(f"{'accuracy':<12}{report.accuracy:>10.3f}{'':>16}{report.total:>9d}")
    if report.language_accuracy is not None:
        lines.append(
            f"{'language':<12}{report.language_accuracy:>10.3f}  (reply language detected)"
        )
    lines.append(
        "decided by: " + ", ".join(f"{layer} {count}" for layer, count in report.decided_by)
    )
    return "\n".join(lines)


# --- the compliance-keyword suite -------------------------------------------------------------

_PADDINGS = (
    "{}",
    " {} ",
    "{}.",
    "{}!",
    "{}!!",
    "{}?",
    "\t{}\n",
    "  {}.  ",
    '"{}"',
    "{} 🛑",
    "({})",
)


def _casings(word: str) -> tuple[str, ...]:
    alternating = "".join(ch.upper() if i % 2 else ch for i, ch in enumerate(word))
    return tuple(dict.fromkeys((word, word.upper(), word.capitalize(), alternating)))


@dataclass(frozen=True, slots=True)
class ComplianceCase:
    text: str
    opted_out: bool
    intent: ReplyIntent
    is_stop_all: bool = False


def compliance_cases() -> tuple[ComplianceCase, ...]:
    """Every keyword in every casing and padding, plus YES from opted-in and opted-out numbers."""
    cases: list[ComplianceCase] = []
    language_stops = frozenset(w for words in LANGUAGE_STOP_KEYWORDS.values() for w in words)
    groups = (
        (STOP_KEYWORDS, ReplyIntent.STOP),
        (language_stops, ReplyIntent.STOP),
        (START_KEYWORDS, ReplyIntent.START),
        (HELP_KEYWORDS, ReplyIntent.HELP),
    )
    for keywords, intent in groups:
        for keyword in sorted(keywords):
            for casing in _casings(keyword):
                for padding in _PADDINGS:
                    text = padding.format(casing)
                    stop_all = keyword == STOP_ALL_KEYWORD
                    for opted_out in (False, True):
                        cases.append(ComplianceCase(text, opted_out, intent, stop_all))
    for keyword in sorted(OPTED_OUT_START_KEYWORDS):
        for casing in _casings(keyword):
            for padding in _PADDINGS:
                cases.append(ComplianceCase(padding.format(casing), True, ReplyIntent.START))
    return tuple(cases)


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    total: int
    passed: int
    failures: tuple[tuple[ComplianceCase, ParsedReply], ...]

    @property
    def score(self) -> float:
        return _ratio(self.passed, self.total)


def evaluate_compliance(
    parser: ReplyParserFunction, cases: Sequence[ComplianceCase] | None = None
) -> ComplianceReport:
    """Run the compliance suite: a case passes only with the right intent, stop-all flag and a
    ``compliance:`` rule (a lucky classifier guess does not count)."""
    cases = compliance_cases() if cases is None else cases
    failures: list[tuple[ComplianceCase, ParsedReply]] = []
    for case in cases:
        parsed = parser(case.text, None, opted_out=case.opted_out)
        if (
            parsed.intent is not case.intent
            or parsed.is_stop_all != case.is_stop_all
            or not (parsed.matched_rule or "").startswith("compliance:")
        ):
            failures.append((case, parsed))
    return ComplianceReport(len(cases), len(cases) - len(failures), tuple(failures))
