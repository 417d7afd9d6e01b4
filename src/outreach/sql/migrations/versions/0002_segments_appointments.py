"""appointments as facts; segments with the seed's fields

Revision ID: 0002
Revises: 0006 (branched from 0001; chained after main's 0006 when main was merged)
Create Date: 2026-12-01 14:28:14.274172
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import outreach.sql.types

revision: str = "0002"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql")


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("appointment_id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("starts_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "booked",
                "cancelled",
                "no_show",
                "attended",
                name="appointmentstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("last_event_id", sa.String(length=64), nullable=False),
        sa.Column("last_event_type", sa.String(length=64), nullable=False),
        sa.Column("last_event_at", outreach.sql.types.UtcDateTime(), nullable=False),
        sa.Column(
            "updated_at",
            outreach.sql.types.UtcDateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("appointment_id"),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_appointments_patient_status_starts",
            ["patient_id", "status", "starts_at"],
            unique=False,
        )

    # The rule a segment held is its definition now; segments saved before keep theirs.
    with op.batch_alter_table("patient_segments", schema=None) as batch_op:
        batch_op.alter_column(
            "rule", new_column_name="definition", existing_type=_JSON, existing_nullable=False
        )
        batch_op.add_column(sa.Column("created_by", sa.String(length=100), nullable=True))
        # Existing segments are active; the model supplies the value for new rows.
        batch_op.add_column(
            sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("last_evaluated", outreach.sql.types.UtcDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("patient_count", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_patient_segments_org_name", ["org_id", "name"])
    with op.batch_alter_table("patient_segments", schema=None) as batch_op:
        batch_op.alter_column(
            "is_active", existing_type=sa.Boolean(), existing_nullable=False, server_default=None
        )


def downgrade() -> None:
    with op.batch_alter_table("patient_segments", schema=None) as batch_op:
        batch_op.drop_constraint("uq_patient_segments_org_name", type_="unique")
        batch_op.drop_column("patient_count")
        batch_op.drop_column("last_evaluated")
        batch_op.drop_column("is_active")
        batch_op.drop_column("created_by")
        batch_op.alter_column(
            "definition", new_column_name="rule", existing_type=_JSON, existing_nullable=False
        )

    # Dropping the table drops its index; dropping the index first fails on MariaDB, where the
    # foreign key on patient_id needs it.
    op.drop_table("appointments")
