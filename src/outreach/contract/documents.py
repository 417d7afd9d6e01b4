"""The checked-in contract documents: rendered from the models, written, and checked for drift.

Under the repository root: ``docs/contract/asyncapi.json``, the JSON Schemas under
``docs/contract/schemas/`` (``<topic>.json`` for any message of a topic, ``<topic>/<type>.json``
for one type) and the generated regions of ``docs/event-contract.md``.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from outreach import topics
from outreach.contract.asyncapi import asyncapi_document
from outreach.contract.catalogue import SEND_CHANNEL_PARAMETER, TOPICS, message_type
from outreach.contract.field_tables import generated_regions, splice
from outreach.contract.json_schemas import core_events_schema, message_schema, outcomes_schema

REGENERATE_COMMAND = "outreach schema docs"
ASYNCAPI_PATH = PurePosixPath("docs/contract/asyncapi.json")
SCHEMAS_DIR = PurePosixPath("docs/contract/schemas")
EVENT_CONTRACT_PATH = PurePosixPath("docs/event-contract.md")


def as_json(document: dict[str, Any]) -> str:
    """How every contract document is written: two-space indents, UTF-8, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def schema_documents() -> dict[PurePosixPath, dict[str, Any]]:
    """Every JSON Schema file, by path under the repository root."""
    documents = {
        SCHEMAS_DIR / f"{topics.CORE_EVENTS}.json": core_events_schema(),
        SCHEMAS_DIR / f"{topics.OUTCOMES}.json": outcomes_schema(),
    }
    for topic in TOPICS:
        for model in topic.messages:
            kind = message_type(model)
            # outreach.send.{channel} -> outreach.send: one schema serves every channel.
            stem = topic.address.replace(f".{{{SEND_CHANNEL_PARAMETER}}}", "")
            path = SCHEMAS_DIR / stem / f"{kind}.json" if kind else SCHEMAS_DIR / f"{stem}.json"
            documents[path] = message_schema(model, topic.schema_mode)
    return documents


def render_documents(root: Path) -> dict[PurePosixPath, str]:
    """The text each contract document should have; the event contract's prose is read from
    ``root`` and kept."""
    rendered = {path: as_json(schema) for path, schema in schema_documents().items()}
    rendered[ASYNCAPI_PATH] = as_json(asyncapi_document())
    prose = (root / EVENT_CONTRACT_PATH).read_text(encoding="utf-8")
    rendered[EVENT_CONTRACT_PATH] = splice(prose, generated_regions())
    return rendered


def stale_documents(root: Path) -> list[PurePosixPath]:
    """The documents under ``root`` that differ from the models, are missing, or are schema
    files no model produces any more."""
    rendered = render_documents(root)
    stale = [
        path
        for path, text in rendered.items()
        if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != text
    ]
    present = {
        PurePosixPath(path.relative_to(root).as_posix())
        for path in (root / SCHEMAS_DIR).rglob("*.json")
    }
    return sorted(stale + sorted(present - rendered.keys()))


def write_documents(root: Path) -> list[PurePosixPath]:
    """Bring the documents under ``root`` in line with the models; returns what changed."""
    changed = stale_documents(root)
    rendered = render_documents(root)
    for path in changed:
        target = root / path
        if path in rendered:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(rendered[path], encoding="utf-8")
        else:
            target.unlink()
    return changed
