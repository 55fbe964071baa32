"""Settings, read once from ``JOBHOST_*`` environment variables at an entry point."""

from __future__ import annotations

import ipaddress
import shlex
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jobhost.errors import InvalidInput

PREFIX = "JOBHOST_"
# Variables read by the HTTP client, not by the server; allowed so that a shell that sets
# both does not trip the unknown-variable check below.
CLIENT_VARIABLES = frozenset({"JOBHOST_URL", "JOBHOST_TOKEN"})
# Set by the engine in every BackgroundJob's environment, so a job can run `jobhost` itself.
JOB_VARIABLES = frozenset({"JOBHOST_JOB_ID", "JOBHOST_JOB_NAME"})
NOT_SETTINGS = CLIENT_VARIABLES | JOB_VARIABLES
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")

MiB = 1024 * 1024


class Settings(BaseModel):
    """Everything a server or CLI command is configured with; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Field(default=Path("jobhost-data"), validate_default=True)
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    max_concurrent_jobs: Annotated[int, Field(ge=1, le=100_000)] = 10
    # How many of those one user's jobs may take; unset: no limit. Jobs beyond it wait.
    max_jobs_per_user: Annotated[int, Field(ge=1, le=100_000)] | None = None
    # How many schedules one user may own (service/schedules.py); privileged users too.
    max_schedules_per_user: Annotated[int, Field(ge=1, le=100_000)] = 100
    shell: str = "/bin/sh -c"
    stop_grace_seconds: Annotated[float, Field(ge=0, le=3600)] = 5.0
    max_body_bytes: Annotated[int, Field(ge=1024, le=1024 * MiB)] = MiB
    # A timeout for jobs submitted without timeoutSeconds; off unless set.
    default_timeout_seconds: Annotated[float, Field(gt=0, le=30 * 86400)] | None = None
    output_cap_bytes: Annotated[int, Field(ge=1024)] = 64 * MiB
    output_flush_seconds: Annotated[float, Field(gt=0, le=5)] = 0.02
    tick_seconds: Annotated[float, Field(gt=0, le=1)] = 1.0
    session_hours: Annotated[float, Field(gt=0, le=24 * 90)] = 12.0
    node_name: str = Field(default_factory=socket.gethostname)
    log_level: str = "info"
    # One line per HTTP request at info level (web/access_log.py), written in batches.
    access_log: bool = True
    # Finished jobs older than this many days are deleted with their output (engine/
    # retention.py); 0 keeps everything.
    retention_days: Annotated[float, Field(ge=0, le=100 * 366)] = 30.0
    # The OS user BackgroundJobs run as (engine/runners/runas.py); unset: the server's own.
    run_as: str | None = None
    # The job catalog's TOML templates (jobhost/catalog/); unset: <data dir>/catalog.
    catalog_dir: Path | None = None

    # Requests per minute of one API key (one user's browser sessions share one budget), in a
    # token bucket of ``rate_limit_burst``; 0 turns it off. Loopback peers are exempt unless
    # ``rate_limit_loopback``.
    rate_limit_per_minute: Annotated[int, Field(ge=0, le=1_000_000)] = 600
    rate_limit_burst: Annotated[int, Field(ge=1, le=1_000_000)] = 120
    rate_limit_loopback: bool = False
    # Invalid API keys one peer may send a minute before the rest get 429s (valid keys pass).
    bad_keys_per_minute: Annotated[int, Field(ge=1, le=1_000_000)] = 20
    # WebSocket streams (output and events) one user may hold open at once.
    max_streams_per_user: Annotated[int, Field(ge=1, le=100_000)] = 32

    # Proxies whose X-Forwarded-For/-Proto are believed: comma-separated IPs or CIDRs. None by
    # default, so a client cannot pick the address the login throttle counts against.
    trusted_proxies: str = ""

    @field_validator("data_dir")
    @classmethod
    def _data_dir_is_absolute(cls, value: Path) -> Path:
        # Fixed against the directory the server started in: job processes run elsewhere
        # (their working directory) and must still find their run folder.
        return value.expanduser().absolute()

    @field_validator("catalog_dir")
    @classmethod
    def _catalog_dir_is_absolute(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser().absolute()

    @field_validator("log_level")
    @classmethod
    def _log_level_is_known(cls, value: str) -> str:
        if value.lower() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.lower()

    @field_validator("run_as")
    @classmethod
    def _run_as_is_a_name(cls, value: str | None) -> str | None:
        if value is not None and (not value or value != value.strip()):
            raise ValueError("must be the name of an OS user")
        return value

    @field_validator("shell")
    @classmethod
    def _shell_has_a_program(cls, value: str) -> str:
        if not shlex.split(value):
            raise ValueError("must name a program, e.g. '/bin/sh -c'")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies_are_networks(cls, value: str) -> str:
        try:
            networks = [ipaddress.ip_network(item, strict=False) for item in _items(value)]
        except ValueError as exc:
            raise ValueError(f"must be comma-separated IPs or CIDRs ({exc})") from None
        return ",".join(str(network) for network in networks)

    @property
    def trusted_proxy_list(self) -> list[str]:
        return _items(self.trusted_proxies)

    @property
    def shell_argv(self) -> list[str]:
        return shlex.split(self.shell)

    @property
    def catalog_path(self) -> Path:
        """The catalog folder in force: the setting, or ``catalog`` in the data dir."""
        return self.catalog_dir or self.data_dir / "catalog"

    @property
    def store_url(self) -> str:
        """The database URL in force: the override, or SQLite inside the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'jobhost.db').resolve()}"


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def setting_names() -> list[str]:
    return [PREFIX + name.upper() for name in Settings.model_fields]


def load_settings(environ: Mapping[str, str], **overrides: object) -> Settings:
    """Settings from ``JOBHOST_*`` variables, then ``overrides`` (e.g. CLI flags) on top.

    A misspelt variable is an error rather than silently ignored.
    """
    known = set(setting_names()) | NOT_SETTINGS
    unknown = sorted(k for k in environ if k.startswith(PREFIX) and k not in known)
    if unknown:
        raise InvalidInput(
            f"Unknown setting {', '.join(unknown)}; known: {', '.join(setting_names())}"
        )
    values: dict[str, object] = {
        key[len(PREFIX) :].lower(): value
        for key, value in environ.items()
        if key.startswith(PREFIX) and key not in NOT_SETTINGS
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = PREFIX + str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise InvalidInput(f"Invalid {name}: {first['msg']}") from None
