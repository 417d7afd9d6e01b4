"""An in-process Redis stand-in served over TCP (fakeredis), so several processes can share it."""

from __future__ import annotations

import logging
import threading

from outreach.embedded.ports import free_loopback_port, wait_for_port

logger = logging.getLogger(__name__)


class EmbeddedRedis:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_loopback_port()
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> EmbeddedRedis:
        from fakeredis import TcpFakeServer

        self._server = TcpFakeServer(("127.0.0.1", self.port), server_type="redis")
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="embedded-redis", daemon=True
        )
        self._thread.start()
        wait_for_port("127.0.0.1", self.port)
        logger.info("embedded redis stand-in on port %s", self.port)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
