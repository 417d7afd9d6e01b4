"""The templates every installation starts with: each purpose x channel, in four languages.

They live as JSON under ``seed/`` (one file per language) so translators edit data, not code.
All are global (no organisation), version 1; tests hold every one to the PHI policy. The standard
ones are variant A; the shipped campaigns' named families may have several variants.
"""

from __future__ import annotations

import json
from importlib import resources

from outreach.domain import Channel, Purpose
from outreach.templating.records import TemplateRecord

SEED_LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "pt")


def seed_template_id(
    language: str,
    purpose: Purpose,
    channel: Channel,
    family: str | None = None,
    variant: str = "A",
) -> str:
    """Stable ids, so re-seeding finds the rows it created before."""
    base = f"seed-{language}-{purpose}-{channel}"
    return f"{base}-{family}-{variant}" if family else base


def load_seed_templates() -> list[TemplateRecord]:
    """Every shipped seed template, read from the package's own data files: the standard ones
    (``templates``) and the named families of the shipped campaigns (``campaign_templates``,
    e.g. the dental recall's ``dental_recall``, variants A and B)."""
    records: list[TemplateRecord] = []
    folder = resources.files("outreach.templating") / "seed"
    for language in SEED_LANGUAGES:
        document = json.loads((folder / f"{language}.json").read_text(encoding="utf-8"))
        entries = document["templates"] + document.get("campaign_templates", [])
        for entry in entries:
            purpose, channel = Purpose(entry["purpose"]), Channel(entry["channel"])
            family, variant = entry.get("family"), entry.get("variant", "A")
            records.append(
                TemplateRecord(
                    id=seed_template_id(language, purpose, channel, family, variant),
                    purpose=purpose,
                    channel=channel,
                    language=document["language"],
                    version=int(document["version"]),
                    variant=variant,
                    subject=entry.get("subject"),
                    body=entry["body"],
                    declared_variables=tuple(entry["declared_variables"]),
                    whatsapp_template_name=entry.get("whatsapp_template_name"),
                    family=family,
                )
            )
    return records
