"""Running the simulator: in the foreground (the CLI) or on a background thread (tests, demo)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime

import httpx
import uvicorn

from outreach.config import Settings
from outreach.sim.provider.app import create_sim_app
from outreach.sim.provider.config import SimConfig
from outreach.sim.provider.signing import public_key_b64


def run_sim(
    host: str = "127.0.0.1",
    port: int = 8010,
    config: SimConfig | None = None,
    clock: Callable[[], datetime] | None = None,
) -> None:
    """Serve the simulator until interrupted (what ``outreach sim`` calls)."""
    uvicorn.run(
        create_sim_app(config, clock), host=host, port=port, log_level="warning", access_log=False
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class SimServerThread:
    """The simulator on a daemon thread of this process, e.g. as a pytest fixture::

    with SimServerThread(SimConfig(webhook_base_url=...)) as sim:
        settings = Settings(twilio_base_url=sim.base_url, ...)
    """

    def __init__(
        self, config: SimConfig | None = None, host: str = "127.0.0.1", port: int | None = None
    ):
        self.app = create_sim_app(config)
        self.host = host
        self.port = port or free_port(host)
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                host=host,
                port=self.port,
                log_level="warning",
                access_log=False,
                lifespan="on",
            )
        )
        self._thread = threading.Thread(target=self._server.run, name="outreach-sim", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def state(self):
        return self.app.state.sim

    def start(self, timeout: float = 10.0) -> SimServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the provider simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def channel_settings(self, public_base_url: str, **overrides: object) -> Settings:
        """Settings whose channels send to this simulator and verify its callbacks, with
        ``public_base_url`` where the callbacks go (Twilio's StatusCallback is built from it)."""
        state = self.state
        config = state.config
        values: dict[str, object] = {
            "public_base_url": public_base_url,
            "twilio_account_sid": config.twilio_account_sid or "AC" + "0" * 32,
            "twilio_auth_token": config.twilio_auth_token,
            "twilio_base_url": self.base_url,
            "sendgrid_api_key": config.sendgrid_api_key or "SG.simulator",
            "sendgrid_host": self.base_url,
            "sendgrid_webhook_public_key": public_key_b64(state.sendgrid_key),
            "whatsapp_token": config.whatsapp_token or "simulator-token",
            "whatsapp_base_url": self.base_url,
            "whatsapp_app_secret": config.whatsapp_app_secret,
        }
        if config.whatsapp_phone_number_id:
            values["whatsapp_phone_number_id"] = config.whatsapp_phone_number_id
        values.update(overrides)
        return Settings(**values)

    def client(self) -> httpx.Client:
        """A client for the ``/_sim`` controls."""
        return httpx.Client(base_url=self.base_url, timeout=10.0)

    def __enter__(self) -> SimServerThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
