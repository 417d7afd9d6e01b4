"""The Prometheus metrics of every outreach process, on a registry of the process's own.

Built once per process by its command (nothing registers at import time) and handed down; each
process fills the metrics of its part of the pipeline and leaves the others empty:

- ``outreach_jobs{status, channel}`` (gauge): the scheduler counts them every
  ``jobs_gauge_refresh_seconds``;
- ``outreach_send_seconds{channel}`` (histogram): one provider call, in the worker;
- ``outreach_provider_errors_total{channel, code}``: sends a provider refused, in the worker;
- ``outreach_suppressions_total{reason, stage}``: jobs suppressed when planned (worker),
  claimed (scheduler) or sent (worker);
- ``outreach_consumer_lag{topic, partition}`` (gauge): messages behind the end, in the worker;
- ``outreach_webhook_seconds{route, status}`` (histogram) and
  ``outreach_http_requests_total{method, route, status}``: in the API.

The API serves them at ``/metrics``; the worker and the scheduler on their own port
(``worker_metrics_port``, ``scheduler_metrics_port``) with ``serve_metrics``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

logger = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.jobs = Gauge(
            "outreach_jobs",
            "Jobs by status and channel, as last counted",
            ["status", "channel"],
            registry=r,
        )
        self.send_seconds = Histogram(
            "outreach_send_seconds",
            "Time of one provider send call",
            ["channel"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.provider_errors = Counter(
            "outreach_provider_errors",
            "Sends a provider refused, by its error code",
            ["channel", "code"],
            registry=r,
        )
        self.suppressions = Counter(
            "outreach_suppressions",
            "Jobs suppressed, by reason and by the stage that decided",
            ["reason", "stage"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "outreach_consumer_lag",
            "Messages between a partition's end and what was consumed",
            ["topic", "partition"],
            registry=r,
        )
        self.webhook_seconds = Histogram(
            "outreach_webhook_seconds",
            "Time to answer a webhook",
            ["route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.http_requests = Counter(
            "outreach_http_requests",
            "API requests answered",
            ["method", "route", "status"],
            registry=r,
        )

    def count_suppressions(self, stage: str, by_reason: Mapping[str, int]) -> None:
        for reason, count in by_reason.items():
            if count:
                self.suppressions.labels(reason=reason, stage=stage).inc(count)

    def set_jobs(self, counts: Iterable[tuple[str | None, str, int]]) -> None:
        """Replace ``outreach_jobs`` with (channel, status, count) rows."""
        self.jobs.clear()
        for channel, status, count in counts:
            self.jobs.labels(status=status, channel=channel or "none").set(count)


def serve_metrics(metrics: Metrics, port: int, process: str) -> None:
    """Serve ``metrics`` on 0.0.0.0:``port`` from a daemon thread (0: not at all).

    A port already taken fails here, at start-up, like any other bad configuration."""
    if port == 0:
        return
    start_http_server(port, registry=metrics.registry)
    logger.info("%s metrics on port %d", process, port)
