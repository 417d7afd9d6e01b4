"""The ``outreach`` Typer app and the settings every command starts from."""

from __future__ import annotations

import logging

import typer

from outreach.config import Environment, MissingSecretsError, Settings, check_startup
from outreach.logging_config import configure_logging

app = typer.Typer(
    name="outreach",
    help="Patient communication engine: clinic events in, the right message out, exactly once.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

logger = logging.getLogger("outreach.cli")


def load_settings() -> Settings:
    """Settings from the environment, logging configured, production secrets enforced."""
    settings = Settings()
    configure_logging(
        settings.log_level,
        json_lines=settings.env is Environment.PRODUCTION,
        verbose_libraries=settings.verbose_libraries,
    )
    try:
        check_startup(settings)
    except MissingSecretsError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    logger.info("secrets: %s", settings.secrets_report())
    return settings
