"""campaigns: steps, exit conditions, hold-out, dates and states; enrolment progress; named
template families; the campaign index on jobs

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import outreach.sql.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_OLD_STATES = {"running": "active", "scheduled": "draft", "cancelled": "archived"}


def _campaign_state(*values: str, name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=16)


def _foreign_key_on(table: str, column: str) -> str | None:
    for key in sa.inspect(op.get_bind()).get_foreign_keys(table):
        if key["constrained_columns"] == [column]:
            return key.get("name")
    return None


def upgrade() -> None:
    with op.batch_alter_table("comm_templates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("family", sa.String(length=64), nullable=True))

    # comm_campaigns is altered in place, never copied: on SQLite a copy drops the old table,
    # which would cascade to its enrolments (and fail on jobs naming a campaign). So the rename
    # is a plain RENAME COLUMN and the new NOT NULL columns come with server defaults.
    op.execute("ALTER TABLE comm_campaigns RENAME COLUMN scheduled_at TO starts_at")
    with op.batch_alter_table("comm_campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("steps", _JSON, server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("exit_on", _JSON, server_default="[]", nullable=False))
        batch_op.add_column(
            sa.Column("holdout_percent", sa.Float(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("recurring", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("ends_at", outreach.sql.types.UtcDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("enrolled_through", outreach.sql.types.UtcDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("created_by", sa.String(length=100), nullable=True))
    # The states' names changed; the column (VARCHAR(16)) did not.
    campaigns = sa.table("comm_campaigns", sa.column("status", sa.String))
    for old, new in _OLD_STATES.items():
        op.execute(campaigns.update().where(campaigns.c.status == old).values(status=new))

    # An enrolment has one job per step now: the jobs carry its campaign and patient instead.
    job_key = _foreign_key_on("campaign_enrollments", "job_id")
    with op.batch_alter_table("campaign_enrollments", schema=None) as batch_op:
        if job_key is not None:
            batch_op.drop_constraint(job_key, type_="foreignkey")
        batch_op.drop_column("job_id")
        batch_op.alter_column("variant", existing_type=sa.String(length=16), nullable=True)
        batch_op.add_column(
            sa.Column(
                "state",
                _campaign_state("active", "held_out", "completed", "exited", name="enrolmentstate"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("next_step", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("exit_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("finished_at", outreach.sql.types.UtcDateTime(), nullable=True)
        )
    enrolments = sa.table(
        "campaign_enrollments", sa.column("state", sa.String), sa.column("next_step", sa.Integer)
    )
    op.execute(enrolments.update().values(state="active", next_step=0))
    with op.batch_alter_table("campaign_enrollments", schema=None) as batch_op:
        batch_op.alter_column(
            "state",
            existing_type=_campaign_state(
                "active", "held_out", "completed", "exited", name="enrolmentstate"
            ),
            nullable=False,
        )
        batch_op.alter_column("next_step", existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(
            "ix_campaign_enrollments_progress",
            ["campaign_id", "state", "next_step"],
            unique=False,
        )

    with op.batch_alter_table("comm_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_comm_jobs_campaign", ["campaign_id", "variant", "status"], unique=False
        )


def downgrade() -> None:
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        # InnoDB dropped the index it made for the foreign key once ours covered it; the key
        # needs one back before ours can go.
        op.create_index("campaign_id", "comm_jobs", ["campaign_id"], unique=False)
    with op.batch_alter_table("comm_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_comm_jobs_campaign")

    with op.batch_alter_table("campaign_enrollments", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_enrollments_progress")
        batch_op.drop_column("finished_at")
        batch_op.drop_column("exit_reason")
        batch_op.drop_column("next_step")
        batch_op.drop_column("state")
    enrolments = sa.table("campaign_enrollments", sa.column("variant", sa.String))
    op.execute(enrolments.update().where(enrolments.c.variant.is_(None)).values(variant="A"))
    with op.batch_alter_table("campaign_enrollments", schema=None) as batch_op:
        batch_op.alter_column("variant", existing_type=sa.String(length=16), nullable=False)
        batch_op.add_column(sa.Column("job_id", _ID, nullable=True))
        batch_op.create_foreign_key(
            "fk_campaign_enrollments_job_id", "comm_jobs", ["job_id"], ["id"], ondelete="SET NULL"
        )

    campaigns = sa.table("comm_campaigns", sa.column("status", sa.String))
    for old, new in _OLD_STATES.items():
        op.execute(campaigns.update().where(campaigns.c.status == new).values(status=old))
    op.execute(campaigns.update().where(campaigns.c.status == "paused").values(status="running"))
    op.execute(
        campaigns.update().where(campaigns.c.status == "archived").values(status="cancelled")
    )
    with op.batch_alter_table("comm_campaigns", schema=None) as batch_op:
        for column in (
            "created_by",
            "enrolled_through",
            "ends_at",
            "recurring",
            "holdout_percent",
            "exit_on",
            "steps",
            "description",
        ):
            batch_op.drop_column(column)
    op.execute("ALTER TABLE comm_campaigns RENAME COLUMN starts_at TO scheduled_at")

    with op.batch_alter_table("comm_templates", schema=None) as batch_op:
        batch_op.drop_column("family")
