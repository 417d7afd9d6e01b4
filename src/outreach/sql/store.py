"""Transactions over the database, each handing out the repositories bound to it.

Services take a ``Store`` and never see SQL: ``with store.transaction() as repos:`` commits
everything done through ``repos`` together, or nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
        self.statuses = StatusRepository(connection)
        self.templates = TemplateRepository(connection)


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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
