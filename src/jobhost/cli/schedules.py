"""The schedule commands (``schedules``; ``schedule add|pause|resume|rm``): the CLI side of
``Client``'s schedule methods, against a running server (``--url``, ``JOBHOST_TOKEN``)."""

from __future__ import annotations

import json
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.table import Table
from rich.text import Text

from jobhost.cli.attach import err
from jobhost.cli.jobs import Json, Url, connect, out
from jobhost.cli.submit import name_value_pairs
from jobhost.cli.view import id_column, one_line, safe, when
from jobhost.client import Schedule, ScheduleOptions, SubmitOptions
from jobhost.client.values import _iso
from jobhost.errors import InvalidInput

schedule_app = typer.Typer(help="Add, pause, resume or remove a schedule.", no_args_is_help=True)
ScheduleId = Annotated[str, typer.Argument(help="The schedule's id", show_default=False)]


def schedules(
    all_users: Annotated[
        bool, typer.Option("--all", help="Everyone's schedules (privileged roles)")
    ] = False,
    user: Annotated[
        str | None, typer.Option("--user", help="This user's schedules (privileged roles)")
    ] = None,
    as_json: Json = False,
    url: Url = None,
) -> None:
    """List schedules with their next run, oldest first."""
    with connect(url) as client:
        found = client.schedules(all_users, user)
    if as_json:
        print(json.dumps([schedule.to_json() for schedule in found], indent=2))
        return
    if not found:
        err.print("no schedules", markup=False)
        return
    out.print(schedules_table(found, show_user=all_users or user is not None))
    for line in failures(found):
        out.print(line)


def schedules_table(found: tuple[Schedule, ...], show_user: bool) -> Table:
    table = Table(
        id_column(), "name", "cron", "timezone", "next run", "last run", "overlap",
        *(["user"] if show_user else []), "runs",
    )  # fmt: skip
    for schedule in found:
        user = [safe(schedule.user_id)] if show_user else []
        next_run = _next_run(schedule)
        runs = f"template {schedule.template_id}" if schedule.template_id else "command"
        table.add_row(
            schedule.id, Text(one_line(schedule.name, 40)), safe(schedule.cron),
            safe(schedule.timezone), next_run, _last_run(schedule), schedule.overlap,
            *user, safe(runs),
        )  # fmt: skip
    return table


@schedule_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The schedule's name", show_default=False)],
    cron: Annotated[
        str, typer.Option(help="5 fields: minute hour day month weekday, e.g. '0 3 * * *'")
    ],
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Berlin")] = "UTC",
    overlap: Annotated[
        str, typer.Option(help="skip: no firing while the last job runs; queue: fire anyway")
    ] = "skip",
    command: Annotated[
        str | None, typer.Option(help="A shell command line (or Python in Python modes)")
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option(help="BackgroundJob (the default), Runspace or MainLoop", show_default=False),
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds before TimedOut")] = None,
    template: Annotated[str | None, typer.Option(help="A catalog template's id")] = None,
    var: Annotated[
        list[str] | None,
        typer.Option(
            "--var",
            "-v",
            "--variable",  # its first name, kept working
            help="NAME=VALUE for one of the template's variables (repeatable)",
            show_default=False,
        ),
    ] = None,
    as_json: Json = False,
    url: Url = None,
) -> None:
    """Add a schedule that submits --command, or starts --template, at each firing."""
    _check_kind(command, template, {"-v/--var": bool(var)}, {"--mode": mode, "--timeout": timeout})
    options: ScheduleOptions = {"timezone": timezone, "overlap": overlap}
    with connect(url) as client:
        if template is not None:
            variables = name_value_pairs(var or [], "--var")
            schedule_id = client.add_template_schedule(name, cron, template, variables, **options)
        else:
            assert command is not None
            job: SubmitOptions = {"mode": mode or "BackgroundJob"}
            if timeout is not None:
                job["timeout"] = timeout
            schedule_id = client.add_schedule(name, cron, command, job, **options)
        _show(client.schedule(schedule_id), as_json)


def _check_kind(
    command: str | None,
    template: str | None,
    template_options: dict[str, bool],
    command_options: dict[str, object],
) -> None:
    """A usage error for --command with --template, neither, or an option given for the
    other kind (which would be dropped unseen)."""
    if (command is None) == (template is None):
        raise InvalidInput("Give either --command or --template")
    if template is None:
        for name, given in template_options.items():
            if given:
                raise InvalidInput(f"{name} is for --template")
    else:
        for name, value in command_options.items():
            if value is not None:
                raise InvalidInput(f"{name} is for --command schedules")


@schedule_app.command("preview")
def preview(
    cron: Annotated[str, typer.Argument(help="5 fields, e.g. '0 3 * * *'", show_default=False)],
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Berlin")] = "UTC",
    as_json: Json = False,
    url: Url = None,
) -> None:
    """Print the next five firings of a cron expression (UTC, and local in --timezone)."""
    with connect(url) as client:
        runs = client.preview_schedule(cron, timezone)
    if as_json:
        print(json.dumps([_iso(moment) for moment in runs], indent=2))
        return
    zone = _local_zone(timezone)
    for moment in runs:
        local = f"  {moment.astimezone(zone):%Y-%m-%d %H:%M %Z}" if zone is not None else ""
        print(when(moment) + local)


def _local_zone(name: str) -> ZoneInfo | None:
    """The zone to show local times in; None for UTC or a zone this machine lacks (the
    server knew it)."""
    if name == "UTC":
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@schedule_app.command("pause")
def pause(schedule_id: ScheduleId, as_json: Json = False, url: Url = None) -> None:
    """Pause a schedule: it fires no more until resumed."""
    with connect(url) as client:
        _show(client.pause_schedule(schedule_id), as_json)


@schedule_app.command("resume")
def resume(schedule_id: ScheduleId, as_json: Json = False, url: Url = None) -> None:
    """Resume a paused schedule from now (the firings missed while paused do not run)."""
    with connect(url) as client:
        _show(client.resume_schedule(schedule_id), as_json)


@schedule_app.command("rm")
def rm(schedule_id: ScheduleId, as_json: Json = False, url: Url = None) -> None:
    """Delete a schedule; the jobs it submitted stay."""
    with connect(url) as client:
        message = client.delete_schedule(schedule_id)
    if as_json:
        print(json.dumps({"id": schedule_id, "message": message}, indent=2))
        return
    print(message)


def _show(schedule: Schedule, as_json: bool) -> None:
    if as_json:
        print(json.dumps(schedule.to_json(), indent=2))
        return
    out.print(f"schedule {schedule.id}", safe(schedule.name), f"next run: {_next_run(schedule)}")


def _last_run(schedule: Schedule) -> Text:
    """Its last run, marked when the last firing failed (until one submits again); when
    and why are said under the table, where they have the width."""
    cell = Text(when(schedule.last_run_at))
    if schedule.last_error:
        cell += Text("\n") + Text("last firing failed (!)", style="red")
    return cell


def failures(found: tuple[Schedule, ...]) -> list[Text]:
    """A line for each schedule whose last firing failed: its id and why."""
    return [
        Text(f"(!) {schedule.id}: firing failed {when(schedule.last_error_at)}: ")
        + safe(one_line(schedule.last_error, 300))
        for schedule in found
        if schedule.last_error
    ]


def _next_run(schedule: Schedule) -> str:
    """Its next run; "stopped" when enabled without one (no firing left, or its zone went)."""
    if not schedule.enabled:
        return "paused"
    return when(schedule.next_run_at) if schedule.next_run_at is not None else "stopped"


def register(app: typer.Typer) -> None:
    """Adds ``schedules`` and ``schedule ...`` to the ``jobhost`` command."""
    app.command()(schedules)
    app.add_typer(schedule_app, name="schedule")
