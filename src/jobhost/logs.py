"""How jobhost's log lines are written: one line each, whatever a message holds.

A message may carry text from outside (a spool file's name, a job's name); a newline or
an escape sequence in it would start a forged line or drive the reader's terminal. So
control characters in the message are written escaped (``\\n``, ``\\x1b``); a traceback
after the message keeps its own lines.
"""

from __future__ import annotations

import logging
import re

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CONTROL = re.compile(r"[\\\x00-\x1f\x7f-\x9f\u2028\u2029]")
# A backslash is doubled, so that a message's own "\\n" cannot pass for an escaped newline.
_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """``text`` with its control characters escaped."""
    return _CONTROL.sub(_escape, text)


def _escape(found: re.Match[str]) -> str:
    char = found.group()
    return _NAMED.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )


class OneLineFormatter(logging.Formatter):
    """logging's formatter, with the message made one line."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.message)
        return super().formatMessage(record)


def configure(level: str) -> None:
    """Log to stderr at ``level``, one line per message."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter(LOG_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    logging.getLogger("alembic").setLevel(logging.WARNING)
