"""Log lines stay one line: control characters in a message are escaped."""

from __future__ import annotations

import logging

from jobhost.logs import LOG_FORMAT, OneLineFormatter, one_line


def test_control_characters_are_escaped_and_text_is_kept() -> None:
    assert one_line("a\nb\r\tc\x1b[31m\x00\x7f\u2028é") == "a\\nb\\r\\tc\\x1b[31m\\x00\\x7f\\u2028é"
    assert one_line("plain text") == "plain text"


def test_the_formatter_escapes_the_message_but_keeps_a_traceback() -> None:
    formatter = OneLineFormatter(LOG_FORMAT)
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("t", logging.ERROR, "f", 1, "file %s", ("a\nb",), sys.exc_info())
    text = formatter.format(record)
    first, *rest = text.split("\n")
    assert first.endswith("ERROR t: file a\\nb")
    assert rest[0] == "Traceback (most recent call last):"


def test_a_backslash_is_doubled_so_no_text_passes_for_an_escape() -> None:
    assert one_line("a\\nb") == "a\\\\nb"  # the two characters \ and n, not a newline
    assert one_line("a\nb") == "a\\nb"
