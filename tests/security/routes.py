"""The app's route table as the security sweep sees it: every route of the real app, what
object ids it takes and how to build a request for it.

``ROUTES`` must name every route ``create_app`` serves (test_route_table fails for one it
does not), so a route added later cannot skip the access-control sweep: its ids, found
from the route's query and path parameters and the body its OpenAPI document describes,
must each be classified here with the kind of object they name.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts

from jobhost.settings import Settings
from jobhost.web.app import BASE, Backend, create_app

WS = "WS"
"""The method a WebSocket route is keyed under."""
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WIDENING = frozenset({"allUsers", "userId"})
"""Query parameters that widen a listing to other users' objects: privileged only."""
ID_FIELD = re.compile(r"(?i).*ids?|dependsOn")
"""A parameter or body field that names an object (jobId, scheduleId, webhookId, ...)."""

CRON = "0 0 1 1 *"
"""Once a year: schedules made by the tests never fire while they run."""
SUBMIT = {"jobName": "sweep", "command": "true", "executionMode": "BackgroundJob"}

OWN_JOB = "<the caller's own finished job>"
OWN_SCHEDULE = "<the caller's own schedule>"
"""Placeholders a request's other fields may hold; replaced with the caller's objects."""


class Kind(enum.Enum):
    """What an id names; each kind has objects of another user's and an unknown id."""

    JOB = "job"
    SCHEDULE = "schedule"
    TEMPLATE = "template"
    WEBHOOK = "webhook"
    USER = "user"


OWN_BY_KIND = {Kind.JOB: OWN_JOB, Kind.SCHEDULE: OWN_SCHEDULE, Kind.TEMPLATE: "hello"}
"""An id of each kind that names the caller's own object (or a template they may start):
a request aimed at it would succeed."""


@dataclass(frozen=True)
class Call:
    """One request: method (or WS), full path, query parameters and JSON body."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, object] | None = None

    @property
    def label(self) -> str:
        """The method, path and the names of the parameters and body fields: a test id."""
        params, fields = ",".join(sorted(self.params)), ",".join(sorted(self.body or {}))
        return f"{self.method} {self.path} ?{params} {{{fields}}}"

    def filled(self, own: Mapping[str, str]) -> Call:
        """The call with each placeholder replaced by the caller's own object."""
        return Call(self.method, self.path, _fill(self.params, own), _fill(self.body, own))


def _fill(value: Any, own: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return own.get(value, value)
    if isinstance(value, Mapping):
        return {key: _fill(item, own) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, own) for item in value]
    return value


@dataclass(frozen=True)
class IdField:
    """One place a route takes an object id, and the answer for another user's object,
    which must be the answer for an id that does not exist (no existence oracle)."""

    where: Literal["query", "body"]
    name: str
    kind: Kind
    refusal: int = 404
    params: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, object] = field(default_factory=dict)
    as_list: bool = False

    def call(self, method: str, path: str, object_id: str) -> Call:
        value: object = [object_id] if self.as_list else object_id
        if self.where == "query":
            payload = dict(self.body) if self.body else None
            return Call(method, path, {**self.params, self.name: object_id}, payload)
        return Call(method, path, dict(self.params), {**self.body, self.name: value})


@dataclass(frozen=True)
class Route:
    """How the sweep treats one route."""

    ids: tuple[IdField, ...] = ()
    sample: Call | None = None
    """A request a signed-in user may make, for routes without ids (the CSRF sweep's)."""
    public: bool = False
    """Needs no credentials (and so has no CSRF check)."""
    params: frozenset[str] = frozenset()
    """A WebSocket route's query parameters (they are read by hand, not declared)."""


def query(name: str, kind: Kind, refusal: int = 404, **extra: Any) -> IdField:
    return IdField("query", name, kind, refusal, **extra)


def body(name: str, kind: Kind, refusal: int = 404, **extra: Any) -> IdField:
    return IdField("body", name, kind, refusal, **extra)


J = f"{BASE}/jobs"
S = f"{BASE}/schedules"
AUTH = "/api/v1/auth"
PAGE = "/apps/WebHostTaskManagement"
ENABLED = {"enabled": True}
TEMPLATE_SCHEDULE = {"name": "sweep", "cron": CRON}

ROUTES: dict[tuple[str, str], Route] = {
    ("GET", f"{J}/catalog"): Route(),
    ("POST", f"{J}/start"): Route((body("jobId", Kind.TEMPLATE, 403),)),
    ("POST", f"{J}/submit"): Route((body("dependsOn", Kind.JOB, 403, body=SUBMIT, as_list=True),)),
    ("POST", f"{J}/rerun"): Route((body("jobId", Kind.JOB),)),
    ("GET", J): Route((query("jobId", Kind.JOB), query("userId", Kind.USER, 403))),
    ("GET", f"{J}/list"): Route((query("userId", Kind.USER, 403),)),
    ("DELETE", J): Route((query("jobId", Kind.JOB),)),
    ("POST", f"{J}/stop"): Route((query("jobId", Kind.JOB), body("jobId", Kind.TEMPLATE, 403))),
    ("GET", f"{J}/output"): Route((query("jobId", Kind.JOB),)),
    ("GET", f"{J}/results"): Route((query("userId", Kind.USER, 403),)),
    ("DELETE", f"{J}/results"): Route((query("jobId", Kind.JOB),)),
    (WS, f"{J}/stream"): Route((query("jobId", Kind.JOB),), params=frozenset({"jobId", "offset"})),
    (WS, f"{BASE}/events"): Route(params=frozenset({"allUsers"})),
    ("POST", S): Route((body("templateId", Kind.TEMPLATE, 403, body=TEMPLATE_SCHEDULE),)),
    ("GET", S): Route((query("scheduleId", Kind.SCHEDULE), query("userId", Kind.USER, 403))),
    ("PATCH", S): Route(
        (
            query("scheduleId", Kind.SCHEDULE, body=ENABLED),
            body("templateId", Kind.TEMPLATE, 403, params={"scheduleId": OWN_SCHEDULE}),
        )
    ),
    ("DELETE", S): Route((query("scheduleId", Kind.SCHEDULE),)),
    ("GET", f"{S}/preview"): Route(),
    ("GET", "/healthz"): Route(public=True),
    ("POST", f"{AUTH}/login"): Route(public=True),
    ("POST", f"{AUTH}/logout"): Route(sample=Call("POST", f"{AUTH}/logout")),
    ("GET", f"{AUTH}/me"): Route(),
    ("GET", "/openapi.json"): Route(public=True),
    ("GET", "/"): Route(public=True),
    ("GET", PAGE): Route(public=True),
    ("GET", f"{PAGE}/"): Route(public=True),
    ("GET", f"{PAGE}/static/{{name}}"): Route(public=True),
}


def own_calls(key: tuple[str, str], row: Route) -> list[Call]:
    """The row's requests (one an id field, and its sample) aimed at the caller's own
    objects: each would succeed as it is."""
    calls = [field.call(*key, OWN_BY_KIND[field.kind]) for field in row.ids]
    return calls + ([row.sample] if row.sample is not None else [])


def body_calls(key: tuple[str, str], row: Route) -> list[Call]:
    """``own_calls`` that carry a JSON body."""
    return [call for call in own_calls(key, row) if call.body is not None]


@dataclass(frozen=True)
class AppRoute:
    """A route as the app declares it: its query parameters and documented body fields."""

    method: str
    path: str
    params: frozenset[str]
    body_fields: frozenset[str]

    @property
    def id_fields(self) -> frozenset[tuple[str, str]]:
        """(where, name) of every parameter or body field that names an object."""
        found = {("query", name) for name in self.params if ID_FIELD.fullmatch(name)}
        found |= {("body", name) for name in self.body_fields if ID_FIELD.fullmatch(name)}
        return frozenset(found)


@functools.cache
def real_app() -> FastAPI:
    """The app ``jobhost serve`` runs; its lifespan is never entered, so nothing opens."""
    return create_app(Settings(data_dir=Path("/nonexistent-jobhost-sweep")), _never_opened)


def openapi_document() -> dict[str, Any]:
    return real_app().openapi()


def app_routes() -> dict[tuple[str, str], AppRoute]:
    """Every route of the real app, keyed as ``ROUTES`` is."""
    app = real_app()
    document = openapi_document()
    found: dict[tuple[str, str], AppRoute] = {}
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, str(context.path)
        if isinstance(route, APIWebSocketRoute):
            found[(WS, path)] = AppRoute(WS, path, _parameters(route), frozenset())
            continue
        for method in sorted((context.methods or set()) - {"HEAD"}):
            fields = _body_fields(document, path, method)
            params = _parameters(route) if isinstance(route, APIRoute) else frozenset()
            found[(method, path)] = AppRoute(method, path, params, fields)
    return found


def _never_opened() -> contextlib.AbstractContextManager[Backend]:
    raise AssertionError("the sweep reads the route table only")


def _parameters(route: APIRoute | APIWebSocketRoute) -> frozenset[str]:
    dependant = route.dependant
    names = [p.alias for p in (*dependant.query_params, *dependant.path_params)]
    return frozenset(names)


def _body_fields(document: dict[str, Any], path: str, method: str) -> frozenset[str]:
    operation = document["paths"].get(path, {}).get(method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    return frozenset(_properties(document, schema))


def _properties(document: dict[str, Any], schema: dict[str, Any]) -> Iterator[str]:
    """The property names of a schema, through $ref and allOf/anyOf/oneOf."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        schema = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    yield from schema.get("properties", {})
    for key in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(key, []):
            yield from _properties(document, part)
