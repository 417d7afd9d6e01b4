"""delivery: opt-outs as rows per channel, send bookkeeping, process heartbeats, dead-letter
decisions

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import outreach.sql.types

revision: str = "0005"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BUILTIN_CHANNELS = ("email", "sms", "whatsapp")


def upgrade() -> None:
    op.create_table(
        "patient_channel_opt_outs",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("channel", outreach.sql.types.ChannelName(), nullable=False),
        sa.Column("opted_out_at", outreach.sql.types.UtcDateTime(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("patient_id", "channel"),
    )
    # The opt-out flags become rows; when each was set is not known, so the migration's time.
    now = datetime.now(UTC).replace(tzinfo=None)
    for channel in _BUILTIN_CHANNELS:
        op.execute(
            sa.text(
                "INSERT INTO patient_channel_opt_outs (patient_id, channel, opted_out_at, source) "
                f"SELECT patient_id, '{channel}', :now, 'migrated' FROM patient_comm_prefs "
                f"WHERE opted_out_{channel} = :yes"
            ).bindparams(now=now, yes=True)
        )
    with op.batch_alter_table("patient_comm_prefs") as batch:
        for channel in _BUILTIN_CHANNELS:
            batch.drop_column(f"opted_out_{channel}")
    with op.batch_alter_table("comm_jobs") as batch:
        batch.add_column(sa.Column("taken_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("taken_at", outreach.sql.types.UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("retries", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(
            sa.Column("unconfirmed_since", outreach.sql.types.UtcDateTime(), nullable=True)
        )
        batch.add_column(
            sa.Column(
                "tried_channels",
                sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
                nullable=True,
            )
        )
        batch.add_column(
            sa.Column(
                "fallback_of",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch.create_index("ix_comm_jobs_fallback_of", ["fallback_of"])
        batch.create_foreign_key(
            "fk_comm_jobs_fallback_of", "comm_jobs", ["fallback_of"], ["id"], ondelete="SET NULL"
        )
    op.create_table(
        "process_heartbeats",
        sa.Column("process_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("seen_at", outreach.sql.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("process_id"),
    )
    op.create_table(
        "dead_letter_decisions",
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("decided_at", outreach.sql.types.UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("entry_id"),
    )


def downgrade() -> None:
    op.drop_table("dead_letter_decisions")
    op.drop_table("process_heartbeats")
    with op.batch_alter_table("comm_jobs") as batch:
        batch.drop_constraint("fk_comm_jobs_fallback_of", type_="foreignkey")
        batch.drop_index("ix_comm_jobs_fallback_of")
        for column in (
            "fallback_of",
            "tried_channels",
            "unconfirmed_since",
            "retries",
            "taken_at",
            "taken_by",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("patient_comm_prefs") as batch:
        for channel in _BUILTIN_CHANNELS:
            batch.add_column(
                sa.Column(
                    f"opted_out_{channel}", sa.Boolean(), nullable=False, server_default=sa.false()
                )
            )
    for channel in _BUILTIN_CHANNELS:
        op.execute(
            sa.text(
                f"UPDATE patient_comm_prefs SET opted_out_{channel} = :yes WHERE patient_id IN "
                "(SELECT patient_id FROM patient_channel_opt_outs WHERE channel = :channel)"
            ).bindparams(yes=True, channel=channel)
        )
    op.drop_table("patient_channel_opt_outs")
