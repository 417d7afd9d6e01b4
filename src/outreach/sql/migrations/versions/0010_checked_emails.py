"""checked e-mail addresses: each patient's address stored with its check (valid or not), so a
campaign step can decide for many patients at once in the database

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from outreach.preferences.addresses import normalise_email

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5_000


def upgrade() -> None:
    with op.batch_alter_table("patient_comm_prefs") as batch:
        batch.add_column(sa.Column("email_checked", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("email_valid", sa.Boolean(), nullable=True))
    _check_stored_emails(op.get_bind())


def _check_stored_emails(connection: sa.Connection) -> None:
    """The addresses already stored get their check, batch by batch of patient ids."""
    prefs = sa.table(
        "patient_comm_prefs",
        sa.column("patient_id"),
        sa.column("email"),
        sa.column("email_checked"),
        sa.column("email_valid"),
    )
    update = (
        sa.update(prefs)
        .where(prefs.c.patient_id == sa.bindparam("key"))
        .values(email_checked=sa.bindparam("checked"), email_valid=sa.bindparam("valid"))
    )
    after = ""
    while True:
        rows = connection.execute(
            sa.select(prefs.c.patient_id, prefs.c.email)
            .where(prefs.c.patient_id > after, prefs.c.email.is_not(None))
            .order_by(prefs.c.patient_id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            update,
            [
                {"key": patient_id, "checked": email, "valid": normalise_email(email) is not None}
                for patient_id, email in rows
            ],
        )
        after = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("patient_comm_prefs") as batch:
        batch.drop_column("email_valid")
        batch.drop_column("email_checked")
