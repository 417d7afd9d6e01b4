"""The repository's docs stand alone and keep up with the code they describe."""

from __future__ import annotations

import re
from pathlib import Path

from outreach.config import Settings

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_every_setting_is_documented() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [
        f"OUTREACH_{name.upper()}"
        for name in Settings.model_fields
        if f"`OUTREACH_{name.upper()}`" not in page
    ]
    assert missing == []


def test_no_link_leaves_the_repository() -> None:
    outside = [
        f"{path.relative_to(ROOT)}: {target}"
        for path in DOC_FILES
        for target in re.findall(r"\]\(([^)]+)\)", path.read_text(encoding="utf-8"))
        if not target.startswith(("http://", "https://", "#", "mailto:"))
        and not (path.parent / target.split("#")[0]).resolve().is_relative_to(ROOT)
    ]
    assert outside == []
    assert not any("../shared" in path.read_text(encoding="utf-8") for path in DOC_FILES)


def test_relative_links_resolve() -> None:
    broken = [
        f"{path.relative_to(ROOT)}: {target}"
        for path in DOC_FILES
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8"))
        if not target.startswith(("http://", "https://", "mailto:"))
        and not (path.parent / target).exists()
    ]
    assert broken == []
