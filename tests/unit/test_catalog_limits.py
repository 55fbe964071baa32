"""The catalog's size limits: long commands, many placeholders, big values, many unknown
variables. Each is refused cheaply, with a bounded message."""

from __future__ import annotations

import time
import tomllib

import pytest

from jobhost.catalog import COMMAND_TOO_LONG, TemplateError, parse_template, render_command
from jobhost.catalog import resolve_values as resolve
from jobhost.catalog.placeholders import MAX_PLACEHOLDERS, PlaceholderError, check_command
from jobhost.catalog.template import MAX_COMMAND_CHARS
from jobhost.errors import InvalidInput
from jobhost.models import Mode

SH = Mode.BACKGROUND_JOB


def test_a_command_longer_than_the_limit_is_a_load_error() -> None:
    long = "echo " + "x" * MAX_COMMAND_CHARS
    with pytest.raises(TemplateError, match=f"command: longer than {MAX_COMMAND_CHARS}"):
        parse_template("t", {"name": "n", "command": long})


def test_too_many_placeholders_is_a_load_error() -> None:
    with pytest.raises(PlaceholderError, match=f"more than {MAX_PLACEHOLDERS} placeholders"):
        check_command("echo" + " {{v}}" * (MAX_PLACEHOLDERS + 1), SH, {"v"})


def test_checking_a_command_at_the_limits_stays_quick() -> None:
    # Many quoted strings and the most placeholders: the first scanner compared each
    # placeholder with each string, and took no limit on either.
    body = "echo " + "'x' " * ((MAX_COMMAND_CHARS - 1000) // 4)
    command = body + " {{v}}" * MAX_PLACEHOLDERS
    started = time.monotonic()
    check_command(command, SH, {"v"})
    assert time.monotonic() - started < 0.5


def test_a_command_that_would_be_too_long_is_refused_before_it_is_built() -> None:
    command = "echo" + " {{v}}" * MAX_PLACEHOLDERS
    with pytest.raises(InvalidInput, match=COMMAND_TOO_LONG):
        render_command(command, SH, {"v": "x" * 10_000}, max_chars=100_000)
    assert len(render_command(command, SH, {"v": "x" * 900}, max_chars=100_000)) < 100_000


def test_unknown_variables_are_named_up_to_ten() -> None:
    template = parse_template("t", tomllib.loads('name = "n"\ncommand = "true"'))
    with pytest.raises(InvalidInput) as caught:
        resolve(template, {f"x{k}": "1" for k in range(30)})
    message = caught.value.message
    assert message.count("Unknown variable") == 10
    assert message.endswith("; and 20 more")


def test_a_start_with_too_many_variables_is_refused_at_once() -> None:
    template = parse_template("t", tomllib.loads('name = "n"\ncommand = "true"'))
    with pytest.raises(InvalidInput, match="Invalid variables: at most 100 may be given"):
        resolve(template, {f"x{k}": "1" for k in range(101)})
