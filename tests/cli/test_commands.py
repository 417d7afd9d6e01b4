"""The ``outreach`` command: help, db upgrade and the embedded broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from outreach.cli import app
from outreach.embedded.ports import free_loopback_port, port_is_open
from outreach.sql.migrate import alembic_config

runner = CliRunner()


def test_help_lists_the_processes() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("db", "broker"):
        assert command in result.output


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    result = runner.invoke(app, ["db", "upgrade", "--url", url])
    assert result.exit_code == 0, result.output
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert f"revision {head}" in result.output


def test_production_without_secrets_exits_with_a_clear_error(monkeypatch) -> None:
    monkeypatch.setenv("OUTREACH_ENV", "production")
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 2
    assert "OUTREACH_SENDGRID_API_KEY" in result.output
    assert "Traceback" not in result.output


def test_broker_command_serves_and_stops_on_sigterm() -> None:
    port = free_loopback_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "outreach.cli", "broker", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 20
        while not port_is_open("127.0.0.1", port):
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "broker did not open its port"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
        assert not port_is_open("127.0.0.1", port)
        assert b"broker stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()


def test_an_unreachable_database_is_one_clear_line_not_a_traceback() -> None:
    port = free_loopback_port()  # nothing listens there
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "outreach.cli",
            "db",
            "upgrade",
            "--url",
            f"mysql+pymysql://root@127.0.0.1:{port}/outreach",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "error: database" in result.stderr and "Traceback" not in result.stderr
