"""The history filters of ``GET jobs`` and ``jobs/results`` (CONTRACT Part 2, "History"):
every check of what a caller typed, and the opaque cursor of the completed list."""

from __future__ import annotations

import base64
import binascii
import datetime
import re
from dataclasses import dataclass

from jobhost import policy
from jobhost.errors import InvalidInput
from jobhost.models import Mode, Status, parse_mode
from jobhost.store.job_listing import HistoryFilter

TIME_FORMAT = "an ISO time with its zone, such as 2026-12-03T15:00:00Z"
MAX_TEXT_CHARS = 200
MAX_ID_CHARS = 255
INVALID_CURSOR = "Invalid cursor"
# The cursor's plain form before base64url: a version, then the seq the next page starts below.
_CURSOR_FORM = re.compile(r"v1:([1-9][0-9]{0,18})")
_MAX_CURSOR_CHARS = 64
_STATUS_NAMES = {s.value.lower(): s for s in Status}


@dataclass(frozen=True, slots=True)
class HistoryParams:
    """The filters as the request gave them (None: not given)."""

    status: str | None = None
    mode: str | None = None
    q: str | None = None
    since: str | None = None
    until: str | None = None
    template_id: str | None = None
    schedule_id: str | None = None
    cursor: str | None = None


def parse_history(params: HistoryParams) -> HistoryFilter:
    """The validated filters; a 400 naming the field for anything it cannot read."""
    since = parse_time("since", params.since)
    until = parse_time("until", params.until)
    return HistoryFilter(
        statuses=parse_statuses(params.status),
        mode=_parse_mode(params.mode),
        text=_parse_text(params.q),
        since=since,
        until=until,
        template_id=_parse_id("templateId", params.template_id),
        schedule_id=_parse_schedule_id(params.schedule_id),
        before_seq=decode_cursor(params.cursor),
    )


def parse_statuses(text: str | None) -> frozenset[Status]:
    """Comma-separated Status values (any case); empty items are ignored."""
    if text is None:
        return frozenset()
    found: set[Status] = set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        status = _STATUS_NAMES.get(item.lower())
        if status is None:
            names = ", ".join(s.value for s in Status)
            raise InvalidInput(f"Invalid status: {item[:40]!r} is not one of {names}")
        found.add(status)
    return frozenset(found)


def _parse_mode(text: str | None) -> Mode | None:
    if text is None or not text.strip():
        return None
    mode = parse_mode(text)
    if mode is None:
        names = ", ".join(m.value for m in Mode)
        raise InvalidInput(f"Invalid mode: must be one of {names}")
    return mode


def _parse_text(text: str | None) -> str | None:
    if text is None or not text:
        return None
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(f"Invalid q: at most {MAX_TEXT_CHARS} characters")
    if "\x00" in text:
        raise InvalidInput("Invalid q: must not contain NUL")
    return text


def _parse_id(field: str, text: str | None) -> str | None:
    if text is None or not text:
        return None
    if len(text) > MAX_ID_CHARS or "\x00" in text:
        raise InvalidInput(f"Invalid {field}: at most {MAX_ID_CHARS} characters, no NUL")
    return text


def _parse_schedule_id(text: str | None) -> str | None:
    """A UUID, as documented: an empty one too is a 400 (it is no UUID)."""
    if text is None:
        return None
    if not policy.is_valid_job_id(text):
        raise InvalidInput("Invalid scheduleId: must be a UUID")
    return text.lower()


def parse_time(field: str, text: str | None) -> float | None:
    """An ISO time with its zone as epoch seconds; a 400 naming ``field`` otherwise."""
    if text is None or not text.strip():
        return None
    try:
        when = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"Invalid {field}: must be {TIME_FORMAT}") from None
    if when.tzinfo is None:
        raise InvalidInput(f"Invalid {field}: must say its time zone, as {TIME_FORMAT}")
    try:
        return when.astimezone(datetime.UTC).timestamp()
    except (OverflowError, ValueError):
        raise InvalidInput(f"Invalid {field}: out of range") from None


def encode_cursor(before_seq: int | None) -> str | None:
    """The opaque ``nextCursor`` for a page that ends just above ``before_seq``."""
    if before_seq is None:
        return None
    raw = f"v1:{before_seq}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str | None) -> int | None:
    """The seq a cursor from ``encode_cursor`` holds; ``Invalid cursor`` for anything else."""
    if text is None or not text:
        return None
    if len(text) > _MAX_CURSOR_CHARS:
        raise InvalidInput(INVALID_CURSOR)
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise InvalidInput(INVALID_CURSOR) from None
    match = _CURSOR_FORM.fullmatch(raw)
    if match is None:
        raise InvalidInput(INVALID_CURSOR)
    return int(match.group(1))
