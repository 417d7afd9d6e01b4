"""Send-time rendering and staff previews, with the PHI policy enforced a second time.

Defence in depth: ``render`` re-validates the record (cached), and independently builds the
context handed to Jinja from only the variables the policy allows on that channel and surface.
A PHI value in the caller's context never reaches the sandbox of a restricted surface, so even a
template written straight into the database cannot print it: it fails instead, with
``PhiPolicyViolation``, and nothing is rendered.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from decimal import Decimal

from babel import Locale
from jinja2 import Template, TemplateError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from outreach.domain import Channel, Purpose
from outreach.templating.analysis import analyse_source
from outreach.templating.environment import build_environment
from outreach.templating.errors import (
    InvalidContextValue,
    MissingTemplateVariable,
    PhiPolicyViolation,
    TemplateRenderError,
    TemplatingError,
    Violation,
    ViolationCode,
)
from outreach.templating.formatting import (
    LocalMoment,
    formatting_locale,
    resolve_zone,
)
from outreach.templating.opt_out_line import with_opt_out_line
from outreach.templating.phi_policy import (
    DEFAULT_PHI_POLICY,
    PhiPolicy,
    Sensitivity,
    Surface,
    VariableKind,
    VariableSpec,
)
from outreach.templating.records import TemplateRecord
from outreach.templating.sms_encoding import SmsEncoding, normalize_typography, sms_cost
from outreach.templating.sms_limits import SMS_SEGMENT_LIMITS, check_segment_limit
from outreach.templating.validation import find_violations, raise_for_violations

ContextValue = str | int | float | Decimal | LocalMoment


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """What a channel worker sends; the job records ``template_id``/``version``/``variant``."""

    template_id: str
    version: int
    variant: str
    channel: Channel
    language: str
    subject: str | None
    body: str
    sms_segments: int | None  # SMS only
    encoding: SmsEncoding | None  # SMS only
    whatsapp_parameters: tuple[
        str, ...
    ] = ()  # WhatsApp only: {{1}}..{{n}} of the approved template

    def __repr__(self) -> str:
        # The text holds the patient's name and appointment: never in a log line.
        return (
            f"RenderedMessage(template_id={self.template_id!r}, version={self.version}, "
            f"variant={self.variant!r}, channel={self.channel}, body=<{len(self.body)} chars>, "
            f"sms_segments={self.sms_segments}, encoding={self.encoding})"
        )


@dataclass(frozen=True, slots=True)
class TemplatePreview:
    """A render for staff eyes: PHI masked as ``[name]``, missing samples as placeholders."""

    template_id: str
    version: int
    channel: Channel
    language: str
    subject: str | None
    body: str
    sms_segments: int | None
    encoding: SmsEncoding | None
    segment_limit: int | None
    masked_variables: tuple[str, ...]
    placeholder_variables: tuple[str, ...]

    @property
    def within_segment_limit(self) -> bool:
        if self.sms_segments is None or self.segment_limit is None:
            return True
        return self.sms_segments <= self.segment_limit


@dataclass(frozen=True, slots=True)
class _SurfacePlan:
    """A compiled surface and the names its context may hold, computed once per source."""

    template: Template
    reads: tuple[str, ...]
    allowed: tuple[str, ...]  # the reads the policy lets into this surface's context
    withheld: frozenset[str]  # the reads it keeps out (only reachable if validation was skipped)


@dataclass(frozen=True, slots=True)
class _Binding:
    """Where and how the values of one render are written."""

    zone: tzinfo
    locale: Locale
    current_year: int


def _bind(
    record: TemplateRecord, now: datetime, timezone: str | tzinfo, locale: str | None
) -> _Binding:
    if now.tzinfo is None or now.utcoffset() is None:
        raise TemplateRenderError("now must be timezone-aware")
    zone = resolve_zone(timezone) if isinstance(timezone, str) else timezone
    return _Binding(zone, formatting_locale(record.language, locale), now.astimezone(zone).year)


def _context_value(spec: VariableSpec, value: object, binding: _Binding) -> ContextValue:
    """A caller's value as the sandbox may see it: text, a number or a ``LocalMoment``.

    Anything structured (dicts, lists, ORM objects) is refused, so there is nothing to walk.
    """
    if isinstance(value, bool):
        raise InvalidContextValue(spec.name, "booleans are not printable values")
    if spec.kind in (VariableKind.DATE, VariableKind.TIME):
        if isinstance(value, str):
            return value  # pre-formatted by the caller
        if isinstance(value, datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                raise InvalidContextValue(spec.name, "datetime must be timezone-aware")
        elif isinstance(value, date):
            if spec.kind is VariableKind.TIME:
                raise InvalidContextValue(spec.name, "a time needs a datetime or time")
        elif isinstance(value, time):
            if spec.kind is VariableKind.DATE:
                raise InvalidContextValue(spec.name, "a date needs a date or datetime")
        else:
            raise InvalidContextValue(spec.name, "expected a date, time or datetime")
        return LocalMoment(value, spec.kind, binding.zone, binding.locale, binding.current_year)
    if isinstance(value, str | int | float | Decimal):
        return value
    raise InvalidContextValue(spec.name, f"expected text, got {type(value).__name__}")


def _one_line(text: str) -> str:
    """WhatsApp parameters may not hold newlines, tabs or runs of spaces; subjects are one line."""
    return " ".join(text.split())


class TemplateRenderer:
    """Renders records under one PHI policy, with compiled templates and analyses cached.

    Build one per policy at wiring time and share it; it holds no I/O and is safe across threads
    (caches are pure functions of the template source).
    """

    def __init__(
        self,
        policy: PhiPolicy = DEFAULT_PHI_POLICY,
        *,
        segment_limits: Mapping[Purpose, int] = SMS_SEGMENT_LIMITS,
        cache_size: int = 2048,
    ) -> None:
        self.policy = policy
        self.segment_limits = segment_limits
        self._environments: dict[bool, ImmutableSandboxedEnvironment] = {
            False: build_environment(autoescape=False),
            True: build_environment(autoescape=True),
        }
        self._plan = functools.lru_cache(maxsize=cache_size)(self._build_plan)

    def _build_plan(self, channel: Channel, surface: Surface, source: str) -> _SurfacePlan:
        autoescape = channel is Channel.EMAIL and surface is Surface.BODY
        template = self._environments[autoescape].from_string(source)
        reads = analyse_source(source).names
        allowed = tuple(name for name in reads if self.policy.allows(channel, surface, name))
        return _SurfacePlan(template, reads, allowed, frozenset(reads) - frozenset(allowed))

    def validate(self, record: TemplateRecord) -> None:
        """Save-time check under this renderer's policy; raises ``TemplatePolicyError``."""
        raise_for_violations(find_violations(record, self.policy))

    def guarded_context(
        self,
        record: TemplateRecord,
        surface: Surface,
        context: Mapping[str, object],
        *,
        now: datetime,
        timezone: str | tzinfo,
        locale: str | None,
    ) -> dict[str, ContextValue]:
        """Exactly the context ``render`` hands Jinja for one surface: allowed variables only."""
        source = (record.subject or "") if surface is Surface.SUBJECT else record.body
        plan = self._plan_for(record, surface, source)
        return self._values(plan, context, _bind(record, now, timezone, locale))

    def _values(
        self, plan: _SurfacePlan, context: Mapping[str, object], binding: _Binding
    ) -> dict[str, ContextValue]:
        registry = self.policy.registry
        values: dict[str, ContextValue] = {}
        for name in plan.allowed:
            value = context.get(name)
            if value is not None:
                values[name] = _context_value(registry[name], value, binding)
        return values

    def _plan_for(self, record: TemplateRecord, surface: Surface, source: str) -> _SurfacePlan:
        try:
            return self._plan(record.channel, surface, source)
        except TemplateError as error:
            # Only reachable for a template that skipped validation (e.g. a refused filter).
            raise TemplateRenderError(
                f"template {record.id} v{record.version} does not compile: {type(error).__name__}"
            ) from None

    def _execute(
        self,
        record: TemplateRecord,
        surface: Surface,
        plan: _SurfacePlan,
        values: Mapping[str, ContextValue],
    ) -> str:
        """Run a compiled surface; every failure becomes one of this package's errors."""
        try:
            return plan.template.render(values).strip()
        except TemplatingError:
            raise
        except UndefinedError:
            missing = tuple(name for name in plan.reads if name not in values)
            withheld = [name for name in missing if name in plan.withheld]
            if withheld:
                raise PhiPolicyViolation(
                    [
                        Violation(
                            ViolationCode.PHI_NOT_ALLOWED,
                            name,
                            None,
                            record.channel,
                            surface,
                            f"{name!r} was withheld from the {record.channel} {surface} context",
                        )
                        for name in withheld
                    ]
                ) from None
            raise MissingTemplateVariable(missing) from None
        except Exception as error:
            # No chaining: a library's message may quote a value, and this text reaches logs.
            raise TemplateRenderError(
                f"template {record.id} v{record.version} failed: {type(error).__name__}"
            ) from None

    def _render_surface(
        self,
        record: TemplateRecord,
        surface: Surface,
        source: str,
        context: Mapping[str, object],
        binding: _Binding,
    ) -> tuple[str, dict[str, ContextValue]]:
        plan = self._plan_for(record, surface, source)
        values = self._values(plan, context, binding)
        return self._execute(record, surface, plan, values), values

    def render(
        self,
        record: TemplateRecord,
        context: Mapping[str, object],
        *,
        now: datetime,
        timezone: str | tzinfo,
        locale: str | None,
    ) -> RenderedMessage:
        """Render ``record`` for one patient; raises rather than send anything doubtful.

        ``timezone`` is the patient's zone, ``locale`` the patient's locale (dates follow the
        template's language, refined by the patient's region). SMS bodies get typographic
        spaces and quotes normalised to GSM-7 and must fit their purpose's segment limit.
        """
        raise_for_violations(find_violations(record, self.policy))
        binding = _bind(record, now, timezone, locale)
        subject: str | None = None
        if record.channel is Channel.EMAIL:
            raw_subject, _ = self._render_surface(
                record, Surface.SUBJECT, record.subject or "", context, binding
            )
            subject = _one_line(raw_subject)
        body, values = self._render_surface(record, Surface.BODY, record.body, context, binding)
        segments: int | None = None
        encoding: SmsEncoding | None = None
        parameters: tuple[str, ...] = ()
        if record.channel is Channel.SMS:
            if record.purpose.is_marketing:
                body = with_opt_out_line(body, record.language)
            body = normalize_typography(body)
            cost = sms_cost(body)
            check_segment_limit(record.purpose, cost, self.segment_limits)
            segments, encoding = cost.segments, cost.encoding
        elif record.channel is Channel.WHATSAPP:
            missing = tuple(n for n in record.declared_variables if n not in values)
            if missing:
                raise MissingTemplateVariable(missing)
            parameters = tuple(_one_line(str(values[n])) for n in record.declared_variables)
        return RenderedMessage(
            template_id=record.id,
            version=record.version,
            variant=record.variant,
            channel=record.channel,
            language=record.language,
            subject=subject,
            body=body,
            sms_segments=segments,
            encoding=encoding,
            whatsapp_parameters=parameters,
        )

    def preview(
        self,
        record: TemplateRecord,
        sample_context: Mapping[str, object] | None = None,
        *,
        now: datetime,
        timezone: str | tzinfo = "UTC",
        locale: str | None = None,
    ) -> TemplatePreview:
        """Render for staff: every PHI variable shows as ``[name]``, whatever the sample holds.

        Policy violations still raise (the editor shows them); PHI a policy allows (e-mail
        bodies for some organisations) is masked, not refused. Over-long SMS are reported
        through ``within_segment_limit`` instead of raising.
        """
        raise_for_violations(find_violations(record, self.policy))
        samples = sample_context or {}
        binding = _bind(record, now, timezone, locale)
        masked: dict[str, None] = {}
        placeholders: dict[str, None] = {}
        rendered: dict[Surface, str] = {}
        sources = {Surface.SUBJECT: record.subject or "", Surface.BODY: record.body}
        surfaces = (
            (Surface.SUBJECT, Surface.BODY) if record.channel is Channel.EMAIL else (Surface.BODY,)
        )
        for surface in surfaces:
            plan = self._plan_for(record, surface, sources[surface])
            values: dict[str, ContextValue] = {}
            for name in plan.allowed:
                spec = self.policy.registry[name]
                sample = samples.get(name)
                if spec.sensitivity is Sensitivity.PHI:
                    values[name] = f"[{name}]"
                    masked[name] = None
                elif sample is None:
                    values[name] = f"[{name}]"
                    placeholders[name] = None
                else:
                    values[name] = _context_value(spec, sample, binding)
            rendered[surface] = self._execute(record, surface, plan, values)
        body = rendered[Surface.BODY]
        segments: int | None = None
        encoding: SmsEncoding | None = None
        limit: int | None = None
        if record.channel is Channel.SMS:
            if record.purpose.is_marketing:
                body = with_opt_out_line(body, record.language)
            body = normalize_typography(body)
            cost = sms_cost(body)
            segments, encoding = cost.segments, cost.encoding
            limit = self.segment_limits[record.purpose]
        subject = rendered.get(Surface.SUBJECT)
        return TemplatePreview(
            template_id=record.id,
            version=record.version,
            channel=record.channel,
            language=record.language,
            subject=_one_line(subject) if subject is not None else None,
            body=body,
            sms_segments=segments,
            encoding=encoding,
            segment_limit=limit,
            masked_variables=tuple(masked),
            placeholder_variables=tuple(placeholders),
        )


@functools.cache
def renderer_for(policy: PhiPolicy) -> TemplateRenderer:
    """The shared renderer of a policy (policies compare by identity: build them once)."""
    return TemplateRenderer(policy)


def render(
    record: TemplateRecord,
    context: Mapping[str, object],
    *,
    now: datetime,
    timezone: str | tzinfo,
    locale: str | None,
    policy: PhiPolicy = DEFAULT_PHI_POLICY,
) -> RenderedMessage:
    """``TemplateRenderer.render`` on the shared renderer of ``policy``."""
    return renderer_for(policy).render(record, context, now=now, timezone=timezone, locale=locale)


def preview(
    record: TemplateRecord,
    sample_context: Mapping[str, object] | None = None,
    *,
    now: datetime,
    timezone: str | tzinfo = "UTC",
    locale: str | None = None,
    policy: PhiPolicy = DEFAULT_PHI_POLICY,
) -> TemplatePreview:
    """``TemplateRenderer.preview`` on the shared renderer of ``policy``."""
    return renderer_for(policy).preview(
        record, sample_context, now=now, timezone=timezone, locale=locale
    )
