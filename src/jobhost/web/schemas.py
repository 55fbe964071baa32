"""Request bodies the routes check, and the error answers every route documents; the
response records themselves are ``jobhost.wire``'s."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jobhost.auth.passwords import MAX_PASSWORD_CHARS
from jobhost.wire import ErrorResponse


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    username: str = Field(max_length=200)
    password: str = Field(max_length=MAX_PASSWORD_CHARS)


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in [
        (400, "Bad input"),
        (401, "No or invalid credentials"),
        (403, "Not allowed"),
        (404, "No such job, or a job the caller may not see"),
        (409, "The job's state forbids the action"),
        (413, "Body too large"),
        (429, "Too many requests, or too many invalid keys from this peer; see Retry-After"),
        (503, "Store unavailable"),
    ]
}
