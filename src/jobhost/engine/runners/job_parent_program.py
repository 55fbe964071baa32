"""The job parent: one small process per engine that starts its BackgroundJobs, waits for
them and writes each one's exit status to its run folder.

A job needs a parent that records its exit status even when the engine dies, so that an
engine started later can adopt the job and still learn how it ended. One parent for all of
an engine's jobs keeps that promise for one process per engine rather than a second process
(a /bin/sh wrapper) per job.

Run by ``ProcessRunner`` as ``python -I -S job_parent_program.py REQUESTS ENDS`` (standard library
only), with two sockets, one JSON object a message:

- REQUESTS (a stream, each message after its length: a command alone may take 400 KB):
  the engine sends ``{"argv", "env", "cwd", "run_dir"}``, with ``"user": [uid, gid,
  [groups]]`` when jobs run as another user (``JOBHOST_RUN_AS``); the parent answers, in order,
  ``{"pid": n}`` once the job runs (``run_dir/pid`` says so right after), or
  ``{"errno": n, "error": "...", "file": ...}``.
- ENDS (SOCK_SEQPACKET, a message a packet): the parent sends ``{"pid": n, "code": n,
  "cpu": s, "rss": bytes}`` once ``run_dir/exit`` holds ``code cpu rss``: the job's exit status
  (128 + N for a job killed by signal N, as a shell reports it), then the CPU seconds (user +
  system) and peak resident bytes of ``wait4``'s rusage of the job's shell, which counts the
  descendants the shell waited for and none it left behind.

The parent lives in a session of its own, so signals meant for the engine's terminal or
group do not reach it. When the engine's end of REQUESTS closes (the engine stopped or
died), it takes no more jobs and exits once the last of its jobs has ended.
"""

from __future__ import annotations

import errno
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
from typing import Any

_Jobs = dict[int, tuple[subprocess.Popen[bytes], str]]


def main(argv: list[str]) -> int:
    requests = socket.socket(fileno=int(argv[1]))
    ends = socket.socket(fileno=int(argv[2]))
    # Never blocks on the engine: an engine waiting for the answer to a request must not
    # wait on an end it has not read yet. Ends it is slow to read wait in ``unsent``.
    ends.setblocking(False)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the loop below
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    jobs: _Jobs = {}
    unsent: list[bytes] = []
    nothing_to_read = os.open(os.devnull, os.O_RDONLY)  # every job's stdin, opened once
    selector = selectors.DefaultSelector()
    selector.register(requests, selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)
    engine_there = True
    while engine_there or jobs:
        timeout = 0.05 if unsent else None  # retry the ends the engine had no room for
        for key, _ in selector.select(timeout):
            if key.fileobj is requests:
                engine_there = _answer(requests, jobs, nothing_to_read)
                if not engine_there:
                    selector.unregister(requests)
            else:
                os.read(wake_read, 4096)
        unsent += _record_ends(jobs)
        unsent = _send(ends, unsent) if engine_there else []
    return 0


def _answer(requests: socket.socket, jobs: _Jobs, stdin: int) -> bool:
    """Start the job asked for; False once the engine has closed its end."""
    try:
        request = receive(requests)
    except OSError:  # ECONNRESET: an engine that closed with answers unread
        request = None
    if request is None:
        return False
    try:
        pid = _start(request, jobs, stdin)
    except OSError as exc:
        error = {"errno": exc.errno or 0, "error": exc.strerror or str(exc), "file": exc.filename}
        return _answered(requests, error)
    except ValueError as exc:  # e.g. a NUL in an environment variable
        return _answered(requests, {"errno": errno.EINVAL, "error": str(exc), "file": None})
    engine_there = _answered(requests, {"pid": pid})
    # Written after the answer, so that the engine, waiting for it, does not wait for this
    # too; but before anything else here, so that it is there whenever an engine could look
    # for it (one that died meanwhile leaves this process to write it all the same). The
    # start time tells this process from a later one that got the same pid.
    _write(jobs[pid][1], "pid", f"{pid} {_start_ticks(pid)}\n")  # a zombie's stat is there too
    return engine_there


def _answered(requests: socket.socket, answer: dict[str, Any]) -> bool:
    """Send an answer; False if the engine is gone (its job, if any, runs on all the same)."""
    try:
        send(requests, answer)
    except OSError:
        return False
    return True


def _start(request: dict[str, Any], jobs: _Jobs, stdin: int) -> int:
    run_dir: str = request["run_dir"]
    user = request.get("user")  # [uid, gid, groups], or none: the server's own
    cwd: str | None = request["cwd"]
    if user is not None:
        _enter_as(request["cwd"], *user)  # the job inherits it as its own
        cwd = None
    uid, gid, groups = user or (None, None, None)
    output = os.path.join(run_dir, "output")
    # Opened here, before any switch of user, so that the run folder stays the server's.
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        proc = subprocess.Popen(
            request["argv"],
            stdin=stdin,
            stdout=fd,
            stderr=fd,
            start_new_session=True,  # a process group of its own, for stopping it whole
            cwd=cwd,
            env=request["env"],
            # In the child, before exec: setgroups, then setregid, then setreuid.
            user=uid,
            group=gid,
            extra_groups=groups,
        )
    finally:
        os.close(fd)
    jobs[proc.pid] = (proc, run_dir)
    return proc.pid


def _enter_as(cwd: str, uid: int, gid: int, groups: list[int]) -> None:
    """chdir to ``cwd`` with the run-as user's rights, then take this process's back.

    Popen's own ``cwd`` would be entered with the server's rights, before the switch: a job
    could then start, and stay, in a folder its user may not reach (say the data folder's
    private parts). OSError, naming ``cwd``, if the user may not enter it.
    """
    own = (os.geteuid(), os.getegid(), os.getgroups())
    try:
        os.setgroups(groups)
        os.setegid(gid)
        os.seteuid(uid)
        os.chdir(cwd)
    finally:  # the user id first: only with its own back may this process set groups
        os.seteuid(own[0])
        os.setegid(own[1])
        os.setgroups(own[2])


def _record_ends(jobs: _Jobs) -> list[bytes]:
    """Reap the jobs that ended and write their exit files; the messages to send."""
    messages: list[bytes] = []
    while True:
        try:
            # WNOWAIT: look without reaping, so that wait4 below reaps it with its rusage.
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return messages
        if info is None:
            return messages
        found = jobs.pop(info.si_pid, None)
        if found is None:  # not a job of ours (cannot happen, but must not spin)
            os.waitpid(info.si_pid, 0)
            continue
        proc, run_dir = found
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = code = os.waitstatus_to_exitcode(status)  # so Popen waits no more
        code = code if code >= 0 else 128 - code
        cpu = round(usage.ru_utime + usage.ru_stime, 6)
        rss = usage.ru_maxrss * 1024  # KiB on Linux
        _write(run_dir, "exit", f"{code} {cpu} {rss}\n")
        end = {"pid": proc.pid, "code": code, "cpu": cpu, "rss": rss}
        messages.append(json.dumps(end).encode())


def _send(ends: socket.socket, messages: list[bytes]) -> list[bytes]:
    """Send what the socket takes now; the rest, to retry. The engine gone, nothing."""
    for sent, message in enumerate(messages):
        try:
            ends.send(message)
        except BlockingIOError:
            return messages[sent:]
        except OSError:
            return []  # the engine is gone; the next one reads the exit files
    return []


def send(stream: socket.socket, message: dict[str, Any]) -> None:
    data = json.dumps(message).encode()
    stream.sendall(len(data).to_bytes(4, "big") + data)


def receive(stream: socket.socket) -> Any:
    """The next message, or None once the other end has closed."""
    head = _exactly(stream, 4)
    if head is None:
        return None
    data = _exactly(stream, int.from_bytes(head, "big"))
    return None if data is None else json.loads(data)


def _exactly(stream: socket.socket, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = stream.recv(min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _write(run_dir: str, name: str, text: str) -> None:
    # One write() of a few bytes, no temporary file and rename: a rename cost more than the
    # rest of a job's start. A reader that comes between the open and the
    # write finds the file empty and looks again (``process.py: _exit_file``).
    # A file that cannot be written (its folder removed, a full disk) costs only what it
    # would have told; this process, and every other job's record, goes on.
    try:
        fd = os.open(os.path.join(run_dir, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, text.encode("ascii"))
        finally:
            os.close(fd)
    except OSError as exc:
        print(f"jobhost job parent: cannot write {name} in {run_dir}: {exc}", file=sys.stderr)


def _start_ticks(pid: int) -> int:
    # What ``process_tree.read_proc`` reads as ``start_ticks``: this program runs on the standard
    # library alone (``python -I -S``), so it cannot import that module.
    fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    try:
        raw = os.read(fd, 4096)
    finally:
        os.close(fd)
    return int(raw[raw.rindex(b")") + 2 :].split()[19])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
