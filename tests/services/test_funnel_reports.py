"""The funnel a report shows equals the hand count of a small clinic (MariaDB), step by step,
with its rates, medians, reasons and intents; small counts are hidden unless asked for."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine

from outreach.analytics.latency import bucket_bounds, bucket_of
from outreach.analytics.report_formats import report_json, rows_csv
from outreach.analytics.report_html import render_html
from outreach.analytics.rollup_rows import ReportScope
from outreach.analytics.small_cells import CellPolicy
from outreach.services.funnel_reports import funnel_report
from outreach.services.roll_up_stats import roll_up_changes
from outreach.sql.store import Store
from tests.funnel_fixture import EXPECTED, at, build_funnel_clinic, ingest

pytestmark = pytest.mark.services

DAY = date(2026, 3, 2)


@pytest.fixture
def report_of_clinic(isolated_mariadb: Engine):
    """The hand-counted clinic, rolled up (the sweep reads every row: a database of its own);
    its report for its one day."""
    clinic = build_funnel_clinic(isolated_mariadb)
    for minute, batch in enumerate(clinic.status_batches(), start=1):
        ingest(clinic, batch, at(minute))
    clinic.replies_and_visits(lambda step: at(10 + step))
    store = Store(isolated_mariadb)
    roll_up_changes(store, at(30), margin=timedelta(hours=1))
    scope = ReportScope(DAY, DAY, clinic.org_id)
    return funnel_report(store, scope, at(31), detailed=True)


def test_each_step_is_the_hand_count_with_its_rate(report_of_clinic) -> None:
    steps = {s.name: s for s in (*report_of_clinic.steps, *report_of_clinic.side_steps)}
    assert {name: step.count for name, step in steps.items()} == {
        name: EXPECTED[name] for name in steps
    }
    rates = {name: (step.count, step.parent_count) for name, step in steps.items()}
    assert rates["sent"] == (7, 10)
    assert rates["delivered"] == (4, 7)
    # Opens over what e-mail and WhatsApp delivered (J3, J5): SMS never reports one.
    assert rates["opened"] == (2, 2)
    # Clicks over what was opened by e-mail (J3).
    assert rates["clicked"] == (1, 1)
    assert rates["replied"] == (3, 4)
    assert rates["confirmed"] == (2, 3)
    assert rates["attended"] == (1, 2)
    assert rates["no_show"] == (1, 2)
    assert rates["bounced"] == (1, 7)


def test_median_times_fall_in_the_bucket_of_the_hand_computed_median(report_of_clinic) -> None:
    steps = {s.name: s for s in report_of_clinic.steps}
    # opened -> clicked: J3 only, opened at 20 min, clicked at 50 min.
    low, high = bucket_bounds(bucket_of(30 * 60))
    assert low <= steps["clicked"].median_seconds < high
    # confirmed -> attended: J1 confirmed at minute 10, came a day after the start.
    low, high = bucket_bounds(bucket_of((24 * 60 - 10) * 60))
    assert low <= steps["attended"].median_seconds < high


def test_reasons_intents_and_channels(report_of_clinic) -> None:
    assert report_of_clinic.suppression_reasons == (("no_consent", 1),)
    assert report_of_clinic.reply_intents == (("confirm", 2), ("stop", 1))
    channels = report_of_clinic.channels.set_index("channel")
    assert int(channels.loc["sms", "sent"]) == 4  # J1 J2 J6 J10
    assert int(channels.loc["sms", "cost_micros"]) == 15_800
    assert "-" not in channels.index  # J7 never had a channel: it is in the suppressions


def test_small_cells_are_hidden_in_every_form_unless_exact(report_of_clinic) -> None:
    hidden = CellPolicy(11)
    document = report_json(report_of_clinic, hidden)
    counts = {s["step"]: s["count"] for s in document["steps"]}
    assert counts["planned"] == "<11" and counts["sent"] == "<11"
    assert all(s["rate"] is None for s in document["steps"])
    assert all(r["count"] == "<11" for r in document["reply_intents"])
    csv = rows_csv(report_of_clinic, hidden)
    assert "<11" in csv
    html = render_html(report_of_clinic, hidden)
    assert "&lt;11" in html and "70.0%" not in html

    exact = report_json(report_of_clinic, CellPolicy.exact())
    assert {s["step"]: s["count"] for s in exact["steps"]}["sent"] == 7
    assert {s["step"]: s["rate"] for s in exact["steps"]}["sent"] == pytest.approx(0.7)
    json.dumps(exact)  # every value serialises
