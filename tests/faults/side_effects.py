"""Jobs that leave a visible trace of each run, so that a job run twice shows, and the
state a killed server left in its SQLite file."""

from __future__ import annotations

import collections
import shlex
import sqlite3
from pathlib import Path


class Traces:
    """Each job appends its id to ``runs.log`` and creates ``marks/<id>`` with O_EXCL
    (``set -C``): a second run of a job fails, and logs its id twice."""

    def __init__(self, folder: Path) -> None:
        self.marks = folder / "marks"
        self.marks.mkdir(parents=True)
        self.log = folder / "runs.log"

    def shell(self, then: str = "") -> str:
        """A BackgroundJob command that leaves the traces, then runs ``then``."""
        log, marks = shlex.quote(str(self.log)), shlex.quote(str(self.marks))
        trace = f'echo "$JOBHOST_JOB_ID" >> {log}; set -C; echo ran > {marks}/"$JOBHOST_JOB_ID"'
        return f"{trace} && {then}" if then else trace

    def python(self, key: str, then: str = "") -> str:
        """Runspace source that leaves the traces under ``key`` (Python jobs see no
        JOBHOST_JOB_ID), then runs ``then``."""
        return (
            "import pathlib\n"
            f"with open({str(self.log)!r}, 'a') as log:\n"
            f"    log.write({key!r} + '\\n')\n"
            f"pathlib.Path({str(self.marks)!r}, {key!r}).open('x').write('ran')\n{then}"
        )

    def runs(self) -> collections.Counter[str]:
        """How many times each job id was logged."""
        text = self.log.read_text() if self.log.exists() else ""
        return collections.Counter(text.split())


def integrity(db: Path) -> list[str]:
    """``PRAGMA integrity_check`` of a SQLite file: ["ok"] when sound."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        return [row[0] for row in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


def stored_jobs(db: Path) -> dict[str, str]:
    """Every job id in the store with its status, read straight from the file."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return dict(conn.execute("SELECT job_id, status FROM jobs").fetchall())
    finally:
        conn.close()
