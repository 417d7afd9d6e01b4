"""``outreach segments ...``: validate, count and preview a rule file; run the JSON Logic suites.

FILE holds one JSON Logic rule (docs/segments.md); ``-`` reads it from standard input.
``validate`` needs the database only when the rule names saved segments (``in_segment``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from outreach.cli.app import app, load_settings
from outreach.config import Settings

segments_app = typer.Typer(
    help="Marketers' segments: validate, count and preview rules.", no_args_is_help=True
)
app.add_typer(segments_app, name="segments")

RuleFile = Annotated[Path, typer.Argument(help="A JSON file holding the rule ('-': stdin).")]
OrgOption = Annotated[str, typer.Option("--org", help="The organisation whose patients count.")]


def _read_rule(path: Path) -> Any:
    text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except ValueError as error:
        typer.echo(f"error: {path} is not JSON: {error}", err=True)
        raise typer.Exit(code=2) from None


def _service(settings: Settings) -> Any:
    from outreach.services.segments import SegmentService
    from outreach.sql.engine import build_engine
    from outreach.sql.store import Store

    return SegmentService(
        Store(build_engine(settings.resolved_database_url())),
        settings.segment_catalogue(),
        settings.segment_rule_limits(),
        sample_size=settings.segment_preview_sample_size,
    )


def _cli_actor(org_id: str) -> Any:
    """Who previews from the command line, for the audit log (previews show patient ids)."""
    import getpass

    from outreach.domain import Actor

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(f"cli:{user}"[:100], org_id)


def _refused(error: Exception) -> typer.Exit:
    """Print each problem as ``pointer  code  message``; exit status 1."""
    from outreach.segments import InvalidRule

    problems = (
        [e.as_dict() for e in error.errors] if isinstance(error, InvalidRule) else [error.as_dict()]  # type: ignore[attr-defined]
    )
    for problem in problems:
        typer.echo(f"{problem['pointer'] or '/'}\t{problem['code']}\t{problem['message']}")
    return typer.Exit(code=1)


@segments_app.command("validate")
def validate_command(
    file: RuleFile,
    org: Annotated[
        str, typer.Option("--org", help="The organisation (for in_segment references).")
    ] = "",
) -> None:
    """Check a rule against the catalogue, the limits and the SQL compiler; print the fields it
    reads and its SQL. Exit status 1, with one line per problem, when it cannot be saved."""
    from datetime import UTC, datetime

    from outreach.segments import (
        InvalidRule,
        SegmentNotCompilable,
        plan_segment,
        segment_references,
        validate_rule,
    )
    from outreach.sql.engine import build_engine
    from outreach.sql.segment_query import patients_selected, sql_text

    settings = load_settings()
    rule = _read_rule(file)
    try:
        if segment_references(rule):
            checked = _service(settings).check(org, rule)
            fields, sql = checked.fields, checked.sql
        else:
            catalogue = settings.segment_catalogue()
            validate_rule(rule, catalogue, settings.segment_rule_limits())
            plan = plan_segment(rule, catalogue, now=datetime.now(UTC))
            dialect = build_engine(settings.resolved_database_url()).dialect
            fields, sql = (
                tuple(sorted(plan.fields)),
                sql_text(patients_selected(plan, org), dialect),
            )
    except (InvalidRule, SegmentNotCompilable) as error:
        raise _refused(error) from None
    typer.echo(f"valid: reads {', '.join(fields) or 'no field'}")
    typer.echo(sql)


@segments_app.command("count")
def count_command(file: RuleFile, org: OrgOption) -> None:
    """How many of the organisation's patients the rule selects now."""
    from outreach.segments import InvalidRule, SegmentNotCompilable

    rule = _read_rule(file)
    try:
        count = _service(load_settings()).count_rule(org, rule)
    except (InvalidRule, SegmentNotCompilable) as error:
        raise _refused(error) from None
    typer.echo(f"patient_count: {count}")


@segments_app.command("preview")
def preview_command(
    file: RuleFile,
    org: OrgOption,
    sample: Annotated[
        int | None, typer.Option("--sample", min=0, max=100, help="Patients to show.")
    ] = None,
) -> None:
    """Count, a masked sample (ids, initials, masked addresses) and the SQL, as JSON."""
    from outreach.segments import InvalidRule, SegmentNotCompilable

    rule = _read_rule(file)
    try:
        preview = _service(load_settings()).preview_rule(org, rule, _cli_actor(org), sample)
    except (InvalidRule, SegmentNotCompilable) as error:
        raise _refused(error) from None
    typer.echo(
        json.dumps(
            {
                "patient_count": preview.patient_count,
                "sample": [
                    {
                        "patient_id": p.patient_id,
                        "initials": p.initials,
                        "email": p.email,
                        "phone": p.phone,
                    }
                    for p in preview.sample
                ],
                "sql": preview.sql,
                "evaluated_at": preview.evaluated_at.isoformat(),
            },
            indent=2,
        )
    )


@segments_app.command("conformance")
def conformance_command(
    directory: Annotated[
        Path,
        typer.Argument(
            help="The suites (index.json and its files), e.g. tests/data/jsonlogic-suites.",
            exists=True,
            file_okay=False,
        ),
    ],
) -> None:
    """Run the JSON Logic community suites on the in-memory engine; print each case that fails
    and, last, ``jsonlogic_conformance: P of T passed``."""
    from outreach.segments import load_suites, run_conformance

    report = run_conformance(load_suites(directory))
    for outcome in report.failures:
        case = outcome.case
        expected = (
            f"error {case.error_type}" if case.error_type is not None else json.dumps(case.result)
        )
        typer.echo(f"FAIL {case.suite}: {case.description}: got {outcome.got}, want {expected}")
    typer.echo(f"jsonlogic_conformance: {report.passed} of {report.total} passed")
