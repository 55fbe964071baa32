"""``JOBHOST_RUN_AS``: the OS user BackgroundJobs run as, looked up once at startup.

The job parent switches to it in each job's child before exec (``job_parent_program.py``); the
server itself keeps its own user, so the store stays out of the jobs' reach
(docs/SECURITY.md).
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

from jobhost.errors import InvalidInput

_CAP_KILL = 5  # to stop jobs that are no longer the server's user's
_CAP_SETGID = 6
_CAP_SETUID = 7


@dataclass(frozen=True, slots=True)
class RunAs:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    """Its supplementary groups, as ``initgroups`` would set them."""
    home: str

    def request(self) -> list[object]:
        """How a job parent's start request names the user (``job_parent_program.py``)."""
        return [self.uid, self.gid, list(self.groups)]


def resolve_run_as(name: str) -> RunAs:
    """The user ``name``; InvalidInput if there is none or this process cannot switch to it."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise InvalidInput(f"Invalid JOBHOST_RUN_AS: there is no OS user {name!r}") from None
    if entry.pw_uid == os.geteuid():
        raise InvalidInput(
            f"Invalid JOBHOST_RUN_AS: {name!r} is the server's own user; jobs would be able "
            "to read the store. Name another user, or unset it"
        )
    if not _may_switch_users():
        raise InvalidInput(
            "JOBHOST_RUN_AS is set but the server cannot switch users: run it as root "
            "or give it CAP_SETUID, CAP_SETGID and CAP_KILL"
        )
    groups = tuple(os.getgrouplist(name, entry.pw_gid))
    return RunAs(name, entry.pw_uid, entry.pw_gid, groups, entry.pw_dir)


def _may_switch_users() -> bool:
    """Whether this process may start jobs as another user and signal them: CAP_SETUID,
    CAP_SETGID and CAP_KILL (root has them, unless a container took them away)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            line = next(line for line in status if line.startswith("CapEff:"))
    except (OSError, StopIteration):
        return os.geteuid() == 0
    caps = int(line.split()[1], 16)
    return all(caps >> bit & 1 for bit in (_CAP_SETUID, _CAP_SETGID, _CAP_KILL))
