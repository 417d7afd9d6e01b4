"""Structured logging with a redaction filter as the backstop for personal data.

JSON lines in production (one object per record, for the operators' log pipeline), readable lines
in development. The filter masks phone numbers, e-mail addresses and anything passed as a message
body, whatever the caller forgot: the plan is to log identifiers only (CONVENTIONS.md).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from outreach.correlation import CorrelationFilter

# E.164 numbers (+ and 7-15 digits) or national numbers of 10+ digits, separators allowed.
# Shorter bare digit runs stay: they are usually job or patient ids, which operators need.
_PHONE = re.compile(
    r"(?<![\w:-])(?:\+\d(?:[\s().-]*\d){6,14}|\(?\d(?:[\s().-]*\d){9,14})(?![\w:-])"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# key=value or "key": "value" pairs whose value is free text written by or for a patient.
_BODY_KEYS = ("body", "text", "message_body", "Body", "content", "subject")
_BODY_PAIR = re.compile(
    r"""(?P<key>["']?(?:""" + "|".join(_BODY_KEYS) + r""")["']?\s*[:=]\s*)"""
    r"""(?P<q>["']?)(?P<val>.*?)(?P=q)(?=[,}\s]|$)""",
    re.DOTALL,
)
# Extra record attributes that carry bodies; their values are always masked.
_BODY_ATTRS = frozenset({"body", "text", "message_body", "subject", "content"})

PHONE_MASK = "[phone]"
EMAIL_MASK = "[email]"
BODY_MASK = "[body]"


def redact(text: str) -> str:
    """Mask bodies, e-mail addresses and phone numbers in a rendered log line."""
    text = _BODY_PAIR.sub(lambda m: m.group("key") + m.group("q") + BODY_MASK + m.group("q"), text)
    text = _EMAIL.sub(EMAIL_MASK, text)
    return _PHONE.sub(PHONE_MASK, text)


class RedactionFilter(logging.Filter):
    """Rewrites every record so that no formatter or handler sees personal data."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not take logging down
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        for attr in _BODY_ATTRS:
            if attr in record.__dict__:
                setattr(record, attr, BODY_MASK)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


# A record's traceback keeps this many lines at each end; a deep recursion is thousands.
TRACEBACK_HEAD_LINES = 20
TRACEBACK_TAIL_LINES = 40


def bound_traceback(text: str) -> str:
    """``text`` with the middle of an over-long traceback replaced by a count of what was cut."""
    lines = text.splitlines()
    if len(lines) <= TRACEBACK_HEAD_LINES + TRACEBACK_TAIL_LINES:
        return text
    cut = len(lines) - TRACEBACK_HEAD_LINES - TRACEBACK_TAIL_LINES
    return "\n".join(
        [
            *lines[:TRACEBACK_HEAD_LINES],
            f"  ... {cut} lines cut ...",
            *lines[-TRACEBACK_TAIL_LINES:],
        ]
    )


class TracebackBound(logging.Filter):
    """Bounds the traceback (and message) of every record, whoever logged it: one request
    that recursed 1,000 frames deep must not write thousands of lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = bound_traceback(record.exc_text)
        if isinstance(record.msg, str) and record.msg.count("\n") > TRACEBACK_TAIL_LINES:
            record.msg = bound_traceback(record.msg)
        return True


_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                plain = isinstance(value, (int, float, bool, type(None)))
                entry[key] = value if plain else str(value)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(
    level: str = "INFO", *, json_lines: bool = False, verbose_libraries: bool = False
) -> None:
    """Install one redacting handler on the root logger (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(CorrelationFilter())
    handler.addFilter(RedactionFilter())
    handler.addFilter(TracebackBound())
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)-7s %(name)s [%(correlation_id)s]: %(message)s",
                "%H:%M:%S",
            )
        )
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_outreach", False):
            root.removeHandler(existing)
    handler._outreach = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Third-party chatter that would drown the signal at INFO.
    noisy_level = max(logging.WARNING, root.level)
    if verbose_libraries:
        noisy_level = root.level
    for noisy in ("aiokafka", "kafka", "faust", "mode", "urllib3", "httpx", "twilio.http_client"):
        logging.getLogger(noisy).setLevel(noisy_level)
