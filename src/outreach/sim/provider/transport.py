"""A lean HTTP/1.1 keep-alive transport for the simulator's ``httpx.AsyncClient``.

httpx's default connection pool managed about 500-700 small POSTs/s here (2 cores), against
tens of thousands over plain asyncio streams; the simulator must post thousands of webhooks a
second, so plain ``http://`` goes through this transport while ``https://`` (a tunnel to a real
deployment) keeps httpx's own. It speaks just what webhook receivers answer: a status, headers,
a body sized by Content-Length, chunks, or the connection's end.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import httpx

_MAX_HEAD_BYTES = 64 * 1024
_DROPPED_HEADERS = (b"transfer-encoding", b"content-encoding")
_Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class KeepAliveTransport(httpx.AsyncBaseTransport):
    def __init__(self, max_connections: int = 64, fallback: httpx.AsyncBaseTransport | None = None):
        self._max_connections = max_connections
        self._idle: defaultdict[tuple[str, int], list[_Connection]] = defaultdict(list)
        self._slots: asyncio.Semaphore | None = None
        self._fallback = fallback or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "http":
            return await self._fallback.handle_async_request(request)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._max_connections)
        timeouts = request.extensions.get("timeout", {})
        timeout = timeouts.get("read") or timeouts.get("connect") or 5.0
        payload = _serialise(request, await request.aread())
        key = (request.url.host, request.url.port or 80)
        async with self._slots:
            try:
                async with asyncio.timeout(timeout):
                    return await self._exchange(key, payload, request)
            except TimeoutError:
                raise httpx.ReadTimeout(
                    "webhook receiver did not answer", request=request
                ) from None

    async def _exchange(self, key: tuple[str, int], payload: bytes, request: httpx.Request):
        reused = bool(self._idle[key])
        connection = self._idle[key].pop() if reused else await self._connect(key, request)
        try:
            status, headers, body, keep = await _round_trip(connection, payload)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            _close(connection)
            if not reused:
                raise httpx.ReadError(
                    f"webhook receiver hung up: {exc!r}", request=request
                ) from None
            # A kept-alive connection the receiver closed meanwhile: once more on a fresh one.
            connection = await self._connect(key, request)
            try:
                status, headers, body, keep = await _round_trip(connection, payload)
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                _close(connection)
                raise httpx.ReadError("webhook receiver hung up", request=request) from None
        if keep and len(self._idle[key]) < self._max_connections:
            self._idle[key].append(connection)
        else:
            _close(connection)
        return httpx.Response(status, headers=headers, content=body, request=request)

    async def _connect(self, key: tuple[str, int], request: httpx.Request) -> _Connection:
        try:
            return await asyncio.open_connection(*key, limit=_MAX_HEAD_BYTES)
        except OSError as exc:
            raise httpx.ConnectError(
                f"cannot reach webhook receiver: {exc}", request=request
            ) from None

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                _close(connection)
        self._idle.clear()
        await self._fallback.aclose()


def _serialise(request: httpx.Request, body: bytes) -> bytes:
    lines = [request.method.encode("ascii") + b" " + request.url.raw_path + b" HTTP/1.1\r\n"]
    has_length = False
    for name, value in request.headers.raw:
        lower = name.lower()
        if lower == b"content-length":
            has_length = True
        elif lower == b"transfer-encoding":
            continue
        lines.append(name + b": " + value + b"\r\n")
    if not has_length:
        lines.append(b"Content-Length: %d\r\n" % len(body))
    lines.append(b"\r\n")
    return b"".join(lines) + body


async def _round_trip(connection: _Connection, payload: bytes):
    reader, writer = connection
    writer.write(payload)
    await writer.drain()
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].split(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        if status >= 200 or status == 101:
            break  # 1xx interim answers precede the real one
    headers = []
    for line in header_lines:
        name, _, value = line.partition(b":")
        headers.append((name.strip(), value.strip()))
    fields = {name.lower(): value.lower() for name, value in headers}
    keep = fields.get(b"connection") != b"close"
    if status in (204, 304):
        body = b""
    elif fields.get(b"transfer-encoding", b"").endswith(b"chunked"):
        body = await _read_chunks(reader)
    elif b"content-length" in fields:
        body = await reader.readexactly(int(fields[b"content-length"]))
    else:
        body, keep = await reader.read(), False
    # The body is de-chunked here and must not be decoded again (webhook answers are unused).
    headers = [(n, v) for n, v in headers if n.lower() not in _DROPPED_HEADERS]
    return status, headers, body, keep


async def _read_chunks(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # trailers are not expected from receivers
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _close(connection: _Connection) -> None:
    connection[1].close()
