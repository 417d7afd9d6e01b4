"""``outreach replies ...``: parse one message, or evaluate the parser on the held-out set.

``outreach.cli`` mounts :data:`app` under the main ``outreach`` command as ``replies``.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from outreach.replies.dataset import Split, load_labelled_replies, rows_in_split
from outreach.replies.evaluation import evaluate, evaluate_compliance, format_report
from outreach.replies.parser import parse_reply

app = typer.Typer(
    name="replies",
    help="Patient replies: parse a message, or measure the parser.",
    no_args_is_help=True,
)


@app.command("parse")
def parse_command(
    text: Annotated[str, typer.Argument(help="The reply as the patient wrote it.")],
    language: Annotated[
        str | None, typer.Option("--language", "-l", help="The patient's language (ISO 639-1).")
    ] = None,
    opted_out: Annotated[
        bool, typer.Option("--opted-out", help="The sender is currently opted out.")
    ] = False,
) -> None:
    """Print the parsed reply as JSON."""
    try:
        parsed = parse_reply(text, language, opted_out=opted_out)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--language") from error
    typer.echo(parsed.to_json())


@app.command("evaluate")
def evaluate_command(
    split: Annotated[Split, typer.Option(help="Which labelled split to score.")] = Split.TEST,
    show_errors: Annotated[
        bool, typer.Option("--show-errors", help="List the misclassified (synthetic) rows.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Per-intent precision/recall/F1 on a labelled split, then the compliance-keyword suite.

    Exits with status 1 when the compliance suite is below 100%.
    """
    rows = rows_in_split(load_labelled_replies(), split)
    report = evaluate(parse_reply, rows)
    compliance = evaluate_compliance(parse_reply)
    if as_json:
        figures = {
            "split": split.value,
            "per_intent": {
                s.intent.value: {
                    "precision": round(s.precision, 4),
                    "recall": round(s.recall, 4),
                    "f1": round(s.f1, 4),
                    "support": s.support,
                }
                for s in report.per_intent
            },
            "macro_f1": round(report.macro_f1, 4),
            "accuracy": round(report.accuracy, 4),
            "compliance": {"passed": compliance.passed, "total": compliance.total},
        }
        typer.echo(json.dumps(figures, indent=2, sort_keys=True))
    else:
        typer.echo(f"split: {split.value} ({report.total} rows, no language hint)")
        typer.echo(format_report(report))
        typer.echo(
            f"compliance keywords: {compliance.passed}/{compliance.total} ({compliance.score:.1%})"
        )
        if show_errors:
            for error in report.errors:
                typer.echo(
                    f"  {error.expected.value:>10} -> {error.predicted.value:<10} "
                    f"[{error.matched_rule}] {error.text}"
                )
        for case, parsed in compliance.failures:
            typer.echo(f"  COMPLIANCE FAILURE {case.text!r}: got {parsed.intent.value}")
    if compliance.passed != compliance.total:
        raise typer.Exit(code=1)
