from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from outreach.cli.replies import app

runner = CliRunner()


def test_parse_prints_the_reply_as_json() -> None:
    result = runner.invoke(app, ["parse", "Sí, allí estaré"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "intent": "confirm",
        "confidence": 0.92,
        "language": "es",
        "matched_rule": "phrase:es:confirm",
        "is_stop_all": False,
    }


def test_parse_options() -> None:
    opted_out = runner.invoke(app, ["parse", "YES", "--opted-out"])
    assert json.loads(opted_out.output)["intent"] == "start"
    hinted = runner.invoke(app, ["parse", "C", "--language", "ro"])
    assert json.loads(hinted.output)["language"] == "ro"
    bad = runner.invoke(app, ["parse", "C", "--language", "romanian"])
    assert bad.exit_code != 0


def test_evaluate_prints_per_intent_figures_and_the_compliance_score() -> None:
    result = runner.invoke(app, ["evaluate"])
    assert result.exit_code == 0, result.output
    for intent in ("confirm", "reschedule", "cancel", "stop", "start", "help", "other"):
        assert any(line.startswith(intent) for line in result.output.splitlines())
    assert "macro-F1" in result.output
    assert re.search(r"compliance keywords: (\d+)/\1 \(100\.0%\)", result.output)


def test_evaluate_json() -> None:
    result = runner.invoke(app, ["evaluate", "--json"])
    figures = json.loads(result.output)
    assert set(figures["per_intent"]) == {
        "confirm", "reschedule", "cancel", "stop", "start", "help", "other",
    }  # fmt: skip
    assert figures["compliance"]["passed"] == figures["compliance"]["total"]


def test_the_outreach_command_mounts_the_replies_commands() -> None:
    from outreach.cli import app as outreach_app

    result = runner.invoke(outreach_app, ["replies", "parse", "STOP"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["intent"] == "stop"
