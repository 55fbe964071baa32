"""The use cases a request works through, built from the app's services per request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from jobhost.service.jobs import JobOperations
from jobhost.service.templates import TemplateOperations
from jobhost.web.deps import Services, Svc


def job_operations(svc: Services) -> JobOperations:
    return JobOperations(
        svc.store.jobs, svc.clock, svc.wake_engine, svc.settings.stop_grace_seconds
    )


def template_operations(svc: Services) -> TemplateOperations:
    return TemplateOperations(svc.catalog, job_operations(svc))


async def _job_operations(svc: Svc) -> JobOperations:
    return job_operations(svc)


async def _template_operations(svc: Svc) -> TemplateOperations:
    return template_operations(svc)


Ops = Annotated[JobOperations, Depends(_job_operations)]
TemplateOps = Annotated[TemplateOperations, Depends(_template_operations)]
