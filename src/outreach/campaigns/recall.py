"""The shipped example: the dental recall, a recurring campaign on a segment of patients due for
their check-up (six months since the last attended visit, nothing booked ahead).

The segment and the campaign are JSON files under ``examples/``, as a marketer would post them
(``/api/v1/segments``, ``/api/v1/campaigns``) or pass them to the CLI; the templates they name
(families ``dental_recall``, variants A and B, and ``dental_recall_reminder``) are seeded with
the others.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def _example(name: str) -> dict[str, Any]:
    folder = resources.files("outreach.campaigns") / "examples"
    document: dict[str, Any] = json.loads((folder / name).read_text(encoding="utf-8"))
    return document


def dental_recall_segment() -> dict[str, Any]:
    """The segment: ``name``, ``description`` and its rule (``definition``)."""
    return _example("dental_recall.segment.json")


def dental_recall_campaign(org_id: str, segment_id: int, **overrides: Any) -> dict[str, Any]:
    """The campaign definition for ``org_id`` on the stored recall segment ``segment_id``."""
    document = _example("dental_recall.campaign.json")
    return {**document, "org_id": org_id, "segment_id": segment_id, **overrides}
