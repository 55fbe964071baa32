"""Signing in and out with a password, and who-am-I: the session routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError

from jobhost import policy
from jobhost.auth.sessions import SESSION_COOKIE, end_session, start_session
from jobhost.errors import InvalidInput, Unauthorized
from jobhost.models import User
from jobhost.web.deps import Ident, Svc, json_object, peer_of
from jobhost.web.openapi import NEEDS_CREDENTIALS
from jobhost.web.schemas import ERROR_RESPONSES, LoginRequest
from jobhost.wire import (
    LoginResponse,
    LogoutResponse,
    MeResponse,
    UserInfo,
)

router = APIRouter()
AUTH = "/api/v1/auth"
LOGIN_REFUSAL = "Invalid username or password"


async def _json_login(request: Request) -> dict[str, object]:
    # A JSON content type cannot be sent cross-site without a CORS preflight, so a hostile
    # page cannot sign a visitor in to an account of its choosing with a plain form post.
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise InvalidInput("Content-Type must be application/json")
    return await json_object(request)


@router.post(
    f"{AUTH}/login",
    response_model=LoginResponse,
    responses=ERROR_RESPONSES | {429: {"description": "Too many failed logins"}},
)
def login(
    request: Request,
    response: Response,
    svc: Svc,
    body: Annotated[dict[str, object], Depends(_json_login)],
) -> LoginResponse:
    """Sign in with a password: sets the session cookie and returns the CSRF token."""
    try:
        credentials = LoginRequest.model_validate(body)
    except ValidationError:
        raise InvalidInput("Send a JSON object with username and password strings") from None
    address = peer_of(request) or "unknown"
    svc.guards.login_throttle.check(credentials.username, address)
    lifetime = svc.settings.session_hours * 3600
    session = start_session(
        svc.store.users, svc.clock, credentials.username, credentials.password, lifetime
    )
    if session is None:
        svc.guards.login_throttle.failed(credentials.username, address)
        raise Unauthorized(LOGIN_REFUSAL)
    svc.guards.login_throttle.succeeded(credentials.username)
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=int(lifetime),
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )
    return {"success": True, "user": _user_info(session.user), "csrfToken": session.csrf_token}


@router.post(
    f"{AUTH}/logout",
    response_model=LogoutResponse,
    openapi_extra=NEEDS_CREDENTIALS,
    responses=ERROR_RESPONSES,
)
def logout(request: Request, response: Response, svc: Svc, found: Ident) -> LogoutResponse:
    """End the browser session (an API key stays valid; revoke it with the CLI)."""
    if found.csrf_token is not None:
        end_session(svc.store.users, request.cookies.get(SESSION_COOKIE, ""))
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return {"success": True}


@router.get(
    f"{AUTH}/me",
    response_model=MeResponse,
    openapi_extra=NEEDS_CREDENTIALS,
    responses=ERROR_RESPONSES,
)
def me(found: Ident) -> MeResponse:
    answer: MeResponse = {"success": True, "user": _user_info(found.user)}
    if found.csrf_token is not None:
        answer["csrfToken"] = found.csrf_token
    return answer


def _user_info(user: User) -> UserInfo:
    return {"UserID": user.user_id, "Roles": policy.effective_roles(user)}
