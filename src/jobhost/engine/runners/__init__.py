"""Runners start a job's command in its mode and report how it ended.

Only this package touches subprocesses, signals and threads that run job code.
"""

from __future__ import annotations

import enum
from typing import Protocol

from jobhost.engine.sources import EmptySource, OutputSource
from jobhost.models import Outcome, Status


class StopReason(enum.Enum):
    USER = "user"
    TIMEOUT = "timeout"
    SHUTDOWN = "shutdown"


def stopped_outcome(reason: StopReason, exit_code: int | None, timeout: float | None) -> Outcome:
    """The outcome of a run that ended because it was told to stop."""
    if reason is StopReason.TIMEOUT:
        return Outcome(Status.TIMED_OUT, exit_code, f"[Job timed out after {timeout:g} s]")
    if reason is StopReason.SHUTDOWN:
        return Outcome(Status.INTERRUPTED, exit_code, "[Job interrupted: the server shut down]")
    return Outcome(Status.STOPPED, exit_code, "[Job stopped by user]")


class Run(Protocol):
    """A started job."""

    @property
    def source(self) -> OutputSource: ...

    async def wait(self) -> Outcome:
        """Returns once the job has ended (and, if stopped, once its processes are gone)."""
        ...

    def stop(self, grace: float, reason: StopReason) -> None:
        """Begin stopping; idempotent. ``wait`` then returns the matching outcome."""
        ...


def not_started_outcome(error: Exception) -> Outcome:
    return Outcome(Status.FAILED, None, f"[jobhost: the job could not be started: {error}]")


class FailedRun:
    """A run that never started (e.g. its working directory vanished): it only reports why."""

    def __init__(self, error: Exception) -> None:
        self.source = EmptySource()
        self._outcome = not_started_outcome(error)

    async def wait(self) -> Outcome:
        return self._outcome

    def stop(self, grace: float, reason: StopReason) -> None:
        pass
