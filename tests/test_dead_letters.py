"""Dead letters carry no personal data: PHI-free error text, originals sealed with a key."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import OperationalError

from outreach.channels.base import PermanentSendError
from outreach.dead_letters import (
    ERROR_MAX_CHARS,
    DeadLetterSealer,
    dead_letter,
    describe_error,
    local_dead_letter_key,
)
from outreach.events import DlqEntry, MalformedEvent

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
PHI = ("Ana Pereira", "+14155550100", "ana@example.com", "HIV")


class Patient(BaseModel):
    age: int


def validation_error() -> ValidationError:
    try:
        Patient.model_validate({"age": "Ana Pereira +14155550100"})
    except ValidationError as error:
        return error
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (MalformedEvent("data.starts_at: Input should be a valid datetime"), "MalformedEvent: "),
        (validation_error(), "ValidationError: age: Input should be a valid integer"),
        (PermanentSendError("21610", "to +14155550100 is unsubscribed"), "provider code 21610"),
        (OperationalError("UPDATE x SET name='Ana Pereira'", {}, None), "OperationalError"),
        (KeyError("ana@example.com"), "KeyError"),
        (RuntimeError("HIV test for Ana Pereira"), "RuntimeError"),
    ],
)
def test_error_text_keeps_only_what_we_know_is_phi_free(error: Exception, expected: str) -> None:
    text = describe_error(error)
    assert expected in text
    assert not any(value in text for value in PHI)


def test_error_text_is_bounded() -> None:
    assert len(describe_error(MalformedEvent("x" * 5000))) == ERROR_MAX_CHARS


def test_a_sealed_entry_shows_no_phi_and_opens_with_the_key() -> None:
    original = json.dumps({"patient_id": "p1", "data": {"first_name": PHI[0], "phone": PHI[1]}})
    letter = dead_letter(
        source_topic="core.events",
        stage="orchestrator.parse",
        error=MalformedEvent("data.phone: too long"),
        failed_at=NOW,
        original=original,
        key=b"p1",
    )
    sealer = DeadLetterSealer(DeadLetterSealer.new_key())
    entry = sealer.seal(letter)
    wire = entry.model_dump_json()
    assert not any(value in wire for value in PHI)
    assert entry.key == "p1" and entry.stage == "orchestrator.parse"
    assert sealer.open(entry) == original.encode()
    with pytest.raises(ValueError, match="another key"):
        DeadLetterSealer(DeadLetterSealer.new_key()).open(entry)
    assert PHI[0] not in repr(letter)
    assert entry.org_id is None  # a malformed event's organisation is not known for certain


def test_an_entry_carries_its_organisation_when_the_stage_knows_it() -> None:
    letter = dead_letter(
        source_topic="outreach.send.sms",
        stage="channel.send",
        kind="send",
        error="PermanentSendError: provider code 21211",
        failed_at=NOW,
        original=b'{"job_id": 1, "attempt": 3}',
        key="p1",
        org_id="org-1",
    )
    entry = DeadLetterSealer(DeadLetterSealer.new_key()).seal(letter)
    assert entry.org_id == "org-1"
    assert DlqEntry.model_validate_json(entry.model_dump_json()).org_id == "org-1"


def test_the_local_key_is_made_once_and_shared(tmp_path: Path) -> None:
    first = local_dead_letter_key(tmp_path)
    assert local_dead_letter_key(tmp_path) == first
    assert (tmp_path / "dead-letter.key").stat().st_mode & 0o777 == 0o600
    DeadLetterSealer(first)  # a valid key
