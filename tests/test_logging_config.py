"""The redaction filter hides phone numbers, e-mail addresses and message bodies."""

from __future__ import annotations

import json
import logging

import pytest

from outreach.logging_config import JsonFormatter, RedactionFilter, configure_logging, redact


@pytest.fixture
def captured() -> tuple[logging.Logger, list[str]]:
    lines: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = ListHandler()
    handler.addFilter(RedactionFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, lines
    logger.removeHandler(handler)


def test_phone_email_and_body_are_hidden(captured) -> None:
    logger, lines = captured
    logger.info(
        "sending job %s to %s / %s body=%r",
        12345,
        "+1 (305) 555-0199",
        "jane.doe@example.com",
        "Your HbA1c result is 9.1",
    )
    record = json.loads(lines[0])
    assert "555-0199" not in lines[0] and "3055550199" not in lines[0]
    assert "jane.doe" not in lines[0]
    assert "HbA1c" not in lines[0]
    assert "12345" in record["msg"]  # identifiers stay readable for operators


def test_body_passed_as_extra_is_masked(captured) -> None:
    logger, lines = captured
    logger.info("inbound stored", extra={"body": "STOP texting me, 07700 900123", "job_id": 9})
    record = json.loads(lines[0])
    assert record["body"] == "[body]" and record["job_id"] == 9


def test_exception_text_is_redacted(captured) -> None:
    logger, lines = captured
    try:
        raise ValueError("bad address patient@example.org")
    except ValueError:
        logger.exception("failed")
    assert "patient@example.org" not in lines[0]
    assert "[email]" in lines[0]


@pytest.mark.parametrize(
    "text",
    ["+40721234567", "+44 7700 900123", "(212) 555-0100", "2125550100", "+91-98765-43210"],
)
def test_phone_formats(text: str) -> None:
    assert redact(f"to {text} now") == "to [phone] now"


@pytest.mark.parametrize(
    "text",
    [
        "job 1234567",
        "at 2026-11-21 10:00:00",
        "2026-11-21T10:00:00.123456+00:00",
        "evt 0b9e2c5e-1234-4f4e-9a3b-123456789012",
    ],
)
def test_ids_and_timestamps_survive(text: str) -> None:
    assert redact(text) == text


def test_configure_logging_installs_one_redacting_handler(capsys) -> None:
    configure_logging("INFO", json_lines=True)
    configure_logging("INFO", json_lines=True)
    logging.getLogger("outreach.test").info("to %s", "someone@example.com")
    err = capsys.readouterr().err.strip().splitlines()
    assert len([line for line in err if "outreach.test" in line]) == 1
    assert "someone@example.com" not in err[-1]
