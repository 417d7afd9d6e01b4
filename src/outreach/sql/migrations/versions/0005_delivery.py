"""delivery: opt-outs as rows per channel

Revision ID: 0005
Revises: 0001
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import outreach.sql.types

revision: str = "0005"
down_revision: str | None = "0001"
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


def downgrade() -> None:
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
