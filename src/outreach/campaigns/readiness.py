"""Whether a campaign's templates let it run: checked when it is activated, and per step when
its jobs are planned.

Activation is refused, with the reason and where, when a template of a step's family breaks the
PHI policy (or any template rule), when a marketing e-mail template has no unsubscribe link in
its body, or when a step cannot find a template: a fixed channel the family has none for, or a
``best`` step whose family covers no channel at all. A template is "found" the way the sender
finds one for a patient with no language of their own: the organisation's language, then
English, then the variant A every family must have.

Planning reads the same templates again (they may change after activation): a step's channels
are those its family covers with templates that pass the policy; a channel with a refused
template is left out, so its patients get the next allowed channel or a ``phi_policy``
suppression, never that template.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from outreach.campaigns.definition import CampaignDefinition
from outreach.domain import Channel
from outreach.templating import (
    DEFAULT_PHI_POLICY,
    TemplateNotFound,
    TemplateRecord,
    find_violations,
    select_template,
)
from outreach.templating.language_fallback import DEFAULT_VARIANT

UNSUBSCRIBE_VARIABLE = "unsubscribe_link"


@dataclass(frozen=True, slots=True)
class ReadinessProblem:
    """Why a campaign may not be activated: a machine-readable code, the step it concerns (a
    JSON pointer), the template if one is at fault, and a sentence."""

    code: str
    pointer: str
    message: str
    template_id: str | None = None


@dataclass(frozen=True, slots=True)
class Readiness:
    problems: tuple[ReadinessProblem, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def phi(self) -> bool:
        return any(p.code == "phi_policy_violation" for p in self.problems)


@dataclass(frozen=True, slots=True)
class StepChannels:
    """The channels a step's jobs may use, and those left out because a template breaks the
    policy."""

    usable: frozenset[Channel]
    refused: frozenset[Channel]


def _of_family(templates: Sequence[TemplateRecord], family: str) -> list[TemplateRecord]:
    return [t for t in templates if t.family == family]


def step_channels(
    definition: CampaignDefinition, step_index: int, templates: Sequence[TemplateRecord]
) -> StepChannels:
    step = definition.steps[step_index]
    covered: set[Channel] = set()
    refused: set[Channel] = set()
    for record in _of_family(templates, step.template_family):
        if record.purpose != definition.purpose:
            continue
        if find_violations(record, DEFAULT_PHI_POLICY):
            refused.add(record.channel)
        else:
            covered.add(record.channel)
    usable = covered - refused
    if step.channel is not None:
        usable &= {step.channel}
    return StepChannels(frozenset(usable), frozenset(refused))


def _found(
    records: Sequence[TemplateRecord],
    definition: CampaignDefinition,
    channel: Channel,
    family: str,
    org_language: str | None,
) -> bool:
    try:
        select_template(
            records,
            definition.purpose,
            channel,
            None,
            definition.org_id,
            None,
            org_language,
            family=family,
            variant=DEFAULT_VARIANT,
        )
    except TemplateNotFound:
        return False
    return True


def readiness(
    definition: CampaignDefinition,
    templates: Sequence[TemplateRecord],
    org_language: str | None,
) -> Readiness:
    """What stands in the way of activating ``definition`` with these templates (those of its
    families the organisation may use), and what the marketer should know anyway."""
    problems: list[ReadinessProblem] = []
    warnings: list[str] = []
    checked: set[str] = set()
    for index, step in enumerate(definition.steps):
        pointer = f"/steps/{index}/template_family"
        family = step.template_family
        records = [t for t in _of_family(templates, family) if t.purpose == definition.purpose]
        if family not in checked:
            checked.add(family)
            for record in records:
                for violation in find_violations(record, DEFAULT_PHI_POLICY):
                    problems.append(
                        ReadinessProblem(
                            "phi_policy_violation" if violation.is_phi else "template_policy",
                            pointer,
                            f"template {record.id} ({record.channel}, {record.language}, variant "
                            f"{record.variant}): {violation}",
                            record.id,
                        )
                    )
                if (
                    definition.purpose.is_marketing
                    and record.channel is Channel.EMAIL
                    and UNSUBSCRIBE_VARIABLE not in record.declared_variables
                ):
                    problems.append(
                        ReadinessProblem(
                            "no_unsubscribe_link",
                            pointer,
                            f"template {record.id} ({record.language}, variant {record.variant}) "
                            "is a marketing e-mail without {{ unsubscribe_link }} in its body",
                            record.id,
                        )
                    )
        channels = [step.channel] if step.channel is not None else list(Channel)
        found = [c for c in channels if _found(records, definition, c, family, org_language)]
        if step.channel is not None and not found:
            problems.append(
                ReadinessProblem(
                    "missing_template",
                    pointer,
                    f"family {family!r} has no active {step.channel} template of variant "
                    f"{DEFAULT_VARIANT} in the organisation's language or English",
                )
            )
        elif not found:
            problems.append(
                ReadinessProblem(
                    "missing_template",
                    pointer,
                    f"family {family!r} has no active template of variant {DEFAULT_VARIANT} "
                    "in the organisation's language or English, on any channel",
                )
            )
        variants = {t.variant for t in records}
        for name, weight in sorted(definition.variants.items()):
            if weight > 0 and name != DEFAULT_VARIANT and name not in variants:
                warnings.append(
                    f"step {index + 1}: family {family!r} has no template of variant {name}; "
                    f"its patients get variant {DEFAULT_VARIANT}'s"
                )
    return Readiness(tuple(problems), tuple(warnings))
