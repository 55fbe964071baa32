"""``{{name}}`` placeholders: where a command may hold them, and filling them in safely.

A BackgroundJob command gets each value shell-quoted (``shlex.quote``), which keeps it one
literal word only where the shell reads a bare word. So a template is refused at load when a
placeholder stands anywhere else: inside quotes, backticks, a comment, an arithmetic
expansion, after a backslash or a ``$``, or past a construct this scanner cannot follow (a
here-document, ``$'...'``, a substitution inside double quotes). Python sources get no
placeholders at all: their values arrive as the mapping ``variables``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Mapping, Set

from jobhost.models import Mode
from jobhost.python_source import compile_python

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_WORD_START = frozenset(" \t\n;&|()<>")
_REST = "rest"  # a region's end: the whole rest of the command


class PlaceholderError(ValueError):
    """A command whose placeholders cannot be filled in safely; the message says why."""


def check_command(command: str, mode: Mode, declared: Set[str]) -> None:
    """PlaceholderError unless every placeholder of ``command`` is declared and stands where
    a quoted value stays one word; for Python, unless it compiles and has none."""
    found = list(PLACEHOLDER.finditer(command))
    if mode is not Mode.BACKGROUND_JOB:
        if found:
            raise PlaceholderError(
                f"{found[0][0]} in Python source: Python templates read their values from "
                "the mapping `variables`, never from placeholders"
            )
        _check_python(command)
        return
    unknown = [match[1] for match in found if match[1] not in declared]
    if unknown:
        raise PlaceholderError(f"command: {{{{{unknown[0]}}}}} is not a declared variable")
    regions = list(_regions(command))
    for match in found:
        reason = next((why for start, end, why in regions if start <= match.start() < end), None)
        if reason is not None:
            raise PlaceholderError(
                f"command: {match[0]} stands {reason}; write placeholders as bare words "
                "(jobhost quotes each value for the shell)"
            )


def render_command(command: str, mode: Mode, values: Mapping[str, str]) -> str:
    """The command to run: each placeholder replaced by its value, shell-quoted. Python
    sources are returned unchanged."""
    if mode is not Mode.BACKGROUND_JOB:
        return command
    return PLACEHOLDER.sub(lambda match: shlex.quote(values[match[1]]), command)


def _check_python(source: str) -> None:
    try:
        compile_python(source, "<template>")
    except SyntaxError as exc:
        line = f" (line {exc.lineno})" if exc.lineno else ""
        raise PlaceholderError(f"command is not valid Python: {exc.msg}{line}") from None
    except (MemoryError, RecursionError):
        raise PlaceholderError("command is not valid Python: nested too deeply") from None


def _regions(text: str) -> Iterator[tuple[int, int, str]]:
    """The spans of ``text`` where a placeholder may not stand, with why; the scan ends at a
    region that reaches the end of the text."""
    i, n = 0, len(text)
    while i < n:
        found = _region_at(text, i)
        if found is None:
            i += 1
            continue
        start, end, why = found
        yield start, end, why
        if end >= n:
            return
        i = max(end, i + 1)


def _region_at(text: str, i: int) -> tuple[int, int, str] | None:
    char, pair = text[i], text[i : i + 2]
    n = len(text)
    if char == "\\":
        return i, i + 2, "after a backslash"
    if char == "'":
        return i, _after(text, "'", i + 1), "inside single quotes"
    if char == '"':
        return _double_quoted(text, i)
    if char == "`":
        end = _after(text, "`", i + 1, escapes=True)
        if any(quote in text[i:end] for quote in "'\""):
            return i, n, "inside or after backticks that hold quotes"
        return i, end, "inside backticks"
    if char == "#" and (i == 0 or text[i - 1] in _WORD_START):
        return i, _after(text, "\n", i), "in a comment"
    if char == "$":
        return _dollar(text, i)
    if pair == "<<":
        return i, n, "in or after a here-document (<<)"
    if pair in ("((", "[["):
        closer = "))" if pair == "((" else "]]"
        return i, _after(text, closer, i + 2), f"inside {pair}...{closer}"
    return None


def _dollar(text: str, i: int) -> tuple[int, int, str] | None:
    n = len(text)
    rest = text[i + 1 : i + 3]
    if rest.startswith("'"):
        return i, n, "in or after $'...' quoting"
    if rest == "((":
        return i, _after(text, "))", i + 3), "inside an arithmetic expansion $((...))"
    if rest.startswith("["):
        return i, _after(text, "]", i + 2), "inside an arithmetic expansion $[...]"
    if rest.startswith("("):
        return None  # a command substitution: its inside reads as plain text does
    return i + 1, i + 2, "right after a $"


def _double_quoted(text: str, i: int) -> tuple[int, int, str]:
    """A double-quoted string; one holding a substitution makes the rest uncheckable (the
    substitution's own quotes nest inside it)."""
    j, n = i + 1, len(text)
    while j < n:
        char = text[j]
        if char == "\\":
            j += 2
            continue
        if char == '"':
            return i, j + 1, "inside double quotes"
        if char == "`" or text.startswith("$(", j) or _quoted_expansion(text, j):
            return i, n, "inside or after a double-quoted string holding a substitution"
        j += 1
    return i, n, "inside double quotes"


def _quoted_expansion(text: str, j: int) -> bool:
    """Whether a ``${...}`` starts at ``j`` with quotes or substitutions inside it."""
    if not text.startswith("${", j):
        return False
    end = text.find("}", j)
    inside = text[j + 2 : end if end >= 0 else len(text)]
    return any(mark in inside for mark in ("'", '"', "`", "$("))


def _after(text: str, closer: str, start: int, escapes: bool = False) -> int:
    """The index just past the next ``closer`` from ``start`` (skipping backslash-escaped
    characters if ``escapes``), or the text's length if there is none."""
    j, n = start, len(text)
    while j < n:
        if escapes and text[j] == "\\":
            j += 2
            continue
        if text.startswith(closer, j):
            return j + len(closer)
        j += 1
    return n
