"""A whole local deployment's environment: one place for the demo, end-to-end tests and benches.

Every process of a deployment reads the same ``OUTREACH_*`` variables; this builds them for a
loopback deployment whose providers are the simulator.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from outreach.dead_letters import DeadLetterSealer
from outreach.sim.provider import generate_sendgrid_keypair


def local_deployment_environment(
    *,
    database_url: str,
    kafka: str,
    redis_url: str,
    sim_port: int,
    api_port: int,
    app_id: str,
    redis_prefix: str,
) -> dict[str, str]:
    private_pem, public_b64 = generate_sendgrid_keypair()
    sim = f"http://127.0.0.1:{sim_port}"
    return {
        "OUTREACH_ENV": "test",
        "OUTREACH_DATABASE_URL": database_url,
        "OUTREACH_KAFKA_BOOTSTRAP_SERVERS": kafka,
        "OUTREACH_REDIS_URL": redis_url,
        "OUTREACH_REDIS_KEY_PREFIX": redis_prefix,
        "OUTREACH_PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
        "OUTREACH_TWILIO_AUTH_TOKEN": "twilio-test-token",
        "OUTREACH_TWILIO_BASE_URL": sim,
        "OUTREACH_SENDGRID_API_KEY": "SG.test-key",
        "OUTREACH_SENDGRID_HOST": sim,
        "OUTREACH_SENDGRID_WEBHOOK_PUBLIC_KEY": public_b64,
        "OUTREACH_SIM_SENDGRID_PRIVATE_KEY_PEM": private_pem,
        "OUTREACH_WHATSAPP_TOKEN": "wa-test-token",
        "OUTREACH_WHATSAPP_APP_SECRET": "wa-app-secret",
        "OUTREACH_WHATSAPP_BASE_URL": sim,
        "OUTREACH_PORTAL_LINK_SECRET": "portal-test-secret",
        "OUTREACH_GENERIC_WEBHOOK_SECRET": "generic-test-secret",
        # One key for the deployment's processes, so whoever runs it can open its dead letters.
        "OUTREACH_DEAD_LETTER_KEY": DeadLetterSealer.new_key(),
        "OUTREACH_FAUST_APP_ID": app_id,
        "OUTREACH_KAFKA_SESSION_TIMEOUT_SECONDS": "6",
        "OUTREACH_KAFKA_REBALANCE_TIMEOUT_SECONDS": "2",
        "OUTREACH_SCHEDULER_POLL_SECONDS": "0.2",
        "OUTREACH_LOG_LEVEL": "INFO",
        "OUTREACH_SHARED_CLOCK_KEY": "clock",
        # Several workers and schedulers share this machine: each is given its own metrics
        # port (--metrics-port) where one is wanted.
        "OUTREACH_WORKER_METRICS_PORT": "0",
        "OUTREACH_SCHEDULER_METRICS_PORT": "0",
    }


def daytime_zone(now: datetime, hours: range = range(9, 14)) -> str:
    """A fixed-offset zone where it is mid-morning at ``now``: messages planned there go at once,
    with no quiet hours in the way (tests and benchmarks run at any hour of the day)."""
    for offset in range(-12, 15):
        zone = f"Etc/GMT{'-' if offset >= 0 else '+'}{abs(offset)}"  # POSIX sign is inverted
        if now.astimezone(ZoneInfo(zone)).hour in hours:
            return zone
    raise RuntimeError("no daytime zone")  # unreachable: offsets cover the whole day
