"""Running Python source as a job: shared by Runspace (a thread) and MainLoop (inline).

A job's ``import time`` (and ``from time import sleep``) gives it a copy of ``time`` whose
``sleep`` ends as soon as the job is asked to stop: the JobStopped raised asynchronously
into the job's thread cannot interrupt a blocking C call, but this sleep is woken.
"""

from __future__ import annotations

import _thread
import builtins
import threading
import time
import traceback
import types
from collections.abc import Mapping, Sequence
from typing import Any

from jobhost import policy
from jobhost.engine.capture import routed_to
from jobhost.engine.sources import BufferSource
from jobhost.models import Job, Outcome, Status
from jobhost.python_source import compile_python


class JobStopped(BaseException):
    """Raised inside a Runspace job's thread to stop it.

    A BaseException, so that the job's own ``except Exception`` blocks do not swallow it.
    """


class StopSignal:
    """Set once, when a job is asked to stop: ``stop_requested()`` reads it and the job's
    ``time.sleep`` waits on it. The wait is one C call (a lock's acquire), so that a
    JobStopped raised into the thread just before ``set`` surfaces at the job's sleep
    itself rather than inside threading's own Python code (as an Event's wait would)."""

    def __init__(self) -> None:
        self._asked = False
        self._wake = _thread.allocate_lock()
        self._wake.acquire()

    def set(self) -> None:
        if not self._asked:
            self._asked = True
            self._wake.release()

    def is_set(self) -> bool:
        return self._asked

    def wait(self, seconds: float) -> bool:
        """True as soon as the signal is set, else False once ``seconds`` have passed."""
        # Once set, never wait again: a JobStopped surfacing right after the acquire leaves
        # the lock taken.
        if not self._asked and self._wake.acquire(True, min(seconds, threading.TIMEOUT_MAX)):
            self._wake.release()
        return self._asked


# The stop signal of the job whose code runs on this thread; threads a job starts have none.
_job_thread = threading.local()
_real_sleep = time.sleep


def _sleep(seconds: float) -> None:
    """``time.sleep`` for job code: a wait on the job's stop signal."""
    stop: StopSignal | None = getattr(_job_thread, "stop", None)
    if stop is None or not isinstance(seconds, int | float) or not seconds > 0:
        _real_sleep(seconds)  # time.sleep's own errors, and its yield for sleep(0)
        return
    if stop.wait(seconds):
        # The JobStopped raised into the thread has surfaced in the wait already, unless
        # the job caught that one and sleeps again.
        raise JobStopped()


def _job_time() -> types.ModuleType:
    module = types.ModuleType(time.__name__, time.__doc__)
    module.__dict__.update(vars(time))
    module.__dict__["sleep"] = _sleep
    return module


_JOB_TIME = _job_time()


def _job_import(
    name: str,
    globals: Mapping[str, object] | None = None,
    locals: Mapping[str, object] | None = None,
    fromlist: Sequence[str] | None = (),
    level: int = 0,
) -> types.ModuleType:
    if name == "time" and level == 0:
        return _JOB_TIME
    module: types.ModuleType = builtins.__import__(name, globals, locals, fromlist, level)
    return module


def run_source(job: Job, buffer: BufferSource, stop_requested: StopSignal) -> Outcome:
    """Execute the job's command as Python in a fresh namespace, capturing what it prints."""
    # Builtins of its own (a copy as the job starts) give the job's code its own import.
    job_builtins = dict(vars(builtins), __import__=_job_import)
    namespace: dict[str, Any] = {
        "__name__": "__jobhost_job__",
        "__builtins__": job_builtins,
        "JOB_ID": job.job_id,
        # A template's variables reach Python as data, never spliced into the source.
        "variables": dict(job.spec.variables),
        "stop_requested": stop_requested.is_set,
    }
    _job_thread.stop = stop_requested
    with routed_to(buffer.write):
        try:
            code = compile_python(job.spec.command, f"<job {job.job_id}>")
            exec(code, namespace)
        except JobStopped:
            raise
        except SystemExit as exc:
            return _exit_outcome(exc, buffer)
        except BaseException as exc:
            buffer.write(_user_traceback(exc).encode("utf-8", "replace"))
            return Outcome(Status.FAILED, 1)
        finally:
            _job_thread.stop = None
    return Outcome(Status.COMPLETED, 0)


def _user_traceback(exc: BaseException) -> str:
    """The traceback as the job's author needs it: without jobhost's own frame on top."""
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _exit_outcome(exc: SystemExit, buffer: BufferSource) -> Outcome:
    """``sys.exit(n)`` in a job ends the job (not the server) with exit code n."""
    code = exc.code
    if code is None:
        exit_code = 0
    elif isinstance(code, int):
        exit_code = code
    else:
        buffer.write(f"{code}\n".encode("utf-8", "replace"))
        exit_code = 1
    return Outcome(policy.finished_status_for_exit(exit_code), exit_code)
