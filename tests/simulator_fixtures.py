"""The provider simulator and a webhook recorder on loopback ports, for every test that sends.

Every SDK base URL points at the simulator, and any connection beyond loopback fails the test:
no test reaches a real provider. A test directory may override ``recorder`` or ``sim`` with its
own configuration.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from outreach.channels import ChannelWorker, load_channels
from outreach.config import Settings
from outreach.sim.provider import SimConfig, SimServerThread
from outreach.sim.provider.recorder import WebhookRecorder

# Short delays keep callback tests fast; the defaults are for demos.
SIM_TEST_CONFIG = {"callback_delay_ms": 5, "callback_retry_backoff_ms": 20, "seed": 7}


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection beyond loopback fails the test: SDKs must talk to the simulator only."""
    original = socket.socket.connect

    def connect(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = str(address[0]) if isinstance(address, tuple) else str(address)
            try:
                local = host == "localhost" or ipaddress.ip_address(host).is_loopback
            except ValueError:
                local = False
            if not local:
                raise OSError(f"test tried to reach {host}: only loopback is allowed")
        original(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture(scope="session")
def recorder() -> Iterator[WebhookRecorder]:
    with WebhookRecorder() as running:
        yield running


@pytest.fixture(scope="session")
def sim(recorder: WebhookRecorder) -> Iterator[SimServerThread]:
    config = SimConfig(webhook_base_url=recorder.base_url, **SIM_TEST_CONFIG)
    with SimServerThread(config) as running:
        yield running


@pytest.fixture(scope="session")
def settings(sim: SimServerThread, recorder: WebhookRecorder) -> Settings:
    return sim.channel_settings(public_base_url=recorder.base_url)


@pytest.fixture(scope="session")
def channels(settings: Settings) -> Iterator[dict[str, ChannelWorker]]:
    workers = load_channels(settings)
    yield workers
    for worker in workers.values():
        worker.close()


@pytest.fixture
def sim_client(sim: SimServerThread) -> Iterator[httpx.Client]:
    with sim.client() as client:
        yield client


@pytest.fixture(autouse=True)
def _fresh_sim(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts from the start-up configuration, no records, an empty recorder, and
    leaves no callbacks in flight for the next one."""
    if "sim" not in request.fixturenames:
        yield
        return
    sim = request.getfixturevalue("sim")
    recorder = request.getfixturevalue("recorder")
    with sim.client() as client:
        client.post("/_sim/reset").raise_for_status()
    recorder.clear()
    yield
    deadline = time.monotonic() + 3
    while sim.state.dispatcher.pending() and time.monotonic() < deadline:
        time.sleep(0.01)
