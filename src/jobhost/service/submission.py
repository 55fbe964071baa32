"""Turning a submitted JSON object (from the API or a spool file) into a JobSpec.

Framework-free so that the web and the spool intake validate submissions identically.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
import sys
from collections.abc import Mapping
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jobhost import policy
from jobhost.errors import InvalidInput
from jobhost.models import JobSpec, Mode, parse_mode
from jobhost.python_source import compile_python

MAX_COMMAND_CHARS = 100_000  # the kernel refuses a single argument over 128 KiB
MAX_DESCRIPTION_CHARS = 10_000
MAX_ENV_ENTRIES = 100
# The kernel's limits at exec (E2BIG): one argument or NAME=VALUE string, NUL included,
# may take 128 KiB; all of them together share ARG_MAX (a quarter of the stack limit,
# 2 MiB by default), so the submitted env gets half of that and the server's the rest.
MAX_ARG_BYTES = 128 * 1024 - 1
MAX_ENV_BYTES = 1024 * 1024
MAX_TIMEOUT_SECONDS = policy.MAX_TIMEOUT_SECONDS
MAX_DEPENDENCIES = 100
MAX_RUN_AT_YEAR = 9998
RUN_AT_FORMAT = "a UTC time such as 2026-12-03T15:00:00Z"
_PRIORITY, _RETRIES, _DELAY = policy.PRIORITY_RANGE, policy.RETRIES_RANGE, policy.RETRY_DELAY_RANGE
INVALID_MODE = "Invalid execution mode. Must be one of: MainLoop, Runspace, BackgroundJob"

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# A lone surrogate decodes from a JSON escape ("\udfff") but is no Unicode text: UTF-8
# cannot encode it, so the store, the response and the job's environment would all fail on it.
_SURROGATE = re.compile("[\ud800-\udfff]")
# Python refuses to turn more digits than this into an int (a guard against slow conversion).
_MAX_INT_DIGITS = sys.get_int_max_str_digits() or 4300

Seconds = Annotated[float, Field(ge=0, le=MAX_TIMEOUT_SECONDS)]


class SubmitRequest(BaseModel):
    """The body of ``POST jobs/submit``; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # Documented bounds only: _check_name and _check_command refuse with the contract's texts.
    jobName: Annotated[str, Field(json_schema_extra={"minLength": 1, "maxLength": 200})]
    command: Annotated[str, Field(json_schema_extra={"minLength": 1})]
    executionMode: str
    description: str | None = None
    stopGraceSeconds: Annotated[float, Field(ge=0, le=3600)] | None = None
    timeoutSeconds: Annotated[float, Field(gt=0, le=MAX_TIMEOUT_SECONDS)] | None = None
    env: dict[str, str] | None = None
    workingDirectory: str | None = None
    # null means the default, as for every optional field
    priority: Annotated[int, Field(ge=_PRIORITY[0], le=_PRIORITY[1])] | None = None
    dependsOn: Annotated[list[str], Field(min_length=1)] | None = None
    runAt: str | None = None
    maxRetries: Annotated[int, Field(ge=_RETRIES[0], le=_RETRIES[1])] | None = None
    retryDelaySeconds: Annotated[float, Field(ge=_DELAY[0], le=_DELAY[1])] | None = None


class RerunRequest(BaseModel):
    """The body of ``POST jobs/rerun``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    jobId: Annotated[str, Field(json_schema_extra={"format": "uuid"})]


def parse_rerun(payload: Mapping[str, object]) -> str:
    """The job id a rerun asks for (its form is the service's to check), or InvalidInput."""
    return validated(RerunRequest, payload).jobId


_Model = TypeVar("_Model", bound=BaseModel)


def validated(model: type[_Model], payload: Mapping[str, object]) -> _Model:
    """``payload`` as a request ``model``, or InvalidInput naming the first bad field."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc)) from None


TOO_DEEP = "nested too deeply"


class InvalidJson(InvalidInput):
    """The bytes are not a JSON document; the message says why."""


def load_json(data: bytes) -> object:
    """``data`` parsed as JSON, or InvalidJson. A number of more digits than Python turns
    into an int is read as an infinity of its sign, so that the schema names the field
    that holds it (no field takes a number that large)."""
    try:
        return json.loads(data, parse_int=_parse_int)
    except RecursionError:
        raise InvalidJson(TOO_DEEP) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError among them
        raise InvalidJson(str(exc)) from None


def _parse_int(digits: str) -> int | float:
    if len(digits) <= _MAX_INT_DIGITS:
        return int(digits)
    return -math.inf if digits.startswith("-") else math.inf


def parse_submission(payload: Mapping[str, object]) -> JobSpec:
    """A validated JobSpec, or InvalidInput naming the first problem."""
    try:
        request = SubmitRequest.model_validate(payload)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc)) from None
    mode = parse_mode(request.executionMode)
    if mode is None:
        raise InvalidInput(INVALID_MODE)
    _check_options_fit_the_mode(request, mode)
    _check_unicode(request)
    return JobSpec(
        name=_check_name(request.jobName),
        command=_check_command(request.command),
        mode=mode,
        description=_check_description(request.description),
        stop_grace_seconds=request.stopGraceSeconds,
        timeout_seconds=request.timeoutSeconds,
        env=_check_env(request.env or {}),
        working_directory=_check_directory(request.workingDirectory),
        priority=request.priority or 0,
        depends_on=_check_dependencies(request.dependsOn or []),
        run_at=_parse_run_at(request.runAt),
        max_retries=request.maxRetries or 0,
        retry_delay_seconds=request.retryDelaySeconds,
    )


def rerun_payload(spec: JobSpec) -> dict[str, object]:
    """The submit body that asks for ``spec`` again, without its runAt and dependsOn (a
    rerun runs now, on its own); parse_submission of it checks it anew."""
    optional: dict[str, object | None] = {
        "description": spec.description,
        "stopGraceSeconds": spec.stop_grace_seconds,
        "timeoutSeconds": spec.timeout_seconds,
        "env": dict(spec.env) or None,
        "workingDirectory": spec.working_directory,
        "retryDelaySeconds": spec.retry_delay_seconds,
    }
    payload: dict[str, object] = {
        "jobName": spec.name,
        "command": spec.command,
        "executionMode": spec.mode.value,
        "priority": spec.priority,
        "maxRetries": spec.max_retries,
    }
    payload.update({key: value for key, value in optional.items() if value is not None})
    return payload


def _check_dependencies(job_ids: list[str]) -> tuple[str, ...]:
    """Well-formed ids, lower-cased, each once, in the order given; whether the caller may
    see them is the service's to check."""
    for job_id in job_ids:
        if not policy.is_valid_job_id(job_id):
            shown = repr(job_id[:60])[1:-1]
            raise InvalidInput(f"Invalid dependsOn: {shown} is not a job id (a UUID)")
    unique = tuple(dict.fromkeys(job_id.lower() for job_id in job_ids))
    if len(unique) > MAX_DEPENDENCIES:
        raise InvalidInput(f"Invalid dependsOn: at most {MAX_DEPENDENCIES} different job ids")
    return unique


def _parse_run_at(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"Invalid runAt: must be {RUN_AT_FORMAT}") from None
    if when.tzinfo is None:
        raise InvalidInput(f"Invalid runAt: must say its time zone, as {RUN_AT_FORMAT}")
    try:
        utc = when.astimezone(datetime.UTC)
    except OverflowError:  # out of the years 1-9999 once in UTC: long past, or too far
        edge = datetime.datetime.min if when.year == 1 else datetime.datetime.max
        utc = edge.replace(tzinfo=datetime.UTC)
    if utc.year > MAX_RUN_AT_YEAR:
        raise InvalidInput(f"Invalid runAt: must be before the year {MAX_RUN_AT_YEAR + 1}")
    return utc.timestamp()


def check_python(spec: JobSpec) -> None:
    """InvalidInput unless a MainLoop or Runspace command compiles. Call it after the roles
    check: compiling the largest command takes a good part of a second."""
    if spec.mode is Mode.BACKGROUND_JOB:
        return
    try:
        compile_python(spec.command, "<job>")
    except SyntaxError as exc:  # IndentationError and TabError among them
        line = f" (line {exc.lineno})" if exc.lineno else ""
        raise InvalidInput(f"command is not valid Python: {exc.msg}{line}") from None
    except (MemoryError, RecursionError):  # the parser's or the compiler's stack ran out
        raise InvalidInput("command is not valid Python: nested too deeply to compile") from None


def describe_validation_error(exc: ValidationError) -> str:
    """The first problem pydantic found, in a sentence naming the field."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    if first["type"] == "string_unicode" and not first["loc"]:
        return "Invalid field name: contains a lone surrogate, which is not Unicode text"
    if not field.isprintable():
        field = repr(field)[1:-1]  # escaped, so that the message itself can be sent
    if first["type"] == "missing":
        return f"Missing required field: {field}"
    if first["type"] == "extra_forbidden":
        return f"Unknown field: {field}"
    if first["loc"] == ("executionMode",):
        return INVALID_MODE
    return f"Invalid {field}: {first['msg']}"


def _check_options_fit_the_mode(request: SubmitRequest, mode: Mode) -> None:
    """Refuse options a mode cannot honour rather than ignore them silently."""
    if mode is not Mode.BACKGROUND_JOB:
        # Python jobs share the server process, whose environment and working directory
        # are process-wide.
        if request.env:
            raise InvalidInput(f"Invalid env: only BackgroundJob jobs take env, not {mode.value}")
        if request.workingDirectory is not None:
            raise InvalidInput(
                f"Invalid workingDirectory: only BackgroundJob jobs take one, not {mode.value}"
            )
    if mode is Mode.MAIN_LOOP and request.timeoutSeconds is not None:
        raise InvalidInput(
            "Invalid timeoutSeconds: MainLoop jobs cannot be stopped, so cannot time out"
        )


def _check_unicode(request: SubmitRequest) -> None:
    texts = {
        "jobName": request.jobName,
        "command": request.command,
        "description": request.description or "",
        "workingDirectory": request.workingDirectory or "",
        "runAt": request.runAt or "",
    }
    for field, text in texts.items():
        if found := _SURROGATE.search(text):
            raise InvalidInput(f"Invalid {field}: {_surrogate_reason(found.group())}")


def _surrogate_reason(char: str) -> str:
    return f"contains a lone surrogate (U+{ord(char):04X}), which is not Unicode text"


def _check_name(name: str) -> str:
    if not 1 <= len(name) <= 200 or not name.isprintable() or not name.strip():
        raise InvalidInput("Invalid jobName: must be 1-200 printable characters")
    return name


def _check_command(command: str) -> str:
    if not command.strip():
        raise InvalidInput("Missing required field: command")
    if len(command) > MAX_COMMAND_CHARS:
        raise InvalidInput(f"Invalid command: longer than {MAX_COMMAND_CHARS} characters")
    if _utf8_length(command) > MAX_ARG_BYTES:
        raise InvalidInput(f"Invalid command: longer than {MAX_ARG_BYTES} bytes in UTF-8")
    if "\0" in command:
        raise InvalidInput("Invalid command: contains a NUL character")
    return command


def _check_description(description: str | None) -> str | None:
    if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidInput(f"Invalid description: longer than {MAX_DESCRIPTION_CHARS} characters")
    if description is not None and "\0" in description:
        # PostgreSQL text columns cannot hold NUL; refuse it here rather than fail in the store.
        raise InvalidInput("Invalid description: contains a NUL character")
    return description


def _check_env(env: dict[str, str]) -> dict[str, str]:
    if len(env) > MAX_ENV_ENTRIES:
        raise InvalidInput(f"Invalid env: more than {MAX_ENV_ENTRIES} variables")
    total = 0
    for name, value in env.items():
        total += _check_env_entry(name, value)
    if total > MAX_ENV_BYTES:
        raise InvalidInput(f"Invalid env: more than {MAX_ENV_BYTES} bytes in all")
    return env


def _check_env_entry(name: str, value: str) -> int:
    """Refuse what exec would; the entry's size as exec counts it."""
    if not _ENV_NAME.fullmatch(name):
        raise InvalidInput(f"Invalid env: {name!r} is not a valid variable name")
    if "\0" in value:
        raise InvalidInput(f"Invalid env: the value of {name} contains a NUL character")
    if found := _SURROGATE.search(value):
        raise InvalidInput(f"Invalid env: the value of {name} {_surrogate_reason(found[0])}")
    size = len(name) + 1 + _utf8_length(value)
    if size > MAX_ARG_BYTES:
        raise InvalidInput(f"Invalid env: {name}=VALUE is longer than {MAX_ARG_BYTES} bytes")
    return size + 1


def _utf8_length(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _check_directory(path: str | None) -> str | None:
    if path is None:
        return None
    if not os.path.isabs(path) or "\0" in path or not os.path.isdir(path):
        raise InvalidInput("Invalid workingDirectory: must be an existing absolute directory")
    return path
