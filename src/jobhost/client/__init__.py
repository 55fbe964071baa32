"""A Python client for the jobhost API, blocking (``Client``) or asyncio (``AsyncClient``).

    from jobhost import Client

    with Client() as jobhost:  # JOBHOST_URL and JOBHOST_TOKEN, or Client(url, token)
        job_id = jobhost.submit("make test", name="tests")
        for page in jobhost.follow(job_id):
            print(page.output, end="")
        print(jobhost.get(job_id).exit_code)

Every failure (refused, unreachable, nonsense answer) raises ``ApiError``.
"""

from __future__ import annotations

from jobhost.client.catalog import Catalog, CatalogError, Template, TemplateVariable
from jobhost.client.clients import AsyncClient, Client
from jobhost.client.protocol import ApiError, Connection, ListOptions, Scope, SubmitOptions
from jobhost.client.schedules import Schedule, ScheduleOptions
from jobhost.client.values import Job, JobCounts, JobList, OutputPage

__all__ = [
    "ApiError",
    "AsyncClient",
    "Catalog",
    "CatalogError",
    "Client",
    "Connection",
    "Job",
    "JobCounts",
    "JobList",
    "ListOptions",
    "OutputPage",
    "Schedule",
    "ScheduleOptions",
    "Scope",
    "SubmitOptions",
    "Template",
    "TemplateVariable",
]
