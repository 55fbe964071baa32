"""A real server for the integration tests, with users and keys made through the CLI."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.server import Server, create_user, free_port, kill_jobs_under


@dataclass(frozen=True)
class Keys:
    """API keys of users with different roles."""

    admin: str  # system_admin + debug
    manager: str  # task_manager
    debugger: str  # debug
    alice: str  # no stored roles
    bob: str  # no stored roles


def make_keys(data_dir: Path) -> Keys:
    return Keys(
        admin=create_user(data_dir, "root", "system_admin", "debug"),
        manager=create_user(data_dir, "manager", "task_manager"),
        debugger=create_user(data_dir, "debugger", "debug"),
        alice=create_user(data_dir, "alice"),
        bob=create_user(data_dir, "bob@example.com"),
    )


@pytest.fixture(scope="module")
def server_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server")


@pytest.fixture(scope="module")
def keys(server_dir: Path) -> Keys:
    return make_keys(server_dir)


@contextlib.contextmanager
def serving(server_dir: Path, env: dict[str, str]) -> Iterator[Server]:
    """A real server on a free port until the block ends; its jobs are killed after."""
    srv = Server(server_dir, free_port(), env)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        kill_jobs_under(server_dir)


@pytest.fixture(scope="module")
def server(server_dir: Path, keys: Keys) -> Iterator[Server]:
    with serving(server_dir, {"JOBHOST_STOP_GRACE_SECONDS": "2"}) as srv:
        yield srv
