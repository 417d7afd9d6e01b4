"""Transactions over the database, each handing out the repositories bound to it.

Services take a ``Store`` and never see SQL: ``with store.transaction() as repos:`` commits
everything done through ``repos`` together, or nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine

from outreach.sql.activity_repository import ActivityRepository
from outreach.sql.api_key_repository import ApiKeyRepository
from outreach.sql.appointment_repository import AppointmentRepository
from outreach.sql.audit_repository import AuditRepository
from outreach.sql.campaign_repository import CampaignRepository
from outreach.sql.console_session_repository import ConsoleSessionRepository
from outreach.sql.counts_repository import CountsRepository
from outreach.sql.dead_letter_repository import DeadLetterRepository
from outreach.sql.engagement_repository import EngagementRepository
from outreach.sql.engine import build_engine
from outreach.sql.experiment_repository import ExperimentRepository
from outreach.sql.heartbeat_repository import HeartbeatRepository
from outreach.sql.inbox import InboxRepository
from outreach.sql.job_repository import JobRepository
from outreach.sql.model_repository import ModelRepository
from outreach.sql.opt_out_repository import OptOutRepository
from outreach.sql.org_repository import OrgRepository
from outreach.sql.organisation_settings_repository import (
    OrgSettingsRepository,
    ProviderSettingsRepository,
)
from outreach.sql.patient_repository import PatientRepository
from outreach.sql.reply_repository import ReplyRepository
from outreach.sql.report_repository import ReportRepository
from outreach.sql.request_repository import RequestRepository
from outreach.sql.rollup_repository import RollupRepository
from outreach.sql.segment_repository import SegmentRepository
from outreach.sql.situation_repository import SituationRepository
from outreach.sql.stats_repository import StatsRepository
from outreach.sql.status_repository import StatusRepository
from outreach.sql.template_repository import TemplateRepository


class Repositories:
    """The repositories of one transaction (or one read-only connection)."""

    __slots__ = (
        "activity",
        "api_keys",
        "appointments",
        "audit",
        "campaigns",
        "console_sessions",
        "counts",
        "dead_letters",
        "engagement",
        "heartbeats",
        "experiments",
        "inbox",
        "jobs",
        "models",
        "opt_outs",
        "org_settings",
        "orgs",
        "patients",
        "provider_settings",
        "replies",
        "reports",
        "requests",
        "rollup",
        "stats",
        "segments",
        "situations",
        "statuses",
        "templates",
    )

    def __init__(self, connection: Connection) -> None:
        self.activity = ActivityRepository(connection)
        self.api_keys = ApiKeyRepository(connection)
        self.appointments = AppointmentRepository(connection)
        self.audit = AuditRepository(connection)
        self.campaigns = CampaignRepository(connection)
        self.console_sessions = ConsoleSessionRepository(connection)
        self.counts = CountsRepository(connection)
        self.dead_letters = DeadLetterRepository(connection)
        self.engagement = EngagementRepository(connection)
        self.heartbeats = HeartbeatRepository(connection)
        self.experiments = ExperimentRepository(connection)
        self.inbox = InboxRepository(connection)
        self.jobs = JobRepository(connection)
        self.models = ModelRepository(connection)
        self.opt_outs = OptOutRepository(connection)
        self.org_settings = OrgSettingsRepository(connection)
        self.orgs = OrgRepository(connection)
        self.patients = PatientRepository(connection)
        self.provider_settings = ProviderSettingsRepository(connection)
        self.replies = ReplyRepository(connection)
        self.reports = ReportRepository(connection)
        self.requests = RequestRepository(connection)
        self.rollup = RollupRepository(connection)
        self.stats = StatsRepository(connection)
        self.segments = SegmentRepository(connection)
        self.situations = SituationRepository(connection)
        self.statuses = StatusRepository(connection)
        self.templates = TemplateRepository(connection)


@dataclass(frozen=True, slots=True)
class StoreAddress:
    """How another process opens the same database: a URL to build its own engine from (an
    engine and its connections cannot cross a process boundary)."""

    url: str = field(repr=False)  # may hold the password

    def open(self) -> Store:
        return Store(build_engine(self.url))


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def address(self) -> StoreAddress | None:
        """Where worker processes find this database; None when they should not write to it
        (SQLite takes one writer at a time, and an in-memory database is this process's own).
        """
        if self.engine.dialect.name == "sqlite":
            return None
        return StoreAddress(self.engine.url.render_as_string(hide_password=False))

    @contextmanager
    def transaction(self) -> Iterator[Repositories]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as connection:
            yield Repositories(connection)

    @contextmanager
    def reading(self) -> Iterator[Repositories]:
        """A connection for reads that need no transaction of their own."""
        with self.engine.connect() as connection:
            yield Repositories(connection)
