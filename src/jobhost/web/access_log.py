"""The access log: one line per HTTP request, written in batches.

Cheaper than uvicorn's, which sends every request through the logging machinery (a
record, a formatter, a write and a flush per line): this middleware formats the line
itself, with the same fields plus the time and how long the request took, and writes the
lines of a burst together, FLUSH_SECONDS after the first. A line so reaches the log a
tenth of a second late at worst; ``serve`` writes what is left when the server stops, and
a server killed outright loses at most that last tenth of a second, as nginx's
``access_log ... flush=`` does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TextIO
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobhost.web.redaction import redact_target

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.1
MAX_KEPT_LINES = 512
"""A burst is written as soon as it reaches this many lines, so memory stays bounded."""


class AccessLog:
    """Pure ASGI middleware; HTTP only (uvicorn logs WebSocket handshakes itself)."""

    def __init__(self, app: ASGIApp, stream: TextIO) -> None:
        self.app = app
        self._stream = stream
        self._lines: list[str] = []
        # The loop a flush is scheduled on. One that closed before its flush ran leaves a
        # stale entry, which the next request on another loop replaces.
        self._flush_on: asyncio.AbstractEventLoop | None = None
        self._second = -1
        self._stamp = ""
        self._write_failed = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 0

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            if status:  # as uvicorn: nothing is logged for a request that got no answer
                self._keep(_line(scope, status, time.perf_counter() - began))

    def flush(self) -> None:
        self._flush_on = None
        lines, self._lines = self._lines, []
        try:
            if lines:
                self._stream.write("\n".join(lines) + "\n")
            self._stream.flush()
        except (OSError, ValueError) as exc:  # ValueError: the stream was closed
            # The lines are dropped rather than kept, and requests go on being answered;
            # said once, not per batch.
            if not self._write_failed:
                self._write_failed = True
                logger.warning("access log lines lost: cannot write them: %s", exc)

    def _keep(self, message: str) -> None:
        self._lines.append(f"{self._asctime()} INFO jobhost.access: {message}")
        if len(self._lines) >= MAX_KEPT_LINES:
            self.flush()
            return
        loop = asyncio.get_running_loop()
        if self._flush_on is not loop:
            loop.call_later(FLUSH_SECONDS, self.flush)
            self._flush_on = loop

    def _asctime(self) -> str:
        """logging's default time format; strftime once a second, not once a line."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._stamp},{int((now - second) * 1000):03d}"


def _line(scope: Scope, status: int, seconds: float) -> str:
    client = scope.get("client")
    where = f"{client[0]}:{client[1]}" if client else "-"
    # The path arrives percent-decoded: quoting it again keeps a line one line.
    target = quote(scope["path"])
    if scope["query_string"]:
        target += "?" + scope["query_string"].decode("ascii", "backslashreplace")
    request = f"{scope['method']} {redact_target(target)} HTTP/{scope['http_version']}"
    return f'{where} - "{request}" {status} {seconds * 1000:.1f}ms'
