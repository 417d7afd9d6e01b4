"""security: API keys, and who/where columns on the audit log

Revision ID: 0006
Revises: 0001
Create Date: 2026-12-02 14:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import outreach.sql.types

revision: str = "0006"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "platform",
                "marketer",
                "analyst",
                "admin",
                name="role",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", outreach.sql.types.UtcDateTime(), nullable=False),
        sa.Column("revoked_at", outreach.sql.types.UtcDateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prefix"),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_org_id"), ["org_id"], unique=False)

    with op.batch_alter_table("comm_audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("org_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("ip", sa.String(length=45), nullable=True))
        batch_op.add_column(sa.Column("user_agent", sa.String(length=255), nullable=True))
        batch_op.create_index("ix_comm_audit_log_org", ["org_id", "occurred_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("comm_audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_comm_audit_log_org")
        batch_op.drop_column("user_agent")
        batch_op.drop_column("ip")
        batch_op.drop_column("org_id")

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_org_id"))

    op.drop_table("api_keys")
