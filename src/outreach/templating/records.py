"""The template row as a value: what the ``comm_templates`` table holds, independent of SQL."""

from __future__ import annotations

from dataclasses import dataclass

from outreach.domain import Channel, Purpose


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateRecord:
    """One immutable version of a template; a job records ``id``/``version`` of what it rendered.

    ``org_id``/``provider_id`` of None mean global / not provider-specific. ``declared_variables``
    lists every variable the template may read; for WhatsApp its order is the order of the
    approved template's ``{{1}}..{{n}}`` parameters.
    """

    id: str
    org_id: str | None = None
    provider_id: str | None = None
    purpose: Purpose
    channel: Channel
    language: str  # BCP 47, e.g. "es-MX"
    version: int = 1
    variant: str = "A"
    subject: str | None = None  # e-mail only
    body: str
    declared_variables: tuple[str, ...]
    whatsapp_template_name: str | None = None  # the name Meta approved, WhatsApp only
    is_active: bool = True
    # A named family a campaign step uses (e.g. "dental_recall"); None: the purpose's standard
    # templates, which the event-driven messages use.
    family: str | None = None

    def __post_init__(self) -> None:
        # Rows arrive with plain strings and lists; identity checks downstream need the enums.
        object.__setattr__(self, "purpose", Purpose(self.purpose))
        object.__setattr__(self, "channel", Channel(self.channel))
        object.__setattr__(self, "declared_variables", tuple(self.declared_variables))

    def __repr__(self) -> str:
        # Keep log lines short and free of template text.
        return (
            f"TemplateRecord(id={self.id!r}, purpose={self.purpose}, channel={self.channel}, "
            f"language={self.language!r}, version={self.version}, variant={self.variant!r}, "
            f"family={self.family!r})"
        )
