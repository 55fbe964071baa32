"""A variable's ``pattern`` cannot be made to hold the server: a check that takes too long
is a 400 naming the variable, and long values are refused before any pattern runs."""

from __future__ import annotations

import threading
import time
import tomllib

import pytest

from jobhost.catalog import Template, parse_template, resolve_values
from jobhost.catalog.values import MAX_PATTERN_VALUE_CHARS
from jobhost.errors import InvalidInput


def template(pattern: str) -> Template:
    variable = f"[[variables]]\nname = 'v'\npattern = '{pattern}'\n"
    text = "name = 'T'\ncommand = 'echo {{v}}'\n" + variable
    return parse_template("t", tomllib.loads(text))


def test_a_catastrophic_pattern_is_cut_short_and_names_the_variable() -> None:
    slow = template("(a|aa)+c")
    started = time.monotonic()
    with pytest.raises(InvalidInput, match=r"Invalid value for v: .*too long to check"):
        resolve_values(slow, {"v": "a" * 36 + "b"})
    assert time.monotonic() - started < 0.5


def test_other_threads_run_while_a_pattern_is_checked() -> None:
    slow = template("(a|aa)+c")
    ticks: list[float] = []
    done = threading.Event()

    def tick() -> None:
        while not done.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.005)

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        with pytest.raises(InvalidInput):
            resolve_values(slow, {"v": "a" * 36 + "b"})
    finally:
        done.set()
        ticker.join()
    assert len(ticks) >= 5


def test_a_value_too_long_for_a_pattern_is_refused_before_matching() -> None:
    checked = template("[a-z]*")
    assert resolve_values(checked, {"v": "a" * MAX_PATTERN_VALUE_CHARS})["v"]
    with pytest.raises(
        InvalidInput, match=f"Invalid value for v: longer than {MAX_PATTERN_VALUE_CHARS}"
    ):
        resolve_values(checked, {"v": "a" * (MAX_PATTERN_VALUE_CHARS + 1)})


def test_patterns_keep_pythons_syntax() -> None:
    checked = template(r"^(?P<word>\w+)-(?P=word)$")
    assert resolve_values(checked, {"v": "ab-ab"}) == {"v": "ab-ab"}
    with pytest.raises(InvalidInput, match="must match"):
        resolve_values(checked, {"v": "ab-cd"})
