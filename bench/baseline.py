"""The machine's limit for drain-process: a bare asyncio loop, no jobhost.

It runs ``/bin/sh -c true`` ``jobs`` times, at most ``concurrency`` at once, each with its
stdout and stderr on a pipe, and records each run (output, exit code, times) in SQLite with
one commit per run, in WAL mode with ``synchronous=NORMAL`` as jobhost's store. That is the
least any job runner must do per job, so jobhost is measured as a fraction of it.

Run as ``python -m bench.baseline JOBS CONCURRENCY DB``; prints ``{"elapsed": s, ...}``.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time


async def _one(db: sqlite3.Connection, limit: asyncio.Semaphore, index: int) -> None:
    async with limit:
        started = time.time()
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            "true",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await proc.communicate()
        db.execute(
            "INSERT INTO runs (n, output, exit_code, started_at, completed_at) VALUES (?,?,?,?,?)",
            (index, output, proc.returncode, started, time.time()),
        )


async def drain(jobs: int, concurrency: int, path: str) -> dict[str, float]:
    db = sqlite3.connect(path, isolation_level=None)  # autocommit: one commit per INSERT
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE runs (n INTEGER PRIMARY KEY, output BLOB, exit_code INTEGER,"
        " started_at REAL, completed_at REAL)"
    )
    limit = asyncio.Semaphore(concurrency)
    start = time.perf_counter()
    await asyncio.gather(*(_one(db, limit, i) for i in range(jobs)))
    elapsed = time.perf_counter() - start
    (count,) = db.execute("SELECT count(*) FROM runs WHERE exit_code = 0").fetchone()
    db.close()
    if count != jobs:
        raise RuntimeError(f"only {count} of {jobs} runs succeeded")
    return {"elapsed": elapsed, "jobs": jobs}


def main(argv: list[str]) -> None:
    jobs, concurrency, path = int(argv[0]), int(argv[1]), argv[2]
    print(json.dumps(asyncio.run(drain(jobs, concurrency, path))))


if __name__ == "__main__":
    main(sys.argv[1:])
