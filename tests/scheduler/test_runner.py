"""The scheduler's timed work: the stats rollup sweeps on its interval, and the weekly reports
are looked for every quarter hour, which puts a run on 08:00 in every time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import create_engine

from outreach.analytics.weekly import ReportMail
from outreach.channels.send_ledger import UnsharedSendLedger
from outreach.clock import system_clock
from outreach.config import Settings
from outreach.scheduler.runner import housekeeping_jobs
from outreach.sql.store import Store


async def _publish_nothing(messages: object) -> None:
    return None


def _jobs(mailer=None) -> dict:
    cron = AsyncIOScheduler(timezone="UTC")
    settings = Settings(stats_rollup_every_seconds=12)
    housekeeping_jobs(
        cron,
        Store(create_engine("sqlite://")),
        system_clock,
        settings,
        mailer,
        claimer="test-scheduler",
        ledger=UnsharedSendLedger(),
        publish_many=_publish_nothing,
    )
    return {job.id: job for job in cron.get_jobs()}


def test_the_rollup_sweeps_on_its_interval() -> None:
    job = _jobs()["stats-rollup"]
    assert job.trigger.interval == timedelta(seconds=12)


def test_weekly_reports_only_with_a_mailer() -> None:
    assert "weekly-reports" not in _jobs()

    def mailer(mail: ReportMail) -> str:
        return "id"

    assert "weekly-reports" in _jobs(mailer)


def test_a_weekly_run_falls_on_8am_in_zones_with_odd_offsets() -> None:
    def mailer(mail: ReportMail) -> str:
        return "id"

    trigger = _jobs(mailer)["weekly-reports"].trigger
    for zone in ("Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Pacific/Chatham"):
        eight = datetime(2026, 3, 9, 8, 0, tzinfo=ZoneInfo(zone))
        just_before = (eight - timedelta(seconds=1)).astimezone(UTC)
        fire = trigger.get_next_fire_time(None, just_before)
        assert fire == eight, zone
