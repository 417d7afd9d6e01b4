"""A stand-in webhook receiver that records what the simulator posts, for tests and benchmarks
that run without the API."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from outreach.channels.base import WebhookRequest


@dataclass(frozen=True, slots=True)
class RecordedWebhook:
    path: str  # path and query, as requested
    headers: dict[str, str]
    body: bytes

    def webhook_request(self, base_url: str) -> WebhookRequest:
        """The framework-free request a channel verifies, as the API would build it."""
        return WebhookRequest(
            url=base_url.rstrip("/") + self.path, headers=self.headers, body=self.body
        )

    @property
    def route(self) -> str:
        return self.path.split("?", 1)[0]


class WebhookRecorder:
    """Answers every POST with 200 (or the statuses queued in ``respond_with``) and keeps it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, keep: bool = True):
        self.received: list[RecordedWebhook] = []
        self.respond_with: list[int] = []  # statuses for the next requests, then 200
        self.count = 0
        self._keep = keep
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status = recorder._record(
                    RecordedWebhook(self.path, dict(self.headers.items()), body)
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                """Silent: requests carry patients' addresses."""

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="webhook-recorder", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _record(self, webhook: RecordedWebhook) -> int:
        with self._lock:
            self.count += 1
            if self._keep:
                self.received.append(webhook)
            return self.respond_with.pop(0) if self.respond_with else 200

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self.respond_with.clear()
            self.count = 0

    def take(self) -> list[RecordedWebhook]:
        """What was received so far, forgotten here at once (none lost in between)."""
        with self._lock:
            taken, self.received = self.received, []
            return taken

    def snapshot(self) -> list[RecordedWebhook]:
        with self._lock:
            return list(self.received)

    def wait_for(
        self,
        predicate: Callable[[RecordedWebhook], bool] = lambda _: True,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[RecordedWebhook]:
        """At least ``count`` webhooks matching ``predicate``; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            found = [w for w in self.snapshot() if predicate(w)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} webhook(s), got {len(found)}")
            time.sleep(0.01)

    def start(self) -> WebhookRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookRecorder:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
