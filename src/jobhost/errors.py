"""The exceptions that cross layers. Each docstring is its default message."""

from __future__ import annotations


class JobhostError(Exception):
    """Something went wrong in jobhost."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0])


class InvalidInput(JobhostError):
    """Invalid input."""


class UnknownDependency(InvalidInput):
    """A job in dependsOn does not exist or the submitter may not see it (same text for both)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Unknown job in dependsOn: {job_id}")


class Unauthorized(JobhostError):
    """Unauthorized"""


class Forbidden(JobhostError):
    """Forbidden"""


class NotFound(JobhostError):
    """Not found."""


class Conflict(JobhostError):
    """The job's state forbids that action."""


class PayloadTooLarge(JobhostError):
    """Request body too large."""


class StoreUnavailable(JobhostError):
    """The job store is unavailable."""


class StoreBusy(StoreUnavailable):
    """The job store is unavailable: its write lock stayed taken (by another process?)."""


class StoreFull(StoreUnavailable):
    """The job store is unavailable: the disk is full."""


class JobNotFound(NotFound):
    """Raised for a job that does not exist or that the caller may not see (same text for both)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Job not found: {job_id}")


class TooManyRequests(JobhostError):
    """Too many attempts; try again later."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
