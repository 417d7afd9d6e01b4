"""The checked-in contract documents match the models they are generated from."""

from __future__ import annotations

import shutil
from pathlib import Path

from outreach.contract.documents import (
    EVENT_CONTRACT_PATH,
    REGENERATE_COMMAND,
    SCHEMAS_DIR,
    stale_documents,
    write_documents,
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_checked_in_contract_matches_the_models() -> None:
    stale = stale_documents(ROOT)
    assert not stale, (
        f"out of date with the models in src/outreach/events.py: {', '.join(map(str, stale))}\n"
        f"run `{REGENERATE_COMMAND}` at the repository root and commit the result"
    )


def test_a_changed_missing_or_orphaned_document_is_caught(tmp_path: Path) -> None:
    (tmp_path / EVENT_CONTRACT_PATH).parent.mkdir(parents=True)
    shutil.copy(ROOT / EVENT_CONTRACT_PATH, tmp_path / EVENT_CONTRACT_PATH)
    write_documents(tmp_path)
    assert stale_documents(tmp_path) == []

    booked = tmp_path / SCHEMAS_DIR / "core.events" / "appointment.booked.json"
    booked.write_text(booked.read_text().replace('"x-phi": true', '"x-phi": false'))
    (tmp_path / SCHEMAS_DIR / "outreach.status.json").unlink()
    orphan = tmp_path / SCHEMAS_DIR / "core.events" / "appointment.renamed.json"
    orphan.write_text("{}")
    contract = tmp_path / EVENT_CONTRACT_PATH
    contract.write_text(contract.read_text().replace("| `reason` |", "| `motive` |", 1))

    assert {path.name for path in stale_documents(tmp_path)} == {
        "appointment.booked.json",
        "outreach.status.json",
        "appointment.renamed.json",
        "event-contract.md",
    }
    write_documents(tmp_path)
    assert stale_documents(tmp_path) == [] and not orphan.exists()
