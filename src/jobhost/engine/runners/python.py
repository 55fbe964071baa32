"""Running Python source as a job: shared by Runspace (a thread) and MainLoop (inline)."""

from __future__ import annotations

import builtins
import threading
import traceback
from typing import Any

from jobhost.engine.capture import routed_to
from jobhost.engine.sources import BufferSource
from jobhost.models import Job, Outcome, Status
from jobhost.submission import compile_python


class JobStopped(BaseException):
    """Raised inside a Runspace job's thread to stop it.

    A BaseException, so that the job's own ``except Exception`` blocks do not swallow it.
    """


def run_source(job: Job, buffer: BufferSource, stop_requested: threading.Event) -> Outcome:
    """Execute the job's command as Python in a fresh namespace, capturing what it prints."""
    namespace: dict[str, Any] = {
        "__name__": "__jobhost_job__",
        "__builtins__": builtins,
        "JOB_ID": job.job_id,
        "stop_requested": stop_requested.is_set,
    }
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
    return Outcome(Status.COMPLETED if exit_code == 0 else Status.FAILED, exit_code)
