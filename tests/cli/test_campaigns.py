"""``outreach campaigns``: create from a file, activate (or be told why not), pause, resume,
status, as the API does it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from outreach.cli import app
from tests.factories import (
    add_recall_templates,
    add_segment,
    campaign_document,
    consenting_prefs_row,
    insert_rows,
    new_tag,
    patient_row,
)

runner = CliRunner()


@pytest.fixture
def environment(mariadb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTREACH_DATABASE_URL", mariadb_url)
    monkeypatch.setenv("OUTREACH_ENV", "test")


def invoke(*arguments: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(arguments))
    return result.exit_code, result.stdout, result.stderr


def test_a_campaign_from_the_command_line(
    environment: None, mariadb_engine: Engine, tmp_path: Path
) -> None:
    org = new_tag("org")
    patient = new_tag("p")
    insert_rows(
        mariadb_engine,
        patients=[patient_row(patient, org_id=org, region="TX")],
        prefs=[consenting_prefs_row(patient, datetime.now(UTC))],
    )
    add_recall_templates(mariadb_engine, org)
    file = tmp_path / "recall.json"
    segment = add_segment(mariadb_engine, org, {"==": [{"var": "region"}, "TX"]})
    file.write_text(json.dumps(campaign_document(org, segment)))

    code, out, _ = invoke("campaigns", "create", str(file))
    assert code == 0, out
    campaign_id = str(json.loads(out)["id"])
    code, out, err = invoke("campaigns", "activate", campaign_id)
    assert code == 0, err
    assert json.loads(out) == {"id": int(campaign_id), "state": "active", "segment_size": 1}
    assert json.loads(invoke("campaigns", "pause", campaign_id)[1])["state"] == "paused"
    code, _, err = invoke("campaigns", "pause", campaign_id)
    assert code == 1 and "cannot pause a paused campaign" in err
    assert json.loads(invoke("campaigns", "resume", campaign_id)[1])["state"] == "active"
    status = json.loads(invoke("campaigns", "status", campaign_id)[1])
    assert (status["state"], status["enrolled"]) == ("active", 0)


def test_refusals_are_one_clear_line_each(
    environment: None, mariadb_engine: Engine, tmp_path: Path
) -> None:
    org = new_tag("org")
    add_recall_templates(mariadb_engine, org)
    empty = add_segment(mariadb_engine, org, {"==": [{"var": "region"}, "nowhere"]})
    file = tmp_path / "campaign.json"
    file.write_text(json.dumps(campaign_document(org, empty, holdout_percent=50)))
    code, _, err = invoke("campaigns", "create", str(file))
    assert code == 1 and "invalid_definition" in err and "/holdout_percent" in err
    file.write_text(json.dumps(campaign_document(org, empty)))
    campaign_id = str(json.loads(invoke("campaigns", "create", str(file))[1])["id"])
    code, _, err = invoke("campaigns", "activate", campaign_id)
    assert code == 1 and "empty_segment" in err and "Traceback" not in err
