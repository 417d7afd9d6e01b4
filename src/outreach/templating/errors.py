"""The errors templating raises, as types: callers decide by type, never by parsing a message.

Messages name variables, constructs, lines and channels, never a value: a value may be PHI and
exception text ends up in logs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from outreach.domain import Channel, PhiFreeError, Purpose
from outreach.templating.phi_policy import Surface


class ViolationCode(enum.StrEnum):
    PHI_NOT_ALLOWED = "phi_not_allowed"  # a PHI variable on a surface whose policy forbids it
    UNKNOWN_VARIABLE = "unknown_variable"  # not in the registry: unclassified, so refused
    UNDECLARED_VARIABLE = "undeclared_variable"  # read by the template but not declared
    FORBIDDEN_CONSTRUCT = "forbidden_construct"  # a node type outside the whitelist
    FORBIDDEN_FILTER = "forbidden_filter"  # a filter or test outside the whitelist
    BAD_ARGUMENT = "bad_argument"  # a filter argument that is not a plain literal, or unknown style
    SYNTAX_ERROR = "syntax_error"
    STRUCTURE = "structure"  # subject/body/declaration shape does not fit the channel


@dataclass(frozen=True, slots=True)
class Violation:
    """One reason a template is refused: what, where (line, channel, surface) and why."""

    code: ViolationCode
    subject: str  # the variable name or the construct, e.g. "diagnosis", "{% set %}"
    line: int | None  # 1-based line in the surface's source; None for declaration problems
    channel: Channel
    surface: Surface
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "template"
        return f"{self.channel}/{self.surface} {where}: {self.message}"

    @property
    def is_phi(self) -> bool:
        return self.code is ViolationCode.PHI_NOT_ALLOWED


class TemplatingError(PhiFreeError):
    """Base of every error this package raises."""


class TemplatePolicyError(TemplatingError):
    """A template breaks the policy (syntax, constructs, declarations, PHI); nothing renders."""

    def __init__(self, violations: tuple[Violation, ...] | list[Violation]):
        self.violations: tuple[Violation, ...] = tuple(violations)
        super().__init__("template refused: " + "; ".join(str(v) for v in self.violations))


class PhiPolicyViolation(TemplatePolicyError):
    """At least one violation would put PHI on a surface that may not carry it."""


class TemplateRenderError(TemplatingError):
    """A valid template could not be rendered with the context it was given."""


class MissingTemplateVariable(TemplateRenderError):
    def __init__(self, names: tuple[str, ...]):
        self.names = names
        super().__init__("missing from the render context: " + ", ".join(names))


class InvalidContextValue(TemplateRenderError):
    def __init__(self, name: str, reason: str):
        self.name = name
        super().__init__(f"variable {name!r}: {reason}")


class SmsSegmentLimitExceeded(TemplateRenderError):
    """The rendered SMS costs more segments than its purpose allows."""

    def __init__(self, purpose: Purpose, segments: int, limit: int, encoding: str):
        self.purpose = purpose
        self.segments = segments
        self.limit = limit
        self.encoding = encoding
        super().__init__(
            f"{purpose} SMS needs {segments} {encoding} segments; at most {limit} allowed"
        )


class TemplateNotFound(TemplatingError):
    """No active template fits the purpose, channel, scope and language chain."""


class WhatsAppTemplateRequired(TemplatingError):
    """Outside the 24-hour window WhatsApp needs an approved template, and none is named."""


class PortalTokenProblem(enum.StrEnum):
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    REUSED = "reused"


class InvalidPortalToken(TemplatingError):
    """A portal token that must not open anything; ``problem`` says why (for metrics, not users)."""

    def __init__(self, problem: PortalTokenProblem):
        self.problem = problem
        super().__init__(f"invalid portal token: {problem}")
