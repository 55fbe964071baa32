"""A template's own ``schedule`` against a real server: the catalog file makes a schedule owned
by the built-in ``system`` user, which fires the template; editing the file changes it, and
removing the file removes it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobhost import Client
from jobhost.client.schedules import Schedule
from jobhost.service.schedule_firing import DECLARED_CHECK_SECONDS
from tests.integration.conftest import Keys
from tests.integration.server import Server, free_port, kill_jobs_under
from tests.integration.test_schedules import make_due

NIGHTLY = """
name = "Nightly report"
command = "echo report for {{who}}"
startRoles = ["authenticated"]
schedule = "%s"
timezone = "Europe/Berlin"

[[variables]]
name = "who"
default = "everyone"
"""


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("catalog")
    (root / "reports").mkdir()
    (root / "reports" / "nightly.toml").write_text(NIGHTLY % "0 3 * * *")
    return root


@pytest.fixture(scope="module")
def server(server_dir: Path, keys: Keys, catalog_dir: Path) -> Iterator[Server]:
    srv = Server(server_dir, free_port(), {"JOBHOST_CATALOG_DIR": str(catalog_dir)})
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        kill_jobs_under(server_dir)


@pytest.fixture(scope="module")
def jh(server: Server, keys: Keys) -> Iterator[Client]:
    with Client(server.url, keys.admin) as client:
        yield client


def declared(jh: Client) -> list[Schedule]:
    return [s for s in jh.schedules(all_users=True) if s.template_id == "reports/nightly"]


def eventually(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_template_schedule_fires_as_system_and_follows_its_file(
    jh: Client, server: Server, catalog_dir: Path
) -> None:
    eventually(lambda: len(declared(jh)) == 1, "the template's schedule never appeared")
    (schedule,) = declared(jh)
    assert (schedule.user_id, schedule.name, schedule.cron, schedule.timezone) == (
        "system",
        "Nightly report",  # the template's name, not its id
        "0 3 * * *",
        "Europe/Berlin",
    )
    assert len(schedule.next_runs) == 5

    make_due(server, schedule.id)
    jh.update_schedule(schedule.id, {"enabled": True})  # a change wakes the firing loop
    eventually(lambda: jh.schedule(schedule.id).last_job_id is not None, "it never fired")
    fired = jh.schedule(schedule.id)
    assert fired.last_job_id is not None
    job = jh.wait(fired.last_job_id)
    assert (job.user_id, job.template_id, job.schedule_id, job.status.value) == (
        "system",
        "reports/nightly",
        schedule.id,
        "Completed",
    )
    assert "report for everyone" in (jh.get(job.id).output or "")

    (catalog_dir / "reports" / "nightly.toml").write_text(NIGHTLY % "30 4 * * 1")
    eventually(lambda: [s.cron for s in declared(jh)] == ["30 4 * * 1"], "the edit was missed")
    assert declared(jh)[0].id == schedule.id  # the same schedule, changed

    (catalog_dir / "reports" / "nightly.toml").unlink()
    eventually(lambda: declared(jh) == [], "the schedule outlived its file")
    assert jh.get(job.id).id == job.id  # its jobs stay


def test_a_typo_in_a_schedules_file_keeps_the_schedule_paused_as_it_was(
    jh: Client, catalog_dir: Path
) -> None:
    path = catalog_dir / "reports" / "typo.toml"
    path.write_text(NIGHTLY % "0 3 * * *")
    eventually(lambda: len(ids_of(jh, "reports/typo")) == 1, "the schedule never appeared")
    [schedule_id] = ids_of(jh, "reports/typo")
    jh.pause_schedule(schedule_id)

    path.write_text(NIGHTLY.replace("[[variables]]", "[[variables") % "0 3 * * *")
    broken = ["reports/typo.toml"]
    eventually(lambda: [e.file for e in jh.catalog().errors] == broken, "the typo went unseen")
    # The firing loop looks at the catalog every DECLARED_CHECK_SECONDS (2 s).
    time.sleep(DECLARED_CHECK_SECONDS + 1)
    kept = jh.schedule(schedule_id)
    assert (kept.enabled, kept.next_run_at) == (False, None)

    path.write_text(NIGHTLY % "0 5 * * *")
    eventually(lambda: jh.schedule(schedule_id).cron == "0 5 * * *", "the mend was missed")
    assert jh.schedule(schedule_id).enabled is False
    path.unlink()
    eventually(lambda: ids_of(jh, "reports/typo") == [], "the schedule outlived its file")


def ids_of(jh: Client, template_id: str) -> list[str]:
    return [s.id for s in jh.schedules(all_users=True) if s.template_id == template_id]
