"""The privileged actions a plain user is refused (403), one row each: free-form submits,
priorities above 0, other users' listings, schedules that would submit either, and the
catalog's admin-only templates. test_route_table checks that every parameter which widens
a listing (``WIDENING``) on every route of the app has a row here."""

from __future__ import annotations

from dataclasses import dataclass, field

from jobhost import policy
from jobhost.service.jobs import OTHERS_REFUSAL as OTHERS_JOBS
from jobhost.service.schedules import OTHERS_REFUSAL as OTHERS_SCHEDULES
from jobhost.service.templates import START_REFUSAL, STOP_REFUSAL
from jobhost.web.app import BASE
from tests.security.routes import CRON, OWN_SCHEDULE, SUBMIT, WS, Call

OWN_FREE_FORM_JOB = "<the caller's own finished free-form job>"
"""A job a plain user owns but could not have submitted (put in the store directly)."""

J, S = f"{BASE}/jobs", f"{BASE}/schedules"


@dataclass(frozen=True)
class Refused:
    """A call ``who`` makes and the 403 it gets."""

    name: str
    call: Call
    refusal: str
    widens: frozenset[str] = field(default_factory=frozenset)
    who: str = "alice"

    @property
    def route(self) -> tuple[str, str]:
        return (self.call.method, self.call.path)


def _submit(**fields: object) -> dict[str, object]:
    return {**SUBMIT, **fields}


def _listings(method: str, path: str) -> list[Refused]:
    return [
        Refused(
            f"{path} allUsers",
            Call(method, path, {"allUsers": "true"}),
            OTHERS_JOBS,
            frozenset({"allUsers"}),
        ),
        Refused(
            f"{path} userId",
            Call(method, path, {"userId": "bob@example.com"}),
            OTHERS_JOBS,
            frozenset({"userId"}),
        ),
    ]


_SCHEDULE = {"name": "escalation", "cron": CRON}

PRIVILEGED: list[Refused] = [
    Refused(
        "submit a shell command",
        Call("POST", f"{J}/submit", body=_submit()),
        policy.ELEVATED_REFUSAL,
    ),
    Refused(
        "submit Python in a thread",
        Call("POST", f"{J}/submit", body=_submit(executionMode="Runspace", command="1")),
        policy.ELEVATED_REFUSAL,
    ),
    Refused(
        "submit MainLoop",
        Call("POST", f"{J}/submit", body=_submit(executionMode="MainLoop", command="1")),
        policy.MAIN_LOOP_REFUSAL,
    ),
    Refused(
        "submit MainLoop without debug",
        Call("POST", f"{J}/submit", body=_submit(executionMode="MainLoop", command="1")),
        policy.MAIN_LOOP_REFUSAL,
        who="manager",
    ),
    Refused(
        "submit at priority 5",
        Call("POST", f"{J}/submit", body=_submit(priority=5)),
        policy.PRIORITY_REFUSAL,
    ),
    *_listings("GET", J),
    *_listings("GET", f"{J}/list"),
    *_listings("GET", f"{J}/results"),
    Refused(
        "every user's job events",
        Call(WS, f"{BASE}/events", {"allUsers": "true"}),
        OTHERS_JOBS,
        frozenset({"allUsers"}),
    ),
    Refused(
        "every user's schedules",
        Call("GET", S, {"allUsers": "true"}),
        OTHERS_SCHEDULES,
        frozenset({"allUsers"}),
    ),
    Refused(
        "one other user's schedules",
        Call("GET", S, {"userId": "bob@example.com"}),
        OTHERS_SCHEDULES,
        frozenset({"userId"}),
    ),
    Refused(
        "a schedule of a shell command",
        Call("POST", S, body={**_SCHEDULE, **SUBMIT}),
        policy.ELEVATED_REFUSAL,
    ),
    Refused(
        "a schedule at priority 5",
        Call("POST", S, body={**_SCHEDULE, **_submit(priority=5)}),
        policy.PRIORITY_REFUSAL,
    ),
    Refused(
        "a schedule of MainLoop without debug",
        Call("POST", S, body={**_SCHEDULE, **_submit(executionMode="MainLoop", command="1")}),
        policy.MAIN_LOOP_REFUSAL,
        who="manager",
    ),
    Refused(
        "a schedule of an admin-only template",
        Call("POST", S, body={**_SCHEDULE, "templateId": "admin-only"}),
        START_REFUSAL,
    ),
    Refused(
        "turn one's template schedule into a shell command",
        Call(
            "PATCH",
            S,
            {"scheduleId": OWN_SCHEDULE},
            {"command": "id", "executionMode": "BackgroundJob"},
        ),
        policy.ELEVATED_REFUSAL,
    ),
    Refused(
        "turn one's template schedule into an admin-only one",
        Call("PATCH", S, {"scheduleId": OWN_SCHEDULE}, {"templateId": "admin-only"}),
        START_REFUSAL,
    ),
    Refused(
        "start an admin-only template",
        Call("POST", f"{J}/start", body={"jobId": "admin-only"}),
        START_REFUSAL,
    ),
    Refused(
        "stop an admin-only template's jobs",
        Call("POST", f"{J}/stop", body={"jobId": "admin-only"}),
        STOP_REFUSAL,
    ),
    Refused(
        "rerun a free-form job one could not have submitted",
        Call("POST", f"{J}/rerun", body={"jobId": OWN_FREE_FORM_JOB}),
        policy.ELEVATED_REFUSAL,
    ),
]
