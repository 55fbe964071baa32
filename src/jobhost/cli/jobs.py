"""The job commands (``submit``, ``rerun``, ``jobs``, ``status``, ``logs``, ``stop``,
``rm``): the CLI side of ``jobhost.Client``, against a running server.

The server is ``--url`` or ``JOBHOST_URL`` (default http://127.0.0.1:8080); the API key is
``JOBHOST_TOKEN``, never an option, so that it does not show in the process list.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import shlex
import sys
import urllib.parse
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.console import Console

from jobhost.cli import view
from jobhost.cli.attach import (
    EXIT_CODES_HELP,
    TAIL_LINES,
    OutputFollower,
    OutputWriter,
    SpinnerWaiter,
    attach,
    err,
    finish,
    show_tail,
)
from jobhost.client import ApiError, Client, Job, JobList, ListOptions, SubmitOptions
from jobhost.errors import InvalidInput
from jobhost.models import Category, Mode, Status, parse_mode

out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)

Url = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="The server [JOBHOST_URL; default http://127.0.0.1:8080]. "
        "The API key is read from JOBHOST_TOKEN.",
        show_default=False,
    ),
]
JobId = Annotated[str, typer.Argument(help="The job's id", show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts")]
Raw = Annotated[
    bool,
    typer.Option(
        "--raw",
        help="Print the output exactly as stored. Without it, escape sequences other than "
        "colours are removed, on a terminal and in pipes alike.",
    ),
]


@contextlib.contextmanager
def _connect(url: str | None) -> Iterator[Client]:
    """A client for the command; a bad or missing key gets a hint on what to set."""
    try:
        with Client(url) as client:
            yield client
    except ApiError as exc:
        if exc.status == 401:
            hint = f"{exc.message} (HTTP 401): set JOBHOST_TOKEN to a valid API key"
            raise ApiError(hint, 401) from None
        raise


def submit(
    command: Annotated[
        list[str],
        typer.Argument(
            help="One argument: a shell command line, run as is. Several: a program and its "
            "arguments, each passed on unchanged. In Runspace/MainLoop mode: Python source.",
            metavar="COMMAND",
            show_default=False,
        ),
    ],
    mode: Annotated[
        str, typer.Option(help="BackgroundJob (shell), Runspace or MainLoop (Python)")
    ] = "BackgroundJob",
    name: Annotated[str | None, typer.Option(help="Job name (default: the command)")] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Stop the job as TimedOut after this many seconds")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Show a spinner until the job ends; exit with its code")
    ] = False,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Print the output live; exit with its code")
    ] = False,
    cwd: Annotated[
        str | None,
        typer.Option(
            "--cwd",
            help="The job's working directory (BackgroundJob only). Default: the current "
            "directory when the server is on this machine (its URL names 127.0.0.0/8, ::1 or "
            "localhost); otherwise the server's default, <data>/workspace.",
            show_default=False,
        ),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            help="NAME=VALUE added to the job's environment (BackgroundJob only; repeatable)",
            show_default=False,
        ),
    ] = None,
    priority: Annotated[
        int | None,
        typer.Option(
            min=-100,
            max=100,
            help="-100..100 (default 0): higher runs first, in submission order within a "
            "priority. Above 0 needs a privileged role.",
            show_default=False,
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="Run it no earlier than this time, ISO 8601: 2026-12-03T15:00:00Z, or with "
            "an offset (+01:00); without one, local time. Scheduled until then.",
            show_default=False,
        ),
    ] = None,
    retries: Annotated[
        int | None,
        typer.Option(
            "--retries",
            help="Run it again, up to this many more times (0-10), if it ends Failed, "
            "TimedOut or Interrupted",
            show_default=False,
        ),
    ] = None,
    retry_delay: Annotated[
        float | None,
        typer.Option(
            "--retry-delay",
            help="Seconds before the first retry, doubling for each later one, plus up to "
            "10% jitter [10]",
            show_default=False,
        ),
    ] = None,
    after: Annotated[
        list[str] | None,
        typer.Option(
            "--after",
            help="Run only once job ID has Completed; cancelled if it ends otherwise "
            "(repeatable: after all of them)",
            metavar="ID",
            show_default=False,
        ),
    ] = None,
    raw: Raw = False,
    url: Url = None,
) -> None:
    """Submit a job and print its id. Put options before COMMAND (or use --).

    With --follow the id goes to stderr and the output to stdout.
    With --wait, a job that did not complete has the last 20 lines of its output shown on stderr.
    Ctrl-C while following or waiting asks whether to stop the job or detach from it.
    """
    text = _command_text(command, mode)
    variables = _env_pairs(env or [])
    with _connect(url) as client:
        options = _submit_options(mode, timeout, cwd, client.connection.url)
        if variables:
            options["env"] = variables
        if priority is not None:
            options["priority"] = priority
        options.update(_queue_options(at, retries, retry_delay))
        if after:
            options["depends_on"] = after
        job_id = client.submit(text, name or _default_name(text), **options)
        _watch_new_job(client, job_id, wait, follow, raw)


def _watch_new_job(client: Client, job_id: str, wait: bool, follow: bool, raw: bool) -> None:
    """Print a new job's id; with ``follow`` or ``wait`` stay with it and exit with its code."""
    if not (wait or follow):
        print(job_id)
        return
    if follow:
        err.print(f"submitted job {job_id}", markup=False)
        job = attach(client, job_id, OutputFollower(client, job_id, OutputWriter(raw)))
    else:
        print(job_id, flush=True)
        job = attach(client, job_id, SpinnerWaiter(client, job_id))
        if job.status is not Status.COMPLETED:
            show_tail(job, TAIL_LINES)
    raise typer.Exit(finish(job))


def rerun(
    job_id: JobId,
    wait: Annotated[
        bool, typer.Option("--wait", help="Show a spinner until the job ends; exit with its code")
    ] = False,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Print the output live; exit with its code")
    ] = False,
    raw: Raw = False,
    url: Url = None,
) -> None:
    """Submit a finished job again as a new job of yours and print the new id.

    The new job has the old one's command, mode, name, environment, working directory,
    timeouts, priority and retries, but not its run-at time or dependencies.
    With --follow the id goes to stderr and the output to stdout.
    """
    with _connect(url) as client:
        _watch_new_job(client, client.rerun(job_id), wait, follow, raw)


def _submit_options(
    mode: str, timeout: float | None, cwd: str | None, server_url: str
) -> SubmitOptions:
    options: SubmitOptions = {"mode": mode}
    if timeout is not None:
        options["timeout"] = timeout
    local = is_loopback_url(server_url)
    if cwd is not None:
        # A relative path means one from here, which only a server on this machine shares.
        options["working_directory"] = os.path.abspath(cwd) if local else cwd
    elif local and parse_mode(mode) is Mode.BACKGROUND_JOB:
        # Python modes refuse a working directory, so only shell jobs get this default.
        with contextlib.suppress(OSError):  # the current directory may have been deleted
            options["working_directory"] = _utf8_cwd()
    return options


def _queue_options(at: str | None, retries: int | None, delay: float | None) -> SubmitOptions:
    """--at, --retries and --retry-delay as submit options (the server checks the ranges)."""
    options: SubmitOptions = {}
    if at is not None:
        options["run_at"] = parse_at(at)
    if retries is not None:
        options["max_retries"] = retries
    if delay is not None:
        options["retry_delay"] = delay
    return options


def parse_at(text: str) -> datetime.datetime:
    """An --at time: ISO 8601, in UTC (Z), with an offset, or else in local time."""
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"Invalid --at {text!r}: use an ISO 8601 time such as 2026-12-03T15:00:00Z"
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def _utf8_cwd() -> str:
    here = os.getcwd()
    try:
        here.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            "Invalid working directory: the current directory's path is not valid UTF-8; pass --cwd"
        ) from None
    return here


def is_loopback_url(url: str) -> bool:
    """Whether the URL names this machine: localhost, 127.0.0.0/8 or ::1."""
    host = (urllib.parse.urlsplit(url).hostname or "").rstrip(".")
    if host == "localhost":  # hostname is lowercased
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _env_pairs(items: list[str]) -> dict[str, str]:
    """NAME=VALUE options as a mapping; the value may hold '=' and be empty."""
    pairs: dict[str, str] = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not name or not equals:
            raise InvalidInput(f"Invalid --env {item!r}: use NAME=VALUE")
        pairs[name] = value
    return pairs


def _command_text(command: list[str], mode: str) -> str:
    if len(command) > 1 and parse_mode(mode) is Mode.BACKGROUND_JOB:
        return shlex.join(command)
    return " ".join(command)


def _default_name(command: str) -> str:
    name = "".join(char for char in view.one_line(command) if char.isprintable())
    return name or "job"


def jobs(
    pending: Annotated[bool, typer.Option("--pending", help="Pending jobs only")] = False,
    running: Annotated[bool, typer.Option("--running", help="Running jobs only")] = False,
    completed: Annotated[bool, typer.Option("--completed", help="Finished jobs only")] = False,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="Only jobs in this status (repeat for several)"),
    ] = None,
    all_users: Annotated[
        bool, typer.Option("--all-users", help="Everyone's jobs (privileged roles)")
    ] = False,
    user: Annotated[
        str | None, typer.Option("--user", help="This user's jobs (privileged roles)")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="At most this many finished jobs, newest first [100]")
    ] = None,
    as_json: Json = False,
    url: Url = None,
) -> None:
    """List jobs: pending, running, then finished (newest first)."""
    wanted = _statuses(status or [])
    categories = {c for c, on in zip(Category, (pending, running, completed), strict=True) if on}
    categories = categories or {s.category for s in wanted} or set(Category)
    options: ListOptions = {
        "pending": Category.PENDING in categories,
        "running": Category.RUNNING in categories,
        "completed": Category.COMPLETED in categories,
        "all_users": all_users,
    }
    if user is not None:
        options["user_id"] = user
    if limit is not None:
        options["max_results"] = limit
    with _connect(url) as client:
        listing = client.list(**options)
    shown = [job for job in listing.jobs if not wanted or job.status in wanted]
    if as_json:
        print(json.dumps([job.to_json() for job in shown], indent=2))
        return
    _print_table(listing, shown, show_user=all_users or user is not None)


def _statuses(names: list[str]) -> set[Status]:
    by_name = {status.value.lower(): status for status in Status}
    unknown = [name for name in names if name.lower() not in by_name]
    if unknown:
        raise InvalidInput(
            f"Unknown status {unknown[0]!r}; one of: {', '.join(s.value for s in Status)}"
        )
    return {by_name[name.lower()] for name in names}


def _print_table(listing: JobList, shown: list[Job], show_user: bool) -> None:
    if not shown:
        err.print("no jobs", markup=False)
        return
    out.print(view.jobs_table(listing, shown, show_user))


def status(job_id: JobId, as_json: Json = False, url: Url = None) -> None:
    """Show one job: its status, times, exit code and command."""
    with _connect(url) as client:
        job = client.get(job_id)
    if as_json:
        print(json.dumps(job.to_json(), indent=2))
        return
    width = max(len(label) for label, _ in view.status_lines(job))
    for label, value in view.status_lines(job):
        out.print(f"{label:<{width}}  ", value, sep="", markup=False)


def logs(
    job_id: JobId,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing output until the job ends")
    ] = False,
    raw: Raw = False,
    url: Url = None,
) -> None:
    """Print a job's output (stdout and stderr, in the order written).

    With -f, Ctrl-C asks whether to stop the job or detach from it (exit status 130).
    """
    writer = OutputWriter(raw)
    with _connect(url) as client:
        if follow:
            job = attach(client, job_id, OutputFollower(client, job_id, writer))
            err.print(view.summary(job))
            return
        for page in client.follow(job_id, live=False):
            writer.write(page.output)
        writer.close()


def stop(job_id: JobId, url: Url = None) -> None:
    """Stop a running job (SIGTERM, SIGKILL after its grace period) or cancel a pending one.

    Returns once the job has ended or its grace period is over.
    A job that has already finished is an error (and is not deleted).
    """
    with _connect(url) as client:
        message = client.stop(job_id)
    print(message)


def rm(job_id: JobId, url: Url = None) -> None:
    """Delete a finished job's record and output (stop a running job first)."""
    with _connect(url) as client:
        message = client.delete(job_id)
    print(message)


def register(app: typer.Typer) -> None:
    """Adds the job commands to the ``jobhost`` command."""
    app.command(epilog=EXIT_CODES_HELP, context_settings={"allow_interspersed_args": False})(submit)
    app.command(epilog=EXIT_CODES_HELP)(rerun)
    app.command()(jobs)
    app.command()(status)
    app.command()(logs)
    app.command()(stop)
    app.command()(rm)
