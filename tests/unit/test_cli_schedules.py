"""How ``jobhost schedules`` shows schedules: the table as it prints to a pipe."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime

from rich.console import Console

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
    assert "failed 2026-01-02 03:00:00Z" in shown
    assert f"(!) {SCHEDULE.id}: last firing failed: {refusal}\n" in shown
    assert shown.count("failed") == 2  # the other schedule's firings did not fail
    assert "failed" not in printed(SCHEDULE)


def test_the_clients_listing_asks_for_one_users_schedules_by_user_id() -> None:
    assert list_schedules(user_id="bob").params == {"userId": "bob"}
    assert list_schedules(True).params == {"allUsers": "true"}
