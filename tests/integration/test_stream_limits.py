"""WebSocket streams per user, and the Origin check by scheme, host and port, on a real server."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.integration.conftest import Keys
from tests.integration.server import BASE, Server, run_cli, serving
from tests.integration.test_streams import receive, refusal, socket

LIMIT = 3
PASSWORD = "origin password"
REFUSED = (429, 4429, f"Too many open streams (limit {LIMIT}); close one first")
CROSS_ORIGIN = (403, 4403, "Cross-origin WebSocket refused")


@pytest.fixture(scope="module")
def server(server_dir: Path, keys: Keys) -> Iterator[Server]:
    with serving(server_dir, {"JOBHOST_MAX_STREAMS_PER_USER": str(LIMIT)}) as srv:
        yield srv


def test_a_user_past_the_limit_is_refused_and_a_closed_stream_frees_a_slot(
    server: Server, keys: Keys
) -> None:
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket(server, "/events", keys.alice)) for _ in range(LIMIT)]
        for ws in sockets:
            assert receive(ws) == {"type": "ready"}
        with socket(server, "/events", keys.alice) as ws:
            assert refusal(ws) == REFUSED
        with socket(server, "/jobs/stream?jobId=0", keys.alice) as ws:  # both kinds count
            assert refusal(ws) == REFUSED
        with socket(server, "/events", keys.bob) as ws:  # another user has slots of their own
            assert receive(ws) == {"type": "ready"}
        sockets[0].close()
        assert _opens_within(server, keys.alice, 1)


def _opens_within(server: Server, token: str, count: int, seconds: float = 10.0) -> bool:
    """Whether ``count`` streams open at once within ``seconds`` (a slot is freed when the
    server sees the close, a moment after the client sent it)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.ExitStack() as held:
            sockets = [held.enter_context(socket(server, "/events", token)) for _ in range(count)]
            if all(receive(ws)["type"] == "ready" for ws in sockets):
                return True
        time.sleep(0.1)
    return False


HOLDER = """
import contextlib, sys, time
from websockets.sync.client import connect
url, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
headers = {"Authorization": "Bearer " + token}
with contextlib.ExitStack() as held:
    for _ in range(count):
        ws = held.enter_context(connect(url, additional_headers=headers, proxy=None))
        assert '"ready"' in ws.recv(timeout=10)
    print("holding", flush=True)
    time.sleep(600)
"""


def test_a_killed_client_leaves_no_slot_taken(server: Server, keys: Keys) -> None:
    url = f"ws://127.0.0.1:{server.port}{BASE}/events"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, keys.manager, str(LIMIT)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        with socket(server, "/events", keys.manager) as ws:
            assert refusal(ws) == REFUSED
    finally:
        holder.send_signal(signal.SIGKILL)  # no close frame: the kernel just drops the TCP
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert _opens_within(server, keys.manager, LIMIT)


@pytest.fixture(scope="module")
def session_cookie(server: Server, server_dir: Path) -> str:
    added = run_cli(server_dir, "user", "add", "olga", "--password-stdin", stdin=PASSWORD)
    assert added.returncode == 0, added.stderr
    response = httpx.post(
        server.url + "/api/v1/auth/login", json={"username": "olga", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return response.cookies["jobhost_session"]


@pytest.mark.parametrize(
    "origin",
    [
        "https://127.0.0.1:{port}",  # the scheme differs: https is not this ws server
        "http://127.0.0.1:{other}",
        "http://127.0.0.1",
        "http://localhost:{port}",
        "null",
        "http://127.0.0.1:{port}@evil.example",
        "ws://127.0.0.1:{port}",
    ],
)
def test_a_cookie_from_another_origin_is_refused(
    server: Server, session_cookie: str, origin: str
) -> None:
    text = origin.format(port=server.port, other=server.port + 1)
    with socket(server, "/events", cookie=session_cookie, origin=text) as ws:
        assert refusal(ws) == CROSS_ORIGIN


@pytest.mark.parametrize("origin", ["http://127.0.0.1:{port}", "HTTP://127.0.0.1:{port}"])
def test_a_cookie_from_the_servers_own_origin_works(
    server: Server, session_cookie: str, origin: str
) -> None:
    with socket(
        server, "/events", cookie=session_cookie, origin=origin.format(port=server.port)
    ) as ws:
        assert receive(ws) == {"type": "ready"}


def test_x_forwarded_proto_from_an_untrusted_peer_is_ignored(
    server: Server, session_cookie: str
) -> None:
    with _socket_via_proxy(server, session_cookie, f"https://127.0.0.1:{server.port}") as ws:
        assert refusal(ws) == CROSS_ORIGIN


def test_behind_a_trusted_proxy_its_x_forwarded_proto_sets_the_scheme(
    tmp_path: Path,
) -> None:
    added = run_cli(tmp_path, "user", "add", "olga", "--password-stdin", stdin=PASSWORD)
    assert added.returncode == 0, added.stderr
    with serving(tmp_path, {"JOBHOST_TRUSTED_PROXIES": "127.0.0.1"}) as srv:
        login = httpx.post(
            srv.url + "/api/v1/auth/login",
            json={"username": "olga", "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https"},
        )
        cookie = login.cookies["jobhost_session"]
        with _socket_via_proxy(srv, cookie, f"https://127.0.0.1:{srv.port}") as ws:
            assert receive(ws) == {"type": "ready"}
        with _socket_via_proxy(srv, cookie, f"http://127.0.0.1:{srv.port}") as ws:
            assert refusal(ws) == CROSS_ORIGIN


@contextlib.contextmanager
def _socket_via_proxy(server: Server, cookie: str, origin: str) -> Iterator[ClientConnection]:
    """A socket as a TLS-terminating proxy on loopback would pass it on."""
    headers = {"Cookie": f"jobhost_session={cookie}", "X-Forwarded-Proto": "https"}
    with connect(
        f"ws://127.0.0.1:{server.port}{BASE}/events",
        additional_headers=headers,
        origin=Origin(origin),
        proxy=None,
        open_timeout=10,
    ) as ws:
        yield ws
