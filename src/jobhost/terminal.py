"""Making a job's output safe to show on a terminal.

A job's output is written by whoever submitted the job, and it is shown on the terminal of
whoever follows it. Escape sequences in it could retitle that terminal (OSC 0), clear it
(CSI 2J), write to its clipboard (OSC 52), move the cursor over earlier lines, or reset it
(ESC c). ``SafeText`` lets through printable text, ``\\n``, ``\\t``, ``\\r`` and SGR colour
sequences (``ESC [ digits-and-semicolons m``) except those that conceal text (SGR 8),
and drops everything else:

- every other CSI sequence (7-bit ``ESC [`` or 8-bit U+009B), parsed to its final byte;
- OSC, DCS, SOS, PM and APC strings, up to their terminator (BEL, ``ESC \\`` or U+009C);
- two-character and nF escape sequences (``ESC c``, ``ESC ( B``, ...);
- every other C0 control (BEL, BS, VT, FF, ...), DEL and every C1 control (U+0080-U+009F).

``\\r`` is kept because progress bars (pip, curl, tqdm) redraw their line with it; without
it their updates pile up into one endless line. It can only overwrite the current line with
more of the job's own text, which the job could print anyway; it cannot reach earlier lines
or change the terminal's state. BS is dropped: rare outside overstrike tricks.

A sequence may be split across chunks: the filter keeps its state between ``feed`` calls.
An unterminated sequence ends at a newline (the newline is kept), so a stray ESC in binary
output hides at most the rest of its line; CAN and SUB cancel a sequence, as in ECMA-48.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable

ESC = "\x1b"
SGR_RESET = "\x1b[0m"
_MAX_PARAMS = 64  # longer SGR parameter lists are dropped rather than passed on

# Everything the ground state does not copy through: C0 except \t \n \r, DEL, C1.
_SPECIAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# What ends (or may end) a control string.
_STRING_END = re.compile(r"[\x07\x1b\x9c\n\x18\x1a]")
_CAN_SUB = "\x18\x1a"
_SGR = re.compile(r"\x1b\[[0-9;]*m")
_C1_CSI = "\x9b"
_C1_STRINGS = "\x90\x98\x9d\x9e\x9f"  # DCS, SOS, OSC, PM, APC
_ESC_STRINGS = "P X ] ^ _".split()  # the same, introduced by ESC


class _State(enum.Enum):
    GROUND = "ground"
    ESCAPE = "escape"  # after ESC
    ESCAPE_INTERMEDIATE = "escape intermediate"  # after ESC and 0x20-0x2F
    CSI = "csi"
    STRING = "string"  # OSC, DCS, SOS, PM, APC: dropped up to the terminator
    STRING_ESCAPE = "string escape"  # ESC inside a string: ST if a backslash follows


class SafeText:
    """A streaming filter: ``feed`` chunks of decoded output, print what it returns."""

    def __init__(self) -> None:
        self._state = _State.GROUND
        self._params: list[str] = []
        self._params_len = 0
        self._plain = True  # the CSI so far can still be an SGR
        self._coloured = False
        self._steps: dict[_State, Callable[[str, int, list[str]], int]] = {
            _State.GROUND: self._ground,
            _State.ESCAPE: self._escape,
            _State.ESCAPE_INTERMEDIATE: self._escape_intermediate,
            _State.CSI: self._csi,
            _State.STRING: self._string,
            _State.STRING_ESCAPE: self._string_escape,
        }

    def feed(self, text: str) -> str:
        """The safe part of ``text``; an unfinished sequence at its end is held in state."""
        out: list[str] = []
        pos = 0
        while pos < len(text):
            pos = self._steps[self._state](text, pos, out)
        return "".join(out)

    def close(self) -> str:
        """End of the stream: drops an unfinished sequence, resets colours if any were set."""
        self._state = _State.GROUND
        coloured, self._coloured = self._coloured, False
        return SGR_RESET if coloured else ""

    # Each step consumes from text[pos:], appends what is safe to out, and returns the
    # position to go on from (pos itself when the character must be looked at again in
    # the new state).

    def _ground(self, text: str, pos: int, out: list[str]) -> int:
        found = _SPECIAL.search(text, pos)
        if found is None:
            out.append(text[pos:])
            return len(text)
        out.append(text[pos : found.start()])
        char = found.group()
        if char == ESC:
            self._state = _State.ESCAPE
        elif char == _C1_CSI:
            self._start_csi()
        elif char in _C1_STRINGS:
            self._state = _State.STRING
        return found.end()  # any other control is dropped

    def _escape(self, text: str, pos: int, out: list[str]) -> int:
        char = text[pos]
        if char == "[":
            self._start_csi()
        elif char in _ESC_STRINGS:
            self._state = _State.STRING
        elif "\x20" <= char <= "\x2f":
            self._state = _State.ESCAPE_INTERMEDIATE
        elif "\x30" <= char <= "\x7e":
            self._state = _State.GROUND  # a two-character escape: dropped
        else:
            self._state = _State.GROUND  # not a sequence after all: look again
            return pos if char not in _CAN_SUB else pos + 1
        return pos + 1

    def _escape_intermediate(self, text: str, pos: int, out: list[str]) -> int:
        char = text[pos]
        if "\x20" <= char <= "\x2f":
            return pos + 1
        self._state = _State.GROUND
        return pos + 1 if "\x30" <= char <= "\x7e" or char in _CAN_SUB else pos

    def _start_csi(self) -> None:
        self._state = _State.CSI
        self._params.clear()
        self._params_len = 0
        self._plain = True

    def _csi(self, text: str, pos: int, out: list[str]) -> int:
        for index in range(pos, len(text)):
            char = text[index]
            if "\x30" <= char <= "\x3f":  # a parameter byte
                self._plain = self._plain and (char.isdigit() or char == ";")
                self._params_len += 1
                if self._params_len <= _MAX_PARAMS:
                    self._params.append(char)
            elif "\x20" <= char <= "\x2f":  # an intermediate byte: never part of an SGR
                self._plain = False
            else:
                return self._end_csi(char, index, out)
        return len(text)

    def _end_csi(self, char: str, index: int, out: list[str]) -> int:
        self._state = _State.GROUND
        if not "\x40" <= char <= "\x7e":  # malformed: drop it, look at this one again
            return index + 1 if char in _CAN_SUB else index
        params = "".join(self._params)
        if (
            char == "m"
            and self._plain
            and self._params_len <= _MAX_PARAMS
            and not _conceals(params)
        ):
            out.append(f"{ESC}[{params}m")
            self._coloured = params.rpartition(";")[2] not in ("", "0")  # else it ends in a reset
        return index + 1

    def _string(self, text: str, pos: int, out: list[str]) -> int:
        found = _STRING_END.search(text, pos)
        if found is None:
            return len(text)
        char = found.group()
        if char == ESC:
            self._state = _State.STRING_ESCAPE
            return found.end()
        self._state = _State.GROUND
        return found.start() if char == "\n" else found.end()

    def _string_escape(self, text: str, pos: int, out: list[str]) -> int:
        if text[pos] == "\\":
            self._state = _State.GROUND
            return pos + 1
        self._state = _State.ESCAPE  # ESC starts a new sequence and ends the string
        return pos


def _conceals(params: str) -> bool:
    """Whether an SGR's parameters include 8, conceal (text drawn invisible); a colour's
    own numbers (``38;5;8``, ``48;2;8;8;8``) are skipped, not read as attributes."""
    parts = params.split(";")
    index = 0
    while index < len(parts):
        part = parts[index]
        if part in ("38", "48", "58"):  # extended colour: 5;n or 2;r;g;b follows
            mode = parts[index + 1] if index + 1 < len(parts) else ""
            index += 3 if mode == "5" else 5 if mode == "2" else 2
            continue
        if part and int(part) == 8:
            return True
        index += 1
    return False


def without_sequences(text: str) -> str:
    """``text`` with every control and escape sequence removed, colours and ``\\r`` included.

    For values shown inside the CLI's own layout (names, commands, messages), where a
    carriage return could overwrite the layout's own text.
    """
    safe = SafeText()
    return _SGR.sub("", safe.feed(text)).replace("\r", "")
