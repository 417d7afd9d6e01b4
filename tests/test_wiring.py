"""The objects ``outreach.wiring`` builds from settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from outreach import wiring

pytestmark = pytest.mark.services


def test_the_reply_factory_builds_the_service_from_settings(
    mariadb_engine: Engine, channels, settings
) -> None:
    service = wiring.reply_handler(
        settings.model_copy(update={"reply_match_window_hours": 6.0, "reply_send_threads": 3}),
        mariadb_engine,
        lambda: datetime.now(UTC),
        channels,
    )
    try:
        assert service.match_window == timedelta(hours=6)
        assert service.default_booking_url == settings.default_booking_url
        assert service.send_pool._max_workers == 3
    finally:
        service.send_pool.shutdown(wait=True)
