"""A catalog template: its values, and reading one from a parsed TOML document.

A template that cannot be read raises TemplateError with a sentence for the catalog's
``errors`` list; nothing here reads files (see ``folder.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import regex

from jobhost import policy
from jobhost.catalog.placeholders import check_command
from jobhost.catalog.values import value_problem
from jobhost.errors import InvalidInput
from jobhost.models import Mode, parse_mode
from jobhost.schedules.cron import MAX_CRON_CHARS, parse_cron, parse_timezone

MAX_COMMAND_CHARS = 64 * 1024
MAX_TEXT_CHARS = 10_000
MAX_VARIABLES = 50
MAX_ID_CHARS = policy.MAX_TEMPLATE_ID_CHARS
DEFAULT_ROLES = tuple(sorted(policy.PRIVILEGED_ROLES))

# One path segment of a template id: no separators, no leading dot (hidden files).
_ID_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_KEYS = frozenset(
    {
        "name",
        "description",
        "command",
        "executionMode",
        "startRoles",
        "stopRoles",
        "timeoutSeconds",
        "priority",
        "maxRetries",
        "retryDelaySeconds",
        "schedule",
        "timezone",
        "variables",
    }
)
_VARIABLE_KEYS = frozenset({"name", "description", "default", "required", "pattern", "choices"})


class TemplateError(ValueError):
    """A template file that cannot be used; the message says why, in a sentence."""


@dataclass(frozen=True, slots=True)
class Variable:
    """One ``[[variables]]`` entry: a value the starter supplies, checked before use."""

    name: str
    description: str = ""
    default: str | None = None
    required: bool = True
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    matcher: regex.Pattern[str] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Template:
    """A job anyone holding its start roles may start, with their variables filled in."""

    template_id: str
    name: str
    command: str
    mode: Mode = Mode.BACKGROUND_JOB
    description: str = ""
    start_roles: tuple[str, ...] = DEFAULT_ROLES
    stop_roles: tuple[str, ...] = DEFAULT_ROLES
    timeout_seconds: float | None = None
    priority: int = 0
    max_retries: int = 0
    retry_delay_seconds: float | None = None
    schedule: str | None = None
    timezone: str = "UTC"
    variables: tuple[Variable, ...] = ()


def is_valid_template_id(text: str) -> bool:
    """Folder and file names of letters, digits and ``._-``, joined by ``/``."""
    if not 0 < len(text) <= MAX_ID_CHARS:
        return False
    return all(_ID_SEGMENT.fullmatch(part) for part in text.split("/"))


def parse_template(template_id: str, document: Mapping[str, object]) -> Template:
    """The template a TOML document declares, or TemplateError naming the first problem."""
    if not is_valid_template_id(template_id):
        raise TemplateError(
            "invalid template id: folder and file names must be letters, digits and ._- "
            f"(at most {MAX_ID_CHARS} characters in all)"
        )
    unknown = sorted(set(document) - _KEYS)
    if unknown:
        raise TemplateError(f"unknown key: {unknown[0]}")
    mode = _mode(document.get("executionMode", "BackgroundJob"))
    variables = _variables(document.get("variables", []))
    command = _text(document, "command", MAX_COMMAND_CHARS, required=True)
    check_command(command, mode, {variable.name for variable in variables})
    timeout = _number(document, "timeoutSeconds", 0, policy.MAX_TIMEOUT_SECONDS, above_low=True)
    if mode is Mode.MAIN_LOOP and timeout is not None:
        raise TemplateError("timeoutSeconds: MainLoop jobs cannot be stopped, so cannot time out")
    schedule, timezone = _schedule(document, variables)
    return Template(
        template_id=template_id,
        name=_name(document.get("name")),
        command=command,
        mode=mode,
        description=_text(document, "description", MAX_TEXT_CHARS),
        start_roles=_roles(document, "startRoles"),
        stop_roles=_roles(document, "stopRoles"),
        timeout_seconds=timeout,
        priority=_integer(document, "priority", *policy.PRIORITY_RANGE),
        max_retries=_integer(document, "maxRetries", *policy.RETRIES_RANGE),
        retry_delay_seconds=_number(document, "retryDelaySeconds", *policy.RETRY_DELAY_RANGE),
        schedule=schedule,
        timezone=timezone,
        variables=variables,
    )


def _name(value: object) -> str:
    if value is None:
        raise TemplateError("missing required key: name")
    if not isinstance(value, str) or not 1 <= len(value) <= 200 or not value.isprintable():
        raise TemplateError("name: must be 1-200 printable characters")
    if not value.strip():
        raise TemplateError("name: must not be blank")
    return value


def _mode(value: object) -> Mode:
    mode = parse_mode(value) if isinstance(value, str) else None
    if mode is None:
        raise TemplateError("executionMode: must be one of MainLoop, Runspace, BackgroundJob")
    return mode


def _text(document: Mapping[str, object], key: str, limit: int, required: bool = False) -> str:
    value = document.get(key)
    if value is None:
        if required:
            raise TemplateError(f"missing required key: {key}")
        return ""
    if not isinstance(value, str):
        raise TemplateError(f"{key}: must be a string")
    if required and not value.strip():
        raise TemplateError(f"{key}: must not be empty")
    if len(value) > limit:
        raise TemplateError(f"{key}: longer than {limit} characters")
    if "\0" in value:
        raise TemplateError(f"{key}: contains a NUL character")
    return value


def _roles(document: Mapping[str, object], key: str) -> tuple[str, ...]:
    value = document.get(key)
    if value is None:
        return DEFAULT_ROLES
    if not isinstance(value, list) or not all(isinstance(role, str) for role in value):
        raise TemplateError(f"{key}: must be a list of role names")
    for role in value:
        if not policy.is_valid_role(role):
            raise TemplateError(f"{key}: {role!r} is not a role name (a-z, 0-9, _)")
    return tuple(dict.fromkeys(value))


def _integer(document: Mapping[str, object], key: str, low: int, high: int) -> int:
    value = document.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TemplateError(f"{key}: must be an integer from {low} to {high}")
    return value


def _number(
    document: Mapping[str, object], key: str, low: float, high: float, above_low: bool = False
) -> float | None:
    value = document.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TemplateError(f"{key}: must be a number")
    if value > high or value < low or (above_low and value == low):
        side = "above" if above_low else "from"
        raise TemplateError(f"{key}: must be {side} {low:g} and at most {high:g}")
    return float(value)


def _schedule(
    document: Mapping[str, object], variables: tuple[Variable, ...]
) -> tuple[str | None, str]:
    """The cron and zone, checked as the firing loop reads them (one parser for both)."""
    # Absent is UTC; an empty string is no zone at all, refused as the API refuses it.
    timezone = _text(document, "timezone", 64) if "timezone" in document else "UTC"
    try:
        parse_timezone(timezone)
    except InvalidInput:
        raise TemplateError(f"timezone: {timezone!r} is not an IANA time zone") from None
    schedule = _text(document, "schedule", MAX_CRON_CHARS) or None
    if schedule is None:
        return None, timezone
    try:
        schedule = parse_cron(schedule)
    except InvalidInput as exc:
        raise TemplateError(f"schedule: {exc.message}") from None
    # A scheduled run starts with no values: every variable needs a default or to be optional.
    needed = next((v.name for v in variables if v.required and v.default is None), None)
    if needed is not None:
        raise TemplateError(
            f"schedule: variable {needed} is required and has no default, "
            "so the scheduled run could never start"
        )
    return schedule, timezone


def _variables(value: object) -> tuple[Variable, ...]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise TemplateError("variables: must be [[variables]] tables")
    if len(value) > MAX_VARIABLES:
        raise TemplateError(f"variables: at most {MAX_VARIABLES}")
    variables = tuple(_variable(item) for item in value)
    names = [variable.name for variable in variables]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise TemplateError(f"variables: {twice[0]} is declared twice")
    return variables


def _variable(table: Mapping[str, object]) -> Variable:
    name = table.get("name")
    if not isinstance(name, str) or not _VARIABLE_NAME.fullmatch(name):
        raise TemplateError("variables: each needs a name of letters, digits and _ (not first)")
    unknown = sorted(set(table) - _VARIABLE_KEYS)
    if unknown:
        raise TemplateError(f"variable {name}: unknown key: {unknown[0]}")
    default = table.get("default")
    if default is not None and not isinstance(default, str):
        raise TemplateError(f"variable {name}: default must be a string")
    required = table.get("required", default is None)
    if not isinstance(required, bool):
        raise TemplateError(f"variable {name}: required must be true or false")
    pattern, matcher = _pattern(name, table.get("pattern"))
    variable = Variable(
        name=name,
        description=_text(table, "description", MAX_TEXT_CHARS),
        default=default,
        required=required,
        pattern=pattern,
        choices=_choices(name, table.get("choices")),
        matcher=matcher,
    )
    if default:  # an empty default stands for "nothing", as an empty value does
        problem = value_problem(variable, default)
        if problem is not None:
            raise TemplateError(f"variable {name}: its default is refused: {problem}")
    return variable


def _choices(name: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
        raise TemplateError(f"variable {name}: choices must be a non-empty list of strings")
    return tuple(dict.fromkeys(value))


def _pattern(name: str, value: object) -> tuple[str | None, regex.Pattern[str] | None]:
    if value is None:
        return None, None
    if not isinstance(value, str):
        raise TemplateError(f"variable {name}: pattern must be a string")
    try:
        # The regex module: Python's re syntax, plus a time limit on each match (values.py).
        return value, regex.compile(value)
    except regex.error as exc:
        problem = f"variable {name}: pattern is not a regular expression: {exc}"
        raise TemplateError(problem) from None
    except (OverflowError, RecursionError, MemoryError):
        problem = f"variable {name}: pattern is not a regular expression: too large or nested"
        raise TemplateError(problem) from None
