"""The simulator's lean HTTP/1.1 transport against receivers that answer in different ways."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from outreach.sim.provider import free_port
from outreach.sim.provider.transport import KeepAliveTransport

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serve(answer: Answer) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    return await reader.readexactly(length)


async def post(url: str, transport: KeepAliveTransport, timeout: float = 2.0) -> httpx.Response:
    async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
        return await client.post(url + "/webhooks/x?job_id=1", content=b"a=1")


async def test_chunked_and_closing_answers_are_read() -> None:
    bodies = []

    async def answer(reader, writer):
        bodies.append(await read_request(reader))
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        )
        bodies.append(await read_request(reader))  # the same connection, kept alive
        writer.write(b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\nno")
        await writer.drain()
        writer.close()

    server, url = await serve(answer)
    transport = KeepAliveTransport()
    async with server, httpx.AsyncClient(transport=transport) as client:
        first = await client.post(url + "/a", content=b"one")
        second = await client.post(url + "/b", content=b"two")

    assert (first.status_code, first.content) == (200, b"abcde")
    assert (second.status_code, second.content) == (403, b"no")
    assert bodies == [b"one", b"two"]


async def test_a_kept_alive_connection_closed_by_the_receiver_is_replaced() -> None:
    async def answer_once(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()
        writer.close()  # without saying so

    server, url = await serve(answer_once)
    async with server, httpx.AsyncClient(transport=KeepAliveTransport()) as client:
        statuses = [(await client.post(url, content=b"x")).status_code for _ in range(3)]

    assert statuses == [204, 204, 204]


async def test_no_receiver_is_a_connect_error() -> None:
    with pytest.raises(httpx.ConnectError):
        await post(f"http://127.0.0.1:{free_port()}", KeepAliveTransport())


async def test_a_silent_receiver_times_out() -> None:
    async def never_answer(reader, writer):
        await asyncio.sleep(5)

    server, url = await serve(never_answer)
    async with server:
        with pytest.raises(httpx.ReadTimeout):
            await post(url, KeepAliveTransport(), timeout=0.2)
