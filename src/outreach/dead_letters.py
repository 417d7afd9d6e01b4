"""Dead letters: the one way a message that could not be handled becomes an ``outreach.dlq`` entry.

Two rules, applied here and nowhere else:
- **The error text is PHI-free.** An error's own text is kept only when we wrote it and know it
  names no personal data (``domain.PhiFreeError``: malformed-event reasons, templating refusals,
  provider error codes) or it is a validation error described by field paths; any other error
  (a database error quotes its bound parameters, an SDK error may quote the recipient) is
  reduced to its type name. One length limit for every entry.
- **The original is sealed.** Services build a ``DeadLetter`` with the original bytes; the edge
  that publishes it seals them (Fernet: AES with an HMAC, keyed by the dead-letter key), so the
  topic can be read by anyone who operates Kafka without exposing a patient, and an operator with
  the key can still read and replay it.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from pydantic import ValidationError

from outreach.domain import PhiFreeError
from outreach.events import DlqEntry, describe_validation_error

ERROR_MAX_CHARS = 500
# A dead letter keeps the whole original up to this size (Kafka's default message limit is 1 MB).
ORIGINAL_MAX_BYTES = 512 * 1024


def describe_error(error: BaseException | str) -> str:
    """A PHI-free, bounded description of ``error`` (a string is taken as written by us)."""
    if isinstance(error, str):
        text = error
    elif isinstance(error, ValidationError):
        text = f"{type(error).__name__}: {describe_validation_error(error)}"
    elif isinstance(error, PhiFreeError):
        text = f"{type(error).__name__}: {error.phi_free_text()}"
    else:
        text = type(error).__name__
    return text[:ERROR_MAX_CHARS]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that could not be handled, before it is sealed for the topic."""

    source_topic: str
    stage: str
    kind: str  # "malformed", "processing" or "send"
    error: str  # already PHI-free (built by ``dead_letter``)
    failed_at: datetime
    original: bytes
    key: str | None = None
    org_id: str | None = None  # only when the stage knows it for certain

    def __repr__(self) -> str:  # the original may hold anything
        return (
            f"DeadLetter(source_topic={self.source_topic!r}, stage={self.stage!r}, "
            f"kind={self.kind!r}, error={self.error!r}, original=<{len(self.original)} bytes>)"
        )


def dead_letter(
    *,
    source_topic: str,
    stage: str,
    error: BaseException | str,
    failed_at: datetime,
    original: bytes | str,
    key: bytes | str | None = None,
    kind: str = "malformed",
    org_id: str | None = None,
) -> DeadLetter:
    """The one builder of dead letters: PHI-free error text, bounded original, text key."""
    raw = original.encode("utf-8") if isinstance(original, str) else original
    if isinstance(key, bytes):
        key = key.decode("utf-8", "replace")
    return DeadLetter(
        source_topic=source_topic,
        stage=stage,
        kind=kind,
        error=describe_error(error),
        failed_at=failed_at,
        original=raw[:ORIGINAL_MAX_BYTES],
        key=key or None,
        org_id=org_id or None,
    )


class DeadLetterSealer:
    """Seals originals into ``DlqEntry`` values and opens them again (operators, replay)."""

    def __init__(self, key: bytes | str) -> None:
        self._fernet = Fernet(key)

    @staticmethod
    def new_key() -> str:
        return Fernet.generate_key().decode("ascii")

    def seal(self, letter: DeadLetter) -> DlqEntry:
        return DlqEntry(
            entry_id=uuid.uuid4().hex,
            source_topic=letter.source_topic,
            stage=letter.stage,
            kind=letter.kind,  # type: ignore[arg-type]  # one of DlqEntry's kinds by construction
            error=letter.error,
            failed_at=letter.failed_at,
            key=letter.key,
            org_id=letter.org_id,
            original_sealed=self._fernet.encrypt(letter.original).decode("ascii"),
        )

    def open(self, entry: DlqEntry) -> bytes:
        """The original message; raises ``ValueError`` if it was sealed with another key."""
        try:
            return self._fernet.decrypt(entry.original_sealed.encode("ascii"))
        except InvalidToken:
            raise ValueError("dead letter sealed with another key") from None


def local_dead_letter_key(var_dir: Path) -> str:
    """The development key: kept in ``var_dir`` so every local process seals alike.

    Production configures ``OUTREACH_DEAD_LETTER_KEY`` and refuses to start without it.
    """
    path = var_dir / "dead-letter.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        draft.write_text(DeadLetterSealer.new_key(), encoding="ascii")
        draft.chmod(0o600)
        try:  # a hard link appears whole or not at all: racing processes agree on one key
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text(encoding="ascii").strip()
