"""The user commands beyond ``add`` and ``list`` (``roles``, ``passwd``, ``rm``) and the role
and password checks ``add`` shares with them. Like every user command, they work on the data
folder directly, with or without a server running.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Annotated

import typer

from jobhost import policy
from jobhost.auth.passwords import MAX_PASSWORD_CHARS
from jobhost.errors import InvalidInput

if TYPE_CHECKING:
    from jobhost.store import Store

StoreOpener = Callable[[], "Store"]

BUILT_IN = ", ".join(sorted(policy.BUILT_IN_ROLES))
ROLES_HELP = (
    f"Built-in roles: {BUILT_IN} (each may submit commands; MainLoop needs debug). Any other "
    "role means something only to the catalog entries that name it."
)
MIN_PASSWORD_CHARS = 8

AddRoles = Annotated[list[str] | None, typer.Option("--add", help="A role to add (repeatable)")]
RemoveRoles = Annotated[
    list[str] | None, typer.Option("--remove", help="A role to remove (repeatable)")
]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from stdin")
]


def checked_roles(roles: Iterable[str]) -> frozenset[str]:
    """The roles, if each is well-formed; else InvalidInput naming the first bad one."""
    chosen = frozenset(roles)
    bad = sorted(r for r in chosen if not policy.is_valid_role(r))
    if bad:
        raise InvalidInput(f"Invalid role {bad[0]!r}: use lowercase letters, digits and _")
    return chosen


def warn_unknown_roles(roles: frozenset[str]) -> None:
    """A line on stderr for each role that is not built in: a typo (``taskmanager``) would
    otherwise just refuse that user everything, silently."""
    for role in sorted(roles - policy.BUILT_IN_ROLES):
        print(
            f"jobhost: warning: {role!r} is not a built-in role ({BUILT_IN}); "
            "it grants nothing unless a catalog entry names it",
            file=sys.stderr,
        )


def read_password() -> str:
    """One line from stdin, without its line end; refused when too short, too long to
    sign in with, or not UTF-8."""
    try:  # stdin may decode strictly or keep bad bytes as surrogates, by locale
        password = sys.stdin.readline().rstrip("\r\n")
        password.encode("utf-8")
    except UnicodeError:
        raise InvalidInput("Password on stdin is not valid UTF-8") from None
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput(f"Password must be at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidInput(f"Password must be at most {MAX_PASSWORD_CHARS} characters")
    return password


class UserCommands:
    """The commands, each opening the store it needs through ``open_store``."""

    def __init__(self, open_store: StoreOpener) -> None:
        self.open_store = open_store

    def roles(self, name: str, add: AddRoles = None, remove: RemoveRoles = None) -> None:
        """Add and remove a user's roles, then print the roles they have.

        The change applies to their next request: sessions and API keys are kept.
        """
        added = checked_roles(add or [])
        removed = frozenset(remove or [])
        store = self.open_store()
        try:
            user = store.users.change_roles(name, added, removed)
        finally:
            store.close()
        print(f"roles of {user.user_id}: {', '.join(sorted(user.roles)) or '(none)'}")
        warn_unknown_roles(added)

    def passwd(self, name: str, password_stdin: PasswordStdin = False) -> None:
        """Set a user's password: generated and printed once, or read from stdin.

        The user's browser sessions end; their API keys stay valid.
        """
        from jobhost.auth.passwords import generate_password, hash_password

        password = read_password() if password_stdin else generate_password()
        store = self.open_store()
        try:
            store.users.set_password(name, hash_password(password))
        finally:
            store.close()
        if password_stdin:
            print(f"password of {name} changed")
            return
        print(
            f"new password of {name}: {password}\n  Shown only now; store it somewhere safe.",
            flush=True,
        )

    def rm(self, name: str) -> None:
        """Delete a user with their API keys, browser sessions and schedules.

        Their jobs stay: records and output are kept.
        Pending and running jobs are not stopped: stop or cancel them first if they should not run.
        """
        store = self.open_store()
        try:
            store.users.remove_user(name)
        finally:
            store.close()
        print(
            f"removed user {name} with their API keys, sessions and schedules; their jobs are kept"
        )


def register(user_app: typer.Typer, open_store: StoreOpener) -> None:
    """Adds ``roles``, ``passwd`` and ``rm`` to the ``jobhost user`` commands."""
    commands = UserCommands(open_store)
    user_app.command("roles", epilog=ROLES_HELP)(commands.roles)
    user_app.command("passwd")(commands.passwd)
    user_app.command("rm")(commands.rm)
