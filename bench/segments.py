"""Segments and campaigns at a million patients, on MariaDB.

Sets up its own data: a fresh database, 1,000,000 patients of one organisation with their own
preference rows and their appointments (a past attended visit each, a future booking for some, a
no-show for a few), loaded with ``LOAD DATA LOCAL INFILE``. Then prints:

- the time to count a six-condition rule through the segment compiler (``compile_segment``);
- the same rule written by hand in SQL, and the ratio of the two (both counts must agree);
- the same rule evaluated in memory (``datalogic-py`` with the domain operators) over every
  patient's record, the records built beforehand;
- the time to expand a campaign over a segment of every patient into jobs: enrolment
  (``INSERT ... SELECT``, variant and hold-out computed in the statement) and the first step's
  jobs, each decided (consent, marketing opt-in, caps, quiet hours) once per situation and
  written by ``INSERT ... SELECT``; beside it the floor, the same job rows copied by one bare
  ``INSERT ... SELECT``; then the time of one more campaign round over all those enrolments
  (exit conditions checked, nothing due).

Counts are the best of several runs (a warm buffer pool, as a marketer's repeated previews
find it). Its last line is ``segment_count_1m: X s``.

Usage: python bench/segments.py [--patients 1000000] [--keep]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from outreach.campaigns import CampaignState
from outreach.domain import Actor, AppointmentStatus
from outreach.segments import (
    AppointmentSummary,
    Catalogue,
    PatientFacts,
    RuleLimits,
    SegmentEvaluator,
    patient_record,
    segment_catalogue,
)
from outreach.services.campaigns import activate_campaign, create_campaign
from outreach.services.run_campaigns import CampaignRunner
from outreach.sql.engine import build_engine
from outreach.sql.migrate import upgrade
from outreach.sql.preference_rows import address_check_values
from outreach.sql.segment_query import compile_segment, count_statement
from outreach.sql.store import Store
from outreach.sql.template_repository import TemplateRepository
from outreach.templating import load_seed_templates

SERVER = "mysql+pymysql://root@127.0.0.1:3306/"
ORG = "bench-org"
BENCH = Actor("system:bench")
NOW = datetime.now(UTC).replace(microsecond=0)
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
LANGUAGES = ("en", "en", "en", "es", "es", "fr", "pt")
AREA_CODES = ("212", "312", "415", "617", "713", "602", "206", "404")  # no Florida floor
REGIONS = ("NY", "IL", "CA", "MA", "TX", "AZ", "WA", "GA")

# Six conditions: an age band (two), due for recall (last visit six months ago or more, nothing
# booked ahead), accepts marketing e-mail, reads English or Spanish.
RULE = {
    "and": [
        {">=": [{"var": "age"}, 18]},
        {"<": [{"var": "age"}, 75]},
        {">=": [{"days_since": {"var": "last_attended_at"}}, 182]},
        {"!": {"var": "has_future_appointment"}},
        {"==": [{"var": "marketing_opt_in_email"}, True]},
        {"in": [{"var": "language"}, ["en", "es"]]},
    ]
}
EVERYONE = {">=": [{"var": "age"}, 0]}


def hand_written_count(connection: Any, now: datetime) -> int:
    """RULE as an engineer would write it for MariaDB."""
    today = now.date()
    adult_by = date(today.year - 18, today.month, today.day)  # born on or before
    young_after = date(today.year - 75, today.month, today.day)  # born after
    return int(
        connection.execute(
            text(
                """
                SELECT COUNT(*) FROM patients p
                JOIN patient_comm_prefs c ON c.patient_id = p.id
                WHERE p.org_id = :org
                  AND p.date_of_birth <= :adult_by AND p.date_of_birth > :young_after
                  AND c.marketing_opt_in_email = 1
                  AND c.language IN ('en', 'es')
                  AND (SELECT MAX(a.starts_at) FROM appointments a
                       WHERE a.patient_id = p.id AND a.status = 'attended'
                         AND a.starts_at <= :now) <= :recall_by
                  AND NOT EXISTS (SELECT 1 FROM appointments a
                       WHERE a.patient_id = p.id AND a.status = 'booked'
                         AND a.starts_at > :now)
                """
            ),
            {
                "org": ORG,
                "adult_by": adult_by,
                "young_after": young_after,
                "now": now.replace(tzinfo=None),
                "recall_by": (now - timedelta(days=182)).replace(tzinfo=None),
            },
        ).scalar_one()
    )


# ---- data ----


@dataclass(frozen=True, slots=True)
class BenchPatient:
    patient_id: str
    born: date
    sex: str
    postal_code: str
    region: str
    email: str
    phone: str
    language: str
    timezone: str
    preferred_channel: str
    consent_granted_at: datetime | None
    marketing_email: bool
    marketing_sms: bool
    visits: tuple[tuple[str, datetime, str, datetime], ...]  # id, starts_at, status, event time


def bench_patients(count: int, seed: int = 20) -> Iterator[BenchPatient]:
    """The same patients every time for a seed: a past visit each, a booking ahead for 15%, a
    no-show in the past year for 5%."""
    rng = random.Random(seed)
    for number in range(count):
        patient_id = f"b{number:07d}"
        consent = rng.random() < 0.92
        last_visit = NOW - timedelta(days=min(int(rng.expovariate(1 / 220)), 1800) + 1)
        visits = [
            (f"past-{patient_id}", last_visit, "attended", last_visit + timedelta(minutes=30))
        ]
        if rng.random() < 0.15:
            ahead = NOW + timedelta(days=rng.randrange(1, 60))
            visits.append((f"next-{patient_id}", ahead, "booked", NOW - timedelta(days=3)))
        if rng.random() < 0.05:
            missed = NOW - timedelta(days=rng.randrange(1, 365))
            visits.append((f"miss-{patient_id}", missed, "no_show", missed + timedelta(hours=1)))
        yield BenchPatient(
            patient_id=patient_id,
            born=NOW.date() - timedelta(days=int(rng.uniform(2, 95) * 365.25)),
            sex=rng.choice(("female", "male")),
            postal_code=str(rng.randrange(10000, 99999)),
            region=REGIONS[number % len(REGIONS)],
            email=f"{patient_id}@example.com",
            phone=f"+1{AREA_CODES[number % len(AREA_CODES)]}{rng.randrange(2000000, 9999999)}",
            language=LANGUAGES[rng.randrange(len(LANGUAGES))],
            timezone=ZONES[number % len(ZONES)],
            preferred_channel=rng.choice(("email", "sms")),
            consent_granted_at=NOW - timedelta(days=rng.randrange(30, 600)) if consent else None,
            marketing_email=rng.random() < 0.4,
            marketing_sms=rng.random() < 0.2,
            visits=tuple(visits),
        )


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


NULL = "\\N"


def write_tables(folder: Path, count: int) -> dict[str, Path]:
    """Tab-separated files of the patients, their preferences and appointments, for LOAD DATA."""
    files = {name: folder / f"{name}.tsv" for name in ("patients", "prefs", "appointments")}
    with (
        files["patients"].open("w") as people,
        files["prefs"].open("w") as prefs,
        files["appointments"].open("w") as visits,
    ):
        for number, p in enumerate(bench_patients(count)):
            people.write(
                f"{p.patient_id}\t{ORG}\tbench-prov-{number % 20}\t{p.born.isoformat()}\t"
                f"{p.sex}\t{p.postal_code}\t{p.region}\t{{}}\n"
            )
            granted = _utc(p.consent_granted_at) if p.consent_granted_at else NULL
            # Addresses are checked once when stored, as the orchestrator's patient upsert does.
            checked = address_check_values(p.email, p.phone, None)
            prefs.write(
                f"{p.patient_id}\t{p.email}\t{int(bool(checked['email_valid']))}\t"
                f"{p.phone}\t{checked['phone_checked']}\t"
                f"{checked['phone_e164']}\t{p.language}\t{p.timezone}\t"
                f"{p.preferred_channel}\t{int(p.consent_granted_at is not None)}\t{granted}\t"
                f"{int(p.marketing_email)}\t{int(p.marketing_sms)}\n"
            )
            for appointment_id, starts_at, status, event_at in p.visits:
                visits.write(
                    f"{appointment_id}\t{ORG}\t{p.patient_id}\t{_utc(starts_at)}\t{status}\t"
                    f"{_utc(event_at)}\n"
                )
    return files


def facts_of(patient: BenchPatient) -> PatientFacts:
    """The same patient as segments read it in memory."""
    return PatientFacts(
        patient_id=patient.patient_id,
        org_id=ORG,
        date_of_birth=patient.born,
        sex=patient.sex,
        postal_code=patient.postal_code,
        region=patient.region,
        attributes={},
        preferences={
            "language": patient.language,
            "timezone": patient.timezone,
            "preferred_channel": patient.preferred_channel,
            "contact_consent": patient.consent_granted_at is not None,
            "marketing_opt_in_email": patient.marketing_email,
            "marketing_opt_in_sms": patient.marketing_sms,
            "marketing_opt_in_whatsapp": False,
            "opted_out_email": False,
            "opted_out_sms": False,
            "opted_out_whatsapp": False,
        },
        appointments=tuple(
            AppointmentSummary(AppointmentStatus(status), starts_at)
            for _, starts_at, status, _ in patient.visits
        ),
    )


def count_in_memory(count: int, catalogue: Catalogue) -> tuple[float, int]:
    """Seconds spent evaluating the rule over every patient's record (records built outside
    the timing, chunk by chunk), and how many matched."""
    evaluator = SegmentEvaluator(RULE, now=NOW)

    def timed(records: list[dict[str, Any]]) -> tuple[float, int]:
        started = time.perf_counter()
        found = sum(evaluator.matches(record) for record in records)
        return time.perf_counter() - started, found

    seconds, matched, chunk = 0.0, 0, []
    for patient in bench_patients(count):
        chunk.append(patient_record(facts_of(patient), catalogue, NOW))
        if len(chunk) == 50_000:
            spent, found = timed(chunk)
            seconds, matched, chunk = seconds + spent, matched + found, []
    spent, found = timed(chunk)
    return seconds + spent, matched + found


LOADS = {
    "patients": (
        "patients",
        "(id, org_id, provider_id, date_of_birth, sex, postal_code, region, attributes)",
        "",
    ),
    "prefs": (
        "patient_comm_prefs",
        "(patient_id, email, email_valid, phone, phone_checked, phone_e164, language, timezone, "
        "preferred_channel, contact_consent, "
        "consent_granted_at, marketing_opt_in_email, marketing_opt_in_sms)",
        ", email_checked = email, whatsapp_opt_in = 0, marketing_opt_in_whatsapp = 0, "
        "consent_expires_at = consent_granted_at + INTERVAL 2 YEAR",
    ),
    "appointments": (
        "appointments",
        "(appointment_id, org_id, patient_id, starts_at, status, last_event_at)",
        ", last_event_id = appointment_id, last_event_type = CONCAT('appointment.', status)",
    ),
}


def load(engine: Engine, files: dict[str, Path]) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("SET foreign_key_checks = 0, unique_checks = 0")
        for name, path in files.items():
            table, columns, extra = LOADS[name]
            connection.exec_driver_sql(
                f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {table} "
                f"FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' {columns}"
                + (f" SET {extra.lstrip(', ')}" if extra else "")
            )
        connection.execute(
            text(
                "INSERT INTO org_comm_prefs (org_id, name, timezone, language) "
                "VALUES (:org, 'Bench Dental', 'America/New_York', 'en')"
            ),
            {"org": ORG},
        )
        connection.exec_driver_sql("ANALYZE TABLE patients, patient_comm_prefs, appointments")
        TemplateRepository(connection).seed(load_seed_templates())


# ---- timing ----


def best_of(runs: int, measure: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = measure()
        best = min(best, time.perf_counter() - started)
    return best, result


@contextmanager
def bench_database(keep: bool) -> Iterator[str]:
    name = f"outreach_bench_segments_{uuid.uuid4().hex[:8]}"
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    try:
        yield f"{SERVER}{name}"
    finally:
        if keep:
            print(f"kept database {name}")
        else:
            with admin.connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE {name}")
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes that plan the jobs no situation settles "
        "(OUTREACH_CAMPAIGN_EXPANSION_WORKERS)",
    )
    options = parser.parse_args()
    # The runner says how long enrolment and each step took.
    logging.basicConfig(format="  %(message)s")
    logging.getLogger("outreach.services.run_campaigns").setLevel(logging.INFO)
    print(f"load average before: {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    with bench_database(options.keep) as url, tempfile.TemporaryDirectory() as folder:
        upgrade(url)
        engine = build_engine(url, connect_args={"local_infile": True})
        started = time.perf_counter()
        files = write_tables(Path(folder), options.patients)
        written = time.perf_counter() - started
        load(engine, files)
        print(
            f"loaded {options.patients:,} patients with appointments in "
            f"{time.perf_counter() - started:.1f} s (files {written:.1f} s)"
        )
        run(engine, options.patients, options.workers)
        engine.dispose()


def database_memory(engine: Engine) -> None:
    """What the counts read against what the buffer pool holds: a segment count scans patients,
    their preference rows and the appointments index, and from disk when they do not fit."""
    with engine.connect() as connection:
        pool = connection.exec_driver_sql("SELECT @@innodb_buffer_pool_size").scalar_one()
        sizes = connection.exec_driver_sql(
            "SELECT table_name, data_length + index_length FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name IN "
            "('patients', 'patient_comm_prefs', 'appointments')"
        ).all()
    tables = ", ".join(f"{name} {size / 2**20:,.0f} MiB" for name, size in sorted(sizes))
    print(f"innodb_buffer_pool_size: {int(pool) / 2**20:,.0f} MiB; tables read: {tables}")


def bare_job_copy(engine: Engine, campaign_id: int) -> float:
    """Seconds MariaDB alone takes to write the campaign's job rows again, with every index of
    ``comm_jobs``: what no planning can go below."""
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE jobs_floor LIKE comm_jobs")
        started = time.perf_counter()
        connection.exec_driver_sql(
            "INSERT INTO jobs_floor SELECT * FROM comm_jobs WHERE campaign_id = %s",
            (campaign_id,),
        )
        seconds = time.perf_counter() - started
        connection.exec_driver_sql("DROP TABLE jobs_floor")
    return seconds


def run(engine: Engine, patients: int, workers: int) -> None:
    catalogue = segment_catalogue()
    store = Store(engine)
    database_memory(engine)
    compiled = compile_segment(RULE, catalogue, ORG, now=NOW)
    with engine.connect() as connection:
        compiled_seconds, compiled_count = best_of(
            3, lambda: connection.execute(count_statement(compiled)).scalar_one()
        )
        hand_seconds, hand_count = best_of(3, lambda: hand_written_count(connection, NOW))
    if compiled_count != hand_count:
        raise SystemExit(f"the counts differ: compiled {compiled_count}, by hand {hand_count}")
    print(f"rule: six conditions, {compiled_count:,} of {patients:,} patients")
    print(f"compiled count: {compiled_seconds:.3f} s")
    print(
        f"hand-written count: {hand_seconds:.3f} s (compiled / hand-written: "
        f"{compiled_seconds / hand_seconds:.2f}x)"
    )

    memory_seconds, memory_count = count_in_memory(patients, catalogue)
    if memory_count != compiled_count:
        raise SystemExit(f"in memory {memory_count} patients, in SQL {compiled_count}")
    print(f"in memory: {memory_seconds:.2f} s ({memory_count:,} patients)")

    with engine.begin() as connection:
        segment_id = connection.execute(
            text(
                "INSERT INTO patient_segments (org_id, name, definition, is_active) "
                "VALUES (:org, 'everyone', :rule, 1)"
            ),
            {"org": ORG, "rule": json.dumps(EVERYONE)},
        ).lastrowid
    record = create_campaign(
        store,
        {
            "org_id": ORG,
            "name": "Recall at scale",
            "segment_id": segment_id,
            "steps": [{"template_family": "dental_recall"}],
            "variants": {"A": 50, "B": 50},
            "holdout_percent": 5,
        },
        actor=BENCH,
        now=NOW,
    )
    activation = activate_campaign(store, record.id, catalogue, RuleLimits(), actor=BENCH, now=NOW)
    assert activation.state is CampaignState.ACTIVE
    runner = CampaignRunner(
        store, catalogue, RuleLimits(), expansion_workers=workers, clock=lambda: NOW
    )
    print(f"expansion in {workers} process(es), load average {os.getloadavg()[0]:.2f}:")
    started = time.perf_counter()
    expanded = runner.expand(record.id)
    expansion_seconds = time.perf_counter() - started
    print(
        f"expansion: {expanded.enrolled:,} enrolled, {expanded.jobs_created:,} jobs "
        f"({dict(expanded.by_status)}; {expanded.by_situation:,} decided by situation) in "
        f"{expansion_seconds:.1f} s ({expanded.jobs_created / expansion_seconds:,.0f} jobs/s)"
    )
    floor_seconds = bare_job_copy(engine, record.id)
    print(
        f"floor: the same {expanded.jobs_created:,} job rows copied by one INSERT ... SELECT "
        f"into a table like comm_jobs: {floor_seconds:.1f} s (expansion / floor: "
        f"{expansion_seconds / floor_seconds:.2f}x)"
    )
    started = time.perf_counter()
    runner.run_round()
    print(
        f"a campaign round over {expanded.enrolled:,} enrolments (exit conditions, due steps): "
        f"{time.perf_counter() - started:.1f} s"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"segment_count_1m: {compiled_seconds:.3f} s")


if __name__ == "__main__":
    main()
