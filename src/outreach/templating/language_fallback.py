"""Which active template a message uses: scope overrides, language fallback, then the variant.

Order of preference, and why: the patient's language matters more than whose wording it is, so
languages are tried in tiers: (1) the patient's (``es-MX``, then ``es``), (2) the organisation's
default, (3) English. Within a tier a provider override beats an organisation override beats the
global template, and within a scope the exact regional tag beats the bare language. Another
organisation's templates are never candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from outreach.domain import Channel, Purpose
from outreach.templating.errors import TemplateNotFound
from outreach.templating.records import TemplateRecord
from outreach.templating.variants import assign_variant, template_family

LAST_RESORT_LANGUAGE = "en"
DEFAULT_VARIANT = "A"


def _normalise(tag: str) -> str:
    return tag.replace("_", "-").strip().lower()


def language_tiers(
    language: str | None, org_default_language: str | None
) -> tuple[tuple[str, ...], ...]:
    """Normalised language tags in tiers: the patient's, the organisation's default, English."""
    seen: set[str] = set()
    tiers: list[tuple[str, ...]] = []
    for tag in (language, org_default_language, LAST_RESORT_LANGUAGE):
        if not tag:
            continue
        full = _normalise(tag)
        tier = tuple(t for t in dict.fromkeys([full, full.split("-")[0]]) if t not in seen)
        seen.update(tier)
        if tier:
            tiers.append(tier)
    return tuple(tiers)


def _scope_rank(record: TemplateRecord, org_id: str | None, provider_id: str | None) -> int | None:
    """0 provider override, 1 organisation override, 2 global; None: not this patient's scope."""
    if record.provider_id is not None:
        if (
            provider_id is not None
            and record.provider_id == provider_id
            and record.org_id == org_id
        ):
            return 0
        return None
    if record.org_id is not None:
        return 1 if org_id is not None and record.org_id == org_id else None
    return 2


def _pick_variant(
    records: list[TemplateRecord],
    patient_id: str | None,
    variant_weights: Mapping[str, int] | None,
    variant: str | None,
) -> TemplateRecord:
    latest: dict[str, TemplateRecord] = {}
    for record in records:  # the highest active version of each variant
        current = latest.get(record.variant)
        if current is None or record.version > current.version:
            latest[record.variant] = record
    if variant is not None:
        # A campaign assigned the variant already; a family without it uses its default.
        return latest.get(variant) or latest.get(DEFAULT_VARIANT) or latest[min(latest)]
    if len(latest) == 1 or patient_id is None:
        return latest[min(latest)]
    if variant_weights is None:
        weights = {variant: 1 for variant in latest}
    else:
        weights = {variant: variant_weights.get(variant, 0) for variant in latest}
    family = template_family(next(iter(latest.values())))
    return latest[assign_variant(family, patient_id, weights)]


def select_template(
    candidates: Iterable[TemplateRecord],
    purpose: Purpose,
    channel: Channel,
    language: str | None,
    org_id: str | None,
    provider_id: str | None,
    org_default_language: str | None,
    *,
    patient_id: str | None = None,
    variant_weights: Mapping[str, int] | None = None,
    family: str | None = None,
    variant: str | None = None,
) -> TemplateRecord:
    """The active template for this message, or ``TemplateNotFound``.

    Only templates of ``family`` are candidates (None: the purpose's standard templates). A
    given ``variant`` (a campaign's assignment) is used when the family has it, else the family's
    variant A. Otherwise, with several active variants, ``patient_id`` picks one
    deterministically in proportion to ``variant_weights`` (equal weights when None); without a
    patient the first variant by name.
    """
    buckets: dict[tuple[int, str], list[TemplateRecord]] = {}
    for record in candidates:
        if (
            not record.is_active
            or record.purpose != purpose
            or record.channel != channel
            or record.family != family
        ):
            continue
        rank = _scope_rank(record, org_id, provider_id)
        if rank is not None:
            buckets.setdefault((rank, _normalise(record.language)), []).append(record)
    for tier in language_tiers(language, org_default_language):
        for rank in (0, 1, 2):
            for tag in tier:
                found = buckets.get((rank, tag))
                if found:
                    return _pick_variant(found, patient_id, variant_weights, variant)
    family_text = f" family {family!r}" if family else ""
    raise TemplateNotFound(
        f"no active {channel} template for {purpose}{family_text} "
        f"(language {language!r}, org {org_id!r})"
    )
