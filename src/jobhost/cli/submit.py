"""Submitting jobs from the command line (``submit``, ``rerun``): options to a submit body,
then the new job's id, or its output live (``--follow``) or a spinner (``--wait``).

The server is ``--url`` or ``JOBHOST_URL``; the API key is ``JOBHOST_TOKEN``.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import shlex
import urllib.parse
from typing import Annotated

import typer

from jobhost import policy
from jobhost.cli import view
from jobhost.cli.attach import (
    TAIL_LINES,
    OutputFollower,
    OutputWriter,
    SpinnerWaiter,
    attach,
    err,
    exit_code_for,
    finish,
    show_tail,
)
from jobhost.cli.jobs import Follow, JobId, Raw, Url, Wait, connect, iso_moment
from jobhost.client import Client, SubmitOptions
from jobhost.errors import InvalidInput
from jobhost.models import Mode, Status, parse_mode


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
    wait: Wait = False,
    follow: Follow = False,
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
    variables = name_value_pairs(env or [], "--env")
    with connect(url) as client:
        options = _submit_options(mode, timeout, cwd, client.connection.url)
        if variables:
            options["env"] = variables
        options.update(_queue_options(at, priority, retries, retry_delay))
        if after:
            options["depends_on"] = after
        job_id = client.submit(text, name or _default_name(text), **options)
        if after:
            _stop_if_cancelled_at_once(client, job_id, wait or follow, follow)
        watch_new_job(client, job_id, wait, follow, raw)


def _stop_if_cancelled_at_once(client: Client, job_id: str, watched: bool, follow: bool) -> None:
    """A job whose dependency had already ended badly is Cancelled by its submit: say so and
    why (its output's note) instead of waiting for it. The id still goes where it would; the
    exit status is 0 (submitted), or with --wait/--follow the Cancelled job's."""
    job = client.get(job_id)
    if job.status is not Status.CANCELLED:
        return
    if not follow:
        print(job_id, flush=True)
    reason = (job.output or "").strip().removeprefix("[Job cancelled: ").removesuffix("]")
    shown = view.one_line(reason or "no reason given", 200)
    err.print(f"job {job_id} was submitted and cancelled at once: {shown}", markup=False)
    raise typer.Exit(exit_code_for(job) if watched else 0)


def watch_new_job(client: Client, job_id: str, wait: bool, follow: bool, raw: bool) -> None:
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
    wait: Wait = False,
    follow: Follow = False,
    raw: Raw = False,
    url: Url = None,
) -> None:
    """Submit a finished job again as a new job of yours and print the new id.

    The new job has the old one's command, mode, name, environment and working directory.
    It keeps the timeouts, priority and retries, but not the run-at time or dependencies.
    With --follow the id goes to stderr and the output to stdout.
    """
    with connect(url) as client:
        watch_new_job(client, client.rerun(job_id), wait, follow, raw)


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


def _queue_options(
    at: str | None, priority: int | None, retries: int | None, delay: float | None
) -> SubmitOptions:
    """--at, --priority, --retries and --retry-delay as submit options, their ranges checked
    here so that a bad one is named as the option (bad input: exit 1, like --at's)."""
    options: SubmitOptions = {}
    if at is not None:
        options["run_at"] = parse_at(at)
    if priority is not None:
        _check_range("--priority", priority, policy.PRIORITY_RANGE)
        options["priority"] = priority
    if retries is not None:
        _check_range("--retries", retries, policy.RETRIES_RANGE)
        options["max_retries"] = retries
    if delay is not None:
        _check_range("--retry-delay", delay, policy.RETRY_DELAY_RANGE)
        options["retry_delay"] = delay
    return options


def _check_range(option: str, value: float, bounds: tuple[int, int]) -> None:
    """InvalidInput naming ``option`` and its range unless ``value`` is within ``bounds``."""
    low, high = bounds
    if not low <= value <= high:  # False for NaN too
        shown = int(value) if float(value).is_integer() else value
        raise InvalidInput(f"Invalid {option} {shown}: must be {low}..{high}")


def parse_at(text: str) -> datetime.datetime:
    """An --at time: ISO 8601, in UTC (Z), with an offset, or else in local time."""
    return iso_moment(
        text, f"Invalid --at {text!r}: use an ISO 8601 time such as 2026-12-03T15:00:00Z"
    )


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


def name_value_pairs(items: list[str], option: str) -> dict[str, str]:
    """NAME=VALUE options as a mapping; the value may hold '=' and be empty."""
    pairs: dict[str, str] = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not name or not equals:
            raise InvalidInput(f"Invalid {option} {item!r}: use NAME=VALUE")
        pairs[name] = value
    return pairs


def _command_text(command: list[str], mode: str) -> str:
    if len(command) > 1 and parse_mode(mode) is Mode.BACKGROUND_JOB:
        return shlex.join(command)
    return " ".join(command)


def _default_name(command: str) -> str:
    name = "".join(char for char in view.one_line(command) if char.isprintable())
    return name or "job"
