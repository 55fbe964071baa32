"""Checking the values a starter gives a template's variables: every problem named, in one
message, so that a form can show them all at once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import regex

from jobhost.errors import InvalidInput

if TYPE_CHECKING:
    from jobhost.catalog.template import Template, Variable

MAX_VALUE_CHARS = 10_000
MAX_GIVEN = 100
"""At most this many names in a start's ``variables`` (a template declares at most 50)."""
MAX_NAMED_PROBLEMS = 10
MAX_PATTERN_VALUE_CHARS = 1_000
"""A value checked against a pattern is at most this long, so a pattern's cost stays small."""
PATTERN_SECONDS = 0.1
"""How long one pattern check may take; a pattern that backtracks past it refuses the value
rather than holding a thread (or, through the GIL, the server)."""
_SURROGATE = re.compile("[\ud800-\udfff]")


def value_problem(variable: Variable, value: str) -> str | None:
    """Why ``value`` is refused for ``variable`` (the end of the 400's sentence), or None."""
    if len(value) > MAX_VALUE_CHARS:
        return f"longer than {MAX_VALUE_CHARS} characters"
    if "\0" in value:
        return "contains a NUL character"
    if _SURROGATE.search(value):
        return "contains a lone surrogate, which is not Unicode text"
    if variable.choices and value not in variable.choices:
        return f"must be one of: {', '.join(variable.choices)}"
    if variable.matcher is not None:
        return _pattern_problem(variable, variable.matcher, value)
    return None


def _pattern_problem(variable: Variable, matcher: regex.Pattern[str], value: str) -> str | None:
    if len(value) > MAX_PATTERN_VALUE_CHARS:
        return f"longer than {MAX_PATTERN_VALUE_CHARS} characters"
    try:
        # concurrent: the match runs without the GIL, so other threads go on meanwhile.
        matched = matcher.fullmatch(value, timeout=PATTERN_SECONDS, concurrent=True)
    except TimeoutError:
        return f"took too long to check against {variable.pattern} (simplify the pattern)"
    return None if matched is not None else f"must match {variable.pattern}"


def resolve_values(template: Template, given: Mapping[str, object]) -> dict[str, str]:
    """Every declared variable's value: the one given, else its default, else "" when it is
    optional. An absent or empty value counts as not given. InvalidInput names each problem
    (unknown names, values that are missing, not strings or refused)."""
    if len(given) > MAX_GIVEN:
        raise InvalidInput(f"Invalid variables: at most {MAX_GIVEN} may be given")
    declared = {variable.name for variable in template.variables}
    problems = [f"Unknown variable: {_shown(name)}" for name in given if name not in declared]
    values: dict[str, str] = {}
    for variable in template.variables:
        value, problem = _value(variable, given.get(variable.name))
        if problem is not None:
            problems.append(problem)
        values[variable.name] = value
    if problems:
        more = len(problems) - MAX_NAMED_PROBLEMS
        named = problems[:MAX_NAMED_PROBLEMS] + ([f"and {more} more"] if more > 0 else [])
        raise InvalidInput("; ".join(named))
    return values


def _value(variable: Variable, value: object) -> tuple[str, str | None]:
    if value is not None and not isinstance(value, str):
        return "", f"Invalid value for {variable.name}: must be a string"
    if not value:
        if variable.default is not None:
            return variable.default, None
        if variable.required:
            return "", f"Missing required variable: {variable.name}"
        return "", None
    problem = value_problem(variable, value)
    if problem is not None:
        return "", f"Invalid value for {variable.name}: {problem}"
    return value, None


def _shown(name: str) -> str:
    """A name from the request, fit to quote in a message."""
    shown = name[:64]
    return shown if shown.isprintable() else repr(shown)[1:-1]
