"""What every route depends on: the services, and who is asking."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from jobhost.auth.keys import hash_token, user_for_token
from jobhost.auth.rate_limit import RequestRate
from jobhost.auth.sessions import CSRF_HEADER, SESSION_COOKIE, session_user
from jobhost.auth.throttle import FailureThrottle, LoginThrottle, bad_key_throttle
from jobhost.catalog import Catalog
from jobhost.clock import Clock
from jobhost.errors import Forbidden, InvalidInput, StoreBusy, Unauthorized
from jobhost.models import User
from jobhost.service.submission import TOO_DEEP, InvalidJson, load_json
from jobhost.settings import Settings
from jobhost.store import Store
from jobhost.web.limits import StreamSlots

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_REFUSAL = "Missing or invalid CSRF token"


def no_wake() -> None:
    """A wake for a loop that does not run (the engine's or the schedules')."""


@dataclass(frozen=True)
class Guards:
    """The in-memory limits of one server process, shared by every request."""

    login_throttle: LoginThrottle
    bad_keys: FailureThrottle
    request_rate: RequestRate
    stream_slots: StreamSlots

    @classmethod
    def for_settings(cls, settings: Settings, clock: Clock) -> Guards:
        rate = RequestRate(
            clock,
            settings.rate_limit_per_minute,
            settings.rate_limit_burst,
            include_loopback=settings.rate_limit_loopback,
        )
        return cls(
            LoginThrottle(clock),
            bad_key_throttle(clock, settings.bad_keys_per_minute),
            rate,
            StreamSlots(settings.max_streams_per_user),
        )


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    clock: Clock
    wake_engine: Callable[[], None]
    guards: Guards
    catalog: Catalog
    wake_schedules: Callable[[], None] = no_wake


@dataclass(frozen=True)
class Identity:
    """Who is asking, and the session's CSRF token when they signed in with a cookie."""

    user: User
    csrf_token: str | None = None
    budget: str = ""
    """Whose request-rate bucket the request counts against: the API key's or the user's."""


def services(connection: HTTPConnection) -> Services:
    found: Services = connection.app.state.services
    return found


def peer_of(connection: HTTPConnection) -> str:
    """The client's address (a trusted proxy's X-Forwarded-For already applied by uvicorn)."""
    return connection.client.host if connection.client else ""


def identify(
    svc: Services,
    headers: Mapping[str, str],
    cookies: Mapping[str, str],
    peer: str,
    throttled: bool = True,
) -> Identity:
    """An API key wins over a session cookie; a bad key is refused even beside a good cookie.
    ``throttled``: an invalid key counts against the peer's limit (not when an open socket's
    key is looked at again: a key revoked meanwhile is no guess)."""
    header = headers.get("authorization")
    if header is not None:
        return _key_identity(svc, header, peer, throttled)
    session = session_user(svc.store.users, cookies.get(SESSION_COOKIE, ""))
    if session is None:
        raise Unauthorized()
    user, csrf_token = session
    return Identity(user, csrf_token, "user:" + user.user_id)


def _key_identity(svc: Services, header: str, peer: str, throttled: bool) -> Identity:
    """The owner of a bearer token. Only failures are throttled: a peer past its limit of
    invalid keys gets 429 for the next ones, while a valid key from it still works."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    user = user_for_token(svc.store.users, token) if scheme.lower() == "bearer" else None
    if user is None:
        if throttled:
            bad_keys = svc.guards.bad_keys
            bad_keys.check(("peer", peer))
            bad_keys.failed(("peer", peer))
        raise Unauthorized("Invalid API key")
    return Identity(user, None, "key:" + hash_token(token))


def identity(request: Request) -> Identity:
    """The caller, within their request rate; a cookie-authenticated change must also carry
    the session's CSRF token."""
    svc = services(request)
    peer = peer_of(request)
    found = identify(svc, request.headers, request.cookies, peer)
    svc.guards.request_rate.take(found.budget, peer)
    if found.csrf_token is not None and request.method in STATE_CHANGING:
        sent = request.headers.get(CSRF_HEADER, "")
        if not secrets.compare_digest(sent.encode(), found.csrf_token.encode()):
            raise Forbidden(CSRF_REFUSAL)
    return found


async def request_identity(request: Request) -> Identity:
    """``identity`` as a dependency. A plain function would be handed to the threadpool by
    FastAPI on every request; this runs its lookups where ``store_work`` puts them."""
    return await store_work(services(request), functools.partial(identity, request))


async def caller(found: Annotated[Identity, Depends(request_identity)]) -> User:
    """The user the request's credentials belong to; 401 otherwise."""
    return found.user


async def json_object(request: Request) -> dict[str, object]:
    """The request body as a JSON object; 400 for anything else."""
    return parse_json_object(await request.body())


async def optional_json_object(request: Request) -> dict[str, object] | None:
    """The request body as a JSON object, or None when there is none; 400 for anything else."""
    body = await request.body()
    return parse_json_object(body) if body.strip() else None


def parse_json_object(body: bytes) -> dict[str, object]:
    try:
        payload = load_json(body)
    except InvalidJson as exc:
        detail = ": nested too deeply" if exc.message == TOO_DEEP else ""
        raise InvalidInput(f"Invalid JSON body{detail}") from None
    if not isinstance(payload, dict):
        raise InvalidInput("Request body must be a JSON object")
    return payload


_T = TypeVar("_T")


async def store_work(svc: Services, work: Callable[[], _T]) -> _T:
    """Run a route's blocking store work on the event loop when the store answers without
    waiting (short SQLite work costs less there than a thread hop), else in the threadpool.
    ``work`` may start over on a thread after StoreBusy, so earlier writes must be idempotent."""
    try:
        return svc.store.run_at_once(work)
    except StoreBusy:
        return await run_in_threadpool(work)


async def _services(connection: HTTPConnection) -> Services:
    # A coroutine, so that FastAPI does not run it in the threadpool: each sync
    # dependency costs a thread hop per request.
    return services(connection)


Svc = Annotated[Services, Depends(_services)]
Caller = Annotated[User, Depends(caller)]
Ident = Annotated[Identity, Depends(request_identity)]
