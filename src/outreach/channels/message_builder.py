"""A claimed job -> the rendered, policy-checked message a channel sends.

Template choice (org/provider overrides, language fallback, A/B variant) and rendering are the
templating package's; this module gathers the facts a template may use and hands them over. The
renderer drops PHI for restricted channels whatever the template asks for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from outreach.channels.base import OutboundMessage, WhatsAppTemplate
from outreach.dead_letters import describe_error
from outreach.domain import Channel, ClinicContact, JobRecord, PhiFreeError, Purpose
from outreach.preferences import PatientDecisionInputs, address_for
from outreach.templating import (
    PortalResource,
    TemplateRecord,
    UnsubscribeClaim,
    make_portal_link,
    make_unsubscribe_link,
    render,
    select_template,
    whatsapp_payload,
)
from outreach.templating.phi_policy import VARIABLE_REGISTRY, VariableKind
from outreach.templating.whatsapp_rules import WhatsAppTemplateMessage


class MessageBuildError(PhiFreeError):
    """The job cannot become a message (no template, policy refusal, no address): do not retry.

    Its text comes from ``dead_letters.describe_error``: PHI-free by construction.
    """


class TemplateCatalog:
    """Active templates bucketed by (purpose, channel), reloaded every ``ttl_seconds``; and
    pinned versions by id (immutable, so cached for good)."""

    def __init__(
        self,
        loader: Callable[[], Iterable[TemplateRecord]],
        version_loader: Callable[[int], TemplateRecord | None] | None = None,
        ttl_seconds: float = 60.0,
    ):
        self._loader = loader
        self._version_loader = version_loader
        self._versions: dict[int, TemplateRecord | None] = {}
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._loaded_at = -1e9
        self._buckets: dict[tuple[Purpose, Channel], list[TemplateRecord]] = {}

    def candidates(self, purpose: Purpose, channel: Channel) -> list[TemplateRecord]:
        if time.monotonic() - self._loaded_at > self._ttl:
            with self._lock:
                if time.monotonic() - self._loaded_at > self._ttl:
                    buckets: dict[tuple[Purpose, Channel], list[TemplateRecord]] = {}
                    for record in self._loader():
                        buckets.setdefault((record.purpose, record.channel), []).append(record)
                    self._buckets = buckets
                    self._loaded_at = time.monotonic()
        return self._buckets.get((purpose, channel), [])

    def version(self, template_id: int) -> TemplateRecord | None:
        """A template version by id, active or not (None if there is no such version)."""
        if template_id not in self._versions:
            found = self._version_loader(template_id) if self._version_loader else None
            with self._lock:
                self._versions[template_id] = found
        return self._versions[template_id]


def _aware(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class PortalSettings:
    base_url: str
    secret: str | None
    ttl: timedelta


class MessageBuilder:
    def __init__(
        self,
        catalog: TemplateCatalog,
        portal: PortalSettings,
        default_booking_url: str,
        *,
        api_base_url: str = "http://127.0.0.1:8000",
    ) -> None:
        self.catalog = catalog
        self.portal = portal
        self.default_booking_url = default_booking_url
        # Where patients' mail clients reach the one-click unsubscribe route.
        self.api_base_url = api_base_url

    def unsubscribe_link(self, job: JobRecord) -> str:
        """The signed one-click unsubscribe link of a marketing e-mail (RFC 8058).

        Signed with the portal link secret; without it no marketing e-mail can carry a working
        link, so none is built.
        """
        if not self.portal.secret:
            raise MessageBuildError(
                "marketing e-mail needs a signed unsubscribe link: the portal link secret is unset"
            )
        claim = UnsubscribeClaim(job.patient_id, Channel.EMAIL, job.campaign_id, job.id)
        return make_unsubscribe_link(self.api_base_url, self.portal.secret, claim)

    def template_context(
        self,
        job: JobRecord,
        patient: PatientDecisionInputs,
        org: ClinicContact | None,
        now: datetime,
    ) -> dict[str, object]:
        """Every fact the templates may name; the renderer keeps what the channel allows."""
        facts = job.context
        context: dict[str, object] = {
            "first_name": patient.first_name or "",
            "clinic_name": (org.name if org else None) or "",
            "clinic_phone": (org.phone if org else None) or "",
            "clinic_address": facts.get("location_name") or (org.name if org else None) or "",
            "booking_link": (org.booking_url if org else None) or self.default_booking_url,
            "reschedule_link": (org.booking_url if org else None) or self.default_booking_url,
            "unsubscribe_link": f"{self.portal.base_url}/preferences",
            "provider_display_name": facts.get("provider_display_name") or "",
        }
        starts_at = _aware(facts.get("appointment_starts_at"))
        if starts_at is not None:
            context["appointment_date"] = starts_at
            context["appointment_time"] = starts_at
        due = _date(facts.get("refill_due_date"))
        if due is not None:  # never invented: a template that needs it fails without it
            context["refill_due_date"] = due
        if self.portal.secret:
            resource_id = (
                facts.get("result_id")
                or facts.get("prescription_id")
                or facts.get("appointment_id")
                or str(job.id)
            )
            context["portal_link"] = make_portal_link(
                self.portal.base_url,
                self.portal.secret,
                job.patient_id,
                PortalResource(job.purpose, str(resource_id)),
                self.portal.ttl,
                now,
            )
        else:
            context["portal_link"] = self.portal.base_url
        # PHI facts stay in the context: the renderer removes them for restricted channels and
        # refuses any template that tries to print them there.
        for name in ("lab_test_name", "medication", "appointment_reason"):
            if facts.get(name):
                context[name] = facts[name]
        # A caller's variables (POST /api/v1/comm/schedule) fill registered text variables the
        # engine has no value for; they never replace its own facts, and the PHI policy applies
        # to them as to any value.
        for name, value in (facts.get("variables") or {}).items():
            spec = VARIABLE_REGISTRY.get(name)
            text_variable = spec is not None and spec.kind is VariableKind.TEXT
            if text_variable and name not in context and isinstance(value, str):
                context[name] = value
        return context

    def _template(
        self,
        job: JobRecord,
        channel: Channel,
        patient: PatientDecisionInputs,
        org: ClinicContact | None,
    ) -> TemplateRecord:
        """The request's pinned version if it names one, else the family's active version."""
        pinned = job.context.get("template_id")
        if pinned is not None:
            record = self.catalog.version(int(pinned))
            if record is None or (record.purpose, record.channel) != (job.purpose, channel):
                raise MessageBuildError(f"pinned template {pinned} does not fit this job")
            return record
        family = job.context.get("template_family")
        return select_template(
            self.catalog.candidates(job.purpose, channel),
            job.purpose,
            channel,
            job.language or patient.prefs.language,
            job.org_id,
            job.provider_id,
            org.language if org else None,
            patient_id=job.patient_id,
            family=str(family) if family else None,
            variant=job.variant,
        )

    def build(
        self,
        job: JobRecord,
        patient: PatientDecisionInputs,
        org: ClinicContact | None,
        now: datetime,
        *,
        last_inbound_whatsapp_at: datetime | None = None,
    ) -> tuple[OutboundMessage, int | None]:
        """The message for ``job`` and the id of the template version it rendered."""
        if job.channel is None:
            raise MessageBuildError("the job has no channel")
        channel = job.channel
        address = address_for(channel, patient.prefs)
        if address is None:
            raise MessageBuildError(f"no valid {channel.value} address")
        unsubscribe_url = None
        try:
            context = self.template_context(job, patient, org, now)
            if job.purpose.is_marketing and channel is Channel.EMAIL:
                unsubscribe_url = context["unsubscribe_link"] = self.unsubscribe_link(job)
            record = self._template(job, channel, patient, org)
            rendered = render(
                record,
                context,
                now=now,
                timezone=patient.prefs.timezone,
                locale=job.language or patient.prefs.language,
            )
            whatsapp_template = None
            body = rendered.body
            if channel is Channel.WHATSAPP:
                payload = whatsapp_payload(record, rendered, None, last_inbound_whatsapp_at, now)
                if isinstance(payload, WhatsAppTemplateMessage):
                    whatsapp_template = WhatsAppTemplate(
                        payload.name, payload.language, payload.parameters
                    )
                else:
                    body = payload.body
        except Exception as error:  # every templating refusal is final for this job
            raise MessageBuildError(describe_error(error)) from None
        message = OutboundMessage(
            job_id=str(job.id),
            channel=channel.value,
            to=address,
            subject=rendered.subject,
            body=body,
            whatsapp_template=whatsapp_template,
            idempotency_key=job.idempotency_key,
            unsubscribe_url=unsubscribe_url,
        )
        return message, int(record.id) if record.id.isdigit() else None
