"""checked numbers: each patient's phone and WhatsApp number stored with its check (E.164 form
or not valid), so decisions over many patients need not parse every number again

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from outreach.preferences.addresses import normalise_phone

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NUMBERS = ("phone", "whatsapp")
_BATCH = 5_000


def upgrade() -> None:
    with op.batch_alter_table("patient_comm_prefs") as batch:
        for name in _NUMBERS:
            batch.add_column(sa.Column(f"{name}_checked", sa.String(length=20), nullable=True))
            batch.add_column(sa.Column(f"{name}_e164", sa.String(length=20), nullable=True))
    _check_stored_numbers(op.get_bind())


def _check_stored_numbers(connection: sa.Connection) -> None:
    """The numbers already stored get their check, batch by batch of patient ids."""
    prefs = sa.table(
        "patient_comm_prefs",
        sa.column("patient_id"),
        *(sa.column(name) for name in _NUMBERS),
        *(sa.column(f"{name}_{part}") for name in _NUMBERS for part in ("checked", "e164")),
    )
    update = (
        sa.update(prefs)
        .where(prefs.c.patient_id == sa.bindparam("key"))
        .values(
            {
                f"{name}_{part}": sa.bindparam(f"{name}_{part}")
                for name in _NUMBERS
                for part in ("checked", "e164")
            }
        )
    )
    after = ""
    while True:
        rows = connection.execute(
            sa.select(prefs.c.patient_id, prefs.c.phone, prefs.c.whatsapp)
            .where(
                prefs.c.patient_id > after,
                sa.or_(prefs.c.phone.is_not(None), prefs.c.whatsapp.is_not(None)),
            )
            .order_by(prefs.c.patient_id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        values = []
        for patient_id, *numbers in rows:
            value: dict[str, str | None] = {"key": patient_id}
            for name, number in zip(_NUMBERS, numbers, strict=True):
                value[f"{name}_checked"] = number
                value[f"{name}_e164"] = None if number is None else (normalise_phone(number) or "")
            values.append(value)
        connection.execute(update, values)
        after = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("patient_comm_prefs") as batch:
        for name in reversed(_NUMBERS):
            batch.drop_column(f"{name}_e164")
            batch.drop_column(f"{name}_checked")
