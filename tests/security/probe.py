"""Sending a route table ``Call`` to a real server, over HTTP or a WebSocket, as someone."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Origin

from jobhost.auth.sessions import CSRF_HEADER, SESSION_COOKIE
from tests.integration.server import Server
from tests.security.routes import WS, Call


@dataclass(frozen=True)
class Caller:
    """Credentials: an API key, or a session cookie with (or without) its CSRF token."""

    token: str | None = None
    cookie: str | None = None
    csrf: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.cookie is not None:
            headers["Cookie"] = f"{SESSION_COOKIE}={self.cookie}"
        if self.csrf is not None:
            headers[CSRF_HEADER] = self.csrf
        return headers


@dataclass(frozen=True)
class Answer:
    """A response's status and JSON body (a WebSocket's first message and its close code)."""

    status: int
    body: Any
    close_code: int | None = None

    def without(self, *texts: str) -> str:
        """The answer as text with each of ``texts`` (the ids it echoes) made alike."""
        shown = json.dumps([self.status, self.body, self.close_code], sort_keys=True)
        for text in texts:
            shown = shown.replace(text, "<id>")
        return shown


def send(server: Server, caller: Caller, call: Call) -> Answer:
    if call.method == WS:
        return _socket(server, caller, call)
    with httpx.Client(base_url=server.url, timeout=30, trust_env=False) as client:
        response = client.request(
            call.method,
            call.path,
            params=dict(call.params),
            headers=caller.headers(),
            json=call.body,
        )
    try:
        payload: Any = response.json()
    except ValueError:
        payload = response.text
    return Answer(response.status_code, payload)


def _socket(server: Server, caller: Caller, call: Call) -> Answer:
    query = f"?{urlencode(dict(call.params))}" if call.params else ""
    url = f"ws://127.0.0.1:{server.port}{call.path}{query}"
    # Our own origin, as the page's: a cookie from elsewhere is refused before anything else.
    with connect(
        url,
        additional_headers=caller.headers(),
        origin=Origin(server.url),
        proxy=None,
        open_timeout=10,
    ) as ws:
        first: dict[str, Any] = json.loads(ws.recv(timeout=20))
        if first.get("type") != "error":
            return Answer(200, first)
        try:
            ws.recv(timeout=10)
        except ConnectionClosed:
            pass
        return Answer(int(first["status"]), first, ws.close_code)
