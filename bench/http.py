"""A minimal HTTP/1.1 keep-alive client on asyncio streams.

Load generation shares the machine's two cores with the server under test, so the client
must cost as little as possible: no connection pool, no header objects, one request at a
time per connection, and responses read by ``Content-Length`` only (the server never
chunks JSON). It talks only to loopback.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

API = "/apps/WebHostTaskManagement/api/v1"


class HttpError(Exception):
    """A response other than the expected status."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One keep-alive connection to ``127.0.0.1:port``."""

    def __init__(self, port: int, token: str | None) -> None:
        self.port = port
        self._auth = f"Authorization: Bearer {token}\r\n".encode() if token else b""
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Connection:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except ConnectionError:
                pass

    def encode(self, method: str, path: str, body: object = None) -> bytes:
        """The bytes of a request; build them once to send them many times."""
        payload = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Length: {len(payload)}\r\n"
        ).encode()
        kind = b"Content-Type: application/json\r\n" if payload else b""
        return head + kind + self._auth + b"\r\n" + payload

    async def send(self, request: bytes) -> Response:
        assert self._reader is not None and self._writer is not None
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self._reader.readexactly(length) if length else b""
        return Response(status, body)

    async def call(self, method: str, path: str, body: object = None, expect: int = 200) -> Any:
        response = await self.send(self.encode(method, path, body))
        if response.status != expect:
            raise HttpError(f"{method} {path}: {response.status} {response.body[:200]!r}")
        return response.json()


async def hammer(
    port: int, token: str | None, requests: Sequence[bytes], connections: int
) -> tuple[float, list[float]]:
    """Send ``requests`` over ``connections`` keep-alive connections, each one request at a
    time; returns the wall time taken and each request's latency (seconds)."""
    latencies: list[float] = []
    failures: list[str] = []
    cursor = iter(requests)

    async def client() -> None:
        async with Connection(port, token) as conn:
            for request in cursor:
                start = time.perf_counter()
                response = await conn.send(request)
                latencies.append(time.perf_counter() - start)
                if response.status != 200 and len(failures) < 3:
                    failures.append(f"{response.status} {response.body[:200]!r}")

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    if failures:
        raise HttpError(f"{len(failures)}+ requests failed, e.g. {failures[0]}")
    return elapsed, latencies


def submit_body(name: str, command: str, mode: str) -> dict[str, str]:
    return {"jobName": name, "command": command, "executionMode": mode}
