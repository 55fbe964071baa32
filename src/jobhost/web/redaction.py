"""Credentials kept out of log lines: the one helper every line with a request target uses.

Tokens belong in the ``Authorization`` header, and one sent in a query string is refused;
but the line logged for that request would still show it to whoever reads the log. So a
value whose name looks like a credential's, and anything shaped like a jobhost key wherever
it appears, is written as ``[redacted]``.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

from jobhost.auth.keys import TOKEN_PREFIX

REDACTED = "[redacted]"
# Names are matched in part and without case: over-redacting a harmless value costs nothing.
_SECRET_NAME = re.compile(
    r"token|key|secret|passw|pwd|auth|session|csrf|credential|signature", re.IGNORECASE
)
# A key is the prefix and 43 URL-safe characters; shorter runs are caught too (a cut copy).
_KEY_SHAPED = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_\-%]{8,}")


def redact_target(target: str) -> str:
    """A request target (``path?query``) with credential-looking query values and
    key-shaped text replaced by ``[redacted]``."""
    path, mark, query = target.partition("?")
    if mark:
        path += mark + "&".join(_redact_pair(pair) for pair in query.split("&"))
    if TOKEN_PREFIX in path:
        path = _KEY_SHAPED.sub(REDACTED, path)
    return path


def _redact_pair(pair: str) -> str:
    name, equals, value = pair.partition("=")
    if equals and value and _SECRET_NAME.search(unquote_plus(name)):
        return f"{name}={REDACTED}"
    return pair


class RedactingFilter(logging.Filter):
    """Applies ``redact_target`` to a record's string arguments: uvicorn's WebSocket lines
    (``"WebSocket <path?query>" [accepted]``) pass the target as one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(arg, str) and ("?" in arg or TOKEN_PREFIX in arg) for arg in record.args
        ):
            record.args = tuple(
                redact_target(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def redact_uvicorn_logs() -> None:
    """Install the filter on the logger uvicorn writes its WebSocket lines to."""
    logging.getLogger("uvicorn.error").addFilter(RedactingFilter())
