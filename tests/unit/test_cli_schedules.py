"""The schedule commands without a server: the table as it prints to a pipe, the usage
errors of ``schedule add`` and ``stop``, and the help texts of every command."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import typer
from rich.console import Console

from jobhost.cli.main import app, main
from jobhost.cli.schedules import failures, schedules_table
from jobhost.client import Schedule
from jobhost.client.schedules import list_schedules

FIRED = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
SCHEDULE = Schedule(
    id="6185bf29-0d2c-4d0e-9b43-6b1b3b7c9a01", name="nightly", cron="0 3 * * *",
    timezone="Europe/Berlin", overlap="skip", enabled=True, user_id="bob",
    template_id="disk-usage", next_run_at=FIRED, last_run_at=None, last_job_id=None,
    next_runs=(FIRED,), last_skipped_at=None,
)  # fmt: skip


def printed(*found: Schedule, show_user: bool = False) -> str:
    """The table and the lines under it as ``out`` prints them when stdout is not a
    terminal (160 columns)."""
    console = Console(file=io.StringIO(), width=160, highlight=False)
    console.print(schedules_table(found, show_user=show_user))
    for line in failures(found):
        console.print(line)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(text, str)
    return text


def test_a_failed_last_firing_shows_under_its_last_run_and_goes_once_one_submits() -> None:
    refusal = "Access denied: You do not have permission to start this job"
    failed = replace(SCHEDULE, last_error=refusal, last_error_at=FIRED)
    shown = printed(failed, SCHEDULE)
    assert "last firing failed (!)" in shown
    assert f"(!) {SCHEDULE.id}: firing failed 2026-01-02 03:00:00Z: {refusal}\n" in shown
    assert shown.count("failed") == 2  # the other schedule's firings did not fail
    assert "failed" not in printed(SCHEDULE)


def test_the_clients_listing_asks_for_one_users_schedules_by_user_id() -> None:
    assert list_schedules(user_id="bob").params == {"userId": "bob"}
    assert list_schedules(True).params == {"allUsers": "true"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--timeout", "5"], "--timeout is for --command schedules"),
        (["--mode", "Runspace"], "--mode is for --command schedules"),
        (["--mode", "BackgroundJob"], "--mode is for --command schedules"),
    ],
)
def test_schedule_add_refuses_a_command_option_for_a_template(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Refused before any server is asked, rather than dropped unseen.
    argv = ["schedule", "add", "x", "--cron", "* * * * *", "--template", "disk-usage", *extra]
    assert main(argv) == 1
    assert capsys.readouterr().err == f"jobhost: {message}\n"


@pytest.mark.parametrize("argv", [["stop"], ["stop", "some-id", "--template", "t"]])
def test_stop_takes_a_job_id_or_a_template(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    assert capsys.readouterr().err == "jobhost: Give either a job id or --template\n"


def test_ids_print_in_full_into_a_pipe_beside_every_column() -> None:
    long_name = replace(SCHEDULE, name="n" * 40, template_id="t/" + "x" * 60)
    assert SCHEDULE.id in printed(long_name, show_user=True)


def command_helps() -> Iterator[tuple[str, str]]:
    def walk(command: Any, path: str) -> Iterator[tuple[str, str]]:
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, f"{path} {name}".strip())
        if not hasattr(command, "commands"):
            yield path, command.help or ""

    return walk(typer.main.get_command(app), "")


@pytest.mark.parametrize(("command", "help_text"), list(command_helps()))
def test_each_line_of_a_commands_help_is_a_whole_sentence(command: str, help_text: str) -> None:
    # The help keeps the docstring's line breaks: a sentence broken across two lines
    # prints broken ("goes to stderr⏎and the output") at any terminal width.
    for line in help_text.splitlines():
        assert not line.strip() or line.rstrip().endswith((".", ":", ")")), (command, line)
