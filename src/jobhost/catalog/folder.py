"""The catalog folder, watched cheaply: when asked, at most one scan (a stat of each
``*.toml``) per interval, and only the files whose stat changed are read and parsed again.

A broken file is skipped, logged once per change and listed in ``errors``; it never stops
the catalog, whatever it holds. Only regular files are read (never a FIFO or a device), and a
``*.toml`` symlink only when its target lies inside the catalog folder. Safe to share between
threads.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from jobhost.catalog.placeholders import PlaceholderError
from jobhost.catalog.template import Template, TemplateError, parse_template

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 256 * 1024
MAX_FILES = 10_000
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
SUFFIX = ".toml"
DEFAULT_SCAN_INTERVAL = 0.5


class DeclaredSchedule(NamedTuple):
    """A template's own ``schedule``: the schedules run it as the built-in user ``system``."""

    template_id: str
    cron: str
    timezone: str
    name: str
    """The template's display name: the schedule's name."""


@dataclass(frozen=True, slots=True)
class LoadError:
    """A file the catalog could not use: its path under the catalog folder, and why."""

    file: str
    error: str


@dataclass(frozen=True, slots=True)
class CatalogSnapshot:
    """The catalog as of one scan; ``generation`` grows with every change seen."""

    generation: int = 0
    templates: Mapping[str, Template] = field(default_factory=dict)
    """By id, in id order."""
    errors: tuple[LoadError, ...] = ()

    def declared_schedules(self) -> tuple[DeclaredSchedule, ...]:
        return tuple(
            DeclaredSchedule(t.template_id, t.schedule, t.timezone, t.name)
            for t in self.templates.values()
            if t.schedule is not None
        )


# What tells a file changed without reading it: a rewrite in place changes the times, a
# replacement by rename the inode.
_Stat = tuple[int, int, int, int]
_Loaded = Template | LoadError


class _Found(NamedTuple):
    """A ``*.toml`` the scan found: the stat that tells it changed, and either the path to
    read or why it is not read."""

    stat: _Stat
    source: str | None
    problem: str | None = None


class Catalog:
    """The templates under ``root`` (created if missing), re-read as the files change."""

    def __init__(
        self,
        root: Path,
        monotonic: Callable[[], float],
        interval: float = DEFAULT_SCAN_INTERVAL,
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._monotonic = monotonic
        self._interval = interval
        self._lock = threading.Lock()
        self._files: dict[str, tuple[_Found, _Loaded]] = {}
        self._snapshot = CatalogSnapshot()
        self._scanned_at: float | None = None
        self.refresh()

    def snapshot(self) -> CatalogSnapshot:
        """The catalog now: scanned again first if the last scan is older than the interval."""
        scanned = self._scanned_at
        if scanned is None or self._monotonic() - scanned >= self._interval:
            with self._lock:
                scanned = self._scanned_at
                if scanned is None or self._monotonic() - scanned >= self._interval:
                    self._scan()
        return self._snapshot

    def refresh(self) -> CatalogSnapshot:
        """Scan now, whenever the last scan was."""
        with self._lock:
            self._scan()
        return self._snapshot

    def get(self, template_id: str) -> Template | None:
        return self.snapshot().templates.get(template_id)

    @property
    def generation(self) -> int:
        return self.snapshot().generation

    def declared_schedules(self) -> tuple[DeclaredSchedule, ...]:
        return self.snapshot().declared_schedules()

    def _scan(self) -> None:
        self._scanned_at = self._monotonic()
        stats = _stat_files(self.root)
        if stats == {path: entry[0] for path, entry in self._files.items()}:
            return
        files: dict[str, tuple[_Found, _Loaded]] = {}
        for path, found in sorted(stats.items()):
            old = self._files.get(path)
            same = old is not None and old[0] == found
            files[path] = old if same and old is not None else (found, self._load(path, found))
        self._files = files
        loaded = [entry[1] for entry in files.values()]
        templates = {t.template_id: t for t in loaded if isinstance(t, Template)}
        self._snapshot = CatalogSnapshot(
            generation=self._snapshot.generation + 1,
            templates=dict(sorted(templates.items())),
            errors=tuple(e for e in loaded if isinstance(e, LoadError)),
        )

    def _load(self, path: str, found: _Found) -> _Loaded:
        """The file's template, or a LoadError whatever went wrong (logged here, once per
        change of the file)."""
        try:
            if found.problem is not None or found.source is None:
                raise TemplateError(found.problem or "cannot be read")
            return parse_template(path.removesuffix(SUFFIX), _read_toml(found.source))
        except (TemplateError, PlaceholderError) as exc:
            logger.warning("catalog: %s is skipped: %s", path, exc, extra={"action": "catalog"})
            return LoadError(path, str(exc))
        except Exception as exc:
            logger.exception("catalog: %s is skipped: it failed", path, extra={"action": "catalog"})
            return LoadError(path, f"cannot be used: {type(exc).__name__}")


def _read_toml(path: str) -> dict[str, object]:
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise TemplateError(f"cannot be read: {exc.strerror}") from None
    with open(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise TemplateError("is not a regular file")
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise TemplateError(f"larger than {MAX_FILE_BYTES} bytes")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise TemplateError("is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"is not valid TOML: {exc}") from None
    except (RecursionError, MemoryError):
        raise TemplateError("is not valid TOML: nested too deeply") from None


def _stat_files(root: Path) -> dict[str, _Found]:
    """Each ``*.toml`` under ``root`` by its path relative to it (``/``-separated), skipping
    hidden files and folders; symlinked folders are not followed (no loops). Past
    MAX_FILES, one more entry says the rest are not read."""
    found: dict[str, _Found] = {}
    real_root = os.path.realpath(root)
    for folder, folders, names in os.walk(root, onerror=_unreadable):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(names):
            if not name.endswith(SUFFIX) or name.startswith("."):
                continue
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            if len(found) == MAX_FILES:
                problem = f"not read: the catalog folder holds more than {MAX_FILES} files"
                found[relative] = _Found((0, 0, 0, 0), None, problem)
                return found
            entry = _found(path, real_root)
            if entry is not None:
                found[relative] = entry
    return found


def _found(path: str, real_root: str) -> _Found | None:
    """What the scan knows of one file; None if it went away since the listing."""
    try:
        st = os.lstat(path)
        source = path
        if stat.S_ISLNK(st.st_mode):
            key = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
            source = os.path.realpath(path)
            if os.path.commonpath([source, real_root]) != real_root:
                return _Found(key, None, "is a symbolic link to a file outside the catalog folder")
            if not os.path.exists(source):
                return _Found(key, None, "is a symbolic link to a file that does not exist")
            st = os.stat(source)
    except OSError:
        return None
    key = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
    if not stat.S_ISREG(st.st_mode):
        return _Found(key, None, "is not a regular file")
    return _Found(key, source)


def _unreadable(exc: OSError) -> None:
    logger.debug("catalog: cannot read folder %s: %s", exc.filename, exc.strerror)
