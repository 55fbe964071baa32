"""What the OpenAPI document says about credentials.

Routes that need credentials carry ``NEEDS_CREDENTIALS`` as their ``openapi_extra``, and
``document_credentials`` adds the two schemes to the document. FastAPI would derive both
from ``Security(...)`` dependencies, but it would also call those on every request, for
two schemes whose header and cookie ``deps.identify`` reads anyway.
Who is asking is checked by ``deps.identity`` on every such route; this only documents it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from jobhost.auth.sessions import SESSION_COOKIE

BEARER = "HTTPBearer"
COOKIE = "APIKeyCookie"
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key: `Bearer <token>`",
    },
    COOKIE: {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": (
            "A browser session from `POST /api/v1/auth/login`; changes need `X-CSRF-Token`"
        ),
    },
}
NEEDS_CREDENTIALS: dict[str, Any] = {"security": [{BEARER: []}, {COOKIE: []}]}
"""A route's ``openapi_extra``: an API key or a browser session, either will do."""


def document_credentials(app: FastAPI) -> None:
    """Add the credential schemes to ``app``'s document, once, when it is first built, and
    drop the 422 answers FastAPI documents: a bad parameter is a 400 (``web/errors.py``)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        schema = build()  # FastAPI builds the document once and keeps it
        if first:
            components = schema.setdefault("components", {})
            components["securitySchemes"] = SECURITY_SCHEMES
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            for unused in ("HTTPValidationError", "ValidationError"):
                components.get("schemas", {}).pop(unused, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way
