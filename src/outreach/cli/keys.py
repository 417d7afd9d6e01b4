"""``outreach keys create|list|revoke``: API keys, from the command line (the first admin key of a
deployment comes from here; admins then manage theirs through ``/api/v1/keys``)."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Annotated

import typer

from outreach.cli.app import app, load_settings
from outreach.domain import Actor, Role

keys_app = typer.Typer(help="API keys: one organisation and one role each.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _actor() -> Actor:
    """Who ran the command, for the audit log: the operating-system user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(f"cli:{user}"[:100])


@keys_app.command("create")
def create(
    org: Annotated[str, typer.Option(help="The organisation the key acts for.")],
    role: Annotated[Role, typer.Option(help="What the key may do.")],
    name: Annotated[str, typer.Option(help="What the key is for (shown in listings).")],
) -> None:
    """Issue a key and print it: the only time it is shown. Only its digest is stored."""
    from outreach import wiring
    from outreach.services.api_keys import issue_api_key

    settings = load_settings()
    engine = wiring.database_engine(settings)
    try:
        issued = issue_api_key(
            wiring.store(engine),
            org_id=org,
            role=role,
            name=name,
            actor=Actor(_actor().name, org),
            now=datetime.now(UTC),
        )
    finally:
        engine.dispose()
    typer.echo(f"key {issued.key.prefix} ({role.value} of {org}): {issued.plaintext}")
    typer.echo("Store it now: it cannot be shown again. Send it as the X-API-Key header.")


@keys_app.command("list")
def list_keys(
    org: Annotated[str | None, typer.Option(help="Only this organisation's keys.")] = None,
) -> None:
    """Every key (prefixes only), revoked ones marked."""
    from outreach import wiring
    from outreach.services.api_keys import list_api_keys

    settings = load_settings()
    engine = wiring.database_engine(settings)
    try:
        found = list_api_keys(wiring.store(engine), org)
    finally:
        engine.dispose()
    for key in found:
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "live"
        typer.echo(
            f"{key.prefix}  {key.org_id}  {key.role.value:<8}  {state:<22}  {key.name}"
            f"  (by {key.created_by}, {key.created_at:%Y-%m-%d})"
        )
    if not found:
        typer.echo("no keys")


@keys_app.command("revoke")
def revoke(prefix: Annotated[str, typer.Argument(help="The key's visible prefix.")]) -> None:
    """Revoke a key: it stops working at once."""
    from outreach import wiring
    from outreach.services.api_keys import revoke_api_key

    settings = load_settings()
    engine = wiring.database_engine(settings)
    try:
        done = revoke_api_key(wiring.store(engine), prefix, actor=_actor(), now=datetime.now(UTC))
    finally:
        engine.dispose()
    if not done:
        typer.echo(f"error: no live key {prefix}", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"key {prefix} revoked")
