"""The dependency rules of docs/ARCHITECTURE.md, checked by reading src/jobhost with ``ast``.

Each rule names what is used (a module imported, or a process call such as ``os.killpg``)
and where that may or may not happen. Imports inside functions count, and so do imports under
``if TYPE_CHECKING:`` for the layering rules; for the third-party rules they do not, since they
load nothing at run time (server.py names FastAPI as its return type that way).
"""

from __future__ import annotations

import ast
import fnmatch
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

DRIVERS = ("sqlalchemy", "sqlite3", "alembic", "psycopg", "psycopg2")
WEB_FRAMEWORK = ("fastapi", "starlette")
# Starting, signalling and reaping processes: what engine/runners/ owns.
PROCESSES = (
    "subprocess",
    "multiprocessing",
    "signal",
    "pty",
    "asyncio.subprocess",
    "asyncio.create_subprocess_*",
    "os.kill",
    "os.killpg",
    "os.fork",
    "os.forkpty",
    "os.posix_spawn*",
    "os.spawn*",
    "os.exec*",
    "os.setsid",
    "os.setpgrp",
    "os.setpgid",
    "os.wait",
    "os.wait3",
    "os.wait4",
    "os.waitid",
    "os.waitpid",
    "os.pidfd_send_signal",
    "signal.pthread_kill",
)
SERVER_SIDE = ("jobhost.store", "jobhost.engine", "jobhost.service", "jobhost.web")
FRONT = ("jobhost.server", "jobhost.cli")


@dataclass(frozen=True, slots=True)
class Use:
    """A dotted name a module imports or reaches through an imported module."""

    module: str
    target: str
    line: int
    typing_only: bool


@dataclass(frozen=True, slots=True)
class Rule:
    """``targets`` may be used only in ``only_in`` (when given) and never in ``never_in``;
    ``but`` names targets the rule lets through."""

    name: str
    targets: tuple[str, ...]
    only_in: tuple[str, ...] = ()
    never_in: tuple[str, ...] = ()
    but: tuple[str, ...] = ()
    third_party: bool = False

    def broken_by(self, use: Use) -> bool:
        if use.typing_only and self.third_party:
            return False
        if not _matches(use.target, self.targets) or _matches(use.target, self.but):
            return False
        outside = bool(self.only_in) and not _matches(use.module, self.only_in)
        return outside or _matches(use.module, self.never_in)


RULES = (
    Rule(
        "only store/ imports a database driver",
        DRIVERS,
        only_in=("jobhost.store",),
        third_party=True,
    ),
    Rule(
        "only engine/runners/ starts, signals or reaps processes",
        PROCESSES,
        only_in=("jobhost.engine.runners",),
        third_party=True,
    ),
    Rule(
        "only web/ imports the web framework",
        WEB_FRAMEWORK,
        only_in=("jobhost.web",),
        third_party=True,
    ),
    Rule(
        "only server.py runs uvicorn", ("uvicorn",), only_in=("jobhost.server",), third_party=True
    ),
    Rule("only cli/ imports the composition root", ("jobhost.server",), only_in=("jobhost.cli",)),
    Rule("web/ imports no engine/", ("jobhost.engine",), never_in=("jobhost.web",)),
    Rule(
        "engine/ imports no service/, web/ or front end",
        ("jobhost.service", "jobhost.web", *FRONT),
        never_in=("jobhost.engine",),
    ),
    Rule(
        "service/ imports no engine/, web/ or front end",
        ("jobhost.engine", "jobhost.web", *FRONT),
        never_in=("jobhost.service",),
    ),
    Rule(
        "store/ imports no layer above it",
        ("jobhost.engine", "jobhost.service", "jobhost.web", *FRONT),
        never_in=("jobhost.store",),
    ),
    Rule(
        "catalog/ imports no store, engine, service, web or front end",
        (*SERVER_SIDE, *FRONT),
        never_in=("jobhost.catalog",),
    ),
    Rule(
        "client/ imports nothing of the server",
        (*SERVER_SIDE, *FRONT),
        never_in=("jobhost.client",),
    ),
    Rule(
        "schedules/ (cron arithmetic) imports no store/, engine/, service/, web/ or front end",
        (*SERVER_SIDE, *FRONT),
        never_in=("jobhost.schedules",),
    ),
    Rule("models.py imports nothing of ours", ("jobhost",), never_in=("jobhost.models",)),
    Rule(
        "policy.py imports nothing of ours but models.py",
        ("jobhost",),
        never_in=("jobhost.policy",),
        but=("jobhost.models",),
    ),
)


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    """``name`` is a pattern (``*`` as in fnmatch), or inside the module or package it names."""
    return any(
        fnmatch.fnmatchcase(name, pattern)
        if "*" in pattern
        else name == pattern or name.startswith(pattern + ".")
        for pattern in patterns
    )


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, package: str) -> None:
        self.module = module
        self.package = package
        self.aliases: dict[str, str] = {}
        self.uses: list[Use] = []
        self._typing_only = False

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        guarded = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        )
        if not guarded:
            self.generic_visit(node)
            return
        before, self._typing_only = self._typing_only, True
        for child in node.body:
            self.visit(child)
        self._typing_only = before
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._use(alias.name, node)
            bound = alias.asname or alias.name.split(".")[0]
            self.aliases[bound] = alias.name if alias.asname else bound

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self._absolute(node.module, node.level)
        self._use(base, node)
        for alias in node.names:
            self._use(f"{base}.{alias.name}", node)
            self.aliases[alias.asname or alias.name] = f"{base}.{alias.name}"

    def visit_Attribute(self, node: ast.Attribute) -> None:
        names: list[str] = []
        current: ast.expr = node
        while isinstance(current, ast.Attribute):
            names.append(current.attr)
            current = current.value
        if isinstance(current, ast.Name) and current.id in self.aliases:
            self._use(".".join([self.aliases[current.id], *reversed(names)]), node)
        self.generic_visit(node)

    def _absolute(self, module: str | None, level: int) -> str:
        if level == 0:
            return module or ""
        parts = self.package.split(".")
        base = ".".join(parts[: len(parts) - level + 1])
        return f"{base}.{module}" if module else base

    def _use(self, target: str, node: ast.stmt | ast.expr) -> None:
        self.uses.append(Use(self.module, target, node.lineno, self._typing_only))


def uses_in(module: str, source: str, is_package: bool = False) -> list[Use]:
    """Every import of ``module`` (whose text is ``source``) and every name reached through one."""
    package = module if is_package else module.rpartition(".")[0]
    collector = _Collector(module, package)
    collector.visit(ast.parse(source))
    return collector.uses


def violations(uses: Iterable[Use], rules: tuple[Rule, ...] = RULES) -> list[str]:
    return [
        f"{use.module}:{use.line} uses {use.target}: {rule.name}"
        for use in uses
        for rule in rules
        if rule.broken_by(use)
    ]


def source_modules() -> Iterator[tuple[str, str, bool]]:
    for path in sorted((SRC / "jobhost").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        yield ".".join(parts), path.read_text(encoding="utf-8"), is_package


@functools.cache
def all_uses() -> tuple[Use, ...]:
    return tuple(use for module in source_modules() for use in uses_in(*module))


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_the_source_keeps_the_rule(rule: Rule) -> None:
    assert violations(all_uses(), (rule,)) == []


def test_the_checker_sees_the_uses_the_rules_allow() -> None:
    """Guards against a checker that passes because it finds nothing."""
    seen = {(use.module.split(".")[:2][-1], use.target.split(".")[0]) for use in all_uses()}
    assert {("store", "sqlalchemy"), ("web", "fastapi"), ("engine", "subprocess")} <= seen
    calls = {use.target for use in all_uses() if use.module.startswith("jobhost.engine.runners")}
    assert {"os.killpg", "os.waitpid", "os.posix_spawn"} <= calls


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("jobhost.web.fake", "from jobhost.engine.engine import Engine\n"),
        ("jobhost.web.fake", "from ..engine import engine\n"),
        (
            "jobhost.web.fake",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import jobhost.engine\n",
        ),
        ("jobhost.engine.fake", "from jobhost.service.jobs import JobOperations\n"),
        ("jobhost.engine.fake", "def f():\n    from jobhost.web import app\n"),
        ("jobhost.web.fake", "import sqlalchemy.exc\n"),
        ("jobhost.datadir", "from sqlalchemy.engine import make_url\n"),
        ("jobhost.cli.fake", "import os\n\ndef stop(pid):\n    os.killpg(pid, 9)\n"),
        ("jobhost.cli.fake", "import os as o\no.execv('/bin/sh', ['sh'])\n"),
        ("jobhost.cli.fake", "from os import kill as end\n"),
        ("jobhost.engine.dispatcher", "import subprocess\n"),
        ("jobhost.service.fake", "import asyncio\nasyncio.create_subprocess_exec('true')\n"),
        ("jobhost.store.fake", "from fastapi import FastAPI\n"),
        ("jobhost.cli.fake", "import uvicorn\n"),
        ("jobhost.web.fake", "from jobhost import server\n"),
        ("jobhost.models", "from jobhost.errors import JobhostError\n"),
        ("jobhost.policy", "from jobhost import settings\n"),
        ("jobhost.client.fake", "from jobhost.store import Store\n"),
    ],
)
def test_a_synthetic_violation_is_caught(module: str, source: str) -> None:
    assert violations(uses_in(module, source)) != []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("jobhost.store.fake", "import sqlalchemy\nfrom sqlalchemy.exc import OperationalError\n"),
        ("jobhost.engine.runners.fake", "import os, signal\nos.killpg(1, signal.SIGTERM)\n"),
        (
            "jobhost.server",
            "import typing\nif typing.TYPE_CHECKING:\n    from fastapi import FastAPI\n",
        ),
        ("jobhost.server", "def run():\n    import uvicorn\n"),
        ("jobhost.policy", "from jobhost.models import Job\n"),
        ("jobhost.web.fake", "import os\nos.getpid()\nos.environ.get('X')\n"),
        ("jobhost.engine.fake", "from jobhost.store.jobs import JobStore\n"),
    ],
)
def test_an_allowed_use_passes(module: str, source: str) -> None:
    assert violations(uses_in(module, source)) == []
