"""Reading a shell command as sh reads it, far enough to tell where each ``{{name}}``
placeholder stands: the simple commands, their words, and each word's fixed text when it has
one. One pass, linear in the command's length.

The reader follows plain POSIX sh only: quotes, backslashes, ``$name``, ``${name}`` and
``${name:-word}``-style defaults, ``$(...)``, subshells, pipes, lists, redirections and
comments. On anything else (backticks, here-documents, arithmetic, ``$'...'``, ``[[``,
``case``, bash arrays, ...) it stops and says so, and the caller refuses every placeholder:
it never guesses how a shell reads what it does not follow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

_BLANKS = frozenset(" \t")
_SPECIAL_PARAMETERS = frozenset("@*#?-$!0123456789")
# ${name}, ${#name} and ${name<op>word} whose word holds nothing this reader would have to
# follow. Not ${name:offset} (bash reads the offset as arithmetic) nor ${!name}.
_BRACED = re.compile(
    r"\$\{#?(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])"
    r"(?:(?::?[-=?+]|##?|%%?)[^'\"`\\${}]*)?\}"
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FD_PREFIX = re.compile(r"[0-9]+|\{[^{}\s]*\}")


@dataclass(slots=True)
class Word:
    """One word of a simple command, as the reader saw it."""

    start: int
    end: int = 0
    chars: list[str] = field(default_factory=list)
    """Its text after quote removal, for the parts that are fixed."""
    expanded: bool = False
    """Holds an expansion or a placeholder: its text is not fixed."""
    pattern: bool = False
    """Holds an unquoted glob or brace character: the shell may make other words of it."""
    subscript: bool = False
    """Holds an unquoted ``[``: bash may read what follows as an array subscript."""
    target: bool = False
    """The file of a redirection, not an argument."""
    placeholders: list[int] = field(default_factory=list)
    """Where the placeholders read as part of this word start."""

    @property
    def text(self) -> str | None:
        """The word's fixed text, or None when expansions or patterns make it."""
        joined = "".join(self.chars)
        if self.expanded or (self.pattern and joined not in ("{", "}", "[", "[[")):
            return None
        return joined


@dataclass(frozen=True, slots=True)
class ShellReading:
    commands: list[list[Word]]
    refused: dict[int, str]
    """Placeholder starts that stand where quoting does not hold, with where that is."""
    unfollowed: str | None
    """What the reader stopped at, as the end of "the command ..."; None if it read all."""


def read_shell(text: str) -> ShellReading:
    return _Reader(text).read()


_Frame = tuple[list[Word], Word] | None  # the word a $(...) is part of; None for a subshell


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.commands: list[list[Word]] = []
        self.command: list[Word] = []
        self.word: Word | None = None
        self.frames: list[_Frame] = []
        self.refused: dict[int, str] = {}
        self.unfollowed: str | None = None
        self.target_next = False

    def read(self) -> ShellReading:
        while self.i < len(self.text) and self.unfollowed is None:
            self._step()
        if self.unfollowed is None and self.frames:
            self.unfollowed = "has a ( or $( that is not closed"
        self._end_command()
        return ShellReading(self.commands, self.refused, self.unfollowed)

    def _stop(self, why: str) -> None:
        self.unfollowed = why

    def _step(self) -> None:
        char = self.text[self.i]
        if char in _BLANKS:
            self._end_word()
            self.i += 1
        elif self.text.startswith("&>", self.i):
            # bash: both outputs to a file; sh: `&` then `>`, the next word a new command.
            self._stop("uses &>, which sh and bash read differently")
        elif char in "\n;|&":
            self._end_command()
            self.i += 1
        elif char in "<>&":
            self._redirection()
        elif char == "(":
            self._open_paren()
        elif char == ")":
            self._close_paren()
        elif char == "#" and self.word is None:
            self._comment()
        else:
            self._word_part(self._in_word())

    def _in_word(self) -> Word:
        if self.word is None:
            self.word = Word(self.i, target=self.target_next)
            self.target_next = False
        return self.word

    def _end_word(self) -> None:
        if self.word is not None:
            self.word.end = self.i
            self.command.append(self.word)
            self.word = None

    def _end_command(self) -> None:
        self._end_word()
        if self.command:
            self.commands.append(self.command)
        self.command = []
        self.target_next = False

    def _comment(self) -> None:
        end = self.text.find("\n", self.i)
        end = len(self.text) if end < 0 else end
        self._refuse_inside(self.i, end, "in a comment")
        self.i = end

    def _refuse_inside(self, start: int, end: int, where: str) -> None:
        for match in PLACEHOLDER.finditer(self.text, start, end):
            self.refused[match.start()] = where

    def _open_paren(self) -> None:
        if self.text.startswith("((", self.i):
            return self._stop("has ((...)), which bash reads as arithmetic")
        if self.word is not None and self.text[self.word.start : self.i].endswith("="):
            return self._stop("has a bash array assignment, name=(...)")
        self._end_command()
        self.frames.append(None)
        self.i += 1
        return None

    def _close_paren(self) -> None:
        self._end_command()
        if not self.frames:
            return self._stop("has a ) without its (")
        frame = self.frames.pop()
        if frame is not None:
            self.command, self.word = frame
        self.i += 1
        return None

    def _open_substitution(self, word: Word, length: int) -> None:
        """``$(`` or a process substitution: a command list inside the word."""
        word.expanded = True
        self.frames.append((self.command, word))
        self.command, self.word = [], None
        self.i += length

    def _redirection(self) -> None:
        text, i = self.text, self.i
        if text.startswith("<<", i):
            return self._stop("has a here-document or here-string (<<)")
        if text[i + 1 : i + 2] == "(" and text[i] in "<>":
            return self._open_substitution(self._in_word(), 2)
        word = self.word
        prefix = text[word.start : i] if word is not None else ""
        if _FD_PREFIX.fullmatch(prefix):
            if not prefix.isdigit() and not _NAME.fullmatch(prefix[1:-1]):
                return self._stop("has a {name} redirection this check does not follow")
            self.word = None  # the file descriptor belongs to the redirection
        else:
            self._end_word()
        length = 1
        while i + length < len(text) and text[i + length] in ">|&" and length < 3:
            length += 1
        self.i += length
        self.target_next = True
        return None

    def _word_part(self, word: Word) -> None:
        text, i = self.text, self.i
        char = text[i]
        if char == "\\":
            self._backslash(word)
        elif char == "'":
            self._single_quoted(word)
        elif char == '"':
            self._double_quoted(word)
        elif char == "$":
            self._dollar(word)
        elif char == "`":
            self._stop("has backticks (`...`)")
        elif (match := PLACEHOLDER.match(text, i)) is not None:
            if word.subscript:
                self.refused[i] = "after a [ in the same word (bash can read it as code)"
            word.expanded = True
            word.placeholders.append(i)
            self.i = match.end()
        else:
            word.pattern = word.pattern or char in "*?[{}"
            word.subscript = word.subscript or char == "["
            word.chars.append(char)
            self.i += 1

    def _backslash(self, word: Word) -> None:
        text, i = self.text, self.i
        following = text[i + 1 : i + 2]
        if PLACEHOLDER.match(text, i + 1):
            self.refused[i + 1] = "after a backslash"
        if following != "\n":
            word.chars.append(following or "\\")
        self.i += 2

    def _single_quoted(self, word: Word) -> None:
        end = self.text.find("'", self.i + 1)
        if end < 0:
            return self._stop("has a ' that is not closed")
        self._refuse_inside(self.i, end, "inside single quotes")
        word.chars.append(self.text[self.i + 1 : end])
        self.i = end + 1
        return None

    def _double_quoted(self, word: Word) -> None:
        text, start = self.text, self.i
        j = start + 1
        while j < len(text) and self.unfollowed is None:
            char = text[j]
            if char == '"':
                self._refuse_inside(start, j, "inside double quotes")
                self.i = j + 1
                return
            if char == "\\":
                following = text[j + 1 : j + 2]
                word.chars.append(following if following in '$`"\\' else "\\" + following)
                j += 2
            elif char == "`":
                self._stop("has backticks (`...`)")
            elif char == "$":
                if text.startswith("$(", j):
                    self._stop("has a $(...) inside double quotes")
                else:
                    j = self._parameter(word, j)
            else:
                word.chars.append(char)
                j += 1
        if self.unfollowed is None:
            self._stop('has a " that is not closed')

    def _dollar(self, word: Word) -> None:
        if self.text.startswith("$((", self.i):
            self._stop("has an arithmetic expansion $((...))")
        elif self.text.startswith("$(", self.i):
            self._open_substitution(word, 2)
        else:
            self.i = self._parameter(word, self.i)

    def _parameter(self, word: Word, i: int) -> int:
        """Past the ``$`` expansion at ``i`` (or the literal ``$``); stops the reader on one
        it does not follow."""
        text = self.text
        following = text[i + 1 : i + 2]
        if following == "{":
            braced = _BRACED.match(text, i)
            if braced is None:
                self._stop("has a ${...} other than ${name} and ${name:-word}")
                return i
            word.expanded = True
            return braced.end()
        if following in ("'", '"', "`", "\\", "[", "("):
            self._stop(f"has ${following}, a quoting or expansion this check does not follow")
            return i
        name = _NAME.match(text, i + 1)
        if name is not None:
            word.expanded = True
            return name.end()
        if following and following in _SPECIAL_PARAMETERS:
            word.expanded = True
            return i + 2
        word.chars.append("$")
        return i + 1
