"""Placeholders in template commands: where they may stand, and that a filled-in command
passes every value to the shell as one literal word."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobhost.catalog import PlaceholderError, render_command
from jobhost.catalog.placeholders import check_command
from jobhost.models import Mode

SH = Mode.BACKGROUND_JOB
HOSTILE = [
    "; touch CANARY",
    "$(touch CANARY)",
    "`touch CANARY`",
    "x\ntouch CANARY",
    "it's",
    'say "hi"',
    "--option=value",
    "-rf /",
    "*",
    "a b  c",
    "'\"'\"'",
    "\\",
    "",
    "$HOME ${HOME}",
]


def sh(command: str) -> str:
    # Bytes, not text=True: that would translate a \r in the output into \n.
    done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, timeout=10, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode()


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_value_reaches_the_program_as_one_literal_argument(value: str) -> None:
    command = render_command("printf '%s|' {{v}} end", SH, {"v": value})
    assert sh(command) == f"{value}|end|"


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_characters="\0")))
def test_printf_of_any_rendered_value_prints_exactly_the_value(value: str) -> None:
    assert sh(render_command("printf %s {{v}}", SH, {"v": value})) == value


def test_placeholders_may_have_spaces_inside_the_braces_and_repeat() -> None:
    assert render_command("echo {{ a }}{{a}}", SH, {"a": "x y"}) == "echo 'x y''x y'"


def test_python_sources_are_never_substituted() -> None:
    assert render_command("print(variables)", Mode.RUNSPACE, {"a": "b"}) == "print(variables)"


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ('echo "{{v}}"', "inside double quotes"),
        ("echo '{{v}}'", "inside single quotes"),
        ("echo hi # {{v}}", "in a comment"),
        ("echo \\{{v}}", "after a backslash"),
        ("echo x[{{v}}]", "after a [ in the same word"),
    ],
)
def test_a_placeholder_where_quoting_would_not_hold_is_a_load_error(command: str, why: str) -> None:
    with pytest.raises(PlaceholderError, match="stands") as caught:
        check_command(command, SH, {"v"})
    assert why in str(caught.value)


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("echo `cat {{v}}`", "backticks"),
        ("echo `date` {{v}}", "backticks"),
        ("echo ${{v}}", "${...}"),
        ("echo ${{{v}}}", "${...}"),
        ("echo ${x:{{v}}}", "${...}"),
        ('echo $"a {{v}}"', '$"'),
        ("echo $`echo {{v}}`", "$`"),
        ("echo $\\' {{v}}", "$\\"),
        ("echo $(( {{v}} + 1 ))", "arithmetic"),
        ("echo $[ {{v}} + 1 ]", "$["),
        ("(( {{v}} > 1 ))", "((...))"),
        ("[[ {{v}} -eq 1 ]]", "[["),
        ("cat <<EOF\n{{v}}\nEOF", "here-document"),
        ("echo {{v}}; cat <<EOF\nx\nEOF", "here-document"),
        ("echo $'a' {{v}}", "$'"),
        ('echo "$(date)" {{v}}', "$(...) inside double quotes"),
        ('echo "${x:-"a"}" {{v}}', "${...}"),
        ("case $x in a) echo {{v}};; esac", ") without"),
        ("case $x in (a) echo {{v}};; esac", "runs case"),
        ("echo {{v}} 'a", "not closed"),
        ("echo {{v}} )", ") without"),
        ("let x={{v}}", "let"),
        ("declare -i n; n={{v}}", "declare"),
        ("eval {{v}}", "eval"),
        (". {{v}}", "runs ."),
        ("a[{{v}}]=1", "array element"),
        ("a=({{v}})", "array assignment"),
        ("read {{v}}", "read"),
        ("printf -v x {{v}}", "printf"),
        ("[ -v {{v}} ]", "-v"),
        ("[ {{v}} = x ]", "operand"),
        ("$cmd {{v}}", "not fixed text"),
        ("{{v}} x", "value as a command name"),
        ("PATH={{v}} ls", "sets PATH"),
        ("time -p du -- {{v}}", "runs time"),
        ("nice -n 5 du {{v}}", "runs nice"),
        ("du {{v}} &>/dev/null", "&>"),
        ("RANDOM={{v}}", "sets RANDOM"),
        ("for IFS in {{v}}; do :; done", "into IFS"),
        ("for $x in {{v}}; do :; done", "not fixed text"),
    ],
)
def test_a_placeholder_in_a_command_the_check_cannot_vouch_for_is_a_load_error(
    command: str, why: str
) -> None:
    with pytest.raises(PlaceholderError, match="cannot be used") as caught:
        check_command(command, SH, {"v"})
    assert why in str(caught.value)


@pytest.mark.parametrize(
    "command",
    [
        "du -sh {{v}}",
        "echo $(cat {{v}})",
        "echo $(echo a) {{v}}",
        'echo "${HOME}" "$x" ${x:-a} {{v}}',
        'x={{v}}; echo "$x"',
        "echo --flag={{v}} a#{{v}}",
        "echo 'quoted' {{v}} # a comment",
        "set -e\nif [ -f {{v}} ]; then cat -- {{v}} 2>&1 | head -n 5; fi",
        "d=$(date +%F); tar czf /b/$d.tgz {{v}} >/dev/null",
        'for f in {{v}} b; do echo "$f"; done',
        "printf '%s\\n' {{v}} && [ x = {{v}} ] || test -n {{v}}",
        "(cd /tmp && ls {{v}}) &",
        'f() { echo "$1"; }; f {{v}}',
        "cat < {{v}} > out.txt",
    ],
)
def test_a_placeholder_as_a_bare_word_is_accepted(command: str) -> None:
    check_command(command, SH, {"v"})


def test_an_unknown_placeholder_is_a_load_error() -> None:
    with pytest.raises(PlaceholderError, match=r"\{\{x\}\} is not a declared variable"):
        check_command("echo {{v}} {{x}}", SH, {"v"})


@pytest.mark.parametrize("mode", [Mode.RUNSPACE, Mode.MAIN_LOOP])
def test_a_placeholder_in_python_source_is_a_load_error(mode: Mode) -> None:
    with pytest.raises(PlaceholderError, match="variables"):
        check_command("print('{{v}}')", mode, {"v"})


def test_python_source_that_does_not_compile_is_a_load_error() -> None:
    with pytest.raises(PlaceholderError, match="not valid Python"):
        check_command("def (", Mode.RUNSPACE, set())
