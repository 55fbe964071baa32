"""``Client`` (blocking) and ``AsyncClient``: httpx sending what ``protocol`` builds.

Both are thin: every request, response check and polling decision lives in ``protocol``, so
the two differ only in ``await``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import TypeVar, Unpack

import httpx

from jobhost.client import protocol
from jobhost.client import schedules as schedule_calls
from jobhost.client.catalog import Catalog
from jobhost.client.protocol import Call, Connection, ListOptions, Scope, SubmitOptions
from jobhost.client.schedules import Schedule, ScheduleOptions
from jobhost.client.values import Job, JobList, OutputPage, ResultsPage

T = TypeVar("T")
DEFAULT_TIMEOUT_SECONDS = 30.0


def _connection(
    url: str | None, token: str | None, environ: Mapping[str, str] | None
) -> Connection:
    return Connection.resolve(url, token, os.environ if environ is None else environ)


class Client:
    """The jobhost API from Python, blocking. Every failure raises ``ApiError``.

    ``url`` and ``token`` default to ``JOBHOST_URL`` and ``JOBHOST_TOKEN`` (read from
    ``environ``, by default ``os.environ``); the URL then defaults to http://127.0.0.1:8080.
    Use it as a context manager, or call ``close``.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.connection = _connection(url, token, environ)
        self._timeout = timeout
        self._http = httpx.Client(base_url=self.connection.api_url, headers=self.connection.headers)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def submit(self, command: str, name: str, **options: Unpack[SubmitOptions]) -> str:
        """Submit a job; returns its id."""
        return self._send(protocol.submit(command, name, **options))

    def rerun(self, job_id: str) -> str:
        """Submit a finished job again as a new job of yours; returns the new job's id.
        Its runAt and dependsOn are not carried over; an unfinished job is a 409."""
        return self._send(protocol.rerun(job_id))

    def catalog(self) -> Catalog:
        """The catalog templates you may start or stop the jobs of."""
        return self._send(protocol.catalog())

    def start(self, template_id: str, variables: Mapping[str, str] | None = None) -> str:
        """Start a catalog template; returns the new job's id. A template you may not
        start (or that does not exist) is an ApiError with status 403; a bad variable, 400."""
        return self._send(protocol.start(template_id, variables))

    def stop_template(self, template_id: str) -> tuple[str, ...]:
        """Stop the jobs of a template: yours, or everyone's if your roles allow; returns
        the ids of the jobs cancelled or asked to stop (the stops are not waited for)."""
        return self._send(protocol.stop_template(template_id))

    def get(self, job_id: str) -> Job:
        return self._send(protocol.get(job_id))

    def list(self, **options: Unpack[ListOptions]) -> JobList:
        """Jobs by category; the caller's own unless ``all_users`` or ``user_id`` widen it."""
        return self._send(protocol.list_jobs(**options))

    def output(self, job_id: str, offset: int = 0) -> OutputPage:
        """Output from byte ``offset`` on (up to 1 MiB per page)."""
        return self._send(protocol.output(job_id, offset))

    def follow(self, job_id: str, offset: int = 0, *, live: bool = True) -> Iterator[OutputPage]:
        """Pages of output as it arrives, until the job has finished and all is read.

        Yields the pages that carry output, then always a last page (whose ``state`` is final
        when ``live``). With ``live=False`` it ends at the end of what is stored now.
        """
        follow = protocol.Follow(job_id, offset, live)
        while not follow.done:
            page = self._send(follow.call())
            pause = follow.receive(page)
            if follow.wanted(page):
                yield page
            if pause:
                time.sleep(pause)

    def watch(self, job_id: str) -> Iterator[Job]:
        """The job's record, polled until it has finished (the last one yielded)."""
        watch = protocol.Watch(job_id)
        while not watch.done:
            job = self._send(watch.call())
            pause = watch.receive(job)
            yield job
            if pause:
                time.sleep(pause)

    def wait(self, job_id: str) -> Job:
        """Block until the job has finished; returns its final record."""
        *_, last = self.watch(job_id)
        return last

    def stop(self, job_id: str) -> str:
        """Stop a running job (cancel a pending one); returns the server's message.

        Answers once the job has ended or its stop grace period is over. A job that has
        already finished is an ApiError with status 409 (it is not deleted).
        """
        return self._send(protocol.stop(job_id))

    def delete(self, job_id: str) -> str:
        """Delete a finished job's record and output; returns the server's message."""
        return self._send(protocol.delete(job_id))

    def results(self, **scope: Unpack[Scope]) -> tuple[Job, ...]:
        """Finished jobs, newest first, each with the last 64 KiB of its output."""
        return self._send(protocol.results(**scope))

    def results_pages(self, **scope: Unpack[Scope]) -> Iterator[ResultsPage]:
        """Every page of results matching the filters, following ``nextCursor``."""
        while True:
            page = self._send(protocol.results_page(**scope))
            yield page
            if page.next_cursor is None:
                return
            scope["cursor"] = page.next_cursor

    def history(self, **scope: Unpack[Scope]) -> Iterator[Job]:
        """Every finished job matching the filters, newest first, without output: the
        completed lists of ``GET jobs``, page after page (``max_results`` a page)."""
        while True:
            page = self._send(protocol.list_jobs(pending=False, running=False, **scope))
            yield from page.completed
            if page.next_cursor is None:
                return
            scope["cursor"] = page.next_cursor

    def schedules(
        self, all_users: bool = False, user_id: str | None = None
    ) -> tuple[Schedule, ...]:
        """The caller's schedules, oldest first (``all_users``: everyone's, ``user_id``:
        that user's; privileged roles)."""
        return self._send(schedule_calls.list_schedules(all_users, user_id))

    def schedule(self, schedule_id: str) -> Schedule:
        return self._send(schedule_calls.get_schedule(schedule_id))

    def add_schedule(
        self,
        name: str,
        cron: str,
        command: str,
        job: SubmitOptions | None = None,
        **options: Unpack[ScheduleOptions],
    ) -> str:
        """A schedule submitting ``command`` at each firing of ``cron`` (5 fields; ``job``:
        the job's options as ``submit`` takes them, but ``run_at`` and ``depends_on``).
        Returns its id."""
        return self._send(schedule_calls.add_command_schedule(name, cron, command, job, **options))

    def add_template_schedule(
        self,
        name: str,
        cron: str,
        template_id: str,
        variables: Mapping[str, str] | None = None,
        **options: Unpack[ScheduleOptions],
    ) -> str:
        """A schedule starting a catalog template at each firing; returns its id."""
        return self._send(
            schedule_calls.add_template_schedule(name, cron, template_id, variables, **options)
        )

    def update_schedule(self, schedule_id: str, changes: Mapping[str, object]) -> Schedule:
        """Change any of the schedule's fields (by their API names, e.g. ``cron``)."""
        return self._send(schedule_calls.update_schedule(schedule_id, changes))

    def pause_schedule(self, schedule_id: str) -> Schedule:
        return self.update_schedule(schedule_id, {"enabled": False})

    def resume_schedule(self, schedule_id: str) -> Schedule:
        """Enable it again; it fires next at its first firing from now."""
        return self.update_schedule(schedule_id, {"enabled": True})

    def delete_schedule(self, schedule_id: str) -> str:
        """Delete a schedule (the jobs it submitted stay); the server's message."""
        return self._send(schedule_calls.delete_schedule(schedule_id))

    def preview_schedule(self, cron: str, timezone: str = "UTC") -> tuple[datetime, ...]:
        """The next five firings of ``cron`` in ``timezone``."""
        return self._send(schedule_calls.preview(cron, timezone))

    def _send(self, call: Call[T]) -> T:
        try:
            response = self._http.request(
                call.method,
                call.path,
                params=call.params,
                json=call.body,
                timeout=call.timeout or self._timeout,
            )
        except httpx.TransportError as exc:
            raise protocol.unreachable(self.connection, exc) from exc
        return protocol.read_response(call, response.status_code, response.content)


class AsyncClient:
    """The jobhost API from asyncio: the same methods as ``Client``, awaited."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.connection = _connection(url, token, environ)
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=self.connection.api_url, headers=self.connection.headers
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def submit(self, command: str, name: str, **options: Unpack[SubmitOptions]) -> str:
        return await self._send(protocol.submit(command, name, **options))

    async def rerun(self, job_id: str) -> str:
        return await self._send(protocol.rerun(job_id))

    async def catalog(self) -> Catalog:
        return await self._send(protocol.catalog())

    async def start(self, template_id: str, variables: Mapping[str, str] | None = None) -> str:
        return await self._send(protocol.start(template_id, variables))

    async def stop_template(self, template_id: str) -> tuple[str, ...]:
        return await self._send(protocol.stop_template(template_id))

    async def get(self, job_id: str) -> Job:
        return await self._send(protocol.get(job_id))

    async def list(self, **options: Unpack[ListOptions]) -> JobList:
        return await self._send(protocol.list_jobs(**options))

    async def output(self, job_id: str, offset: int = 0) -> OutputPage:
        return await self._send(protocol.output(job_id, offset))

    async def follow(
        self, job_id: str, offset: int = 0, *, live: bool = True
    ) -> AsyncIterator[OutputPage]:
        follow = protocol.Follow(job_id, offset, live)
        while not follow.done:
            page = await self._send(follow.call())
            pause = follow.receive(page)
            if follow.wanted(page):
                yield page
            if pause:
                await asyncio.sleep(pause)

    async def watch(self, job_id: str) -> AsyncIterator[Job]:
        watch = protocol.Watch(job_id)
        while not watch.done:
            job = await self._send(watch.call())
            pause = watch.receive(job)
            yield job
            if pause:
                await asyncio.sleep(pause)

    async def wait(self, job_id: str) -> Job:
        async for job in self.watch(job_id):
            if job.finished:
                return job
        raise AssertionError("watch ends with the finished job")

    async def stop(self, job_id: str) -> str:
        return await self._send(protocol.stop(job_id))

    async def delete(self, job_id: str) -> str:
        return await self._send(protocol.delete(job_id))

    async def results(self, **scope: Unpack[Scope]) -> tuple[Job, ...]:
        return await self._send(protocol.results(**scope))

    async def history(self, **scope: Unpack[Scope]) -> AsyncIterator[Job]:
        """As ``Client.history``."""
        while True:
            page = await self._send(protocol.list_jobs(pending=False, running=False, **scope))
            for job in page.completed:
                yield job
            if page.next_cursor is None:
                return
            scope["cursor"] = page.next_cursor

    async def schedules(
        self, all_users: bool = False, user_id: str | None = None
    ) -> tuple[Schedule, ...]:
        return await self._send(schedule_calls.list_schedules(all_users, user_id))

    async def schedule(self, schedule_id: str) -> Schedule:
        return await self._send(schedule_calls.get_schedule(schedule_id))

    async def add_schedule(
        self,
        name: str,
        cron: str,
        command: str,
        job: SubmitOptions | None = None,
        **options: Unpack[ScheduleOptions],
    ) -> str:
        return await self._send(
            schedule_calls.add_command_schedule(name, cron, command, job, **options)
        )

    async def add_template_schedule(
        self,
        name: str,
        cron: str,
        template_id: str,
        variables: Mapping[str, str] | None = None,
        **options: Unpack[ScheduleOptions],
    ) -> str:
        return await self._send(
            schedule_calls.add_template_schedule(name, cron, template_id, variables, **options)
        )

    async def update_schedule(self, schedule_id: str, changes: Mapping[str, object]) -> Schedule:
        return await self._send(schedule_calls.update_schedule(schedule_id, changes))

    async def pause_schedule(self, schedule_id: str) -> Schedule:
        return await self.update_schedule(schedule_id, {"enabled": False})

    async def resume_schedule(self, schedule_id: str) -> Schedule:
        return await self.update_schedule(schedule_id, {"enabled": True})

    async def delete_schedule(self, schedule_id: str) -> str:
        return await self._send(schedule_calls.delete_schedule(schedule_id))

    async def preview_schedule(self, cron: str, timezone: str = "UTC") -> tuple[datetime, ...]:
        return await self._send(schedule_calls.preview(cron, timezone))

    async def _send(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(
                call.method,
                call.path,
                params=call.params,
                json=call.body,
                timeout=call.timeout or self._timeout,
            )
        except httpx.TransportError as exc:
            raise protocol.unreachable(self.connection, exc) from exc
        return protocol.read_response(call, response.status_code, response.content)
