"""The PHI canary test: the whole pipeline runs (``outreach demo``, a small clinic) with
recognisable personal values planted in names, numbers, e-mail addresses, conditions, lab tests,
medications and a patient's reply; none of them appears in any log line, dead letter, answer
or console page."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

from rich.console import Console

from outreach.demo import DemoOptions, run_demo
from outreach.sim.clinic import CANARY_REPLY


def test_no_planted_personal_value_reaches_a_log_line_dead_letter_or_answer(
    tmp_path: Path,
) -> None:
    work = tmp_path / "demo"
    shown = io.StringIO()
    options = DemoOptions(
        patients=80,
        seed=11,
        simulated_hours=72,
        real_seconds=8,
        work_dir=work,
        canaries=True,
    )
    assert run_demo(options, console=Console(file=shown, width=200)) == 0
    canaries = (work / "canaries.txt").read_text(encoding="utf-8").split()
    canaries = [c for c in canaries if len(c) >= 8]  # the reply's words are checked whole below
    assert len(canaries) > 100

    # The canaries went through the pipeline: stored, messaged, answered.
    with sqlite3.connect(work / "outreach.sqlite3") as db:
        stored = db.execute("SELECT COUNT(*) FROM patients WHERE first_name LIKE 'Zqcanary%'")
        assert stored.fetchone()[0] > 0
        replies = db.execute("SELECT COUNT(*) FROM comm_inbound WHERE body = ?", (CANARY_REPLY,))
        assert replies.fetchone()[0] > 0
        failed = db.execute(
            "SELECT COUNT(*) FROM comm_jobs WHERE status = 'sent' OR status = 'delivered'"
        )
        assert failed.fetchone()[0] > 0

    places = {
        path.name: path.read_text(encoding="utf-8", errors="replace")
        for path in (work / "logs").glob("*.log")
    }
    places["dead-letters.jsonl"] = (work / "dead-letters.jsonl").read_text(encoding="utf-8")
    places["demo output (its answers included)"] = shown.getvalue()
    # Each role signed in to the web console and opened its pages (samples, previews, reports,
    # dead letters): what they show must be masked too.
    console_pages = sorted((work / "console-pages").glob("*.html"))
    assert len(console_pages) >= 3
    places |= {f"console page {p.name}": p.read_text(encoding="utf-8") for p in console_pages}
    assert len(places) >= 9
    assert places["dead-letters.jsonl"].count("\n") > 0  # malformed events were dead-lettered
    leaks = {
        place: sorted({c for c in [*canaries, CANARY_REPLY, "CANARYDX"] if c in text})
        for place, text in places.items()
    }
    assert {place: found for place, found in leaks.items() if found} == {}
