"""Cron expressions in IANA zones: validation naming the field, and firings that stay right
across DST changes (Europe/Berlin: spring forward on 2026-03-29, fall back on 2026-10-25)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from jobhost.errors import InvalidInput
from jobhost.schedules.cron import next_firing, next_firings, parse_cron, parse_timezone

BERLIN = ZoneInfo("Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def local(when: float) -> str:
    return datetime.fromtimestamp(when, BERLIN).strftime("%m-%d %H:%M%z")


def test_daily_firings_are_the_local_time_in_the_zone() -> None:
    runs = next_firings("0 3 * * *", "Europe/Berlin", utc(2026, 1, 10, 12), 3)
    assert [local(r) for r in runs] == ["01-11 03:00+0100", "01-12 03:00+0100", "01-13 03:00+0100"]


def test_a_firing_is_strictly_after_the_time_given() -> None:
    at = utc(2026, 1, 10, 3)
    assert next_firing("0 3 * * *", "UTC", at) == utc(2026, 1, 11, 3)
    assert next_firing("* * * * *", "UTC", at) == at + 60


def test_on_spring_forward_day_a_0230_daily_job_fires_once_at_the_change() -> None:
    runs = next_firings("30 2 * * *", "Europe/Berlin", utc(2026, 3, 27, 12), 3)
    assert [local(r) for r in runs] == ["03-28 02:30+0100", "03-29 03:00+0200", "03-30 02:30+0200"]


def test_on_fall_back_day_a_0230_daily_job_fires_once_not_twice() -> None:
    runs = next_firings("30 2 * * *", "Europe/Berlin", utc(2026, 10, 24, 12), 3)
    assert [local(r) for r in runs] == ["10-25 02:30+0200", "10-26 02:30+0100", "10-27 02:30+0100"]


def test_from_inside_the_repeated_hour_a_fixed_time_job_waits_for_the_next_day() -> None:
    # 02:40 CEST: the daily 02:30 fired in the first pass; the second pass must not fire it.
    after = utc(2026, 10, 25, 0, 40)
    assert local(next_firing("30 2 * * *", "Europe/Berlin", after) or 0) == "10-26 02:30+0100"


def test_an_hourly_job_fires_every_real_hour_across_fall_back() -> None:
    runs = next_firings("0 * * * *", "Europe/Berlin", utc(2026, 10, 24, 23, 30), 4)
    assert [r - runs[0] for r in runs] == [0, 3600, 7200, 10800]
    assert [local(r) for r in runs][:2] == ["10-25 02:00+0200", "10-25 02:00+0100"]


def test_a_quarter_hourly_job_skips_nothing_real_on_spring_forward() -> None:
    runs = next_firings("*/15 * * * *", "Europe/Berlin", utc(2026, 3, 29, 0, 30), 3)
    assert [local(r) for r in runs] == ["03-29 01:45+0100", "03-29 03:00+0200", "03-29 03:15+0200"]


@pytest.mark.parametrize("text", ["* * * *", "* * * * * *", "", "x"])
def test_a_cron_without_five_fields_is_refused_naming_cron(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"^Invalid cron: must be 5 fields"):
        parse_cron(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("61 * * * *", "minute field 61 is out of range 0-59"),
        ("*/0 * * * *", "minute field */0: a step must be a whole number from 1"),
        ("1-100 * * * *", "minute field 1-100: 100 is out of range 0-59"),
        ("0 24 * * *", "hour field 24 is out of range 0-23"),
        ("0 0 0 * *", "day-of-month field 0 is out of range 1-31"),
        ("0 0 * 13 *", "month field 13 is out of range 1-12"),
        ("0 0 * * 8", "day-of-week field 8 is out of range 0-7"),
        ("0 0 * * FOO", "day-of-week field FOO is not valid: numbers 0-7 or a name SUN-SAT"),
        ("0 0 * JANX *", "month field JANX is not valid: numbers 1-12 or a name JAN-DEC"),
        ("1,,2 * * * *", "minute field 1,,2 is not valid: numbers 0-59"),
        ("H * * * *", "minute field H: H and R are not cron"),
        ("0 R * * *", "hour field R: H and R are not cron"),
        ("0 3 * * *" + " " * 200, "at most 200 characters"),
    ],
)
def test_a_five_field_cron_is_refused_naming_the_field_and_why(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_cron(text)
    assert caught.value.message.startswith(f"Invalid cron: {message}"), caught.value.message


@pytest.mark.parametrize("text", ["0 0 * * 7", "*/60 * * * *", "0 0 L * *", "5-1 * * * MON-FRI"])
def test_what_croniter_accepts_in_a_field_stays_accepted(text: str) -> None:
    assert parse_cron(text) == text


def test_a_cron_that_never_fires_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^Invalid cron: it never fires"):
        parse_cron("0 0 30 2 *")


def test_day_names_are_cron() -> None:
    assert parse_cron("0  9 * *  MON-THU") == "0 9 * * MON-THU"


@pytest.mark.parametrize("name", ["Mars/Olympus", "/etc/passwd", "../../etc/passwd", "", "a\nb"])
def test_a_bad_timezone_is_refused_naming_timezone(name: str) -> None:
    with pytest.raises(InvalidInput, match=r"^Invalid timezone"):
        parse_timezone(name)


def test_an_iana_zone_is_accepted() -> None:
    assert parse_timezone("America/New_York").key == "America/New_York"


def test_firings_past_the_end_of_the_calendar_are_none_not_an_error() -> None:
    last_hour = utc(9999, 12, 31, 23)
    assert next_firings("0 3 * * *", "UTC", last_hour, 5) == []
    assert next_firing("0 0 1 1 *", "Europe/Berlin", last_hour) is None
    assert len(next_firings("*/15 * * * *", "UTC", last_hour, 5)) == 3
