"""Reports at scale on the real MariaDB: a year of 50 organisations, 10,000,000 provider statuses.

Sets up its own data in a fresh database, generated inside MariaDB from its sequence engine
(``seq_1_to_N``): about 4.9 million jobs spread over 2025, each sent one's statuses (sent,
delivered or failed or bounced, opened, clicked, with Twilio's price on SMS), and replies to a
share of them. Then measures, and prints:

    rollup: N status events/s       the scheduler's incremental sweep, cold, over the whole year
                                    (every job's facts worked out and rolled into comm_stats)
    funnel_query: X ms              a year's funnel report for one organisation (median of 5):
                                    the three grouped reads and the pandas work, as the API does

Usage: python bench/reports.py [--events 10000000] [--keep]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import create_engine, text

from outreach.analytics.rollup_rows import ReportScope
from outreach.services.funnel_reports import funnel_report
from outreach.services.roll_up_stats import roll_up_changes
from outreach.sql.engine import build_engine
from outreach.sql.migrate import upgrade
from outreach.sql.store import Store

MARIADB = "mysql+pymysql://root@127.0.0.1:3306/"
ORGS = 50
YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
YEAR_SECONDS = 365 * 24 * 3600
# Statuses per job, from the shares below: 91 % of jobs are sent; a sent job has a "sent"
# report, then delivered (95 %), failed (3 %) or bounced (2 %); delivered e-mail and WhatsApp
# are opened (45 %), opened e-mail clicked (30 %).
EVENTS_PER_JOB = 0.91 * (1 + 0.95 + 0.03 + 0.02 + 0.95 * 0.45 * 0.5 + 0.95 * 0.45 * 0.3 * 0.3)
CHUNK = 250_000

_H = "CRC32(CONCAT('{salt}', {column})) % 100"


def h(salt: str, column: str = "seq") -> str:
    """A stable pseudo-random 0..99 per row."""
    return _H.format(salt=salt, column=column)


def sql(connection, statement: str) -> None:
    # The statements hold "%" (modulo): nothing may be formatted into them by the driver.
    connection.exec_driver_sql(statement, execution_options={"no_parameters": True})


def load(engine, jobs: int) -> None:
    with engine.begin() as connection:
        sql(connection, "SET SESSION foreign_key_checks = 0, unique_checks = 0")
        sql(
            connection,
            "INSERT INTO org_comm_prefs (org_id, name, timezone, updated_at) "
            "SELECT CONCAT('org-', LPAD(seq, 2, '0')), CONCAT('Clinic ', seq), "
            "ELT(1 + seq % 5, 'America/New_York', 'America/Chicago', 'America/Los_Angeles', "
            "'Europe/London', 'America/Phoenix'), NOW(6) "
            f"FROM seq_1_to_{ORGS}",
        )
    for first in range(1, jobs + 1, CHUNK):
        last = min(jobs, first + CHUNK - 1)
        with engine.begin() as connection:
            sql(connection, "SET SESSION foreign_key_checks = 0, unique_checks = 0")
            sql(
                connection,
                "INSERT INTO comm_jobs (id, idempotency_key, org_id, patient_id, purpose, "
                "channel, status, suppression_reason, requested_at, scheduled_for, created_at, "
                "updated_at, sent_at, provider_message_id, attempt, context) "
                "SELECT seq, CONCAT('bench:', seq), "
                f"CONCAT('org-', LPAD(1 + seq % {ORGS}, 2, '0')), CONCAT('p', seq % 400000), "
                f"ELT(1 + {h('p')} % 7, 'appt_confirm', 'appt_reminder', 'appt_reminder', "
                "'no_show', 'rx_refill', 'lab_ready', 'campaign_education'), "
                f"IF({h('s')} < 6, NULL, IF({h('c')} < 50, 'sms', IF({h('c')} < 80, 'email', "
                "'whatsapp'))), "
                f"IF({h('s')} < 6, 'suppressed', IF({h('s')} < 9, 'cancelled', 'delivered')), "
                f"IF({h('s')} < 6, ELT(1 + {h('r')} % 3, 'no_consent', 'opted_out', "
                "'quiet_hours_deadline'), NULL), "
                "t, t, t, t + INTERVAL 2 HOUR, "
                f"IF({h('s')} < 9, NULL, t + INTERVAL (30 + {h('l')} * 60) SECOND), "
                f"IF({h('s')} < 9, NULL, CONCAT('M', seq)), 1, '{{}}' "
                f"FROM (SELECT seq, TIMESTAMP '2025-01-01 00:00:00' + INTERVAL "
                f"FLOOR((seq - 1) * {YEAR_SECONDS} / {jobs}) SECOND AS t "
                f"FROM seq_{first}_to_{last}) generated",
            )
    kinds = (
        "SELECT 'sent' AS status, 2 AS secs UNION ALL SELECT 'delivered', 20 "
        "UNION ALL SELECT 'failed', 25 UNION ALL SELECT 'bounced', 25 "
        "UNION ALL SELECT 'opened', 1800 UNION ALL SELECT 'clicked', 2400"
    )
    delivered = f"{h('d', 'j.id')} < 95"
    opened = f"{delivered} AND {h('o', 'j.id')} < 45"
    for first in range(1, jobs + 1, CHUNK):
        last = min(jobs, first + CHUNK - 1)
        with engine.begin() as connection:
            sql(connection, "SET SESSION foreign_key_checks = 0, unique_checks = 0")
            sql(
                connection,
                "INSERT INTO comm_status_events (job_id, provider, provider_message_id, status, "
                "occurred_at, received_at, price_micros, price_unit, raw) "
                "SELECT j.id, CASE j.channel WHEN 'sms' THEN 'twilio' WHEN 'email' THEN "
                "'sendgrid' ELSE 'whatsapp' END, j.provider_message_id, k.status, "
                f"j.sent_at + INTERVAL (k.secs + {h('x', 'j.id')}) SECOND, "
                f"j.sent_at + INTERVAL (k.secs + {h('x', 'j.id')} + 1) SECOND, "
                "IF(j.channel = 'sms' AND k.status IN ('delivered', 'failed'), 7900, NULL), "
                "IF(j.channel = 'sms' AND k.status IN ('delivered', 'failed'), 'USD', NULL), "
                f"'{{}}' FROM comm_jobs j JOIN ({kinds}) k "
                f"WHERE j.id BETWEEN {first} AND {last} AND j.sent_at IS NOT NULL AND ("
                "k.status = 'sent' "
                f"OR (k.status = 'delivered' AND {delivered}) "
                f"OR (k.status = 'failed' AND {h('d', 'j.id')} BETWEEN 95 AND 97) "
                f"OR (k.status = 'bounced' AND {h('d', 'j.id')} >= 98) "
                f"OR (k.status = 'opened' AND j.channel IN ('email', 'whatsapp') AND {opened}) "
                f"OR (k.status = 'clicked' AND j.channel = 'email' AND {opened} "
                f"AND {h('k', 'j.id')} < 30))",
            )
            sql(
                connection,
                "INSERT INTO comm_inbound (provider, provider_message_id, channel, from_address, "
                "body, received_at, job_id, intent, confidence, handled_at, created_at) "
                "SELECT 'twilio', CONCAT('IN', j.id), j.channel, 'sender', '', "
                "j.sent_at + INTERVAL 1200 SECOND, j.id, "
                f"ELT(1 + {h('i', 'j.id')} % 4, 'confirm', 'confirm', 'reschedule', 'stop'), 0.9, "
                "j.sent_at + INTERVAL 1201 SECOND, j.sent_at + INTERVAL 1201 SECOND "
                f"FROM comm_jobs j WHERE j.id BETWEEN {first} AND {last} "
                f"AND j.sent_at IS NOT NULL AND {delivered} AND {h('y', 'j.id')} < 12",
            )


def count(engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    jobs = round(args.events / EVENTS_PER_JOB)
    name = f"outreach_bench_reports_{uuid.uuid4().hex[:8]}"
    admin = create_engine(MARIADB, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    url = f"{MARIADB}{name}"
    try:
        upgrade(url)
        engine = build_engine(url)
        started = time.perf_counter()
        load(engine, jobs)
        events = count(engine, "comm_status_events")
        print(
            f"loaded {jobs:,} jobs, {events:,} status events and "
            f"{count(engine, 'comm_inbound'):,} replies for {ORGS} organisations over 2025 in "
            f"{time.perf_counter() - started:.0f} s"
        )
        store = Store(engine)
        now = YEAR_START + timedelta(days=366)
        started = time.perf_counter()
        run = roll_up_changes(store, now, margin=timedelta(minutes=2), chunk_size=10_000)
        elapsed = time.perf_counter() - started
        print(
            f"rollup (incremental sweep, cold): {run.jobs_examined:,} jobs and "
            f"{run.status_events:,} status events in {elapsed:.0f} s: "
            f"{run.jobs_examined / elapsed:,.0f} jobs/s"
        )
        print(f"rollup: {run.status_events / elapsed:,.0f} status events/s")
        scope = ReportScope(date(2025, 1, 1), date(2025, 12, 31), "org-07")
        report = funnel_report(store, scope, now)  # warm-up
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            report = funnel_report(store, scope, now)
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"a year of org-07: {report.planned:,} jobs planned, {len(report.rows):,} report "
            f"rows; runs {', '.join(f'{t:.0f}' for t in timings)} ms"
        )
        engine.dispose()
        print(f"funnel_query: {statistics.median(timings):.0f} ms")
    finally:
        if not args.keep:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


if __name__ == "__main__":
    main()
