"""The catalog from the Python client and the ``templates``/``start`` commands, against a
real server with test_templates.py's catalog."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobhost import Client
from jobhost.client import ApiError
from tests.integration.conftest import Keys
from tests.integration.server import Server, run_cli, serving
from tests.integration.test_templates import write_catalog


@pytest.fixture(scope="module")
def server(server_dir: Path, keys: Keys) -> Iterator[Server]:
    catalog = write_catalog(server_dir.parent / f"{server_dir.name}-catalog")
    with serving(server_dir, {"JOBHOST_CATALOG_DIR": str(catalog)}) as srv:
        yield srv


def test_the_client_lists_starts_and_stops_templates(server: Server, keys: Keys) -> None:
    with Client(server.url, keys.alice) as client:
        listed = {template.id: template for template in client.catalog().templates}
        assert listed["checked"].variables[1].choices == ("info", "warn")
        job_id = client.start("checked", {"path": "/a"})
        assert client.wait(job_id).template_id == "checked"
        with pytest.raises(ApiError) as refused:
            client.start("admin-only")
        assert refused.value.status == 403
        sleeping = client.start("sleeper")
        assert client.stop_template("sleeper") == (sleeping,)


def cli(server: Server, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"JOBHOST_URL": server.url, "JOBHOST_TOKEN": token}
    return run_cli(server.data_dir, *args, env=env)


def test_the_templates_command_shows_a_table_and_json(server: Server, keys: Keys) -> None:
    table = cli(server, keys.alice, "templates")
    assert table.returncode == 0, table.stderr
    assert "checked" in table.stdout and "path* level=info" in table.stdout
    assert "admin-only" not in table.stdout
    listed = cli(server, keys.alice, "templates", "--json")
    assert [t["id"] for t in json.loads(listed.stdout)][:2] == ["checked", "echo"]


def test_the_start_command_follows_the_output_and_exits_with_its_code(
    server: Server, keys: Keys
) -> None:
    done = cli(server, keys.alice, "start", "echo", "-v", "v=a b; c", "--follow")
    assert (done.returncode, done.stdout) == (0, "[a b; c]\n"), done.stderr
    quiet = cli(server, keys.alice, "start", "checked", "-v", "path=/x", "--json")
    assert json.loads(quiet.stdout)["templateId"] == "checked"
    refused = cli(server, keys.alice, "start", "checked", "-v", "path=bad")
    assert refused.returncode == 1
    assert "Invalid value for path: must match" in refused.stderr
    assert cli(server, keys.alice, "start", "echo", "-v", "novalue").returncode == 1


def test_stop_with_a_template_stops_its_jobs_and_prints_their_ids(
    server: Server, keys: Keys
) -> None:
    started = cli(server, keys.alice, "start", "sleeper", "--json")
    job_id = json.loads(started.stdout)["jobId"]
    stopped = cli(server, keys.alice, "stop", "--template", "sleeper")
    assert (stopped.returncode, stopped.stdout) == (0, f"{job_id}\n"), stopped.stderr
    assert "stopped 1 job(s) of sleeper" in stopped.stderr
    refused = cli(server, keys.alice, "stop", "--template", "admin-only")
    assert refused.returncode == 1
    assert "Access denied: You do not have permission to stop this job" in refused.stderr


def test_schedule_preview_prints_the_next_five_firings(server: Server, keys: Keys) -> None:
    zone = ["--timezone", "Asia/Kolkata"]
    shown = cli(server, keys.alice, "schedule", "preview", "30 2 * * *", *zone)
    lines = shown.stdout.splitlines()
    assert shown.returncode == 0 and len(lines) == 5, shown.stderr
    local = r"\d{4}-\d\d-\d\d 21:00:00Z  \d{4}-\d\d-\d\d 02:30 IST"
    assert all(re.fullmatch(local, line) for line in lines), lines
    as_json = cli(server, keys.alice, "schedule", "preview", "0 3 * * *", "--json")
    runs = json.loads(as_json.stdout)
    assert len(runs) == 5 and all(run.endswith("T03:00:00.000Z") for run in runs)
    bad = cli(server, keys.alice, "schedule", "preview", "61 * * * *")
    assert bad.returncode == 1
    assert "Invalid cron: minute field 61 is out of range 0-59" in bad.stderr
