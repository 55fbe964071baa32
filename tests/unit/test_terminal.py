"""The filter that makes a job's output safe for the terminal of whoever follows it."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobhost.terminal import SGR_RESET, SafeText, without_sequences

# What may reach a terminal: anything but C0/DEL/C1 controls, except \t \n \r, plus SGRs
# (the cases above: none that conceals text).
SAFE = re.compile(r"(?:[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\x1b\[[0-9;]*m)*")


def filtered(text: str) -> str:
    safe = SafeText()
    return safe.feed(text) + safe.close()


@pytest.mark.parametrize(
    ("given_text", "shown"),
    [
        ("plain text, ünïcödé ✓\ttab\r\n", "plain text, ünïcödé ✓\ttab\r\n"),
        ("a\x1b]0;pwned\x07b", "ab"),  # retitle, ended by BEL
        ("a\x1b]0;pwned\x1b\\b", "ab"),  # retitle, ended by ST
        ("a\x9d0;pwned\x9cb", "ab"),  # 8-bit OSC and ST
        ("a\x1b]52;c;cHduZWQ=\x07b", "ab"),  # write to the clipboard
        ("a\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\b", "alinkb"),  # hyperlinks
        ("a\x1b[2Jb\x1b[Hc", "abc"),  # clear the screen, move home
        ("a\x1b[?1049hb", "ab"),  # alternate screen
        ("a\x1b[1;1Hb\x1b[3Ac\x1b[Kd", "abcd"),  # cursor moves, erase line
        ("a\x9b2Jb", "ab"),  # 8-bit CSI
        ("a\x1bcb", "ab"),  # full reset
        ("a\x1b(0b\x1b(Bc", "abc"),  # character sets (nF escapes)
        ("a\x1bPq#0;2;0;0;0\x1b\\b", "ab"),  # DCS (sixel)
        ("a\x1b_app\x1b\\b\x1b^pm\x1b\\c\x1bXsos\x1b\\d", "abcd"),  # APC, PM, SOS
        ("a\x07b\x08c\x0bd\x0ce\x00f\x7fg\x85h", "abcdefgh"),  # lone controls
        ("\x1b[31mred\x1b[0m", "\x1b[31mred\x1b[0m"),  # colours pass
        ("\x1b[1;38;5;208mx\x1b[m", "\x1b[1;38;5;208mx\x1b[m"),
        ("\x1b[?31mx", "x"),  # private parameters: not an SGR
        ("\x1b[>4;2mx", "x"),  # xterm modifyOtherKeys, final byte m but not an SGR
        ("\x1b[31 mx", "x"),  # intermediate byte: not an SGR
        ("\x1b[" + "1;" * 40 + "31mx", "x"),  # absurdly long: dropped
        ("a\x1b]0;never ends\nb", "a\nb"),  # a newline ends a runaway string
        ("a\x1b[12\nb", "a\nb"),  # and a runaway CSI
        ("a\x1b]0;x\x18b", "ab"),  # CAN cancels
        ("a\x1b[1\x1ab", "ab"),  # SUB cancels
        ("a\x1b]0;x\x1b[2Jb", "ab"),  # ESC ends a string and starts a sequence
        ("a\x1b\x1b[2Jb", "ab"),
        ("a\x1bé", "aé"),  # ESC before a non-ASCII character: the ESC alone goes
        ("\x1b[8mhidden", "hidden"),  # conceal would draw the text invisible
        ("\x1b[1;08mx", "x"),
        ("\x1b[38;5;8mgrey", "\x1b[38;5;8mgrey"),  # colour 8 is a colour, not conceal
        ("\x1b[48;2;8;8;8;1mx", "\x1b[48;2;8;8;8;1mx"),
        ("\x1b[38;5;1;8mx", "x"),  # conceal after a colour's numbers
    ],
)
def test_only_text_and_colours_get_through(given_text: str, shown: str) -> None:
    assert SafeText().feed(given_text) == shown


def test_colours_left_on_are_reset_at_the_end() -> None:
    assert filtered("\x1b[31mred") == "\x1b[31mred" + SGR_RESET
    assert filtered("\x1b[31mred\x1b[0m") == "\x1b[31mred\x1b[0m"
    assert filtered("\x1b[31mred\x1b[m") == "\x1b[31mred\x1b[m"
    assert filtered("\x1b[0;31mred") == "\x1b[0;31mred" + SGR_RESET


def test_an_unfinished_sequence_at_the_end_is_dropped() -> None:
    safe = SafeText()
    assert safe.feed("a\x1b]0;pwn") == "a"
    assert safe.close() == ""
    assert safe.feed("ed\x07b") == "edb"  # a new stream after close


def test_without_sequences_removes_colours_too() -> None:
    assert without_sequences("\x1b[31mred\x1b[0m \x1b]0;t\x07name\x1b[2J") == "red name"


_PIECES = st.sampled_from(
    ["\x1b", "[", "]", "P", "_", "^", "X", "\\", "0", "1", "3", ";", "?", " ", "m", "J", "H",
     "c", "(", "B", "\x07", "\x9b", "\x9c", "\x9d", "\x90", "\x85", "\x18", "\x08", "\n",
     "\r", "\t", "a", "é", "✓"]
)  # fmt: skip
_STREAMS = st.lists(_PIECES, max_size=60).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=_STREAMS, cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=8))
def test_chunking_does_not_change_the_result(text: str, cuts: list[int]) -> None:
    bounds = sorted({0, len(text), *(min(cut, len(text)) for cut in cuts)})
    safe = SafeText()
    pieces = [safe.feed(text[start:end]) for start, end in pairwise(bounds)]
    assert "".join(pieces) + safe.close() == filtered(text)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(_STREAMS, st.text(max_size=80)))
def test_the_result_is_always_safe(text: str) -> None:
    assert SAFE.fullmatch(filtered(text))
    assert SAFE.fullmatch(without_sequences(text))
    assert "\x1b" not in without_sequences(text) and "\r" not in without_sequences(text)


@settings(max_examples=200, deadline=None)
@given(text=st.text(st.characters(blacklist_categories=["Cc"]), max_size=80))
def test_text_without_controls_is_unchanged(text: str) -> None:
    assert filtered(text) == text


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(_STREAMS, st.text(max_size=80)))
def test_filtering_twice_changes_nothing_more(text: str) -> None:
    once = filtered(text)
    assert filtered(once) == once
    assert without_sequences(without_sequences(text)) == without_sequences(text)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=120), cuts=st.lists(st.integers(0, 120), max_size=6))
def test_any_bytes_come_out_safe_however_they_arrive(data: bytes, cuts: list[int]) -> None:
    # What a client does with raw output: decode (bad bytes replaced), then filter chunks.
    text = data.decode("utf-8", "replace")
    bounds = sorted({0, len(text), *(min(cut, len(text)) for cut in cuts)})
    safe = SafeText()
    shown = "".join(safe.feed(text[start:end]) for start, end in pairwise(bounds)) + safe.close()
    assert SAFE.fullmatch(shown)
    assert shown == filtered(text)
