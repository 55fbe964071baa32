"""``{{name}}`` placeholders: where a command may hold them, and filling them in safely.

A BackgroundJob command gets each value shell-quoted (``shlex.quote``), which keeps it one
literal word only where the shell reads a plain word and nothing reads it again. So the
check is an allow-list: a placeholder is accepted only as (part of) an argument word of a
command the reader in ``shell_reader.py`` follows as plain POSIX sh, whose command names are
fixed text and none of which reads its arguments, or variables, as code under sh or bash
(``eval``, ``trap``, ``let``, ``declare``, ``read``, ``[ -v``...). Anything else is a load
error. Python sources get no placeholders at all: their values arrive as ``variables``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Set

from jobhost.catalog.shell_reader import PLACEHOLDER, Word, read_shell
from jobhost.errors import InvalidInput
from jobhost.models import Mode
from jobhost.python_source import compile_python

MAX_PLACEHOLDERS = 100
COMMAND_TOO_LONG = "Invalid variables: the command they make is too long"
# Words that start a new command when they stand first.
_RESERVED = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}"}
)
# Builtins that run text as code, change how later words are read, or evaluate names and
# values as arithmetic (bash): with any of them in the command, no placeholder is safe.
_CODE_BUILTINS = frozenset(
    {
        "eval", "source", ".", "trap", "alias", "unalias", "let", "declare", "typeset",
        "local", "builtin", "command", "coproc", "function", "enable", "fc", "history",
        "hash", "bind", "complete", "compgen", "compopt", "shopt", "case", "[[",
    }
)  # fmt: skip
# Builtins that take variable names (bash evaluates a name's [subscript]) or options that
# do: safe with fixed arguments only.
_NAME_BUILTINS = frozenset(
    {"export", "readonly", "unset", "read", "mapfile", "readarray", "wait", "getopts",
     "set", "exec", "ulimit"}
)  # fmt: skip
# Programs and builtins that run their arguments as a command (``time -- eval x``, ``env
# -S``, ``jobs -x``): a value among them could name the command, so none may be given one.
_COMMAND_RUNNERS = frozenset(
    {
        "time", "jobs", "env", "nice", "nohup", "timeout", "setsid", "stdbuf", "xargs",
        "sudo", "doas", "su", "runuser", "chroot", "ionice", "taskset", "chrt", "flock",
        "watch", "strace", "ltrace", "unshare", "nsenter", "script", "busybox", "parallel",
        "sh", "bash", "dash", "zsh", "ksh", "mksh", "ssh",
    }
)  # fmt: skip
_TEST_OPERATORS = frozenset(
    "-b -c -d -e -f -g -h -k -L -n -p -r -s -S -t -u -w -x -z -G -N -O "
    "= == != < > -eq -ne -lt -le -gt -ge -nt -ot -ef".split()
)
# Variables whose value changes what later commands run or print as code.
_SHELL_SETTINGS = re.compile(
    r"(PATH|IFS|ENV|CDPATH|PS[1-4]|PROMPT_COMMAND|SHELLOPTS|BASHOPTS|GLOBIGNORE"
    r"|LD_\w*|BASH\w*|GCONV_PATH|LOCPATH|NLSPATH"
    # bash reads these as arithmetic when they are set: a value's a[$(...)] would run.
    r"|RANDOM|SRANDOM|OPTIND|OPTERR|HISTCMD|SECONDS|LINENO|EPOCH\w*|TMOUT|FUNCNEST)"
)
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\+?=|\[)")


class PlaceholderError(ValueError):
    """A command whose placeholders cannot be filled in safely; the message says why."""


def check_command(command: str, mode: Mode, declared: Set[str]) -> None:
    """PlaceholderError unless every placeholder of ``command`` is declared and stands where
    a quoted value stays one literal word; for Python, unless it compiles and has none."""
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
    if len(found) > MAX_PLACEHOLDERS:
        raise PlaceholderError(f"command: more than {MAX_PLACEHOLDERS} placeholders")
    if found:
        _check_places(command, found)


def _check_places(command: str, found: list[re.Match[str]]) -> None:
    reading = read_shell(command)
    why = reading.unfollowed or next(
        filter(None, (_command_problem(command, words) for words in reading.commands)), None
    )
    if why is not None:
        raise PlaceholderError(
            f"command: {found[0][0]} cannot be used: the command {why}; placeholders are "
            "allowed only in commands read as plain sh (see docs/TEMPLATES.md)"
        )
    bare = {start for words in reading.commands for word in words for start in word.placeholders}
    for match in found:
        where = reading.refused.get(match.start())
        if where is None and match.start() not in bare:
            where = "where this check cannot tell how the shell reads it"
        if where is not None:
            raise PlaceholderError(
                f"command: {match[0]} stands {where}; write placeholders as bare words "
                "(jobhost quotes each value for the shell)"
            )


def _command_problem(command: str, words: list[Word]) -> str | None:
    """Why no placeholder is safe in a command holding this simple command, or None."""
    words = [word for word in words if not word.target]
    for k, word in enumerate(words):
        assignment = _ASSIGNMENT.match(command, word.start, word.end)
        if assignment is not None:
            if assignment[2] == "[":
                return "assigns to an array element (bash evaluates the subscript as code)"
            if word.expanded and _SHELL_SETTINGS.fullmatch(assignment[1]):
                return f"sets {assignment[1]} from a value or an expansion"
            continue
        if word.text in _RESERVED:
            continue
        if word.text in ("for", "select"):
            return _loop_problem(words[k + 1 : k + 2])
        return _run_problem(command[word.start : word.end], word, words[k + 1 :])
    return None


def _loop_problem(variable: list[Word]) -> str | None:
    """``for NAME in ...`` assigns each word to NAME: it must be an ordinary variable."""
    name = variable[0].text if variable else None
    if name is None or not name.isidentifier():
        return "loops into a variable whose name is not fixed text"
    if _SHELL_SETTINGS.fullmatch(name):
        return f"loops over values into {name}"
    return None


def _run_problem(raw: str, name: Word, args: list[Word]) -> str | None:
    text = name.text
    if text is None:
        if name.placeholders:
            return "uses a value as a command name"
        return f"runs a command whose name is not fixed text ({raw[:40]})"
    if text in _CODE_BUILTINS:
        return f"runs {text}, which can read values as code"
    if text in _COMMAND_RUNNERS:
        return f"runs {text}, which runs its arguments as a command"
    if text in _NAME_BUILTINS and any(arg.text is None or arg.subscript for arg in args):
        return f"passes a value, an expansion or a [ to {text}, which bash can read as code"
    if text == "printf" and args and (args[0].text is None or args[0].text.startswith("-")):
        return "gives printf an option or a value first (printf -v evaluates names)"
    if text in ("[", "test"):
        return _test_problem(args)
    return None


def _test_problem(args: list[Word]) -> str | None:
    """``test``/``[``: a value must be the operand of an operator written in the template,
    so that it cannot become one (bash's ``-v`` evaluates a name's subscript)."""
    for k, arg in enumerate(args):
        before = args[k - 1].text if k > 0 else None
        if before in ("-v", "-R") and (arg.text is None or arg.subscript):
            return "tests -v or -R on a value (bash evaluates its subscript as code)"
        if (arg.text is None or arg.subscript) and before not in _TEST_OPERATORS:
            return "gives test or [ a value that is not the operand of an operator"
    return None


def render_command(
    command: str, mode: Mode, values: Mapping[str, str], max_chars: int | None = None
) -> str:
    """The command to run: each placeholder replaced by its value, shell-quoted. Python
    sources are returned unchanged. InvalidInput if it would be longer than ``max_chars``,
    found before it is built."""
    if mode is not Mode.BACKGROUND_JOB:
        return command
    quoted = {name: shlex.quote(value) for name, value in values.items()}
    found = list(PLACEHOLDER.finditer(command))
    if max_chars is not None:
        size = len(command) + sum(len(quoted[match[1]]) - len(match[0]) for match in found)
        if size > max_chars:
            raise InvalidInput(COMMAND_TOO_LONG)
    return PLACEHOLDER.sub(lambda match: quoted[match[1]], command)


def _check_python(source: str) -> None:
    try:
        compile_python(source, "<template>")
    except SyntaxError as exc:
        line = f" (line {exc.lineno})" if exc.lineno else ""
        raise PlaceholderError(f"command is not valid Python: {exc.msg}{line}") from None
    except (MemoryError, RecursionError):
        raise PlaceholderError("command is not valid Python: nested too deeply") from None
