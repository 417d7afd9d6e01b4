"""A/B variants: which variant a patient gets, decided by a hash so it never flips between sends.

The same patient always lands in the same bucket of a family (so analytics compare stable
groups), different families split independently, and no assignment table is needed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from outreach.templating.records import TemplateRecord


def template_family(record: TemplateRecord) -> str:
    """What variants of one template share: scope, purpose and channel (not language or version).

    Language is left out so a patient who switches language keeps their variant.
    """
    return f"{record.org_id or '*'}/{record.provider_id or '*'}/{record.purpose}/{record.channel}"


def assign_variant(family: str, patient_id: str, weights: Mapping[str, int]) -> str:
    """The variant of ``patient_id`` in ``family``, drawn in proportion to integer ``weights``.

    A weight of 0 switches a variant off. Changing the weights reshuffles patients: treat it as
    a new experiment.
    """
    if not weights:
        raise ValueError("no variants to choose from")
    if any(weight < 0 for weight in weights.values()):
        raise ValueError("variant weights may not be negative")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("variant weights add up to zero")
    digest = hashlib.sha256(f"{family}\x1f{patient_id}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % total
    for name in sorted(weights):
        bucket -= weights[name]
        if bucket < 0:
            return name
    raise AssertionError("unreachable: buckets cover the total weight")
