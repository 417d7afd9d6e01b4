"""Save-time judgement of a template against the PHI policy: the list of everything wrong with it.

Run when staff save a version (the API answers with the violations) and again by the renderer at
send time, for templates that reached the database some other way.
"""

from __future__ import annotations

from functools import lru_cache

from outreach.domain import Channel
from outreach.templating.analysis import analyse_source
from outreach.templating.errors import (
    PhiPolicyViolation,
    TemplatePolicyError,
    Violation,
    ViolationCode,
)
from outreach.templating.phi_policy import (
    DEFAULT_PHI_POLICY,
    PhiPolicy,
    Sensitivity,
    Surface,
    surfaces_of,
)
from outreach.templating.records import TemplateRecord

_LABELS = {Sensitivity.PHI: "PHI", Sensitivity.MINIMUM_NECESSARY: "minimum-necessary"}

# Far beyond any real message; keeps parsing and caching bounded.
MAX_SOURCE_CHARS = 20_000


def _surface_violations(
    channel: Channel,
    surface: Surface,
    source: str,
    declared: frozenset[str],
    policy: PhiPolicy,
) -> list[Violation]:
    found: list[Violation] = []

    def add(code: ViolationCode, subject: str, line: int | None, message: str) -> None:
        found.append(Violation(code, subject, line, channel, surface, message))

    if len(source) > MAX_SOURCE_CHARS:
        add(ViolationCode.STRUCTURE, "length", None, f"longer than {MAX_SOURCE_CHARS} characters")
        return found
    analysis = analyse_source(source)
    for finding in analysis.findings:
        add(finding.code, finding.subject, finding.line, finding.message)
    for read in dict.fromkeys(analysis.reads):  # one report per name and line
        spec = policy.spec(read.name)
        if spec is None:
            add(
                ViolationCode.UNKNOWN_VARIABLE,
                read.name,
                read.line,
                f"{read.name!r} is not a known, classified variable",
            )
            continue
        if not policy.allows(channel, surface, read.name):
            add(
                ViolationCode.PHI_NOT_ALLOWED,
                read.name,
                read.line,
                f"{read.name!r} is {_LABELS[spec.sensitivity]} and may not appear in "
                f"the {channel} {surface}",
            )
        if read.name not in declared:
            add(
                ViolationCode.UNDECLARED_VARIABLE,
                read.name,
                read.line,
                f"{read.name!r} is used but not declared",
            )
    return found


def _declaration_violations(record: TemplateRecord, policy: PhiPolicy) -> list[Violation]:
    found: list[Violation] = []
    channel = record.channel

    def add(code: ViolationCode, subject: str, message: str) -> None:
        found.append(Violation(code, subject, None, channel, Surface.BODY, message))

    if len(set(record.declared_variables)) != len(record.declared_variables):
        add(ViolationCode.STRUCTURE, "declared_variables", "a variable is declared twice")
    for name in record.declared_variables:
        spec = policy.spec(name)
        if spec is None:
            add(ViolationCode.UNKNOWN_VARIABLE, name, f"{name!r} is not a classified variable")
        elif not policy.allows_anywhere(channel, name):
            add(
                ViolationCode.PHI_NOT_ALLOWED,
                name,
                f"{name!r} is {_LABELS[spec.sensitivity]} and may not be declared "
                f"by a {channel} template",
            )
    if channel is Channel.EMAIL and not (record.subject or "").strip():
        found.append(
            Violation(
                ViolationCode.STRUCTURE,
                "subject",
                None,
                channel,
                Surface.SUBJECT,
                "an e-mail template needs a subject",
            )
        )
    if channel is not Channel.EMAIL and record.subject is not None:
        add(ViolationCode.STRUCTURE, "subject", f"a {channel} template has no subject")
    if not record.body.strip():
        add(ViolationCode.STRUCTURE, "body", "the body is empty")
    return found


def _whatsapp_violations(record: TemplateRecord) -> list[Violation]:
    """Meta's shape rules for approved templates, checked before anyone submits one."""
    found: list[Violation] = []

    def add(subject: str, message: str) -> None:
        found.append(
            Violation(ViolationCode.STRUCTURE, subject, None, record.channel, Surface.BODY, message)
        )

    # Parameters are positional: the declaration order must be the body's order.
    used = analyse_source(record.body).names
    if used != record.declared_variables:
        add(
            "declared_variables",
            "a WhatsApp template declares exactly the variables its body uses, in order of first "
            "use (they map to {{1}}..{{n}} of the approved template); expected " + ", ".join(used),
        )
    body = record.body.strip()
    if body.startswith("{") or body.endswith("}"):
        add("body", "Meta refuses templates that begin or end with a parameter")
    return found


@lru_cache(maxsize=4096)
def _cached_violations(
    policy: PhiPolicy,
    record: TemplateRecord,
) -> tuple[Violation, ...]:
    found = _declaration_violations(record, policy)
    declared = frozenset(record.declared_variables)
    sources = {Surface.SUBJECT: record.subject or "", Surface.BODY: record.body}
    for surface in surfaces_of(record.channel):
        found += _surface_violations(record.channel, surface, sources[surface], declared, policy)
    if record.channel is Channel.WHATSAPP and not found:
        found += _whatsapp_violations(record)
    return tuple(found)


def find_violations(
    record: TemplateRecord, policy: PhiPolicy = DEFAULT_PHI_POLICY
) -> tuple[Violation, ...]:
    """Every reason ``record`` may not be saved or rendered; empty when it is fine."""
    return _cached_violations(policy, record)


def raise_for_violations(violations: tuple[Violation, ...]) -> None:
    """Raise ``PhiPolicyViolation`` if any violation concerns PHI, else ``TemplatePolicyError``."""
    if not violations:
        return
    if any(v.is_phi for v in violations):
        raise PhiPolicyViolation(violations)
    raise TemplatePolicyError(violations)


def validate_template(record: TemplateRecord, policy: PhiPolicy = DEFAULT_PHI_POLICY) -> None:
    """Refuse ``record`` (``TemplatePolicyError``, or ``PhiPolicyViolation`` for PHI) or return."""
    raise_for_violations(find_violations(record, policy))
