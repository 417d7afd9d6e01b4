"""The scheduler's incremental rollup reaches exactly what a rebuild writes, whatever order the
provider statuses come in, however often they are redelivered, and however often the sweep runs
over the same changes (MariaDB)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete

from outreach.services.roll_up_stats import rebuild_stats, roll_up_changes
from outreach.sql.models import CommJob
from outreach.sql.store import Store
from tests.funnel_fixture import (
    EXPECTED,
    EXPECTED_COST_MICROS,
    START,
    FunnelClinic,
    at,
    build_funnel_clinic,
    ingest,
    rollup_snapshot,
    stats_totals,
)

pytestmark = pytest.mark.services

MARGIN = timedelta(minutes=5)
DAY = date(2026, 3, 2)


def in_order(batches: list) -> list:
    return batches


def reversed_and_replayed(batches: list) -> list:
    """Latest reports first, every batch delivered twice, the second time in reverse."""
    later_first = list(reversed(batches))
    return [*later_first, *[list(reversed(b)) for b in later_first]]


def shuffled_with_duplicates(batches: list) -> list:
    reports = [s for batch in batches for s in batch]
    rng = random.Random(11)
    reports += rng.sample(reports, 6)
    rng.shuffle(reports)
    return [reports[i : i + 4] for i in range(0, len(reports), 4)]


def run_timeline(
    clinic: FunnelClinic, order: Callable[[list], list], *, sweep_between: bool
) -> datetime:
    """Ingest the statuses in ``order``, then the replies and visits, every step stamped one
    minute later; the sweep runs after each step (or only at the end). Returns the last stamp."""
    store = Store(clinic.engine)
    minute = 1
    for batch in order(clinic.status_batches()):
        ingest(clinic, batch, at(minute))
        if sweep_between:
            roll_up_changes(store, at(minute) + timedelta(seconds=30), margin=MARGIN)
        minute += 1
    first = minute
    clinic.replies_and_visits(lambda step: at(first + step))
    minute += 5
    roll_up_changes(store, at(minute), margin=MARGIN)
    return at(minute)


@pytest.mark.parametrize("order", [in_order, reversed_and_replayed, shuffled_with_duplicates])
@pytest.mark.parametrize("sweep_between", [True, False], ids=["swept-often", "swept-once"])
def test_incremental_rollups_equal_the_hand_count_and_a_rebuild(
    isolated_mariadb: Engine, order: Callable[[list], list], sweep_between: bool
) -> None:
    clinic = build_funnel_clinic(isolated_mariadb)
    store = Store(isolated_mariadb)
    roll_up_changes(store, START + timedelta(seconds=30), margin=MARGIN)
    last = run_timeline(clinic, order, sweep_between=sweep_between)

    totals = stats_totals(isolated_mariadb, clinic.org_id)
    assert {k: totals[k] for k in EXPECTED} == EXPECTED
    assert totals["cost_micros"] == EXPECTED_COST_MICROS
    incremental = rollup_snapshot(isolated_mariadb)

    # The same changes seen again (a second scheduler, a restart) change nothing.
    roll_up_changes(store, last + timedelta(minutes=1), margin=timedelta(days=1))
    assert rollup_snapshot(isolated_mariadb) == incremental

    rebuild_stats(store, DAY - timedelta(days=1), DAY + timedelta(days=1), last)
    assert rollup_snapshot(isolated_mariadb) == incremental


def test_a_job_that_moves_group_leaves_no_empty_row_behind(isolated_mariadb: Engine) -> None:
    """J10 is counted under provider "-" until its first report names the provider; the row it
    leaves is removed, as a rebuild would never write it."""
    clinic = build_funnel_clinic(isolated_mariadb)
    store = Store(isolated_mariadb)
    roll_up_changes(store, at(1), margin=MARGIN)
    ingest(clinic, [clinic.status("J10", "sent", 2)], at(3))
    roll_up_changes(store, at(4), margin=MARGIN)
    incremental = rollup_snapshot(isolated_mariadb)
    rebuild_stats(store, DAY, DAY, at(5))
    assert rollup_snapshot(isolated_mariadb) == incremental
    assert all(row[0] is not None for row in incremental["comm_stats"])


def test_a_deleted_job_leaves_the_counts_at_the_next_rebuild(isolated_mariadb: Engine) -> None:
    clinic = build_funnel_clinic(isolated_mariadb)
    store = Store(isolated_mariadb)
    roll_up_changes(store, at(1), margin=MARGIN)
    with isolated_mariadb.begin() as connection:
        connection.execute(delete(CommJob.__table__).where(CommJob.id == clinic.jobs["J9"]))
    rebuild_stats(store, DAY, DAY, at(2))
    assert stats_totals(isolated_mariadb, clinic.org_id)["planned"] == 9
    assert stats_totals(isolated_mariadb, clinic.org_id)["queued"] == 0
