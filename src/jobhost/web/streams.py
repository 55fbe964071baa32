"""WebSockets: one job's output as it is written, and the job changes a caller may see.

``BASE/jobs/stream?jobId=<id>&offset=<n>`` sends ``state``, ``output`` (with byte offsets:
reconnect with ``offset=nextOffset`` to resume with no gap and no repeat) and finally ``end``.
``BASE/events`` sends ``job`` records as jobs change state, ``deleted`` when one goes, and
``resync`` if the caller fell too far behind (then re-read the listing).
Both authenticate like every route (API key, or session cookie from the same origin) and an
``error`` message with the HTTP-like status is sent before closing with code 4000+status.
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

from jobhost import policy
from jobhost.errors import Forbidden, InvalidInput, JobhostError, JobNotFound
from jobhost.models import Job, User
from jobhost.service.jobs import OTHERS_REFUSAL, JobOperations
from jobhost.store.changes import ChangeKind, JobChange
from jobhost.web.deps import Identity, Services, identify, services
from jobhost.web.errors import status_of
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
            found = await run_in_threadpool(_authenticate, self._websocket, self._svc)
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
        work = asyncio.ensure_future(handler(websocket, svc, _Caller(websocket, svc, found.user)))
        gone = asyncio.ensure_future(_until_disconnected(websocket))
        done, _pending = await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        for task in (work, gone):
            task.cancel()
        if work in done:
            work.result()
    except JobhostError as exc:
        status = status_of(exc)
        await _send(websocket, {"type": "error", "status": status, "error": exc.message})
        await _close(websocket, 4000 + status)
        return
    except WebSocketDisconnect:
        return
    await _close(websocket, 1000)


def _authenticate(websocket: WebSocket, svc: Services) -> Identity:
    found = identify(svc, websocket.headers, websocket.cookies)
    if found.csrf_token is not None and not _same_origin(websocket):
        # A cookie is sent by the browser whichever page opens the socket: only our own
        # pages may use it (cross-site WebSocket hijacking).
        raise Forbidden(CROSS_ORIGIN_REFUSAL)
    return found


def _same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    host = websocket.headers.get("host")
    return origin is not None and host is not None and urlsplit(origin).netloc == host


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
        with contextlib.suppress(RuntimeError):
            await websocket.close(code)


def _operations(svc: Services) -> JobOperations:
    return JobOperations(
        svc.store.jobs, svc.clock, svc.wake_engine, svc.settings.stop_grace_seconds
    )


def _offset(websocket: WebSocket) -> int:
    text = websocket.query_params.get("offset", "0")
    # ASCII only: str.isdigit also takes superscripts and other scripts' digits.
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_OFFSET)):
        raise InvalidInput("Invalid value for offset: must be a whole number of bytes >= 0")
    return int(text)


async def _stream(websocket: WebSocket, svc: Services, caller: _Caller) -> None:
    ops = _operations(svc)
    offset = _offset(websocket)
    requested = websocket.query_params.get("jobId", "")
    job = await run_in_threadpool(ops.get, await caller.current(), requested)
    await websocket.send_json({"type": "state", "job": job_record(job, svc.clock.now())})
    with svc.store.jobs.hub.subscribe(job.job_id) as changes:
        while True:
            data = await run_in_threadpool(
                svc.store.jobs.read_output, job.job_id, offset, STREAM_CHUNK_BYTES
            )
            current = await run_in_threadpool(svc.store.jobs.get, job.job_id)
            if current is not None and not policy.may_see(await caller.current(), current):
                raise JobNotFound(requested)
            if current is None:
                await websocket.send_json({"type": "deleted", "jobId": job.job_id})
                return
            at_end = current.status.is_finished and offset + len(data) >= current.output_size
            text, used = decode_stream(data, at_end)
            if used:
                message = {"offset": offset, "nextOffset": offset + used, "data": text}
                await websocket.send_json({"type": "output", **message})
                offset += used
            if current.status is not job.status:
                job = current
                await websocket.send_json(
                    {"type": "state", "job": job_record(job, svc.clock.now())}
                )
            if at_end:
                await websocket.send_json(
                    {"type": "end", "job": job_record(current, svc.clock.now())}
                )
                return
            if len(data) < STREAM_CHUNK_BYTES:
                await changes.next_batch(FALLBACK_POLL_SECONDS)


async def _events(websocket: WebSocket, svc: Services, caller: _Caller) -> None:
    all_users = websocket.query_params.get("allUsers", "false").lower() == "true"
    _check_scope(await caller.current(), all_users)
    await websocket.send_json({"type": "ready"})
    with svc.store.jobs.hub.subscribe() as changes:
        while True:
            batch = await changes.next_batch(RECHECK_SECONDS)
            user = await caller.current()
            _check_scope(user, all_users)
            if changes.lagged:
                changes.lagged = False
                await websocket.send_json({"type": "resync"})
            for message in await run_in_threadpool(_event_messages, svc, user, all_users, batch):
                await websocket.send_json(message)


def _check_scope(user: User, all_users: bool) -> None:
    if all_users and not policy.is_privileged(user):
        raise Forbidden(OTHERS_REFUSAL)


def _event_messages(
    svc: Services, user: User, all_users: bool, batch: list[JobChange]
) -> list[dict[str, Any]]:
    """One message per job whose state changed and that the caller watches, in order."""
    latest: dict[str, JobChange] = {}
    for change in batch:
        if change.kind is not ChangeKind.OUTPUT:
            latest.pop(change.job_id, None)
            latest[change.job_id] = change
    messages: list[dict[str, Any]] = []
    now = svc.clock.now()
    # One query for the batch: a busy engine changes thousands of jobs a second.
    changed = [c.job_id for c in latest.values() if c.kind is not ChangeKind.DELETED]
    jobs = svc.store.jobs.get_many(changed)
    for change in latest.values():
        if change.kind is ChangeKind.DELETED:
            if _watches(user, all_users, change.user_id):
                messages.append({"type": "deleted", "jobId": change.job_id})
            continue
        job: Job | None = jobs.get(change.job_id)
        if job is not None and _watches(user, all_users, job.user_id):
            messages.append({"type": "job", "job": job_record(job, now)})
    return messages


def _watches(user: User, all_users: bool, owner: str | None) -> bool:
    return owner == user.user_id or (all_users and policy.is_privileged(user))
