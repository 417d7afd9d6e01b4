"""The templates every installation starts with: each purpose x channel, in four languages.

They live as JSON under ``seed/`` (one file per language) so translators edit data, not code.
All are global (no organisation), version 1, variant A; tests hold every one to the PHI policy.
"""

from __future__ import annotations

import json
from importlib import resources

from outreach.domain import Channel, Purpose
from outreach.templating.records import TemplateRecord

SEED_LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "pt")


def seed_template_id(language: str, purpose: Purpose, channel: Channel) -> str:
    """Stable ids, so re-seeding finds the rows it created before."""
    return f"seed-{language}-{purpose}-{channel}"


def load_seed_templates() -> list[TemplateRecord]:
    """Every shipped seed template, read from the package's own data files."""
    records: list[TemplateRecord] = []
    folder = resources.files("outreach.templating") / "seed"
    for language in SEED_LANGUAGES:
        document = json.loads((folder / f"{language}.json").read_text(encoding="utf-8"))
        for entry in document["templates"]:
            purpose, channel = Purpose(entry["purpose"]), Channel(entry["channel"])
            records.append(
                TemplateRecord(
                    id=seed_template_id(language, purpose, channel),
                    purpose=purpose,
                    channel=channel,
                    language=document["language"],
                    version=int(document["version"]),
                    subject=entry.get("subject"),
                    body=entry["body"],
                    declared_variables=tuple(entry["declared_variables"]),
                    whatsapp_template_name=entry.get("whatsapp_template_name"),
                )
            )
    return records
