"""WebSockets: one job's output as it is written, and the job changes a caller may see.

``BASE/jobs/stream?jobId=<id>&offset=<n>`` sends ``state``, ``output`` (with byte offsets:
reconnect with ``offset=nextOffset`` to resume with no gap and no repeat) and finally ``end``.
``BASE/events`` sends ``job`` records as jobs change state, ``deleted`` when one goes, and
``resync`` if the caller fell too far behind (then re-read the listing).
Both authenticate like every route (API key, or session cookie from the same origin: same
scheme, host and port) and an ``error`` message with the HTTP-like status is sent before
closing with code 4000+status. A user holds at most ``JOBHOST_MAX_STREAMS_PER_USER`` of them
at once; one more is refused so (429, close code 4429).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect, WebSocketState

from jobhost.errors import Forbidden, InvalidInput, JobhostError
from jobhost.models import User
from jobhost.service.jobs import SeenChange
from jobhost.web.deps import Identity, Services, identify, peer_of, services
from jobhost.web.errors import status_of
from jobhost.web.operations import job_operations
from jobhost.web.records import MAX_OFFSET, decode_stream, job_record

logger = logging.getLogger(__name__)

router = APIRouter()
STREAM_CHUNK_BYTES = 256 * 1024
# Without a notification (another node wrote, say) the store is looked at this often anyway.
FALLBACK_POLL_SECONDS = 1.0
CROSS_ORIGIN_REFUSAL = "Cross-origin WebSocket refused"
# How often an open socket checks its credentials again, so that a logout, an expired session
# or a revoked key also ends the sockets already open.
RECHECK_SECONDS = 5.0


@router.websocket("/jobs/stream")
async def stream_output(websocket: WebSocket) -> None:
    await _serve(websocket, _stream)


@router.websocket("/events")
async def stream_events(websocket: WebSocket) -> None:
    await _serve(websocket, _events)


class _Caller:
    """Who is on the other end of a socket, as of the last (recent) check."""

    def __init__(self, websocket: WebSocket, svc: Services, user: User) -> None:
        self._websocket = websocket
        self._svc = svc
        self._user = user
        self._next_check = svc.clock.monotonic() + RECHECK_SECONDS

    async def current(self) -> User:
        """The caller, checked again if the last check is old; raises if no longer valid."""
        now = self._svc.clock.monotonic()
        if now >= self._next_check:
            found = await run_in_threadpool(_authenticate, self._websocket, self._svc, False)
            self._user = found.user
            self._next_check = now + RECHECK_SECONDS
        return self._user


Handler = Callable[[WebSocket, Services, _Caller], Awaitable[None]]


async def _serve(websocket: WebSocket, handler: Handler) -> None:
    """Accept, authenticate, run ``handler`` until it ends or the client goes away."""
    await websocket.accept()
    svc = services(websocket)
    try:
        found = await run_in_threadpool(_authenticate, websocket, svc)
        with svc.guards.stream_slots.held(found.user.user_id):
            left = await _run(
                websocket, handler(websocket, svc, _Caller(websocket, svc, found.user))
            )
    except JobhostError as exc:
        status = status_of(exc)
        await _send(websocket, {"type": "error", "status": status, "error": exc.message})
        await _close(websocket, 4000 + status)
        return
    except WebSocketDisconnect:
        return
    if not left:  # a client that left needs no closing handshake
        await _close(websocket, 1000)


async def _run(websocket: WebSocket, work: Awaitable[None]) -> bool:
    """``work`` until it ends or the client goes away, whichever comes first; whether the
    client went away first."""
    working = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_until_disconnected(websocket))
    done, _pending = await asyncio.wait({working, gone}, return_when=asyncio.FIRST_COMPLETED)
    for task in (working, gone):
        task.cancel()
    # Let the cancelled one finish too, so that no exception of it goes unretrieved.
    await asyncio.wait({working, gone})
    if working in done:
        working.result()
    elif not working.cancelled():
        working.exception()  # the client left first: what the handler hit is moot
    return gone in done


def _authenticate(websocket: WebSocket, svc: Services, opening: bool = True) -> Identity:
    """The caller of a socket; its opening counts as a request against their rate (its
    later checks do not, nor do they count an invalid key against the peer)."""
    peer = peer_of(websocket)
    found = identify(svc, websocket.headers, websocket.cookies, peer, throttled=opening)
    if opening:
        svc.guards.request_rate.take(found.budget, peer)
    if found.csrf_token is not None and not _same_origin(websocket):
        # A cookie is sent by the browser whichever page opens the socket: only our own
        # pages may use it (cross-site WebSocket hijacking).
        raise Forbidden(CROSS_ORIGIN_REFUSAL)
    return found


def _same_origin(websocket: WebSocket) -> bool:
    """The Origin is this server: the same scheme (http for ws, https for wss; behind a
    trusted proxy as its X-Forwarded-Proto says), host and port as the request."""
    origin = websocket.headers.get("origin")
    host = websocket.headers.get("host")
    if origin is None or host is None:
        return False
    scheme = _HTTP_SCHEME_OF.get(websocket.url.scheme)
    site = _site(origin)
    return scheme is not None and site is not None and site == _site(f"{scheme}://{host}")


_HTTP_SCHEME_OF = {"ws": "http", "wss": "https"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _site(url: str) -> tuple[str, str, int] | None:
    """Scheme, host and port (the scheme's default if none is given) of an http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname, port or _DEFAULT_PORTS[scheme]


async def _until_disconnected(websocket: WebSocket) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _send(websocket: WebSocket, message: dict[str, Any]) -> None:
    if websocket.application_state is WebSocketState.CONNECTED:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.send_json(message)


async def _close(websocket: WebSocket, code: int) -> None:
    if websocket.application_state is WebSocketState.CONNECTED:
        # The client may hang up as the close goes out (right after a stream's ``end``).
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.close(code)


def _offset(websocket: WebSocket) -> int:
    text = websocket.query_params.get("offset", "0")
    # ASCII only: str.isdigit also takes superscripts and other scripts' digits.
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_OFFSET)):
        raise InvalidInput("Invalid value for offset: must be a whole number of bytes >= 0")
    return int(text)


async def _stream(websocket: WebSocket, svc: Services, caller: _Caller) -> None:
    ops = job_operations(svc)
    offset = _offset(websocket)
    requested = websocket.query_params.get("jobId", "")
    follow = await run_in_threadpool(ops.follow, await caller.current(), requested)
    job = follow.job
    await websocket.send_json({"type": "state", "job": job_record(job, svc.clock.now())})
    with follow.subscribe() as changes:
        while True:
            user = await caller.current()
            read = await run_in_threadpool(follow.read, user, offset, STREAM_CHUNK_BYTES)
            if read.job is None:
                await websocket.send_json({"type": "deleted", "jobId": job.job_id})
                return
            text, used = decode_stream(read.data, read.at_end)
            if used:
                message = {"offset": offset, "nextOffset": offset + used, "data": text}
                await websocket.send_json({"type": "output", **message})
                offset += used
            if read.job.status is not job.status:
                job = read.job
                await websocket.send_json(
                    {"type": "state", "job": job_record(job, svc.clock.now())}
                )
            if read.at_end:
                await websocket.send_json(
                    {"type": "end", "job": job_record(read.job, svc.clock.now())}
                )
                return
            if len(read.data) < STREAM_CHUNK_BYTES:
                await changes.next_batch(FALLBACK_POLL_SECONDS)


async def _events(websocket: WebSocket, svc: Services, caller: _Caller) -> None:
    all_users = websocket.query_params.get("allUsers", "false").lower() == "true"
    feed = job_operations(svc).events(await caller.current(), all_users)
    await websocket.send_json({"type": "ready"})
    with feed.subscribe() as changes:
        while True:
            batch = await changes.next_batch(RECHECK_SECONDS)
            user = await caller.current()
            feed.check(user)
            if changes.lagged:
                changes.lagged = False
                await websocket.send_json({"type": "resync"})
            seen = await run_in_threadpool(feed.seen, user, batch)
            now = svc.clock.now()
            for change in seen:
                await websocket.send_json(_event_message(change, now))


def _event_message(change: SeenChange, now: float) -> dict[str, Any]:
    if change.job is None:
        return {"type": "deleted", "jobId": change.job_id}
    return {"type": "job", "job": job_record(change.job, now)}
