"""The job commands (``jobs``, ``status``, ``logs``, ``stop``, ``rm``; ``submit`` and
``rerun`` are cli/submit.py's): the CLI side of ``jobhost.Client``, against a running server.

The server is ``--url`` or ``JOBHOST_URL`` (default http://127.0.0.1:8080); the API key is
``JOBHOST_TOKEN``, never an option, so that it does not show in the process list.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import re
import sys
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.console import Console

from jobhost.cli import view
from jobhost.cli.attach import (
    EXIT_CODES_HELP,
    OutputFollower,
    OutputWriter,
    attach,
    err,
)
from jobhost.client import ApiError, Client, Job, JobList, ListOptions
from jobhost.errors import InvalidInput
from jobhost.models import Category, Status

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
Wait = Annotated[
    bool, typer.Option("--wait", help="Show a spinner until the job ends; exit with its code")
]
Follow = Annotated[
    bool, typer.Option("--follow", "-f", help="Print the output live; exit with its code")
]
Raw = Annotated[
    bool,
    typer.Option(
        "--raw",
        help="Print the output exactly as stored. Without it, escape sequences other than "
        "colours are removed, on a terminal and in pipes alike.",
    ),
]


@contextlib.contextmanager
def connect(url: str | None) -> Iterator[Client]:
    """A client for the command; a bad or missing key gets a hint on what to set."""
    try:
        with Client(url) as client:
            yield client
    except ApiError as exc:
        if exc.status == 401:
            hint = f"{exc.message} (HTTP 401): set JOBHOST_TOKEN to a valid API key"
            raise ApiError(hint, 401) from None
        raise


def jobs(
    pending: Annotated[bool, typer.Option("--pending", help="Pending jobs only")] = False,
    running: Annotated[bool, typer.Option("--running", help="Running jobs only")] = False,
    completed: Annotated[bool, typer.Option("--completed", help="Finished jobs only")] = False,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="Only jobs in this status (comma-separated or repeated)"),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only jobs submitted since: an ISO time (local without a zone) or 30m, 12h, 7d",
        ),
    ] = None,
    grep: Annotated[
        str | None,
        typer.Option("--grep", help="Only jobs whose name, description or command holds this"),
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
    wanted = _statuses([name for item in status or [] for name in item.split(",") if name])
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
    if wanted:
        options["status"] = sorted(wanted)
    if since is not None:
        options["since"] = parse_since(since, datetime.datetime.now(datetime.UTC))
    if grep:
        options["q"] = grep
    with connect(url) as client:
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


_RELATIVE = re.compile(r"([0-9]{1,6})([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: datetime.datetime) -> datetime.datetime:
    """``--since``: so long before ``now`` (30m, 12h, 7d) or an ISO time (local if naive)."""
    relative = _RELATIVE.fullmatch(text.strip())
    if relative is not None:
        amount, unit = relative.groups()
        return now - datetime.timedelta(seconds=int(amount) * _UNIT_SECONDS[unit])
    return iso_moment(
        text, f"Invalid --since {text!r}: an ISO time such as 2026-12-01T08:00 or 30m, 12h, 7d"
    )


def iso_moment(text: str, refusal: str) -> datetime.datetime:
    """An ISO 8601 time option's value, in local time when it names no zone; InvalidInput
    with ``refusal`` otherwise."""
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(refusal) from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def _print_table(listing: JobList, shown: list[Job], show_user: bool) -> None:
    if not shown:
        err.print("no jobs", markup=False)
        return
    out.print(view.jobs_table(listing, shown, show_user))


def status(job_id: JobId, as_json: Json = False, url: Url = None) -> None:
    """Show one job: its status, times, exit code and command."""
    with connect(url) as client:
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
    with connect(url) as client:
        if follow:
            job = attach(client, job_id, OutputFollower(client, job_id, writer))
            err.print(view.summary(job))
            return
        for page in client.follow(job_id, live=False):
            writer.write(page.output)
        writer.close()


def stop(
    job_id: Annotated[str | None, typer.Argument(help="The job's id", show_default=False)] = None,
    template: Annotated[
        str | None,
        typer.Option(help="Stop the jobs of this catalog template instead", show_default=False),
    ] = None,
    url: Url = None,
) -> None:
    """Stop a running job (SIGTERM, SIGKILL after its grace period) or cancel a pending one.

    Returns once the job has ended or its grace period is over.
    A job that has already finished is an error (and is not deleted).
    With --template, stop the template's jobs (yours, or everyone's if your roles allow):
    the ids of those cancelled or asked to stop are printed, the stops not waited for.
    """
    if (job_id is None) == (template is None):
        raise InvalidInput("Give either a job id or --template")
    with connect(url) as client:
        if template is None:
            assert job_id is not None
            print(client.stop(job_id))
            return
        stopped = client.stop_template(template)
    for stopped_id in stopped:
        print(stopped_id)
    err.print(f"stopped {len(stopped)} job(s) of {view.one_line(template)}", markup=False)


def rm(job_id: JobId, url: Url = None) -> None:
    """Delete a finished job's record and output (stop a running job first)."""
    with connect(url) as client:
        message = client.delete(job_id)
    print(message)


def register(app: typer.Typer) -> None:
    """Adds the job commands to the ``jobhost`` command."""
    from jobhost.cli.submit import rerun, submit

    app.command(epilog=EXIT_CODES_HELP, context_settings={"allow_interspersed_args": False})(submit)
    app.command(epilog=EXIT_CODES_HELP)(rerun)
    app.command()(jobs)
    app.command()(status)
    app.command()(logs)
    app.command()(stop)
    app.command()(rm)
