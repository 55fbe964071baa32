"""Every error leaves as ``{"success": false, "error": "..."}`` with a meaningful status."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from jobhost import errors

logger = logging.getLogger(__name__)

_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")

STATUS_OF: dict[type[errors.JobhostError], int] = {
    errors.InvalidInput: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PayloadTooLarge: 413,
    errors.TooManyRequests: 429,
    errors.StoreUnavailable: 503,
}


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return JSONResponse({"success": False, "error": message}, status, headers=headers)


def status_of(exc: errors.JobhostError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 500


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.JobhostError)
    headers = None
    if isinstance(exc, errors.TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    return error_response(status_of(exc), exc.message, headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(400, describe_validation_error(exc))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    # Starlette's own answers carry headers the status needs: a 405's Allow, which must
    # name every method of the path, not only those of the first route that matched it.
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return error_response(exc.status_code, str(exc.detail), headers)


def allowed_methods(request: Request) -> list[str]:
    """The methods some route of the app takes at ``request``'s path, asked of each route
    (FastAPI nests included routers, so the routes' own method sets are not all in sight)."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.routes
        )
    ]


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    ref = secrets.token_hex(4)
    logger.error(
        "internal error ref %s on %s %s",
        ref,
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"action": "internal_error", "ref": ref},
    )
    return error_response(500, f"Internal error (ref {ref})")


def describe_validation_error(exc: RequestValidationError) -> str:
    """One human sentence for the first problem FastAPI found in the query string."""
    first = exc.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if part not in ("query", "body")]
    name = ".".join(location) or "request"
    if first.get("type") == "missing":
        return f"Missing required parameter: {name}"
    return f"Invalid value for {name}: {first.get('msg', 'invalid')}"


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.JobhostError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
