"""``outreach campaigns ...``: create a campaign from a JSON file, move it through its states,
and read its progress (the same use cases as ``/api/v1/campaigns``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from outreach.cli.app import app, load_settings

campaigns_app = typer.Typer(
    help="Marketing campaigns: create, activate, pause, resume, complete, archive, status.",
    no_args_is_help=True,
)
app.add_typer(campaigns_app, name="campaigns")

CampaignArgument = Annotated[int, typer.Argument(help="The campaign id.", min=1)]


def _echo(document: dict[str, Any]) -> None:
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


def _services() -> Any:
    from outreach import wiring

    settings = load_settings()
    return (
        wiring.store(wiring.database_engine(settings)),
        wiring.clock(settings),
        settings.segment_catalogue(),
        settings.segment_rule_limits(),
    )


def _cli_actor() -> Any:
    """Who acts from the command line, for the audit log: the operating-system user."""
    import getpass

    from outreach.domain import Actor

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(f"cli:{user}"[:100])


def _fail(code: str, message: str, problems: Any = ()) -> None:
    typer.echo(f"error: {code}: {message}", err=True)
    for problem in problems:
        typer.echo(f"  {problem}", err=True)
    raise typer.Exit(code=1)


@campaigns_app.command("create")
def create_command(
    file: Annotated[Path, typer.Argument(help="The campaign definition (JSON).", exists=True)],
) -> None:
    """Create a draft campaign from FILE; print it with its id."""
    from outreach.campaigns import CampaignDefinitionError
    from outreach.services.campaigns import CampaignRefused, create_campaign

    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as error:
        _fail("invalid_json", str(error))
    store, clock, _catalogue, _limits = _services()
    try:
        record = create_campaign(store, document, actor=_cli_actor(), now=clock())
    except CampaignDefinitionError as error:
        _fail("invalid_definition", "the definition does not hold together", error.problems)
    except CampaignRefused as error:
        _fail(error.code, str(error))
    _echo({"id": record.id, "state": record.state.value, "name": record.definition.name})


def _change(campaign_id: int, action: str) -> None:
    from outreach.campaigns import CampaignAction, InvalidTransition
    from outreach.services.campaigns import (
        CampaignNotFound,
        CampaignRefused,
        activate_campaign,
        change_campaign_state,
    )

    store, clock, catalogue, limits = _services()
    try:
        if action == CampaignAction.ACTIVATE:
            change = activate_campaign(
                store, campaign_id, catalogue, limits, actor=_cli_actor(), now=clock()
            )
        else:
            change = change_campaign_state(
                store, campaign_id, CampaignAction(action), actor=_cli_actor(), now=clock()
            )
    except CampaignNotFound as error:
        _fail("not_found", str(error))
    except InvalidTransition as error:
        _fail("invalid_state", str(error))
    except CampaignRefused as error:
        _fail(error.code, str(error), [f"{p.pointer}: {p.message}" for p in error.problems])
    view: dict[str, Any] = {"id": change.campaign_id, "state": change.state.value}
    if change.segment_size is not None:
        view["segment_size"] = change.segment_size
    if change.jobs_cancelled:
        view["jobs_cancelled"] = change.jobs_cancelled
    _echo(view)
    for warning in change.warnings:
        typer.echo(f"warning: {warning}", err=True)


@campaigns_app.command("activate")
def activate_command(campaign_id: CampaignArgument) -> None:
    """Check the templates (PHI policy) and the segment, then start: the scheduler enrols."""
    _change(campaign_id, "activate")


@campaigns_app.command("pause")
def pause_command(campaign_id: CampaignArgument) -> None:
    """Stop dispatching at once; queued messages stay queued."""
    _change(campaign_id, "pause")


@campaigns_app.command("resume")
def resume_command(campaign_id: CampaignArgument) -> None:
    """Dispatch and plan again."""
    _change(campaign_id, "resume")


@campaigns_app.command("complete")
def complete_command(campaign_id: CampaignArgument) -> None:
    """End the campaign now; queued messages are cancelled."""
    _change(campaign_id, "complete")


@campaigns_app.command("archive")
def archive_command(campaign_id: CampaignArgument) -> None:
    """Archive a draft or completed campaign (kept for reports)."""
    _change(campaign_id, "archive")


@campaigns_app.command("status")
def status_command(campaign_id: CampaignArgument) -> None:
    """The campaign's state and progress: enrolled, hold-out, per variant funnel, suppressions."""
    from outreach.services.campaigns import CampaignNotFound, campaign_status

    store, _clock, _catalogue, _limits = _services()
    try:
        found = campaign_status(store, campaign_id)
    except CampaignNotFound as error:
        _fail("not_found", str(error))
    _echo(
        {
            "id": found.campaign.id,
            "name": found.campaign.definition.name,
            "state": found.campaign.state.value,
            **found.progress.as_json(),
        }
    )
    for warning in found.warnings:
        typer.echo(f"warning: {warning}", err=True)
