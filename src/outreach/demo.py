"""``outreach demo``: the whole product on embedded defaults, one simulated clinic day.

SQLite, the tansu broker, an in-process Redis stand-in and the provider simulator; the real
``outreach`` processes (api, worker, scheduler, sim) run as children. A synthetic clinic's day of
core events is published through Kafka while a shared simulated clock moves forward, so
confirmations go at once and reminders fall due; the simulator delivers, fails some and has some
patients open and answer, each at hours that follow their planted preferred hour, and the clinic
reports who came to their appointments. Every twelve simulated hours (the nightly job, sped up so
the loop shows within the run) the send-time model is trained on the engagement so far and every
patient gets a best hour, which times their later flexible messages, and a fatigue score. A
marketer's recall runs beside it: the patients' past visits are published first, then a recall
segment and an A/B campaign with a hold-out are created and activated through the API with a
marketer's key, and the scheduler enrols and sends it. The summary shows what happened at every
step, the campaign's included, and the funnel from the stats rollups; the HTML report is written
to ``<work dir>/report.html``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from redis import Redis
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine

from outreach.analytics.readings import readings
from outreach.analytics.report_formats import TABLE_COLUMNS, summary_rows
from outreach.analytics.report_html import render_html
from outreach.analytics.rollup_rows import ReportScope
from outreach.analytics.small_cells import CellPolicy
from outreach.api.access import API_KEY_HEADER
from outreach.campaigns.recall import dental_recall_campaign, dental_recall_segment
from outreach.clock import SharedShiftedClock
from outreach.config import Settings
from outreach.delivery.send_window import AFTER_DEADLINE, IN_QUIET_HOURS, OUTSIDE_LEGAL_FLOOR
from outreach.domain import Actor, Role
from outreach.embedded.ports import free_loopback_port
from outreach.embedded.redis_server import EmbeddedRedis
from outreach.embedded.tansu import EmbeddedBroker
from outreach.launcher import ProcessGroup
from outreach.preferences import OrgSettings, PreferenceLayer, ProviderSettings
from outreach.services.api_keys import issue_api_key
from outreach.services.assign_send_times import AssignmentReport, assign_send_times
from outreach.services.funnel_reports import funnel_report
from outreach.services.organisation_settings import (
    replace_org_settings,
    replace_provider_settings,
)
from outreach.services.roll_up_stats import roll_up_changes
from outreach.services.send_time_audit import audit_send_times
from outreach.services.template_versions import seed_shipped_templates
from outreach.services.train_send_time_model import (
    TrainingReport,
    train_send_time_model,
)
from outreach.sim.clinic import (
    CANARY_REPLY,
    VISIT_OUTCOME_TYPES,
    SyntheticClinic,
    event_key,
    event_value,
    expected_counts,
    generate_clinic,
    malformed_events,
    plant_canaries,
    visit_history,
    visit_outcomes,
)
from outreach.sim.deployment import local_deployment_environment
from outreach.sql.engine import build_engine
from outreach.sql.migrate import upgrade
from outreach.sql.store import Store
from outreach.topics import CORE_EVENTS, DLQ, OUTCOMES, STAFF_INBOX, ensure_topics
from outreach.wiring import fatigue_policy, send_time_learning

logger = logging.getLogger(__name__)

# How the simulated patients behave (shares of delivered messages that get each answer).
DEMO_REPLIES = [
    {"body": "YES", "rate": 0.12},
    {"body": "C", "rate": 0.04},
    {"body": "Can we do Tuesday instead?", "rate": 0.03},
    {"body": "STOP", "rate": 0.02},
    {"body": "no puedo ir", "rate": 0.01},
]
SIM_STEP = timedelta(minutes=15)
# How often the demo runs the scheduler's nightly send-time learning, in simulated time.
LEARNING_EVERY = timedelta(hours=12)
DEMO_ACTOR = Actor("system:demo")
# Of delivered e-mail, the share opened, and of those the share with a link clicked.
DEMO_OUTCOMES = {
    "delivered": 0.95,
    "failed": 0.02,
    "bounced": 0.02,
    "undelivered": 0.01,
    "opened": 0.5,
    "clicked": 0.4,
}
# Twilio's price per SMS, so the report shows what the day cost.
DEMO_PRICES = {"sms": 0.0079}
# Reports that leave the system hide small counts (OUTREACH_REPORT_SMALL_CELL_THRESHOLD).
DEMO_REPORT_POLICY = CellPolicy(11)
# The marketer's recall starts an hour into the day, once the past visits are in.
CAMPAIGN_STARTS_AFTER = timedelta(hours=1)


@dataclass
class DemoOptions:
    patients: int = 2000
    seed: int = 7
    # Appointments are booked 1-3 days ahead: three simulated days let most reminders fall due.
    simulated_hours: float = 72.0
    real_seconds: float = 50.0
    work_dir: Path = Path("var/demo")
    # Keep the API (and its console) and the other processes up after the summary, until Ctrl-C.
    serve: bool = False
    # Plant recognisable personal values (sim.clinic.canaries) in names, addresses, conditions,
    # lab tests, medications and a reply body: the PHI canary test looks for them afterwards.
    canaries: bool = False


@dataclass
class DemoRun:
    clinic: SyntheticClinic
    # The day's events and the visit outcomes the simulated days reach, in time order.
    events: list[dict[str, Any]] = field(default_factory=list)
    api_url: str = ""
    started: float = field(default_factory=time.monotonic)
    published: int = 0
    malformed: int = 0
    history: int = 0
    marketer_key: str = ""
    segment_size: int = 0
    campaign_id: int | None = None
    campaign_warnings: list[str] = field(default_factory=list)

    @property
    def recall_org(self) -> str:
        return self.clinic.orgs[0].org_id

    training: TrainingReport | None = None
    assignment: AssignmentReport | None = None
    trainings: int = 0


def next_weekday_morning(now: datetime) -> datetime:
    """The demo's day starts at 06:00 UTC on the next weekday (clinics book weekdays)."""
    day = (now + timedelta(days=1)).replace(hour=6, minute=0, second=0, microsecond=0)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _prepare_database(url: str, clinic: SyntheticClinic) -> Engine:
    upgrade(url)
    engine = build_engine(url)
    now = datetime.now(UTC)
    store = Store(engine)
    seed_shipped_templates(store)
    # The clinic's settings go in the way an administrator's would (audited as "demo").
    for org in clinic.orgs:
        settings = OrgSettings(
            org_id=org.org_id,
            name=org.name,
            clinic_phone=org.clinic_phone,
            booking_url=f"https://portal.clinic.example/{org.org_id}/book",
            layer=PreferenceLayer(timezone=org.timezone, language=org.language),
        )
        replace_org_settings(store, settings, actor=DEMO_ACTOR, now=now)
    for provider in clinic.providers:
        replace_provider_settings(
            store,
            ProviderSettings(
                provider_id=provider.provider_id,
                org_id=provider.org_id,
                display_name=provider.display_name,
            ),
            actor=DEMO_ACTOR,
            now=now,
        )
    return engine


async def _publish(bootstrap: str, records: Sequence[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=10, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(CORE_EVENTS, value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _count_topic(
    bootstrap: str, topic: str, field_name: str | None = None, keep_to: Path | None = None
) -> Counter[str]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    counts: Counter[str] = Counter()
    kept = keep_to.open("wb") if keep_to is not None else None
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=1500, max_records=5000)
            if not batch:
                break
            for messages in batch.values():
                for message in messages:
                    if kept is not None:
                        kept.write(message.value + b"\n")
                    key = "messages"
                    if field_name:
                        try:
                            key = str(json.loads(message.value).get(field_name, "?"))
                        except (ValueError, AttributeError):
                            key = "?"
                    counts[key] += 1
    finally:
        if kept is not None:
            kept.close()
        await consumer.stop()
    return counts


def _queued_due(engine: Engine, now: datetime) -> int:
    with Store(engine).reading() as repos:
        return repos.counts.pending_due(now)


def run_demo(options: DemoOptions, console: Console | None = None) -> int:
    # Tables need room; a pipe or CI log would otherwise get 80 columns.
    console = console or Console(width=None if Console().is_terminal else 140)
    work = options.work_dir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    day_start = next_weekday_morning(datetime.now(UTC))
    clinic = generate_clinic(patients=options.patients, seed=options.seed, day_start=day_start)
    replies = DEMO_REPLIES
    if options.canaries:
        clinic, planted = plant_canaries(clinic)
        # Listed so that anyone can look for them in the logs and dead letters afterwards.
        (work / "canaries.txt").write_text("\n".join(planted) + "\n", encoding="utf-8")
        replies = [*DEMO_REPLIES, {"body": CANARY_REPLY, "rate": 0.2}]
    day_end = day_start + timedelta(hours=options.simulated_hours)
    visits = visit_outcomes(clinic.events, day_end, options.seed)
    run = DemoRun(clinic, sorted([*clinic.events, *visits], key=lambda e: e["occurred_at"]))
    console.print(
        f"[bold]outreach demo[/]: {len(clinic.patients)} patients, {len(clinic.orgs)} "
        f"organisations, {len(clinic.events)} core events over a simulated day "
        f"from {day_start:%a %d %b %H:%M} UTC"
    )

    database_url = f"sqlite:///{(work / 'outreach.sqlite3').resolve()}"
    engine = _prepare_database(database_url, clinic)
    broker = EmbeddedBroker(log_path=work / "tansu.log").start()
    redis_server = EmbeddedRedis().start()
    try:
        asyncio.run(ensure_topics(broker.bootstrap_servers, partitions=4))
        sim_port, api_port = free_loopback_port(), free_loopback_port()
        env = local_deployment_environment(
            database_url=database_url,
            kafka=broker.bootstrap_servers,
            redis_url=redis_server.url,
            sim_port=sim_port,
            api_port=api_port,
            app_id=f"outreach-demo-{uuid.uuid4().hex[:6]}",
            redis_prefix="demo:",
        )
        env["OUTREACH_ENV"] = "development"
        env["OUTREACH_JOBS_GAUGE_REFRESH_SECONDS"] = "5"  # the demo's day lasts under a minute
        # Its day passes in under a minute of real time: unconfirmed sends are asked about
        # (and retries come back) within seconds, not the minutes a real deployment waits.
        env["OUTREACH_SEND_RECONCILE_AFTER_SECONDS"] = "2"
        env["OUTREACH_SEND_RETRY_MAX_DELAY_SECONDS"] = "10"
        # Campaign rounds every 2 s: about three simulated hours at the demo's pace.
        env["OUTREACH_CAMPAIGN_ROUND_EVERY_SECONDS"] = "2"
        # The shared clock runs about 1,800 times faster than the wall clock: the scheduler's
        # rollup sweeps often, with a margin of simulated hours for late commits.
        env["OUTREACH_STATS_ROLLUP_EVERY_SECONDS"] = "5"
        env["OUTREACH_STATS_ROLLUP_MARGIN_SECONDS"] = str(6 * 3600)
        run.api_url = f"http://127.0.0.1:{api_port}"
        clock = SharedShiftedClock(
            Redis.from_url(redis_server.url, decode_responses=True),
            "demo:" + env["OUTREACH_SHARED_CLOCK_KEY"],
        )
        clock.set_now(day_start)
        worker_metrics, scheduler_metrics = free_loopback_port(), free_loopback_port()
        with ProcessGroup(env, work / "logs") as group:
            group.start("sim", ["sim", "--port", str(sim_port)], port=sim_port)
            group.start("api", ["api", "--port", str(api_port)], port=api_port)
            sim_url = f"http://127.0.0.1:{sim_port}"
            httpx.post(
                f"{sim_url}/_sim/config",
                json={
                    "error_rate": 0.02,
                    "auto_replies": replies,
                    "outcomes": DEMO_OUTCOMES,
                    "prices": DEMO_PRICES,
                    "callback_delay_ms": 20,
                    # Patients open and answer at hours that follow their planted preferred hour.
                    "engagement_profiles": _engagement_profiles(clinic),
                    # Reports of late engagement arrive twice as fast as the simulated clock
                    # would have them (stamped all the same), so the run ends sooner.
                    "clock_speed": 2 * options.simulated_hours * 3600 / options.real_seconds,
                },
                timeout=30,
            ).raise_for_status()
            with console.status("starting the worker and the scheduler"):
                worker = group.start("worker", ["worker", "--metrics-port", str(worker_metrics)])
                group.wait_for_log(worker, "worker ready", timeout=120)
                scheduler = group.start(
                    "scheduler", ["scheduler", "--metrics-port", str(scheduler_metrics)]
                )
                group.wait_for_log(scheduler, "polling every", timeout=60)
            _simulate_day(options, run, broker.bootstrap_servers, clock, engine, console)
            _settle(engine, clock, sim_url, console)
            with console.status("training the send-time model on the whole run's engagement"):
                _learn_send_times(run, engine, clock())
            _summarise(run, engine, broker.bootstrap_servers, sim_url, console, work)
            _report(run, engine, clock, day_end, work, console)
            access = _show_access(engine, clinic, f"http://127.0.0.1:{api_port}", console)
            _show_operations(access, (api_port, worker_metrics, scheduler_metrics), console)
            pages = _show_console(access, console, serving=options.serve)
            _keep_console_pages(work, pages)
            if options.serve:
                _serve_until_interrupted(console)
    finally:
        redis_server.stop()
        broker.stop()
        engine.dispose()
    console.print(
        f"[green]demo finished in {time.monotonic() - run.started:.0f}s[/]; logs in {work / 'logs'}"
    )
    return 0


def _engagement_profiles(clinic: SyntheticClinic) -> dict[str, dict[str, Any]]:
    """The planted truth of every patient, by address, for the provider simulator only."""
    profiles: dict[str, dict[str, Any]] = {}
    for patient in clinic.patients:
        truth = patient.engagement_profile()
        for address in patient.addresses():
            profiles[address] = {
                "timezone": truth.timezone,
                "preferred_hour": truth.preferred_hour,
                "responsiveness": truth.responsiveness,
            }
    return profiles


def _learn_send_times(run: DemoRun, engine: Engine, now: datetime) -> None:
    """What the scheduler does nightly: train (promoting a model that does no worse), then give
    every patient the best hour of the model in use and a fatigue score."""
    settings = Settings()
    store = Store(engine)
    learning = send_time_learning(settings)
    run.training = train_send_time_model(store, now, learning)
    run.assignment = assign_send_times(store, now, learning, fatigue_policy(settings))
    run.trainings += 1


def _simulate_day(
    options: DemoOptions,
    run: DemoRun,
    bootstrap: str,
    clock: SharedShiftedClock,
    engine: Engine,
    console: Console,
) -> None:
    events = run.events
    start = run.clinic.day_start
    end = start + timedelta(hours=options.simulated_hours)
    steps = int((end - start) / SIM_STEP)
    pause = options.real_seconds / steps
    bad = malformed_events(options.seed, 7, day_start=start)
    asyncio.run(_publish(bootstrap, [(b"malformed", raw) for raw in bad]))
    run.malformed = len(bad)
    history = [(event_key(e), event_value(e)) for e in visit_history(run.clinic)]
    cursor = 0
    progress = Progress(
        TextColumn("[bold]simulated {task.fields[now]}"),
        BarColumn(),
        TextColumn("{task.fields[published]} events published"),
        TextColumn("{task.fields[queued]} due"),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        task = progress.add_task("day", total=steps, now="", published=0, queued=0)
        for step in range(1, steps + 1):
            sim_now = start + step * SIM_STEP
            clock.set_now(sim_now)
            batch = []
            while (
                cursor < len(events)
                and datetime.fromisoformat(events[cursor]["occurred_at"]) <= sim_now
            ):
                batch.append((event_key(events[cursor]), event_value(events[cursor])))
                cursor += 1
            if batch:
                asyncio.run(_publish(bootstrap, batch))
                run.published += len(batch)
            if step == 1:
                # The patients exist (their upserts come first): now their past visits.
                asyncio.run(_publish(bootstrap, history))
                run.history = len(history)
            if sim_now - start == CAMPAIGN_STARTS_AFTER:
                _start_recall(run, engine, console)
            if (sim_now - start) % LEARNING_EVERY == timedelta(0) and sim_now < end:
                _learn_send_times(run, engine, sim_now)
            queued = _queued_due(engine, sim_now) if step % 8 == 0 else None
            progress.update(
                task,
                advance=1,
                now=f"{sim_now:%a %H:%M} UTC",
                published=run.published,
                **({"queued": queued} if queued is not None else {}),
            )
            time.sleep(pause)
        if cursor < len(events):
            asyncio.run(
                _publish(bootstrap, [(event_key(e), event_value(e)) for e in events[cursor:]])
            )
            run.published += len(events) - cursor


@dataclass
class DemoAccess:
    """The keys the demo made, and what its sample calls answered."""

    api_url: str
    keys: dict[Role, str]
    anonymous_status: int
    platform_status: int
    sample_patient: str


def _show_access(
    engine: Engine, clinic: SyntheticClinic, api_url: str, console: Console
) -> DemoAccess:
    """Issue one key per role for the first organisation, show how to call the API with them,
    and show that a call without a key is refused."""
    org_id = clinic.orgs[0].org_id
    keys = {
        role: issue_api_key(
            Store(engine),
            org_id=org_id,
            role=role,
            name=f"demo {role.value}",
            actor=DEMO_ACTOR,
            now=datetime.now(UTC),
        ).plaintext
        for role in Role
    }
    patient = next(p for p in clinic.patients if p.org_id == org_id).patient_id
    context_url = f"{api_url}/api/v1/patients/{patient}/comm-context"
    anonymous = httpx.get(context_url, timeout=10)
    platform = httpx.get(context_url, headers={API_KEY_HEADER: keys[Role.PLATFORM]}, timeout=10)
    table = Table(title=f"API keys for {org_id} (shown once)", title_justify="left")
    for column in ("role", "key", "for example"):
        table.add_column(column)
    examples = {
        Role.PLATFORM: f"curl -H '{API_KEY_HEADER}: $KEY' {context_url}",
        Role.MARKETER: f"curl -H '{API_KEY_HEADER}: $KEY' '{api_url}/api/v1/templates?active=true'",
        Role.ANALYST: f"curl -H '{API_KEY_HEADER}: $KEY' '{api_url}/api/v1/reports/funnel?format=csv'",  # noqa: E501
        Role.ADMIN: f"curl -H '{API_KEY_HEADER}: $KEY' {api_url}/api/v1/orgs/{org_id}/comm-prefs",
    }
    for role, key in keys.items():
        table.add_row(role.value, key, examples[role])
    console.print(table)
    console.print(
        f"GET comm-context without a key: [bold]{anonymous.status_code}[/] "
        f"{anonymous.json().get('error')}; with the platform key: "
        f"[bold]{platform.status_code}[/] (and a comm_context_read row in the audit log)"
    )
    return DemoAccess(api_url, keys, anonymous.status_code, platform.status_code, patient)


def _show_operations(access: DemoAccess, ports: tuple[int, int, int], console: Console) -> None:
    api_port, worker_port, scheduler_port = ports
    scraped = {}
    for name, port, path in (
        ("api", api_port, "/metrics"),
        ("worker", worker_port, "/"),
        ("scheduler", scheduler_port, "/"),
    ):
        text = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10).text
        scraped[name] = sum(
            1 for line in text.splitlines() if line.startswith("outreach_") and " " in line
        )
    ready = httpx.get(f"{access.api_url}/ready", timeout=10)
    console.print(
        _table(
            "Operations",
            ["what", "where", "now"],
            [
                ("readiness", f"{access.api_url}/ready", f"{ready.status_code} {ready.json()}"),
                ("api metrics", f"{access.api_url}/metrics", f"{scraped['api']} samples"),
                (
                    "worker metrics",
                    f"http://127.0.0.1:{worker_port}/",
                    f"{scraped['worker']} samples",
                ),
                (
                    "scheduler metrics",
                    f"http://127.0.0.1:{scheduler_port}/",
                    f"{scraped['scheduler']} samples",
                ),
                (
                    "refused without a key",
                    "GET comm-context",
                    str(access.anonymous_status),
                ),
            ],
        )
    )


def _console_pages(api_url: str, key: str) -> dict[str, tuple[int, str]]:
    """Sign in to the console with ``key`` as a browser would (the form and its CSRF token),
    then open every page its navigation offers: path -> (status, HTML)."""
    with httpx.Client(base_url=api_url, timeout=30) as client:
        form = client.get("/console/sign-in").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        client.post(
            "/console/sign-in",
            data={"api_key": key, "csrf_token": token.group(1) if token else ""},
        )
        home = client.get("/console/")
        pages = {"/console/": (home.status_code, home.text)}
        navigation = home.text.split('<nav aria-label="Console">', 1)[-1].split("</nav>", 1)[0]
        for path in re.findall(r'href="(/console/[^"]+)"', navigation):
            answer = client.get(path)
            pages[path] = (answer.status_code, answer.text)
        return pages


def _show_console(access: DemoAccess, console: Console, *, serving: bool) -> dict[str, str]:
    """Where the web console is and who can sign in to it (one key per role it admits); each
    role signs in and opens its pages. Returns the pages' HTML (for the PHI canary test)."""
    rows, opened = [], {}
    for role, sees in (
        (Role.MARKETER, "segments, templates, campaigns"),
        (Role.ANALYST, "reports"),
        (Role.ADMIN, "everything, and operations"),
    ):
        pages = _console_pages(access.api_url, access.keys[role])
        fine = sum(1 for status, _ in pages.values() if status == 200)
        rows.append((role.value, access.keys[role], sees, f"{fine} of {len(pages)} pages 200"))
        opened |= {f"{role.value} {path}": html for path, (_, html) in pages.items()}
    console.print(
        _table(
            f"Web console: {access.api_url}/console/",
            ["role", "sign in with this key", "sees", "opened now"],
            rows,
        )
    )
    if not serving:
        console.print(
            "the console stops with the demo: [bold]make serve[/] (or "
            "[bold]outreach demo --serve[/]) keeps it up until Ctrl-C"
        )
    return opened


def _keep_console_pages(work: Path, pages: dict[str, str]) -> None:
    """The console pages the demo opened, kept for inspection (and the PHI canary test)."""
    folder = work / "console-pages"
    folder.mkdir(exist_ok=True)
    for index, (name, html) in enumerate(sorted(pages.items())):
        (
            folder / f"{index:02d}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.html"
        ).write_text(html, encoding="utf-8")


def _serve_until_interrupted(console: Console) -> None:
    console.print("[bold]serving[/]: the console and the API stay up until Ctrl-C")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopping")


def _start_recall(run: DemoRun, engine: Engine, console: Console) -> None:
    """The marketer's part: the recall segment, then the A/B campaign with a hold-out, through
    the API with a marketer's key once the past visits are stored; the scheduler's next round
    enrols it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with Store(engine).reading() as repos:
            if repos.counts.events_by_type().get("appointment.attended", 0) >= run.history:
                break
        time.sleep(0.2)
    run.marketer_key = issue_api_key(
        Store(engine),
        org_id=run.recall_org,
        role=Role.MARKETER,
        name="demo recall marketer",
        actor=DEMO_ACTOR,
        now=datetime.now(UTC),
    ).plaintext
    marketer = {API_KEY_HEADER: run.marketer_key}
    segment = httpx.post(
        f"{run.api_url}/api/v1/segments",
        json={**dental_recall_segment(), "org_id": run.recall_org},
        headers=marketer,
        timeout=30,
    )
    segment.raise_for_status()
    # The shipped recall reminds after a week; the demo's three days remind after two.
    steps = [
        {"offset_hours": 0, "template_family": "dental_recall", "channel": "best"},
        {"offset_hours": 48, "template_family": "dental_recall_reminder", "channel": "best"},
    ]
    created = httpx.post(
        f"{run.api_url}/api/v1/campaigns",
        json=dental_recall_campaign(run.recall_org, segment.json()["id"], steps=steps),
        headers=marketer,
        timeout=30,
    )
    created.raise_for_status()
    run.campaign_id = created.json()["id"]
    activated = httpx.post(
        f"{run.api_url}/api/v1/campaigns/{run.campaign_id}/activate", headers=marketer, timeout=60
    )
    activated.raise_for_status()
    run.segment_size = activated.json()["segment_size"]
    run.campaign_warnings = activated.json()["warnings"]
    console.print(
        f"marketer: recall segment of {run.segment_size} patients; A/B campaign "
        f"{run.campaign_id} with a 10% hold-out activated (reminder two days later)"
    )


def _settle(
    engine: Engine, clock: SharedShiftedClock, sim_url: str, console: Console, timeout: float = 40.0
) -> None:
    """Wait until nothing due is left and the simulator's callbacks and replies are through."""
    deadline = time.monotonic() + timeout
    with console.status("letting the last sends, callbacks and replies land"):
        quiet_since = None
        while time.monotonic() < deadline:
            pending = httpx.get(f"{sim_url}/_sim/stats", timeout=10).json()
            callbacks = pending.get("callbacks", {}).get("pending", 0)
            due = _queued_due(engine, clock())
            if due == 0 and callbacks == 0:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 3:
                    return
            else:
                quiet_since = None
            time.sleep(0.5)
    console.print("[yellow]some work was still in flight at the end of the demo[/]")


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*[str(value) for value in row])
    return table


def _pivot(rows: Sequence[tuple[str, str, int]], first: str) -> Table:
    statuses = sorted({status for _, status, _ in rows})
    by_key: dict[str, Counter[str]] = {}
    for key, status, count in rows:
        by_key.setdefault(key or "-", Counter())[status] += count
    table = Table(title=f"Jobs by {first} and status", title_justify="left")
    table.add_column(first)
    for status in statuses:
        table.add_column(status, justify="right")
    table.add_column("total", justify="right")
    for key, counts in sorted(by_key.items()):
        table.add_row(key, *[str(counts.get(s, 0)) for s in statuses], str(sum(counts.values())))
    return table


def _summarise(
    run: DemoRun, engine: Engine, bootstrap: str, sim_url: str, console: Console, work: Path
) -> None:
    with Store(engine).reading() as repos:
        consumed = repos.counts.events_by_type()
        by_purpose = repos.counts.jobs_by_purpose_and_status()
        by_channel = repos.counts.jobs_by_channel_and_status()
        suppressions = repos.counts.suppressions_by_reason()
        intents = repos.counts.replies_by_intent()
        provider_statuses = repos.counts.provider_statuses()
        send_time_sources = repos.counts.jobs_by_send_time_source()
        learnt_by_source = repos.engagement.learnt_best_hours()
    # The entries themselves stay in the work directory for a look (originals sealed).
    dead_letters = asyncio.run(
        _count_topic(bootstrap, DLQ, "stage", keep_to=work / "dead-letters.jsonl")
    )
    outcomes = asyncio.run(_count_topic(bootstrap, OUTCOMES, "type"))
    staff = asyncio.run(_count_topic(bootstrap, STAFF_INBOX))
    sim_stats = httpx.get(f"{sim_url}/_sim/stats", timeout=10).json()

    # The day's events, the visit outcomes the simulated days reached, and the past visits.
    published = Counter(event["type"] for event in run.events)
    published["appointment.attended"] += run.history
    kinds = [*expected_counts(run.clinic), *(k for k in VISIT_OUTCOME_TYPES)]
    console.print()
    console.print(
        _table(
            "Core events",
            ["type", "published", "consumed"],
            [(kind, published.get(kind, 0), consumed.get(kind, 0)) for kind in dict.fromkeys(kinds)]
            + [
                (
                    "malformed (to outreach.dlq)",
                    run.malformed,
                    dead_letters.get("orchestrator.parse", 0),
                )
            ],
        )
    )
    console.print(_pivot([(p, s, c) for p, s, c in by_purpose], "purpose"))
    console.print(_pivot([(ch or "-", s, c) for ch, s, c in by_channel], "channel"))
    console.print(_table("Suppressions", ["reason", "jobs"], suppressions))
    console.print(
        _table(
            "Provider statuses received (signed webhooks)", ["status", "events"], provider_statuses
        )
    )
    console.print(
        _table(
            "Patient replies", ["intent", "messages"], [(i or "unparsed", c) for i, c in intents]
        )
    )
    console.print(
        _table(
            "Dead letters (outreach.dlq) by stage",
            ["stage", "messages"],
            sorted(dead_letters.items()),
        )
    )
    console.print(
        _table(
            "Outcomes for the core platform",
            ["type", "messages"],
            sorted(outcomes.items()) + [("staff inbox items", sum(staff.values()))],
        )
    )
    counters = sim_stats.get("counters", {})
    console.print(_table("Provider simulator", ["counter", "value"], sorted(counters.items())))
    timing = audit_send_times(Store(engine), run.clinic.day_start)
    console.print(
        _table(
            f"Send times ({timing.checked} sends checked in each patient's own zone)",
            ["sends", "count"],
            [
                (
                    "outside 08:00-21:00 local (20:00 for Florida numbers)",
                    timing.breaches.get(OUTSIDE_LEGAL_FLOOR, 0),
                ),
                ("inside the patient's quiet hours", timing.breaches.get(IN_QUIET_HOURS, 0)),
                ("after the job's deadline", timing.breaches.get(AFTER_DEADLINE, 0)),
            ],
        )
    )
    console.print(
        _send_time_table(run, send_time_sources, learnt_by_source),
    )

    if run.campaign_id is not None:
        _summarise_campaign(run, console)


def _summarise_campaign(run: DemoRun, console: Console) -> None:
    status = httpx.get(
        f"{run.api_url}/api/v1/campaigns/{run.campaign_id}/status",
        headers={API_KEY_HEADER: run.marketer_key},
        timeout=30,
    )
    status.raise_for_status()
    progress = status.json()
    exited = ", ".join(f"{reason} {n}" for reason, n in progress["exited"].items()) or "none"
    console.print(
        _table(
            f"Recall campaign {run.campaign_id} ({run.recall_org}, state {progress['state']})",
            ["", "patients"],
            [
                ("segment size at activation", run.segment_size),
                ("enrolled", progress["enrolled"]),
                ("held out (never messaged)", progress["held_out"]),
                ("exited (" + exited + ")", sum(progress["exited"].values())),
            ],
        )
    )
    stages = ("enrolled", "sent", "delivered", "clicked", "replied", "suppressed", "cancelled")
    console.print(
        _table(
            "Recall campaign by variant (jobs; enrolled: patients)",
            ["variant", *stages],
            [
                (name, *(counts[stage] for stage in stages))
                for name, counts in progress["variants"].items()
            ],
        )
    )
    console.print(
        _table(
            "Recall campaign suppressions",
            ["reason", "jobs"],
            sorted(progress["suppressed"].items()),
        )
    )
    for warning in run.campaign_warnings:
        console.print(f"[yellow]campaign warning:[/] {warning}")


def _report(
    run: DemoRun,
    engine: Engine,
    clock: SharedShiftedClock,
    day_end: datetime,
    work: Path,
    console: Console,
) -> None:
    """Catch the stats rollup up (the scheduler's sweep, over the whole run), print the funnel
    and write the HTML report."""
    store = Store(engine)
    now = clock()
    with console.status("rolling up the stats and writing the report"):
        roll_up_changes(store, now, margin=now - run.clinic.day_start + timedelta(hours=1))
        # Every organisation's days the run touched (their zones reach a day either side).
        scope = ReportScope(
            (run.clinic.day_start - timedelta(days=1)).date(), (day_end + timedelta(days=1)).date()
        )
        report = funnel_report(store, scope, now, title="Demo: the synthetic clinic's funnel")
        path = work / "report.html"
        path.write_text(render_html(report, DEMO_REPORT_POLICY), encoding="utf-8")
    console.print(
        _table(
            "Funnel (stats rollups; counts under 11 hidden, as in reports)",
            TABLE_COLUMNS,
            summary_rows(report, DEMO_REPORT_POLICY),
        )
    )
    said = readings(report, DEMO_REPORT_POLICY)
    for line in (said.funnel, said.channels, said.suppressions, said.intents):
        console.print(f"  {line}")
    console.print(f"[bold]HTML report[/]: {path.resolve()}")


def _send_time_table(
    run: DemoRun,
    send_time_sources: Sequence[tuple[str, int]],
    learnt_by_source: dict[str, int],
) -> Table:
    training, assignment = run.training, run.assignment
    rows: list[tuple[str, Any]] = [
        ("trainings (every 12 simulated hours, and at the end)", run.trainings)
    ]
    if training is not None and training.version is not None:
        metrics = training.metrics
        rows += [
            ("model version in use", training.active_version),
            (
                f"last training: version {training.version}",
                "promoted" if training.promoted else f"not promoted ({training.reason})",
            ),
            (
                "  trained on / judged on (held-out) sends",
                f"{metrics['training_sends']} / {metrics['heldout_sends']}",
            ),
            (
                "  held-out prompt engagement at the learnt hour",
                f"{metrics['heldout_policy_value']:.3f}",
            ),
            ("  ... at the cohort prior's hour", f"{metrics['cohort_prior_policy_value']:.3f}"),
            (
                f"  ... everyone at {metrics['population_hour']}:00",
                f"{metrics['population_hour_policy_value']:.3f}",
            ),
        ]
    elif training is not None:
        rows.append(("model", training.reason))
    rows += [
        ("patients with a learnt best hour", sum(learnt_by_source.values())),
        ("  from their own messages", learnt_by_source.get("model", 0)),
        ("  from their cohort (no message yet)", learnt_by_source.get("cohort_prior", 0)),
        ("fatigued patients (fewer marketing messages)", assignment.fatigued if assignment else 0),
    ]
    rows += [(f"jobs timed by: {source}", count) for source, count in sorted(send_time_sources)]
    return _table("Send-time model (best hour) and fatigue", ["", "value"], rows)
