"""Settings from JOBHOST_* variables: defaults, typing, typos and bad values refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobhost.errors import InvalidInput
from jobhost.settings import load_settings, setting_names


def _refusal(environ: dict[str, str], **overrides: object) -> str:
    with pytest.raises(InvalidInput) as caught:
        load_settings(environ, **overrides)
    return caught.value.message


def test_an_empty_environment_gives_the_defaults() -> None:
    settings = load_settings({})
    assert settings.data_dir == Path.cwd() / "jobhost-data"
    assert settings.database_url is None
    assert settings.host == "127.0.0.1"
    assert settings.port == 8080
    assert settings.max_concurrent_jobs == 10
    assert settings.shell == "/bin/sh -c"
    assert settings.shell_argv == ["/bin/sh", "-c"]
    assert settings.stop_grace_seconds == 5.0
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.max_schedules_per_user == 100
    assert settings.node_name


def test_variables_are_read_and_typed(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "JOBHOST_DATA_DIR": str(tmp_path),
            "JOBHOST_DATABASE_URL": "postgresql+psycopg://db/jobs",
            "JOBHOST_HOST": "0.0.0.0",
            "JOBHOST_PORT": "9000",
            "JOBHOST_MAX_CONCURRENT_JOBS": "3",
            "JOBHOST_SHELL": "/bin/bash -e -c",
            "JOBHOST_STOP_GRACE_SECONDS": "2.5",
            "JOBHOST_MAX_BODY_BYTES": "4096",
            "JOBHOST_NODE_NAME": "node-7",
            "JOBHOST_LOG_LEVEL": "debug",
            "JOBHOST_MAX_SCHEDULES_PER_USER": "7",
        }
    )
    assert settings.data_dir == tmp_path
    assert isinstance(settings.data_dir, Path)
    assert settings.database_url == "postgresql+psycopg://db/jobs"
    assert settings.host == "0.0.0.0"
    assert settings.port == 9000
    assert isinstance(settings.port, int)
    assert settings.max_concurrent_jobs == 3
    assert isinstance(settings.max_concurrent_jobs, int)
    assert settings.shell == "/bin/bash -e -c"
    assert settings.stop_grace_seconds == 2.5
    assert isinstance(settings.stop_grace_seconds, float)
    assert settings.max_body_bytes == 4096
    assert settings.node_name == "node-7"
    assert settings.log_level == "debug"
    assert settings.max_schedules_per_user == 7


def test_other_variables_are_ignored() -> None:
    settings = load_settings({"PATH": "/usr/bin", "HOME": "/root", "jobhost_port": "1"})
    assert settings.port == 8080


def test_every_setting_has_a_variable_name() -> None:
    names = setting_names()
    assert {"JOBHOST_DATA_DIR", "JOBHOST_DATABASE_URL", "JOBHOST_PORT"} <= set(names)
    assert all(name.startswith("JOBHOST_") and name.isupper() for name in names)


@pytest.mark.parametrize("name", ["JOBHOST_PROT", "JOBHOST_DATADIR", "JOBHOST_", "JOBHOST_port"])
def test_an_unknown_variable_is_refused_by_name(name: str) -> None:
    assert _refusal({name: "1"}).startswith(f"Unknown setting {name};")


def test_client_variables_are_allowed_and_not_applied() -> None:
    settings = load_settings({"JOBHOST_URL": "http://x:1", "JOBHOST_TOKEN": "jh_secret"})
    assert settings == load_settings({})


def test_the_variables_a_job_runs_with_are_allowed_so_jobs_can_run_jobhost() -> None:
    settings = load_settings({"JOBHOST_JOB_ID": "x", "JOBHOST_JOB_NAME": "y"})
    assert settings == load_settings({})


def test_a_relative_data_dir_is_fixed_against_the_starting_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({"JOBHOST_DATA_DIR": "data"})
    assert settings.data_dir == tmp_path / "data"


@pytest.mark.parametrize(("value", "on"), [("false", False), ("0", False), ("on", True)])
def test_the_access_log_is_switched_by_a_boolean(value: str, on: bool) -> None:
    assert load_settings({}).access_log is True
    assert load_settings({"JOBHOST_ACCESS_LOG": value}).access_log is on
    assert _refusal({"JOBHOST_ACCESS_LOG": "sometimes"}).startswith("Invalid JOBHOST_ACCESS_LOG:")


@pytest.mark.parametrize(("value", "level"), [("DEBUG", "debug"), ("warning", "warning")])
def test_log_levels_are_checked_and_lowercased(value: str, level: str) -> None:
    assert load_settings({"JOBHOST_LOG_LEVEL": value}).log_level == level
    assert _refusal({"JOBHOST_LOG_LEVEL": "trace"}).startswith("Invalid JOBHOST_LOG_LEVEL:")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JOBHOST_PORT", "abc"),
        ("JOBHOST_PORT", "0"),
        ("JOBHOST_PORT", "70000"),
        ("JOBHOST_PORT", "80.5"),
        ("JOBHOST_MAX_CONCURRENT_JOBS", "0"),
        ("JOBHOST_STOP_GRACE_SECONDS", "-1"),
        ("JOBHOST_STOP_GRACE_SECONDS", "soon"),
        ("JOBHOST_MAX_BODY_BYTES", "10"),
        ("JOBHOST_RUN_AS", ""),
        ("JOBHOST_RUN_AS", " nobody"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(name: str, value: str) -> None:
    assert _refusal({name: value}).startswith(f"Invalid {name}:")


def test_overrides_beat_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        {"JOBHOST_PORT": "9000", "JOBHOST_HOST": "0.0.0.0"}, port=9001, data_dir=tmp_path
    )
    assert settings.port == 9001
    assert settings.host == "0.0.0.0"
    assert settings.data_dir == tmp_path


def test_overrides_of_none_are_ignored() -> None:
    settings = load_settings({"JOBHOST_PORT": "9000"}, port=None, host=None)
    assert settings.port == 9000
    assert settings.host == "127.0.0.1"


def test_a_bad_override_is_refused() -> None:
    assert _refusal({}, port=0).startswith("Invalid JOBHOST_PORT:")


def test_store_url_defaults_to_sqlite_inside_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings({"JOBHOST_DATA_DIR": str(tmp_path)})
    assert settings.store_url == f"sqlite:///{tmp_path.resolve() / 'jobhost.db'}"


def test_store_url_is_absolute_for_a_relative_data_dir() -> None:
    url = load_settings({}).store_url
    assert url.startswith("sqlite:////")
    assert url.endswith("/jobhost-data/jobhost.db")


def test_database_url_overrides_the_store_url(tmp_path: Path) -> None:
    settings = load_settings(
        {"JOBHOST_DATA_DIR": str(tmp_path), "JOBHOST_DATABASE_URL": "postgresql+psycopg://h/db"}
    )
    assert settings.store_url == "postgresql+psycopg://h/db"


@pytest.mark.parametrize(
    ("shell", "argv"),
    [
        ("/bin/bash -e -c", ["/bin/bash", "-e", "-c"]),
        ("  /bin/sh   -c  ", ["/bin/sh", "-c"]),
        ("'/opt/my shell/sh' -c", ["/opt/my shell/sh", "-c"]),
        ("python3", ["python3"]),
    ],
)
def test_shell_argv_splits_like_a_shell(shell: str, argv: list[str]) -> None:
    assert load_settings({"JOBHOST_SHELL": shell}).shell_argv == argv


@pytest.mark.parametrize("shell", ["", "   ", "'unclosed -c"])
def test_an_empty_or_unparsable_shell_is_refused(shell: str) -> None:
    assert _refusal({"JOBHOST_SHELL": shell}).startswith("Invalid JOBHOST_SHELL:")


def test_trusted_proxies_are_none_by_default_and_parsed_as_networks() -> None:
    assert load_settings({}).trusted_proxy_list == []
    given = {"JOBHOST_TRUSTED_PROXIES": " 127.0.0.1, 10.0.0.0/8 ,::1,"}
    assert load_settings(given).trusted_proxy_list == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]


@pytest.mark.parametrize("value", ["proxy.local", "10.0.0.0/33", "*"])
def test_a_trusted_proxy_must_be_an_address_or_network(value: str) -> None:
    refusal = _refusal({"JOBHOST_TRUSTED_PROXIES": value})
    assert refusal.startswith(
        "Invalid JOBHOST_TRUSTED_PROXIES: Value error, must be comma-separated"
    )
