"""The client's history filters and paging, and ``jobhost jobs --status --since --grep``,
against a real server."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator

import pytest

from jobhost import ApiError, Client
from jobhost.cli.jobs import parse_since
from jobhost.errors import InvalidInput
from tests.integration.conftest import Keys
from tests.integration.server import Server, run_cli

NOW = datetime.datetime(2026, 12, 6, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def jh(server: Server, keys: Keys) -> Iterator[Client]:
    with Client(server.url, keys.manager) as client:
        yield client


@pytest.fixture(scope="module")
def made(jh: Client) -> dict[str, str]:
    """Finished jobs by name, oldest first."""
    jobs = {
        "ok-report": jh.submit("echo report", "ok-report"),
        "failed-report": jh.submit("exit 4", "failed-report"),
        "failed-other": jh.submit("exit 5", "failed-other"),
        "timed-out": jh.submit("sleep 5", "timed-out", timeout=1),
    }
    for job_id in jobs.values():
        jh.wait(job_id)
    return jobs


def test_filters_reach_the_server(jh: Client, made: dict[str, str]) -> None:
    failed = jh.list(status=("Failed", "TimedOut"), q="REPORT").completed
    assert [job.name for job in failed] == ["failed-report"]
    since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    assert len(jh.results(since=since, status="Failed")) == 2
    assert jh.results(since="2999-01-01T00:00:00Z") == ()


def test_history_follows_the_cursor_to_the_end(jh: Client, made: dict[str, str]) -> None:
    names = [job.name for job in jh.history(max_results=1)]
    assert names == list(reversed(made))
    pages = list(jh.results_pages(max_results=3))
    assert [len(page.jobs) for page in pages] == [3, 1]
    assert pages[-1].next_cursor is None


def test_a_bad_filter_is_an_api_error_naming_it(jh: Client, made: dict[str, str]) -> None:
    with pytest.raises(ApiError, match="Invalid status") as caught:
        jh.list(status="Broken")
    assert caught.value.status == 400


def test_cli_jobs_filters(server: Server, keys: Keys, made: dict[str, str]) -> None:
    env = {"JOBHOST_URL": server.url, "JOBHOST_TOKEN": keys.manager}
    args = ["jobs", "--status", "Failed,TimedOut", "--since", "1d", "--grep", "other", "--json"]
    shown = json.loads(run_cli(server.data_dir, *args, env=env).stdout)
    assert [job["id"] for job in shown] == [made["failed-other"]]
    none = run_cli(server.data_dir, "jobs", "--since", "2999-01-01T00:00:00Z", "--json", env=env)
    assert json.loads(none.stdout) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", NOW - datetime.timedelta(minutes=30)),
        ("12h", NOW - datetime.timedelta(hours=12)),
        ("7d", NOW - datetime.timedelta(days=7)),
        ("2026-12-01T08:00:00+01:00", datetime.datetime(2026, 12, 1, 7, 0, tzinfo=datetime.UTC)),
    ],
)
def test_since_takes_relative_and_iso_times(text: str, expected: datetime.datetime) -> None:
    assert parse_since(text, NOW) == expected


def test_since_refuses_other_text() -> None:
    with pytest.raises(InvalidInput, match="Invalid --since"):
        parse_since("yesterday", NOW)
