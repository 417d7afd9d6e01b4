"""``outreach schema ...`` prints the generated documents or writes them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from outreach.cli import app
from outreach.contract.asyncapi import asyncapi_document
from outreach.contract.documents import EVENT_CONTRACT_PATH, render_documents
from outreach.contract.json_schemas import core_events_schema, outcomes_schema

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("command", "build"),
    [
        ("events", core_events_schema),
        ("outcomes", outcomes_schema),
        ("asyncapi", asyncapi_document),
    ],
)
def test_each_document_prints_as_json(command, build) -> None:
    result = runner.invoke(app, ["schema", command])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == build()


def test_out_writes_the_file_instead(tmp_path: Path) -> None:
    target = tmp_path / "events.json"
    result = runner.invoke(app, ["schema", "events", "--out", str(target)])
    assert result.exit_code == 0 and result.output == ""
    assert json.loads(target.read_text()) == core_events_schema()


def test_docs_writes_every_document_under_the_root(tmp_path: Path) -> None:
    (tmp_path / EVENT_CONTRACT_PATH).parent.mkdir(parents=True)
    shutil.copy(ROOT / EVENT_CONTRACT_PATH, tmp_path / EVENT_CONTRACT_PATH)
    result = runner.invoke(app, ["schema", "docs", "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for path, text in render_documents(tmp_path).items():
        assert (tmp_path / path).read_text() == text
    again = runner.invoke(app, ["schema", "docs", "--root", str(tmp_path)])
    assert again.output.strip() == "0 document(s) updated"
