"""Staying attached to a job from the CLI: following its output or waiting with a spinner,
Ctrl-C asking whether to stop the job or detach, and the exit code a finished job maps to.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable
from typing import Protocol, TextIO

import typer
from rich.console import Console
from rich.status import Status as Spinner
from rich.text import Text

from jobhost.cli.view import duration, one_line, status_text, summary
from jobhost.client import ApiError, Client, Job
from jobhost.models import Status
from jobhost.terminal import SafeText

EXIT_STOPPED = 143  # 128 + SIGTERM: stopped, or cancelled before it ran, by a user
EXIT_TIMED_OUT = 124  # as GNU timeout
EXIT_INTERRUPTED = 75  # EX_TEMPFAIL: the server shut down under it; submitting again may work
EXIT_DETACHED = 130  # 128 + SIGINT: Ctrl-C, then "no": the job goes on without us
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: whoever read our output stopped reading
TAIL_LINES = 20  # of the output --wait shows when a job did not complete

EXIT_CODES_HELP = (
    "Exit codes with --wait/--follow: 0 Completed; the job's own exit code (1-255) when it "
    "Failed, or 1 if it has none; 143 Stopped or Cancelled; 124 TimedOut; 75 Interrupted "
    "(the server shut down); 130 detached with Ctrl-C; 1 for errors (unreachable server, "
    "bad token, unknown job)."
)

_FIXED_EXIT_CODES = {
    Status.COMPLETED: 0,
    Status.STOPPED: EXIT_STOPPED,
    Status.CANCELLED: EXIT_STOPPED,
    Status.TIMED_OUT: EXIT_TIMED_OUT,
    Status.INTERRUPTED: EXIT_INTERRUPTED,
}

err = Console(stderr=True, highlight=False, soft_wrap=True)


def exit_code_for(job: Job) -> int:
    """The CLI's exit status for a finished job (see EXIT_CODES_HELP)."""
    if job.status in _FIXED_EXIT_CODES:
        return _FIXED_EXIT_CODES[job.status]
    code = job.exit_code
    return code if code is not None and 0 < code < 256 else 1


class OutputWriter:
    """Writes a job's output to stdout: made safe (see ``jobhost.terminal``) unless raw."""

    def __init__(self, raw: bool, stream: TextIO | None = None) -> None:
        self.raw = raw
        self.stream = stream or sys.stdout
        self._safe = SafeText()
        if isinstance(self.stream, io.TextIOWrapper):
            # A character the terminal's encoding lacks is shown as "?", not a traceback.
            self.stream.reconfigure(errors="replace")

    def write(self, text: str) -> None:
        if self.raw:
            self._emit(lambda: self.stream.buffer.write(text.encode("utf-8", "replace")))
        else:
            safe = self._safe.feed(text)
            self._emit(lambda: self.stream.write(safe))

    def close(self) -> None:
        """Ends the stream: resets colours the job left on."""
        end = "" if self.raw else self._safe.close()
        if end:
            self._emit(lambda: self.stream.write(end))

    def _emit(self, write: Callable[[], object]) -> None:
        try:
            write()
            self.stream.flush()
        except BrokenPipeError:
            # Whoever reads us has gone (`| head`): stop quietly, and keep Python from
            # complaining when it flushes stdout at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), self.stream.fileno())
            raise typer.Exit(EXIT_BROKEN_PIPE) from None


class Attachment(Protocol):
    """Something that runs until the job has finished and can be paused for a question."""

    def run(self) -> Job: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...


class OutputFollower:
    """Prints the job's output as it arrives, resuming from where it was after a pause."""

    def __init__(self, client: Client, job_id: str, writer: OutputWriter) -> None:
        self.client = client
        self.job_id = job_id
        self.writer = writer
        self.offset = 0

    def run(self) -> Job:
        for page in self.client.follow(self.job_id, self.offset):
            try:
                self.writer.write(page.output)
            finally:  # a Ctrl-C during or just after the write must not show it twice
                self.offset = page.next_offset
        self.writer.close()
        return self.client.get(self.job_id)

    def pause(self) -> None:
        self.writer.close()  # so that the question is not shown in the job's colours

    def resume(self) -> None:
        pass


class SpinnerWaiter:
    """Shows a spinner with the job's status and runtime on stderr until it has finished.

    Only on a terminal: elsewhere there is no one to watch it, and the summary that
    ``finish`` prints says how it ended.
    """

    def __init__(self, client: Client, job_id: str) -> None:
        self.client = client
        self.job_id = job_id
        self.spinner = Spinner(Text(f"job {job_id}"), console=err) if err.is_terminal else None

    def run(self) -> Job:
        if self.spinner is not None:
            self.spinner.start()
        try:
            for job in self.client.watch(self.job_id):
                if self.spinner is not None:
                    self.spinner.update(self._line(job))
                if job.finished:
                    return job
        finally:
            self.pause()
        raise AssertionError("watch ends with the finished job")

    def _line(self, job: Job) -> Text:
        line = Text(f"{one_line(job.name, 40)} ({job.id}) ")
        return line + status_text(job) + Text(f" {duration(job.runtime)}")

    def pause(self) -> None:
        if self.spinner is not None:
            # A Ctrl-C inside rich's Live.start leaves it half started, and stopping it
            # then finds nothing to pop; either way it is stopped afterwards.
            with contextlib.suppress(IndexError):
                self.spinner.stop()

    def resume(self) -> None:
        pass  # run() starts it again


def attach(client: Client, job_id: str, attachment: Attachment) -> Job:
    """Runs ``attachment`` to the job's end; Ctrl-C asks whether to stop the job or detach.

    Detaching leaves the job running and exits with EXIT_DETACHED.
    """
    while True:
        try:
            return attachment.run()
        except KeyboardInterrupt:
            attachment.pause()
            if not _ask_to_stop(job_id):
                err.print(
                    f"detached; job {job_id} goes on. Follow it again with: "
                    f"jobhost logs -f {job_id}",
                    markup=False,
                )
                raise typer.Exit(EXIT_DETACHED) from None
            _request_stop(client, job_id)
            attachment.resume()


def finish(job: Job) -> int:
    """Reports how the job ended on stderr; returns the exit code for it."""
    err.print(summary(job))
    return exit_code_for(job)


def show_tail(job: Job, lines: int) -> None:
    """Shows the last ``lines`` lines of the job's output on stderr, made terminal-safe."""
    output = job.output or ""
    tail = output.splitlines(keepends=True)[-lines:]
    if not tail:
        return
    err.print(f"last {len(tail)} lines of job {job.id}'s output:", markup=False)
    text = "".join(tail)
    writer = OutputWriter(raw=False, stream=sys.stderr)
    writer.write(text if text.endswith("\n") else text + "\n")
    writer.close()


def _ask_to_stop(job_id: str) -> bool:
    err.print(f"\nStop job {job_id}? [y/N] ", end="", markup=False)
    try:
        answer = sys.stdin.readline() if sys.stdin is not None else ""
    except (KeyboardInterrupt, OSError, ValueError):
        answer = ""
    if not answer.endswith("\n"):
        err.print()  # Ctrl-C or end of input: the next message starts on its own line
    return answer.strip().lower() in {"y", "yes"}


def _request_stop(client: Client, job_id: str) -> None:
    try:
        message = client.stop(job_id)
    except ApiError as exc:
        err.print(f"jobhost: {exc}", markup=False)
        return
    err.print(f"{message}; following it to its end", markup=False)
