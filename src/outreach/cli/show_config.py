"""``outreach config``: the effective configuration, secrets only as configured or missing."""

from __future__ import annotations

import typer

from outreach.cli.app import app, load_settings


@app.command("config")
def show_config() -> None:
    """Show the effective configuration; secrets only as configured/missing."""
    settings = load_settings()
    typer.echo(f"env: {settings.env.value}")
    typer.echo(f"database: {_mask_url(settings.resolved_database_url())}")
    typer.echo(f"kafka: {settings.kafka_bootstrap_servers}")
    typer.echo(f"redis: {_mask_url(settings.redis_url)}")
    for name, state in settings.secrets_report().items():
        typer.echo(f"{name}: {state}")


def _mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url
