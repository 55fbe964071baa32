"""The soak's clients: each one loops over a random mix of what users do to a server.

A client picks a scenario at random (seeded per client), runs it to its end and checks what
it saw, pauses briefly, and starts again until the deadline. Every request's latency is
kept per kind; any unexpected status, wrong output, WebSocket failure or timeout is an
error, counted and kept (the first few) for the report, and the client carries on.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from bench.http import API, Connection, submit_body
from bench.server import BenchServer

THINK_SECONDS = (0.1, 0.3)
# uvicorn closes a keep-alive connection idle for 5 s; like any HTTP client (httpx's
# keepalive_expiry), do not send on one idle that long, as the close may be on its way.
IDLE_CONNECTION_SECONDS = 4.0
POLL_SECONDS = 0.05
FOLLOW_SECONDS = 0.1
EVENTS_SECONDS = 2.0
SCENARIO_TIMEOUT = 60.0
LINES = 5
FINISHED = {"Completed", "Failed", "Stopped", "TimedOut", "Interrupted", "Cancelled"}
KEPT_ERRORS = 20


class ScenarioFailed(Exception):
    """A scenario saw something other than what it expected (already counted)."""


@dataclass
class Tally:
    """Latencies (ms) per kind of operation, and the errors, shared by every client."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    server_errors: int = 0
    examples: list[str] = field(default_factory=list)
    scenarios: dict[str, int] = field(default_factory=dict)
    events_seen: int = 0
    """Messages the ``/events`` watchers received."""

    def add(self, kind: str, seconds: float) -> None:
        self.latencies.setdefault(kind, []).append(seconds * 1000)

    def fail(self, what: str) -> ScenarioFailed:
        self.errors += 1
        if len(self.examples) < KEPT_ERRORS:
            self.examples.append(what)
        return ScenarioFailed(what)


class Client:
    """One simulated user: a keep-alive HTTP connection, WebSockets opened as needed."""

    def __init__(self, server: BenchServer, tally: Tally, index: int) -> None:
        self.server = server
        self.tally = tally
        self.index = index
        self.rng = random.Random(index)
        self.serial = 0
        self.conn: Connection | None = None
        self.used_at = 0.0

    async def call(
        self, kind: str, method: str, path: str, body: object = None, expect: int = 200
    ) -> Any:
        if self.conn is not None and time.monotonic() - self.used_at > IDLE_CONNECTION_SECONDS:
            await self.reconnect()
        if self.conn is None:
            self.conn = await Connection(self.server.port, self.server.token).__aenter__()
        request = self.conn.encode(method, path, body)
        start = time.monotonic()
        response = await self.conn.send(request)
        self.used_at = time.monotonic()
        self.tally.add(kind, self.used_at - start)
        if response.status >= 500:
            self.tally.server_errors += 1
        if response.status != expect:
            raise self.tally.fail(
                f"{kind}: {method} {path} -> {response.status} {response.body[:200]!r}"
            )
        return response.json()

    async def reconnect(self) -> None:
        if self.conn is not None:
            await self.conn.__aexit__(None, None, None)
        self.conn = None

    def tag(self) -> str:
        self.serial += 1
        return f"soak-{self.index}-{self.serial}"

    async def submit(self, kind: str, name: str, command: str, mode: str) -> str:
        body = submit_body(name, command, mode)
        job_id: str = (await self.call(kind, "POST", f"{API}/jobs/submit", body))["jobId"]
        return job_id

    async def job(self, job_id: str) -> dict[str, Any]:
        found: dict[str, Any] = (await self.call("get", "GET", f"{API}/jobs?jobId={job_id}"))["job"]
        return found

    async def until(self, job_id: str, statuses: set[str]) -> dict[str, Any]:
        """Poll the job until its Status is one of ``statuses``; its record."""
        deadline = time.monotonic() + SCENARIO_TIMEOUT
        while True:
            job = await self.job(job_id)
            if job["Status"] in statuses:
                return job
            if time.monotonic() > deadline:
                raise self.tally.fail(f"job {job_id} still {job['Status']} after a minute")
            await asyncio.sleep(POLL_SECONDS)

    def expect(self, ok: bool, what: str) -> None:
        if not ok:
            raise self.tally.fail(what)

    async def ended(self, job_id: str, status: str, output: str) -> None:
        """Wait for the job's end; check its Status and that its Output is ``output``."""
        job = await self.until(job_id, FINISHED)
        self.expect(job["Status"] == status, f"job {job_id} ended {job['Status']}, not {status}")
        self.expect(job["Output"] == output, f"job {job_id} output {job['Output'][:200]!r}")

    async def delete(self, job_id: str) -> None:
        """Delete a finished job, by either of the two routes that do it."""
        route = "jobs" if self.rng.random() < 0.5 else "jobs/results"
        done = await self.call("delete", "DELETE", f"{API}/{route}?jobId={job_id}")
        self.expect(done["message"] == "Job result deleted successfully", f"delete: {done}")

    async def websocket(self, path: str) -> ClientConnection:
        uri = f"ws://127.0.0.1:{self.server.port}{API}/{path}"
        headers = {"Authorization": f"Bearer {self.server.token}"}
        return await connect(uri, additional_headers=headers, max_size=None, open_timeout=30)


def _printer(tag: str) -> tuple[str, str]:
    """A shell command printing LINES lines over about half a second, and its output."""
    command = f"for i in $(seq {LINES}); do echo {tag}-$i; sleep {FOLLOW_SECONDS}; done"
    return command, "".join(f"{tag}-{i}\n" for i in range(1, LINES + 1))


async def echo(client: Client) -> None:
    tag = client.tag()
    job_id = await client.submit("submit", tag, f"echo {tag}", "BackgroundJob")
    await client.ended(job_id, "Completed", f"{tag}\n")
    await client.delete(job_id)


async def runspace(client: Client) -> None:
    tag = client.tag()
    job_id = await client.submit("submit-runspace", tag, f"print({tag!r})", "Runspace")
    await client.ended(job_id, "Completed", f"{tag}\n")
    await client.delete(job_id)


async def follow(client: Client) -> None:
    """Read a job's live output by offsets until it ends: exactly the bytes it printed."""
    tag = client.tag()
    command, expected = _printer(tag)
    job_id = await client.submit("submit", tag, command, "BackgroundJob")
    text, offset = "", 0
    deadline = time.monotonic() + SCENARIO_TIMEOUT
    while time.monotonic() < deadline:
        path = f"{API}/jobs/output?jobId={job_id}&offset={offset}"
        page = await client.call("output", "GET", path)
        text += page["output"]
        offset = page["nextOffset"]
        if page["state"] in FINISHED and not page["output"]:
            break
        await asyncio.sleep(FOLLOW_SECONDS)
    client.expect(text == expected, f"follow {job_id}: read {text[:200]!r}")
    await client.ended(job_id, "Completed", expected)
    await client.delete(job_id)


async def stream(client: Client) -> None:
    """Follow a job on ``jobs/stream`` from offset 0 to its ``end``: its exact output."""
    tag = client.tag()
    command, expected = _printer(tag)
    job_id = await client.submit("submit", tag, command, "BackgroundJob")
    start = time.perf_counter()
    text, end, opened = "", None, False
    async with await client.websocket(f"jobs/stream?jobId={job_id}&offset=0") as socket:
        async with asyncio.timeout(SCENARIO_TIMEOUT):
            async for raw in socket:
                message = json.loads(raw)
                if not opened:
                    opened = True
                    client.tally.add("stream", time.perf_counter() - start)
                if message["type"] == "output":
                    client.expect(message["offset"] == len(text.encode()), f"gap: {message}")
                    text += message["data"]
                elif message["type"] != "state":
                    end = message
                    break
    if end is None or end["type"] != "end":
        raise client.tally.fail(f"stream {job_id}: {end}")
    client.expect(end["job"]["Status"] == "Completed", f"stream {job_id} ended {end['job']}")
    client.expect(text == expected, f"stream {job_id}: read {text[:200]!r}")
    await client.delete(job_id)


async def stop(client: Client) -> None:
    """Stop a running job: it ends Stopped, its output closed by the stop line."""
    tag = client.tag()
    job_id = await client.submit("submit", tag, "sleep 60", "BackgroundJob")
    await client.until(job_id, {"Running"})
    done = await client.call("stop", "DELETE", f"{API}/jobs?jobId={job_id}")
    client.expect(done["message"] == "Job stopped successfully", f"stop: {done}")
    await client.ended(job_id, "Stopped", "[Job stopped by user]\n")
    await client.delete(job_id)


async def listing(client: Client) -> None:
    found = await client.call("list", "GET", f"{API}/jobs")
    client.expect(set(found["counts"]) >= {"pending", "running", "completed"}, "list counts")
    results = await client.call("results", "GET", f"{API}/jobs/results?maxResults=20")
    client.expect(results["count"] == len(results["results"]), "results count")


async def events(client: Client) -> None:
    """Watch ``/events`` for a while: a ``ready``, then only job and deleted messages."""
    start = time.perf_counter()
    async with await client.websocket("events") as socket:
        ready = json.loads(await asyncio.wait_for(socket.recv(), SCENARIO_TIMEOUT))
        client.tally.add("events", time.perf_counter() - start)
        client.expect(ready == {"type": "ready"}, f"events: {ready}")
        with_messages = asyncio.get_running_loop().time() + EVENTS_SECONDS
        while (left := with_messages - asyncio.get_running_loop().time()) > 0:
            try:
                message = json.loads(await asyncio.wait_for(socket.recv(), left))
            except TimeoutError:
                break
            kind = message["type"]
            client.expect(kind in ("job", "deleted", "resync"), f"events: {message}")
            client.tally.events_seen += 1


Scenario = Callable[[Client], Awaitable[None]]
SCENARIOS: dict[str, tuple[Scenario, int]] = {
    "echo": (echo, 3),
    "runspace": (runspace, 3),
    "follow": (follow, 2),
    "stream": (stream, 2),
    "stop": (stop, 1),
    "list": (listing, 3),
    "events": (events, 1),
}


async def run_client(client: Client, deadline: float) -> None:
    """Scenarios one after the other until ``deadline`` (monotonic); the last one finishes."""
    names = list(SCENARIOS)
    weights = [weight for _run, weight in SCENARIOS.values()]
    while time.monotonic() < deadline:
        name = client.rng.choices(names, weights)[0]
        try:
            await SCENARIOS[name][0](client)
        except ScenarioFailed:
            pass
        except (OSError, EOFError, TimeoutError, ValueError, KeyError, WebSocketException) as exc:
            # A dropped connection, a failed WebSocket, a body that is not the JSON expected.
            client.tally.fail(f"{name}: {type(exc).__name__}: {exc}")
            await client.reconnect()
        client.tally.scenarios[name] = client.tally.scenarios.get(name, 0) + 1
        await asyncio.sleep(client.rng.uniform(*THINK_SECONDS))
    await client.reconnect()
