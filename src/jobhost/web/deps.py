"""What every route depends on: the services, and who is asking."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from jobhost.auth.keys import user_for_token
from jobhost.clock import Clock
from jobhost.errors import InvalidInput, Unauthorized
from jobhost.models import User
from jobhost.settings import Settings
from jobhost.store import Store

# Declared for the OpenAPI document; the header is read by ``caller`` itself so that a
# malformed one gets the contract's message rather than FastAPI's.
bearer_scheme = HTTPBearer(auto_error=False, description="An API key: `Bearer <token>`")


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    clock: Clock
    wake_engine: Callable[[], None]


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def caller(request: Request) -> User:
    """The user the request's credentials belong to; 401 otherwise."""
    header = request.headers.get("authorization")
    if header is None:
        raise Unauthorized()
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("Invalid API key")
    user = user_for_token(services(request).store.users, token.strip())
    if user is None:
        raise Unauthorized("Invalid API key")
    return user


async def json_object(request: Request) -> dict[str, object]:
    """The request body as a JSON object; 400 for anything else."""
    body = await request.body()
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput("Invalid JSON body") from None
    if not isinstance(payload, dict):
        raise InvalidInput("Request body must be a JSON object")
    return payload


Svc = Annotated[Services, Depends(services)]
Caller = Annotated[User, Depends(caller)]
JsonObject = Annotated[dict[str, object], Depends(json_object)]
