from __future__ import annotations

import pytest

from outreach.replies import parse_reply


@pytest.fixture(scope="session", autouse=True)
def trained_models() -> None:
    """Train the packaged classifier and language detector once, before any timed test."""
    parse_reply("warm up the models")
