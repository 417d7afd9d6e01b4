"""The ``outreach`` command: one entry point per process of DESIGN.md ("Processes")."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated

import typer

from outreach.config import Environment, MissingSecretsError, Settings, check_startup
from outreach.logging_config import configure_logging

app = typer.Typer(
    name="outreach",
    help="Patient communication engine: clinic events in, the right message out, exactly once.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")

logger = logging.getLogger("outreach.cli")


def load_settings() -> Settings:
    """Settings from the environment, logging configured, production secrets enforced."""
    settings = Settings()
    configure_logging(settings.log_level, json_lines=settings.env is Environment.PRODUCTION)
    try:
        check_startup(settings)
    except MissingSecretsError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    logger.info("secrets: %s", settings.secrets_report())
    return settings


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    url: Annotated[str | None, typer.Option(help="Database URL (default: settings).")] = None,
) -> None:
    """Apply the Alembic migrations up to REVISION."""
    from outreach.sql.migrate import current_revision, upgrade

    settings = load_settings()
    database_url = url or settings.resolved_database_url()
    upgrade(database_url, revision)
    typer.echo(f"database at revision {current_revision(database_url)}")


@db_app.command("current")
def db_current(
    url: Annotated[str | None, typer.Option(help="Database URL (default: settings).")] = None,
) -> None:
    """Print the schema revision the database is at."""
    from outreach.sql.migrate import current_revision

    settings = load_settings()
    typer.echo(current_revision(url or settings.resolved_database_url()) or "empty")


@app.command()
def broker(
    port: Annotated[int, typer.Option(help="Loopback port to listen on.")] = 9092,
) -> None:
    """Run the embedded Kafka-compatible broker (tansu, memory storage) until Ctrl-C/SIGTERM."""
    from outreach.embedded.tansu import EmbeddedBroker

    load_settings()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    embedded = EmbeddedBroker(port).start()
    typer.echo(f"tansu broker ready on {embedded.bootstrap_servers} (Ctrl-C to stop)")
    try:
        while not stop.wait(0.5):
            if not embedded.is_running():
                typer.echo("error: the broker exited on its own", err=True)
                raise typer.Exit(code=1)
    finally:
        embedded.stop()
    typer.echo("broker stopped")


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


if __name__ == "__main__":
    app()
