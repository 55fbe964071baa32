"""jobhost: a self-hosted job runner.

``jobhost.Client``, ``jobhost.AsyncClient`` and the values they return are imported on
first use, so that ``import jobhost`` alone does not load the HTTP client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from jobhost.client import (
        ApiError,
        AsyncClient,
        Client,
        Job,
        JobCounts,
        JobList,
        OutputPage,
    )

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "Job",
    "JobCounts",
    "JobList",
    "OutputPage",
    "__version__",
]


def __getattr__(name: str) -> object:
    if name in __all__:
        from jobhost import client

        return getattr(client, name)
    raise AttributeError(f"module 'jobhost' has no attribute {name!r}")
