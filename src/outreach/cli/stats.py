"""``outreach stats ...``: the rollups behind every report.

``outreach.cli`` mounts :data:`app` under the main ``outreach`` command as ``stats``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import typer

from outreach.cli.app import load_settings

app = typer.Typer(
    name="stats",
    help="The stats rollups (comm_stats) behind the reports.",
    no_args_is_help=True,
)


@app.command("rebuild")
def rebuild_command(
    first: Annotated[
        datetime | None,
        typer.Option("--from", formats=["%Y-%m-%d"], help="First day (default: the first job's)."),
    ] = None,
    last: Annotated[
        datetime | None,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, included (default: today)."),
    ] = None,
) -> None:
    """Recompute the rollups of a range of days from the jobs, their provider statuses, replies
    and appointments: the numbers the scheduler's incremental rollup reaches."""
    from outreach import wiring
    from outreach.services.roll_up_stats import rebuild_stats

    settings = load_settings()
    engine = wiring.database_engine(settings)
    store = wiring.store(engine)
    now = wiring.clock(settings)()
    last_day = last.date() if last else now.date() + timedelta(days=1)
    if first:
        first_day = first.date()
    else:
        with store.reading() as repos:
            earliest = repos.rollup.earliest_request()
        first_day = (earliest or now).date() - timedelta(days=1)
    if last_day < first_day:
        raise typer.BadParameter("--to comes before --from", param_hint="--to")
    run = rebuild_stats(
        store, first_day, last_day, now, chunk_size=settings.stats_rollup_chunk_size
    )
    engine.dispose()
    typer.echo(
        f"rebuilt {first_day.isoformat()}..{last_day.isoformat()}: {run.jobs_examined} job(s), "
        f"{run.status_events} provider status(es)"
    )
