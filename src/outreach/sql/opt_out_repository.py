"""patient_channel_opt_outs: one row per patient and channel they opted out of.

Rows, not a column per channel, so a plugin's channel takes opt-outs like the built-in ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, delete, select

from outreach.domain import Channel
from outreach.sql.bulk import insert_ignore
from outreach.sql.models import PatientChannelOptOut

opt_outs = PatientChannelOptOut.__table__


class OptOutRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def channels_of(self, patient_ids: Iterable[str]) -> dict[str, frozenset[Channel]]:
        """The channels each patient opted out of (patients with none are left out)."""
        ids = list(set(patient_ids))
        if not ids:
            return {}
        found: dict[str, set[Channel]] = defaultdict(set)
        rows = self.connection.execute(
            select(opt_outs.c.patient_id, opt_outs.c.channel).where(opt_outs.c.patient_id.in_(ids))
        )
        for patient_id, channel in rows:
            found[patient_id].add(Channel(channel))
        return {patient_id: frozenset(channels) for patient_id, channels in found.items()}

    def record(
        self, patient_ids: Iterable[str], channels: Iterable[Channel], now: datetime, source: str
    ) -> int:
        """Opt these patients out of these channels; returns how many opt-outs are new."""
        rows = [
            {
                "patient_id": patient_id,
                "channel": Channel(channel).value,
                "opted_out_at": now,
                "source": source[:32],
            }
            for patient_id in sorted(set(patient_ids))
            for channel in sorted(set(channels))
        ]
        return insert_ignore(self.connection, opt_outs, rows) if rows else 0

    def clear(self, patient_ids: Iterable[str], channels: Iterable[Channel]) -> int:
        """Opt them back in (START); returns how many opt-outs there were."""
        ids, names = sorted(set(patient_ids)), sorted({Channel(c).value for c in channels})
        if not ids or not names:
            return 0
        result = self.connection.execute(
            delete(opt_outs).where(opt_outs.c.patient_id.in_(ids), opt_outs.c.channel.in_(names))
        )
        return result.rowcount
