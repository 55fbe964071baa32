"""The catalog from the Python client and the ``templates``/``start`` commands, against a
real server with test_templates.py's catalog."""

from __future__ import annotations

import json
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
