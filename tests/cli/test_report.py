"""``outreach stats rebuild`` and ``outreach report funnel`` on the embedded default (SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from outreach.cli import app
from outreach.sql.engine import build_engine
from outreach.sql.migrate import upgrade
from tests.funnel_fixture import EXPECTED, at, build_funnel_clinic, ingest

runner = CliRunner()
DAY = "2026-03-02"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Engine, str]:
    """A SQLite database holding the hand-counted clinic, not rolled up yet."""
    url = f"sqlite:///{tmp_path / 'report.sqlite3'}"
    upgrade(url)
    engine = build_engine(url)
    clinic = build_funnel_clinic(engine)
    for minute, batch in enumerate(clinic.status_batches(), start=1):
        ingest(clinic, batch, at(minute))
    clinic.replies_and_visits(lambda step: at(10 + step))
    monkeypatch.setenv("OUTREACH_DATABASE_URL", url)
    monkeypatch.setenv("OUTREACH_VAR_DIR", str(tmp_path))
    yield engine, clinic.org_id
    engine.dispose()


def test_rebuild_then_report_in_every_format(database, tmp_path: Path) -> None:
    _, org_id = database
    rebuilt = runner.invoke(app, ["stats", "rebuild", "--from", "2026-03-01", "--to", "2026-03-03"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "10 job(s)" in rebuilt.output

    period = ["--org", org_id, "--from", DAY, "--to", DAY]
    exact = runner.invoke(app, ["report", "funnel", *period, "--format", "json", "--exact"])
    assert exact.exit_code == 0, exact.output
    steps = {s["step"]: s["count"] for s in json.loads(exact.stdout)["steps"]}
    assert {name: steps[name] for name in steps} == {name: EXPECTED[name] for name in steps}

    html_path = tmp_path / "out" / "report.html"
    written = runner.invoke(
        app, ["report", "funnel", *period, "--format", "html", "--out", str(html_path)]
    )
    assert written.exit_code == 0, written.output
    html = html_path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "&lt;11" in html

    csv_path = tmp_path / "report.csv"
    runner.invoke(app, ["report", "funnel", *period, "--format", "csv", "--out", str(csv_path)])
    csv_text = csv_path.read_text(encoding="utf-8")
    assert csv_text.splitlines()[0].startswith("day,org_id,campaign_id,purpose,channel,variant")
    assert ",<11," in csv_text

    table = runner.invoke(app, ["report", "funnel", *period])
    assert table.exit_code == 0
    assert "Delivered" in table.output and "<11" in table.output


def test_a_backwards_period_is_a_usage_error(database) -> None:
    result = runner.invoke(app, ["report", "funnel", "--from", "2026-03-05", "--to", "2026-03-01"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
