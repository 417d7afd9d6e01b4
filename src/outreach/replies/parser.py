"""``parse_reply``: an inbound message in, a :class:`ParsedReply` out.

Layers, first decisive one wins:

1. compliance keywords on the whole message (STOP, STOPALL, START, HELP, ...), exact;
2. explicit free-text opt-outs ("stop texting me", "no me escribas más", ...);
3. the deterministic rules (offered options, emoji, multilingual wording, negation), when they
   reach ``rule_floor``;
4. the classifier, when its best probability reaches ``classifier_threshold``; otherwise
   ``other`` (a person reads it).

The classifier may not re-subscribe anyone: a START it predicts without explicit wording becomes
``other``; nor may it opt out someone whose words ask to keep the messages. Nothing here does
I/O beyond the lazy, once-per-process training on the packaged data.
"""

from __future__ import annotations

from collections.abc import Mapping

from outreach.replies.classifier import IntentClassifier, default_intent_classifier
from outreach.replies.compliance import (
    asks_to_keep_messages,
    match_compliance_keyword,
    match_optout_phrase,
)
from outreach.replies.intents import ParsedReply, ReplyIntent
from outreach.replies.language import LanguageDetector, default_language_detector
from outreach.replies.normalise import normalise
from outreach.replies.rules import DEFAULT_OFFERED_OPTIONS, match_rules

# Rules at or above this confidence are final; all shipped rules are (see rules.py).
DEFAULT_RULE_FLOOR = 0.8
# 5-fold cross-validation of the whole parser on the training split: macro-F1 0.981-0.985 from
# 0.5 to 0.7, best at 0.6; below that the classifier's guesses start to cost precision. Never
# tuned on the test split.
DEFAULT_CLASSIFIER_THRESHOLD = 0.6
OPT_OUT_PHRASE_CONFIDENCE = 0.99
# A detected language is believed over the patient's recorded language above this probability.
CONFIDENT_LANGUAGE = 0.7
PLAUSIBLE_LANGUAGE = 0.4


def normalise_language_hint(hint: str | None) -> str | None:
    """ "es-MX" -> "es"; empty -> None. Only the ISO 639-1 primary subtag is kept."""
    if not hint:
        return None
    primary = hint.strip().replace("_", "-").split("-")[0].casefold()
    if len(primary) != 2 or not primary.isalpha():
        raise ValueError(f"language hint must be an ISO 639-1 code, got {hint!r}")
    return primary


class ReplyParser:
    """A configured parser. ``parse_reply`` uses one with the defaults.

    ``offered_options`` maps the single letters/digits the outbound messages offer to intents;
    ``classifier`` and ``language_detector`` default to the packaged models, trained on first use.
    """

    def __init__(
        self,
        *,
        offered_options: Mapping[str, ReplyIntent] = DEFAULT_OFFERED_OPTIONS,
        classifier: IntentClassifier | None = None,
        language_detector: LanguageDetector | None = None,
        rule_floor: float = DEFAULT_RULE_FLOOR,
        classifier_threshold: float = DEFAULT_CLASSIFIER_THRESHOLD,
        use_classifier: bool = True,
    ) -> None:
        self.offered_options = {key.casefold(): intent for key, intent in offered_options.items()}
        self._classifier = classifier
        self._language_detector = language_detector
        self.rule_floor = rule_floor
        self.classifier_threshold = classifier_threshold
        self.use_classifier = use_classifier

    @property
    def classifier(self) -> IntentClassifier:
        if self._classifier is None:
            self._classifier = default_intent_classifier()
        return self._classifier

    @property
    def language_detector(self) -> LanguageDetector:
        if self._language_detector is None:
            self._language_detector = default_language_detector()
        return self._language_detector

    def __call__(
        self, text: str, language_hint: str | None = None, *, opted_out: bool = False
    ) -> ParsedReply:
        return self.parse(text, language_hint, opted_out=opted_out)

    def parse(
        self, text: str, language_hint: str | None = None, *, opted_out: bool = False
    ) -> ParsedReply:
        """Classify ``text``; ``opted_out``: the sender is opted out (so YES re-subscribes)."""
        hint = normalise_language_hint(language_hint)
        keyword = match_compliance_keyword(text, opted_out=opted_out)
        if keyword is not None:
            language = hint or keyword.language  # a language's own keyword says the language
            return ParsedReply(keyword.intent, 1.0, language, keyword.rule, keyword.is_stop_all)

        reply = normalise(text)
        if reply.is_empty:
            return ParsedReply(ReplyIntent.OTHER, 1.0, hint, "empty")

        opt_out = match_optout_phrase(reply)
        if opt_out is not None:
            return ParsedReply(
                ReplyIntent.STOP,
                OPT_OUT_PHRASE_CONFIDENCE,
                self._language(text, opt_out.language, hint),
                opt_out.rule,
                opt_out.is_stop_all,
            )

        rule = match_rules(reply, self.offered_options)
        if rule is not None and rule.confidence >= self.rule_floor:
            return ParsedReply(
                rule.intent, rule.confidence, self._language(text, rule.language, hint), rule.rule
            )

        if self.use_classifier:
            best = self.classifier.predict(reply)
            if best.probability >= self.classifier_threshold:
                language = self._language(text, None, hint)
                if best.intent is ReplyIntent.START:
                    # Re-subscribing needs explicit wording; a person decides on a guess.
                    return ParsedReply(
                        ReplyIntent.OTHER,
                        best.probability,
                        language,
                        "classifier:start_unconfirmed",
                    )
                if best.intent is ReplyIntent.STOP and asks_to_keep_messages(reply):
                    # "Please don't unsubscribe me" looks like an opt-out to n-grams.
                    return ParsedReply(
                        ReplyIntent.OTHER,
                        best.probability,
                        language,
                        "classifier:stop_contradicted",
                    )
                return ParsedReply(best.intent, best.probability, language, "classifier")
            if rule is None:
                return ParsedReply(
                    ReplyIntent.OTHER,
                    1.0 - best.probability,
                    self._language(text, None, hint),
                    "classifier:low_confidence",
                )
        if rule is not None:
            return ParsedReply(
                rule.intent, rule.confidence, self._language(text, rule.language, hint), rule.rule
            )
        return ParsedReply(ReplyIntent.OTHER, 0.5, self._language(text, None, hint), "no_rule")

    def _language(self, text: str, rule_language: str | None, hint: str | None) -> str | None:
        """The reply's language: a confident detection, else the language of the rule that
        fired, else the hint (the patient's recorded language), else a plausible detection.

        Rules come second because some stems are shared ("reactiv-" is Spanish and French)."""
        guess = self.language_detector.detect(text)
        if guess.language and guess.probability >= CONFIDENT_LANGUAGE:
            return guess.language
        if rule_language:
            return rule_language
        if hint:
            return hint
        if guess.language and guess.probability >= PLAUSIBLE_LANGUAGE:
            return guess.language
        return None


_default_parser: ReplyParser | None = None


def default_parser() -> ReplyParser:
    """The process-wide parser with default settings (created on first use, not at import)."""
    global _default_parser
    if _default_parser is None:
        _default_parser = ReplyParser()
    return _default_parser


def parse_reply(
    text: str, language_hint: str | None = None, *, opted_out: bool = False
) -> ParsedReply:
    """Parse one inbound message with the default parser. Stable API.

    ``language_hint`` is the patient's recorded language (ISO 639-1, "es-MX" accepted);
    ``opted_out`` whether the sender is currently opted out on the channel the reply came in on.
    """
    return default_parser().parse(text, language_hint, opted_out=opted_out)
