"""Start and stop outreach processes as children (the demo, end-to-end tests and benchmarks).

Each child is the real ``outreach`` command with its own environment, so what runs here is what
an operator runs. Stopping sends SIGTERM, waits, then kills: a faust worker stuck in a rebalance
may ignore SIGTERM (FIELD-NOTES.md).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from outreach.embedded.ports import wait_for_port

logger = logging.getLogger(__name__)


@dataclass
class ChildProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class ProcessGroup:
    """Children sharing one environment; a context manager that always cleans up."""

    env: Mapping[str, str]
    log_dir: Path
    children: list[ChildProcess] = field(default_factory=list)

    def start(
        self,
        name: str,
        args: Sequence[str],
        *,
        port: int | None = None,
        extra_env: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        argv: Sequence[str] | None = None,
    ) -> ChildProcess:
        """Start ``outreach <args>`` (or ``argv``, another program, e.g. a benchmark's baseline)
        as a child; with ``port``, wait until it listens."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        env = {**os.environ, **self.env, **(extra_env or {})}
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                list(argv) if argv else [sys.executable, "-m", "outreach.cli", *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        child = ChildProcess(name, process, log_path)
        self.children.append(child)
        if port is not None:
            try:
                wait_for_port("127.0.0.1", port, timeout)
            except TimeoutError:
                raise RuntimeError(f"{name} did not start:\n{child.log_tail()}") from None
        return child

    def wait_for_log(self, child: ChildProcess, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not child.alive():
                raise RuntimeError(f"{child.name} exited:\n{child.log_tail()}")
            try:
                if text in child.log_path.read_text(errors="replace"):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{child.name}: no '{text}' after {timeout}s:\n{child.log_tail()}")

    def stop(self, child: ChildProcess, timeout: float = 10.0) -> None:
        if not child.alive():
            return
        try:
            os.killpg(child.process.pid, signal.SIGTERM)
            child.process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("%s ignored SIGTERM; killing it", child.name)
            os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait(timeout)
        except ProcessLookupError:
            pass

    def kill(self, child: ChildProcess) -> None:
        """Hard stop, as a crash would: no cleanup, no group leave."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signal.SIGKILL)
        child.process.wait(10)

    def stop_all(self) -> None:
        for child in reversed(self.children):
            self.stop(child)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop_all()
