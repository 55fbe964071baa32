"""The client without I/O: which request each capability makes, what its response means,
and when to poll again. ``Client`` and ``AsyncClient`` only send what this builds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypedDict, TypeVar, Unpack

from jobhost import __version__
from jobhost.client.catalog import Catalog, catalog_from_body, started_job_id, stopped_job_ids
from jobhost.client.history import HistoryFilters, filter_params
from jobhost.client.values import (
    Job,
    JobList,
    OutputPage,
    ResultsPage,
    error_of,
    job_from_answer,
    job_list_from_body,
    message_of,
    output_page_from_body,
    results_from_body,
    results_page_from_body,
    submitted_job_id,
)
from jobhost.errors import JobhostError
from jobhost.terminal import without_sequences

T = TypeVar("T")

BASE_PATH = "/apps/WebHostTaskManagement/api/v1"
DEFAULT_URL = "http://127.0.0.1:8080"
URL_VARIABLE = "JOBHOST_URL"
TOKEN_VARIABLE = "JOBHOST_TOKEN"
STOP_TIMEOUT_SECONDS = 75.0
"""A stop answers once the job has ended or after its grace period (the server caps the wait
at 60 s), so it may take longer than other requests."""

FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 0.5
_POLL_GROWTH = 1.5
_MAX_ERROR_CHARS = 500


class ApiError(JobhostError):
    """The jobhost server refused a request, answered nonsense, or could not be reached.

    ``status`` is the HTTP status, or None when no answer came (unreachable, timed out).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Connection:
    """Where the server is and the API key to send."""

    url: str
    """The server's root, e.g. ``http://127.0.0.1:8080``."""
    token: str | None = field(default=None, repr=False)  # never in logs or tracebacks

    @classmethod
    def resolve(cls, url: str | None, token: str | None, environ: Mapping[str, str]) -> Connection:
        """Arguments first, then ``JOBHOST_URL``/``JOBHOST_TOKEN``, then the default URL."""
        chosen = (url or environ.get(URL_VARIABLE) or DEFAULT_URL).strip().rstrip("/")
        if not chosen.startswith(("http://", "https://")):
            raise ApiError(f"Invalid server URL {chosen!r}: must start with http:// or https://")
        chosen = chosen.removesuffix(BASE_PATH)  # the API's own address works too
        return cls(chosen, (token or environ.get(TOKEN_VARIABLE) or "").strip() or None)

    @property
    def api_url(self) -> str:
        return self.url + BASE_PATH

    @property
    def headers(self) -> dict[str, str]:
        headers = {"User-Agent": f"jobhost-client/{__version__}", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers


Params = dict[str, str | int]


class SubmitOptions(TypedDict, total=False):
    """Optional parts of a submission."""

    mode: str
    """BackgroundJob (a shell command line, the default), Runspace or MainLoop (Python)."""
    description: str
    timeout: float
    """Seconds before the job is stopped as TimedOut."""
    stop_grace: float
    """Seconds between SIGTERM and SIGKILL when the job is stopped."""
    env: Mapping[str, str]
    working_directory: str
    priority: int
    """-100..100: higher runs first; above 0 needs a privileged role."""
    run_at: datetime
    """Not before this time (Scheduled until then); a naive datetime is local time."""
    max_retries: int
    """Run again, up to this many more times, after Failed, TimedOut or Interrupted."""
    retry_delay: float
    """Seconds before the first retry (doubling for each later one; server default 10)."""
    depends_on: Sequence[str]
    """Job ids: the job waits until every one has Completed (is Cancelled if one did not)."""


class Scope(HistoryFilters, total=False):
    """Whose jobs, how many finished ones (the caller's own unless widened), and the
    history filters."""

    max_results: int
    all_users: bool
    user_id: str


class ListOptions(Scope, total=False):
    """Which categories a listing includes (all three unless turned off)."""

    pending: bool
    running: bool
    completed: bool


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request, and how to turn its successful JSON body into a value."""

    method: str
    path: str
    parse: Callable[[Mapping[str, Any]], T]
    params: Params = field(default_factory=dict)
    body: dict[str, object] | None = None
    timeout: float | None = None
    """Overrides the client's timeout for this request."""


def submit(command: str, name: str, **options: Unpack[SubmitOptions]) -> Call[str]:
    env = options.get("env")
    depends_on = options.get("depends_on")
    optional = {
        "description": options.get("description"),
        "timeoutSeconds": options.get("timeout"),
        "stopGraceSeconds": options.get("stop_grace"),
        "env": dict(env) if env is not None else None,
        "workingDirectory": options.get("working_directory"),
        "priority": options.get("priority"),
        "runAt": _utc_text(options.get("run_at")),
        "maxRetries": options.get("max_retries"),
        "retryDelaySeconds": options.get("retry_delay"),
        "dependsOn": list(depends_on) if depends_on else None,
    }
    mode = options.get("mode", "BackgroundJob")
    body: dict[str, object] = {"jobName": name, "command": command, "executionMode": mode}
    body.update({key: value for key, value in optional.items() if value is not None})
    return Call("POST", "/jobs/submit", submitted_job_id, body=body)


def rerun(job_id: str) -> Call[str]:
    """Submit a finished job again (without its runAt and dependsOn); the new job's id."""
    return Call("POST", "/jobs/rerun", submitted_job_id, body={"jobId": job_id})


def catalog() -> Call[Catalog]:
    """The templates the caller may start or stop."""
    return Call("GET", "/jobs/catalog", catalog_from_body)


def start(template_id: str, variables: Mapping[str, str] | None = None) -> Call[str]:
    """Start a catalog template with these variables; the new job's id."""
    body: dict[str, object] = {"jobId": template_id, "variables": dict(variables or {})}
    return Call("POST", "/jobs/start", started_job_id, body=body)


def stop_template(template_id: str) -> Call[tuple[str, ...]]:
    """Stop the template's jobs (the caller's, or everyone's with its stop roles); the ids
    of the jobs cancelled or asked to stop."""
    return Call("POST", "/jobs/stop", stopped_job_ids, body={"jobId": template_id})


def _utc_text(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def get(job_id: str) -> Call[Job]:
    return Call("GET", "/jobs", job_from_answer, params={"jobId": job_id})


def list_jobs(**options: Unpack[ListOptions]) -> Call[JobList]:
    params: Params = {
        "includePending": _flag(options.get("pending", True)),
        "includeRunning": _flag(options.get("running", True)),
        "includeCompleted": _flag(options.get("completed", True)),
    }
    params.update(_scope(options))
    return Call("GET", "/jobs", job_list_from_body, params=params)


def output(job_id: str, offset: int = 0) -> Call[OutputPage]:
    return Call("GET", "/jobs/output", output_page_from_body, params=_at(job_id, offset))


def stop(job_id: str) -> Call[str]:
    """Stop a running job or cancel a pending one.

    Uses the stop-only route: a job that has already finished is a 409, never deleted.
    """
    return Call(
        "POST", "/jobs/stop", message_of, params={"jobId": job_id}, timeout=STOP_TIMEOUT_SECONDS
    )


def delete(job_id: str) -> Call[str]:
    """Delete a finished job's record and output (the server refuses unfinished ones)."""
    return Call("DELETE", "/jobs/results", message_of, params={"jobId": job_id})


def results(**scope: Unpack[Scope]) -> Call[tuple[Job, ...]]:
    return Call("GET", "/jobs/results", results_from_body, params=_scope(scope))


def results_page(**scope: Unpack[Scope]) -> Call[ResultsPage]:
    """One page of results with the cursor of the next (None at the end)."""
    return Call("GET", "/jobs/results", results_page_from_body, params=_scope(scope))


def read_response(call: Call[T], status: int, content: bytes) -> T:
    """The call's value from an HTTP answer, or ApiError with the server's message."""
    body = _json_object(content)
    if body is None:
        raise ApiError(
            f"Unexpected answer from the server (HTTP {status}, not jobhost's JSON); "
            "is the URL that of a jobhost server?",
            status,
        )
    if status >= 400 or body.get("success") is not True:
        raise ApiError(_error_text(body, status), status)
    try:
        return call.parse(body)
    except (KeyError, TypeError, ValueError) as exc:
        raise ApiError(f"Unexpected answer from the server: {exc!r}", status) from exc


def unreachable(connection: Connection, exc: Exception) -> ApiError:
    reason = _one_line(str(exc)) or type(exc).__name__
    return ApiError(f"Cannot reach the jobhost server at {connection.url}: {reason}")


class Follow:
    """Reading a job's output page by page from an offset.

    ``live``: poll until the job has finished and all its output is read; otherwise stop at
    the end of what is stored now. Use: while not ``done``: send ``call()``, give the page to
    ``receive``, sleep for what it returns.
    """

    def __init__(self, job_id: str, offset: int = 0, live: bool = True) -> None:
        self.job_id = job_id
        self.offset = offset
        self.live = live
        self.done = False
        self._pause = FIRST_POLL_SECONDS

    def call(self) -> Call[OutputPage]:
        return output(self.job_id, self.offset)

    def receive(self, page: OutputPage) -> float:
        """Takes a page in; returns the seconds to wait before the next call."""
        got_more = page.next_offset > self.offset
        self.offset = max(self.offset, page.next_offset)
        if got_more:
            self._pause = FIRST_POLL_SECONDS
            return 0.0 if page.finished or not self.live else FIRST_POLL_SECONDS
        if page.finished or not self.live:
            self.done = True
            return 0.0
        return self._backoff()

    def wanted(self, page: OutputPage) -> bool:
        """Whether a page is worth handing on: it has output, or it is the last one."""
        return bool(page.output) or self.done

    def _backoff(self) -> float:
        pause = self._pause
        self._pause = min(MAX_POLL_SECONDS, self._pause * _POLL_GROWTH)
        return pause


class Watch:
    """Polling a job's record until it has finished; same use as ``Follow``."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.done = False
        self._pause = FIRST_POLL_SECONDS

    def call(self) -> Call[Job]:
        return get(self.job_id)

    def receive(self, job: Job) -> float:
        self.done = job.finished
        pause = self._pause
        self._pause = min(MAX_POLL_SECONDS, self._pause * _POLL_GROWTH)
        return 0.0 if self.done else pause


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _at(job_id: str, offset: int) -> Params:
    return {"jobId": job_id, "offset": offset} if offset else {"jobId": job_id}


def _scope(scope: Scope) -> Params:
    params: Params = {}
    if "max_results" in scope:
        params["maxResults"] = scope["max_results"]
    if scope.get("all_users"):
        params["allUsers"] = "true"
    if "user_id" in scope:
        params["userId"] = scope["user_id"]
    params.update(filter_params(scope))
    return params


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _error_text(body: Mapping[str, Any], status: int) -> str:
    error = error_of(body)
    text = _one_line(error) if isinstance(error, str) else ""
    return text or f"The server refused the request (HTTP {status})"


def _one_line(text: str) -> str:
    """Server-supplied text made fit for one line of a terminal."""
    return " ".join(without_sequences(text).split())[:_MAX_ERROR_CHARS]
