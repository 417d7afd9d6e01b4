"""``outreach segments``: validate a rule file, count and preview on a database, conformance."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from outreach.cli import app
from outreach.domain import AppointmentStatus
from outreach.segments import AppointmentSummary, PatientFacts
from tests.factories import insert_patient_facts

runner = CliRunner()
RECALL = {
    "and": [
        {">=": [{"days_since": {"var": "last_attended_at"}}, 182]},
        {"!": {"var": "has_future_appointment"}},
    ]
}


def rule_file(tmp_path: Path, rule: object) -> str:
    path = tmp_path / "rule.json"
    path.write_text(json.dumps(rule), encoding="utf-8")
    return str(path)


def test_validate_prints_the_fields_and_the_sql(tmp_path: Path) -> None:
    result = runner.invoke(app, ["segments", "validate", rule_file(tmp_path, RECALL)])
    assert result.exit_code == 0, result.output
    assert "valid: reads has_future_appointment, last_attended_at" in result.output
    assert "FROM patients" in result.output


def test_validate_lists_each_problem_with_its_pointer(tmp_path: Path) -> None:
    rule = {"and": [{"var": "last_name"}, {"<": [{"var": "age"}, "x"]}]}
    result = runner.invoke(app, ["segments", "validate", rule_file(tmp_path, rule)])
    assert result.exit_code == 1
    assert result.output.splitlines()[-2:] == [
        "/and/0/var\tunknown_field\tunknown field 'last_name'; the catalogue lists the fields "
        "(docs/segments.md)",
        "/and/1/</1\twrong_type\t'<' compares a number with a string",
    ]


def test_attributes_come_from_the_settings(tmp_path: Path, monkeypatch) -> None:
    rule = rule_file(tmp_path, {"==": [{"var": "attributes.plan"}, "gold"]})
    assert runner.invoke(app, ["segments", "validate", rule]).exit_code == 1
    monkeypatch.setenv("OUTREACH_SEGMENT_ATTRIBUTES", '{"plan": "string"}')
    assert runner.invoke(app, ["segments", "validate", rule]).exit_code == 0


@pytest.mark.services
def test_count_and_preview_on_the_database(
    tmp_path: Path, monkeypatch, mariadb_url: str, mariadb_engine: Engine
) -> None:
    org_id = f"o{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC)
    visit = AppointmentSummary(AppointmentStatus.ATTENDED, now - timedelta(days=300))
    insert_patient_facts(
        mariadb_engine,
        [PatientFacts(f"{org_id}-{n}", org_id, appointments=(visit,)) for n in range(3)]
        + [PatientFacts(f"{org_id}-new", org_id)],
        now,
    )
    monkeypatch.setenv("OUTREACH_DATABASE_URL", mariadb_url)
    path = rule_file(tmp_path, RECALL)
    counted = runner.invoke(app, ["segments", "count", path, "--org", org_id])
    assert counted.exit_code == 0, counted.output
    assert counted.output.splitlines()[-1] == "patient_count: 3"
    previewed = runner.invoke(app, ["segments", "preview", path, "--org", org_id, "--sample", "2"])
    assert previewed.exit_code == 0, previewed.output
    preview = json.loads(previewed.output[previewed.output.index("{\n") :])  # after the logs
    assert preview["patient_count"] == 3
    assert [p["patient_id"] for p in preview["sample"]] == [f"{org_id}-0", f"{org_id}-1"]


def test_conformance_prints_its_figure_last() -> None:
    suites = Path(__file__).resolve().parents[1] / "data" / "jsonlogic-suites"
    result = runner.invoke(app, ["segments", "conformance", str(suites)])
    assert result.exit_code == 0, result.output
    last = result.output.splitlines()[-1]
    assert last.startswith("jsonlogic_conformance: ") and last.endswith(" of 1138 passed")
