"""analytics: comm_stats as the rollups need it, breakdowns, latency histograms, funnel facts,
the rollup's state, report deliveries; prices on statuses; the sweep's indexes; analysts'
addresses per organisation

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-04 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import outreach.sql.types

revision: str = "0007"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_PURPOSES = (
    "appt_confirm",
    "appt_reminder",
    "no_show",
    "rx_refill",
    "lab_ready",
    "campaign_education",
    "urgent",
)
_COUNTERS = (
    "planned",
    "queued",
    "suppressed",
    "cancelled",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "replied",
    "confirmed",
    "attended",
    "no_show",
    "failed",
    "bounced",
    "unsubscribed",
    "priced",
)
_LATENCY_BUCKETS = 40


def _key_columns() -> list[sa.Column]:
    return [
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("campaign_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("variant", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
    ]


_KEY = ("org_id", "day", "purpose", "channel", "campaign_id", "variant", "provider")


def upgrade() -> None:
    # Nothing wrote the seed's comm_stats: it is replaced, not migrated.
    op.drop_table("comm_stats")
    op.create_table(
        "comm_stats",
        *_key_columns(),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTERS),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column("cost_currency", sa.String(length=8), nullable=True),
        sa.PrimaryKeyConstraint(*_KEY),
    )
    op.create_index("ix_comm_stats_day", "comm_stats", ["day"], unique=False)
    op.create_table(
        "comm_stats_breakdowns",
        *_key_columns(),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("jobs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*_KEY, "kind", "label"),
    )
    op.create_index("ix_comm_stats_breakdowns_day", "comm_stats_breakdowns", ["day"])
    op.create_table(
        "comm_stats_latency",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("pair", sa.String(length=24), nullable=False),
        sa.Column("jobs", sa.Integer(), nullable=False),
        *(sa.Column(f"b{b:02d}", sa.Integer(), nullable=False) for b in range(_LATENCY_BUCKETS)),
        sa.PrimaryKeyConstraint("org_id", "day", "campaign_id", "channel", "pair"),
    )
    op.create_index("ix_comm_stats_latency_day", "comm_stats_latency", ["day"])
    op.create_table(
        "comm_funnel_facts",
        sa.Column("job_id", _ID, autoincrement=False, nullable=False),
        *_key_columns(),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("suppression_reason", sa.String(length=32), nullable=True),
        sa.Column("planned_at", outreach.sql.types.UtcDateTime(), nullable=False),
        sa.Column("sent_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column("delivered_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column("opened_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column("clicked_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column("replied_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column("confirmed_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column("reply_intents", sa.String(length=100), nullable=False),
        sa.Column("unsubscribed", sa.Boolean(), nullable=False),
        sa.Column("visit_outcome", sa.String(length=16), nullable=True),
        sa.Column("visit_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column("price_micros", sa.BigInteger(), nullable=True),
        sa.Column("price_unit", sa.String(length=8), nullable=True),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_index("ix_comm_funnel_facts_day_org", "comm_funnel_facts", ["day", "org_id"])
    op.create_table(
        "comm_rollup_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("through_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column("locked_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "comm_report_deliveries",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("claimed_at", outreach.sql.types.UtcDateTime(), nullable=False),
        sa.Column("sent_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column("provider_message_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "kind", "period_start", name="uq_comm_report_deliveries"),
    )
    with op.batch_alter_table("comm_status_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("price_micros", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("price_unit", sa.String(length=8), nullable=True))
        batch_op.create_index("ix_comm_status_events_received", ["received_at"], unique=False)
    with op.batch_alter_table("comm_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_comm_jobs_updated", ["updated_at"], unique=False)
    with op.batch_alter_table("comm_inbound", schema=None) as batch_op:
        batch_op.create_index("ix_comm_inbound_handled", ["handled_at"], unique=False)
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index("ix_appointments_updated", ["updated_at"], unique=False)
    with op.batch_alter_table("org_comm_prefs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("analyst_emails", _JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("org_comm_prefs", schema=None) as batch_op:
        batch_op.drop_column("analyst_emails")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index("ix_appointments_updated")
    with op.batch_alter_table("comm_inbound", schema=None) as batch_op:
        batch_op.drop_index("ix_comm_inbound_handled")
    with op.batch_alter_table("comm_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_comm_jobs_updated")
    with op.batch_alter_table("comm_status_events", schema=None) as batch_op:
        batch_op.drop_index("ix_comm_status_events_received")
        batch_op.drop_column("price_unit")
        batch_op.drop_column("price_micros")
    op.drop_table("comm_report_deliveries")
    op.drop_table("comm_rollup_state")
    op.drop_index("ix_comm_funnel_facts_day_org", table_name="comm_funnel_facts")
    op.drop_table("comm_funnel_facts")
    op.drop_index("ix_comm_stats_latency_day", table_name="comm_stats_latency")
    op.drop_table("comm_stats_latency")
    op.drop_index("ix_comm_stats_breakdowns_day", table_name="comm_stats_breakdowns")
    op.drop_table("comm_stats_breakdowns")
    op.drop_index("ix_comm_stats_day", table_name="comm_stats")
    op.drop_table("comm_stats")
    # The seed's comm_stats, as 0001 made it.
    op.create_table(
        "comm_stats",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(*_PURPOSES, name="purpose", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.Enum("email", "sms", "whatsapp", name="channel", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=16), nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "queued",
                "sent",
                "delivered",
                "opened",
                "clicked",
                "replied",
                "failed",
                "bounced",
                "suppressed",
                "cancelled",
            )
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "day", "org_id", "purpose", "channel", "campaign_id", "variant", name="uq_comm_stats"
        ),
    )
