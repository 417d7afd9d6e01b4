"""send-time model: learnt best hour provenance, fatigue score, how each job's hour was chosen

Revision ID: 0004
Revises: 0006
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import outreach.sql.types

revision: str = "0004"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patient_comm_prefs") as batch_op:
        batch_op.add_column(sa.Column("best_hour_model_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("best_hour_source", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("best_hour_confidence", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("best_hour_interactions", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("best_hour_learnt_at", outreach.sql.types.UtcDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("fatigue_score", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("fatigue_scored_at", outreach.sql.types.UtcDateTime(), nullable=True)
        )
    with op.batch_alter_table("comm_jobs") as batch_op:
        batch_op.add_column(
            sa.Column(
                "send_time_source",
                sa.Enum(
                    "model",
                    "exploration",
                    "default",
                    name="sendtimesource",
                    native_enum=False,
                    length=16,
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("send_time_propensity", sa.Float(), nullable=True))
        batch_op.create_index("ix_comm_jobs_sent_at", ["sent_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("comm_jobs") as batch_op:
        batch_op.drop_index("ix_comm_jobs_sent_at")
        batch_op.drop_column("send_time_propensity")
        batch_op.drop_column("send_time_source")
    with op.batch_alter_table("patient_comm_prefs") as batch_op:
        batch_op.drop_column("fatigue_scored_at")
        batch_op.drop_column("fatigue_score")
        batch_op.drop_column("best_hour_learnt_at")
        batch_op.drop_column("best_hour_interactions")
        batch_op.drop_column("best_hour_confidence")
        batch_op.drop_column("best_hour_source")
        batch_op.drop_column("best_hour_model_version")
