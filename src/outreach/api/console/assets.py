"""The console's shipped files (CSS, JavaScript), read once from the package."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources


@cache
def static_files() -> dict[str, bytes]:
    """Every file of the package's ``static`` folder, by name."""
    folder = resources.files("outreach.api.console") / "static"
    return {item.name: item.read_bytes() for item in folder.iterdir() if item.is_file()}


@cache
def asset_version() -> str:
    """Changes whenever a shipped file does: page links carry it, so caches never go stale."""
    digest = hashlib.sha256()
    for name, content in sorted(static_files().items()):
        digest.update(name.encode() + content)
    return digest.hexdigest()[:12]
