"""Cron expressions in IANA time zones: validation and the next firings, as UTC epoch seconds.

Pure (no I/O but reading the zone database). Around DST changes a local time fires once:
a time skipped by spring-forward fires at the change (02:30 fires at 03:00); in the hour
repeated at fall-back, an expression with fixed hours fires in the first pass only, while
one whose hour field is a wildcard (``*``, ``*/2``) fires on both passes, hour by real hour.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from jobhost.errors import InvalidInput

MAX_CRON_CHARS = 200
MAX_TIMEZONE_CHARS = 64
PREVIEW_COUNT = 5
CRON_FORMAT = "5 fields: minute hour day-of-month month day-of-week, e.g. '0 3 * * *'"
# Guards the search for the next firing against an expression that croniter accepts but
# whose firings our DST rule drops one after another (none does in practice).
_MAX_CANDIDATES = 1000
_TOKEN_SEPARATORS = re.compile(r"[\s,/()-]+")


# Each field's name and the values it takes (day-of-week 7 is Sunday, as 0 is).
_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
)
_NAMES = {"month": " or a name JAN-DEC", "day-of-week": " or a name SUN-SAT"}
_DIGITS = re.compile(r"[0-9]+")


def parse_cron(text: str) -> str:
    """The expression, fields separated by single spaces; InvalidInput naming ``cron``
    and, where one field is at fault, that field and why."""
    if len(text) > MAX_CRON_CHARS:
        raise InvalidInput(f"Invalid cron: at most {MAX_CRON_CHARS} characters")
    fields = text.split()
    if len(fields) != 5:
        raise InvalidInput(f"Invalid cron: must be {CRON_FORMAT}")
    for (name, _, _), field in zip(_FIELDS, fields, strict=True):
        # croniter's hashed and random values ("H", "R") are not cron's: refused.
        if {token.upper() for token in _TOKEN_SEPARATORS.split(field)} & {"H", "R"}:
            raise InvalidInput(f"Invalid cron: {name} field {_shown(field)}: H and R are not cron")
    expression = " ".join(fields)
    if not croniter.is_valid(expression):
        raise InvalidInput(f"Invalid cron: {_refusal(fields)}")
    try:
        croniter(expression, datetime.datetime(2000, 1, 1)).get_next(datetime.datetime)
    except (CroniterBadDateError, CroniterBadCronError):
        raise InvalidInput("Invalid cron: it never fires") from None
    return expression


def _refusal(fields: list[str]) -> str:
    """Why croniter refuses the expression: the first field it refuses on its own (the
    others ``*``), and why; the expected form when no field alone is at fault."""
    for index, field in enumerate(fields):
        alone = " ".join(field if i == index else "*" for i in range(len(fields)))
        if not croniter.is_valid(alone):
            name, low, high = _FIELDS[index]
            return f"{name} field {_field_problem(field, low, high, _NAMES.get(name, ''))}"
    return f"must be {CRON_FORMAT}"


def _field_problem(field: str, low: int, high: int, names: str) -> str:
    """What is wrong with one field croniter refused: a step, a number out of range, or
    (what croniter does not say) that it is not valid at all."""
    shown = _shown(field)
    for item in field.split(","):
        values, slash, step = item.partition("/")
        if slash and (not _DIGITS.fullmatch(step) or int(step) == 0):
            return f"{shown}: a step must be a whole number from 1"
        for number in _DIGITS.findall(values.partition("#")[0]):
            if not low <= int(number) <= high:
                where = "" if number == field else f"{shown}: "
                return f"{where}{number} is out of range {low}-{high}"
    return f"{shown} is not valid: numbers {low}-{high}{names}, *, lists, ranges and steps"


def _shown(text: str) -> str:
    """Text fit for a message (escaped unless printable)."""
    return text if text.isprintable() else repr(text)[1:-1]


def parse_timezone(name: str) -> zoneinfo.ZoneInfo:
    """The zone an IANA name (``Europe/Berlin``, ``UTC``) names; InvalidInput naming
    ``timezone``."""
    if not name or len(name) > MAX_TIMEZONE_CHARS or not name.isprintable():
        raise InvalidInput("Invalid timezone: must be an IANA time zone such as Europe/Berlin")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(f"Invalid timezone: unknown time zone {name!r}") from None


def next_firings(cron: str, timezone: str, after: float, count: int) -> list[float]:
    """The ``count`` firings strictly after ``after`` (epoch seconds), ascending; fewer (even
    none) if the calendar ends first."""
    zone = parse_timezone(timezone)
    hours_wildcard = parse_cron(cron).split()[1].startswith("*")
    try:
        candidates = croniter(cron, datetime.datetime.fromtimestamp(after, zone))
    except (ValueError, OverflowError):
        return []  # ``after`` is past the end of the calendar in this zone
    firings: list[float] = []
    last = after
    for _ in range(_MAX_CANDIDATES):
        if len(firings) == count:
            break
        try:
            moment: datetime.datetime = candidates.get_next(datetime.datetime)
        except (CroniterBadDateError, ValueError, OverflowError):
            break  # past the end of the calendar (year 9999): no firing left
        when = moment.timestamp()
        if when <= last or (not hours_wildcard and _second_pass(when, zone)):
            continue
        firings.append(when)
        last = when
    return firings


def next_firing(cron: str, timezone: str, after: float) -> float | None:
    """The first firing strictly after ``after``; None if none can be found. Misfires
    collapse through it: after downtime, the firing after *now* is the next one."""
    found = next_firings(cron, timezone, after, 1)
    return found[0] if found else None


def _second_pass(when: float, zone: zoneinfo.ZoneInfo) -> bool:
    """Whether ``when`` is a local time's second occurrence (the hour fall-back repeats)."""
    local = datetime.datetime.fromtimestamp(when, zone)
    if local.fold == 0:
        return False
    return local.replace(fold=0).utcoffset() != local.utcoffset()
