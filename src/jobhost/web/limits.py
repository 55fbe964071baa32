"""Limits of the web front: request bodies, enforced while they stream in (Content-Length
may lie), and the WebSocket streams one user may hold open."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobhost.errors import PayloadTooLarge, TooManyRequests
from jobhost.web.errors import error_response


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await error_response(413, self._message())(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise PayloadTooLarge(self._message())
            return message

        await self.app(scope, limited_receive, send)

    def _message(self) -> str:
        return f"Request body too large (limit {self.max_bytes} bytes)"


class StreamSlots:
    """Open WebSocket streams per user. Used from the event loop only, so it needs no lock."""

    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self._open: dict[str, int] = {}

    @contextlib.contextmanager
    def held(self, user_id: str) -> Iterator[None]:
        """A slot for the block; TooManyRequests when the user holds them all already."""
        count = self._open.get(user_id, 0)
        if count >= self.per_user:
            raise TooManyRequests(
                f"Too many open streams (limit {self.per_user}); close one first", 1
            )
        self._open[user_id] = count + 1
        try:
            yield
        finally:
            left = self._open[user_id] - 1
            if left:
                self._open[user_id] = left
            else:
                del self._open[user_id]

    def open_count(self, user_id: str) -> int:
        return self._open.get(user_id, 0)
