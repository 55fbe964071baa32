"""The ``jobhost`` command: a thin skin that parses, calls the library, and prints.

Errors are one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from jobhost import __version__, policy
from jobhost.cli import admin, jobs, schedules, templates
from jobhost.clock import SystemClock
from jobhost.errors import InvalidInput, JobhostError
from jobhost.models import ApiKey, User
from jobhost.settings import Settings, load_settings

if TYPE_CHECKING:
    from jobhost.store import Store

app = typer.Typer(
    name="jobhost",
    help="A self-hosted job runner. Settings come from JOBHOST_* environment variables.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
key_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(key_app, name="key")
jobs.register(app)
schedules.register(app)
templates.register(app)

# Wide enough that ids are never cut when the output is piped rather than shown on a terminal.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
logger = logging.getLogger(__name__)
ADMIN = "admin"
ADMIN_ROLES = frozenset({"system_admin", "debug"})


def _settings(**overrides: object) -> Settings:
    return load_settings(os.environ, **overrides)


def _open_store(settings: Settings) -> Store:
    # Imported here: SQLAlchemy and the migrations take a third of a second to load, which
    # the client commands (submit, logs, ...) never need.
    from jobhost.datadir import prepare_data_dir
    from jobhost.store import SqlStore

    prepare_data_dir(settings)
    return SqlStore.open(settings.store_url, SystemClock())


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    # The API's form: UTC with milliseconds and a Z.
    moment = datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
    return moment.replace("+00:00", "Z")


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@app.command()
def version() -> None:
    """Print jobhost's version."""
    print(__version__)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [JOBHOST_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [JOBHOST_PORT]")] = None,
) -> None:
    """Run the web server and the job engine in one process."""
    from jobhost import server

    settings = _settings(host=host, port=port)
    _configure_logging(settings.log_level)
    if not server.serve(settings, _bootstrap_admin):
        raise typer.Exit(3)  # as uvicorn.run: the app's startup failed


def _bootstrap_admin(store: Store) -> None:
    """On first start, create ``admin`` and show its password and an API key, once."""
    from jobhost.auth.keys import create_key
    from jobhost.auth.passwords import generate_password, hash_password

    if store.users.count_users() > 0:
        return
    password = generate_password()
    store.users.add_user(ADMIN, ADMIN_ROLES, hash_password(password))
    new = create_key(store.users, SystemClock(), ADMIN, "created on first start", None)
    print(
        "jobhost: first start: created user 'admin' (roles: debug, system_admin).\n"
        f"  password: {password}\n"
        f"  API key:  {new.token}\n"
        "  Both are shown only now; store them somewhere safe.",
        flush=True,
    )


def _configure_logging(level: str) -> None:
    from jobhost import logs

    logs.configure(level)


@user_app.command("add", epilog=admin.ROLES_HELP)
def user_add(
    name: str,
    role: Annotated[list[str] | None, typer.Option("--role", help="Repeat for several")] = None,
    password_stdin: admin.PasswordStdin = False,
) -> None:
    """Create a user (without --password-stdin it can sign in with API keys only)."""
    if not policy.is_valid_user_id(name):
        raise InvalidInput(f"Invalid user name {name!r}: use letters, digits and ._@+- (max 64)")
    if policy.is_reserved_user_id(name):
        raise InvalidInput(f"Invalid user name {name!r}: reserved for jobhost's own schedules")
    roles = admin.checked_roles(role or [])
    password_hash = None
    if password_stdin:
        from jobhost.auth.passwords import hash_password

        password_hash = hash_password(admin.read_password())
    store = _open_store(_settings())
    try:
        user = store.users.add_user(name, roles, password_hash)
    finally:
        store.close()
    print(f"created user {user.user_id} with roles: {', '.join(sorted(roles)) or '(none)'}")
    admin.warn_unknown_roles(roles)


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts")]


@user_app.command("list")
def user_list(as_json: JsonFlag = False) -> None:
    """List users and their roles."""
    store = _open_store(_settings())
    try:
        users = store.users.list_users()
    finally:
        store.close()
    if as_json:
        print(json.dumps([_user_json(user) for user in users], indent=2))
        return
    table = Table("user", "roles", "password", "created")
    for user in users:
        password = "yes" if user.has_password else "no"
        table.add_row(user.user_id, " ".join(sorted(user.roles)), password, _when(user.created_at))
    out.print(table)


admin.register(user_app, lambda: _open_store(_settings()))


@key_app.command("create")
def key_create(
    user: str,
    label: Annotated[str | None, typer.Option(help="What the key is for")] = None,
    expires_days: Annotated[
        float | None, typer.Option("--expires-days", help="Expire after N days")
    ] = None,
) -> None:
    """Create an API key; the token is printed alone on the last line, once."""
    from jobhost.auth.keys import create_key

    store = _open_store(_settings())
    try:
        new = create_key(store.users, SystemClock(), user, label, expires_days)
    finally:
        store.close()
    expiry = _when(new.key.expires_at) if new.key.expires_at else "never"
    print(f"created key {new.key.key_id} for {user} (expires: {expiry}); the token follows:")
    print(new.token)


@key_app.command("list")
def key_list(as_json: JsonFlag = False) -> None:
    """List API keys (never their tokens)."""
    store = _open_store(_settings())
    try:
        keys = store.users.list_keys()
    finally:
        store.close()
    now = SystemClock().now()
    if as_json:
        print(json.dumps([_key_json(key, now) for key in keys], indent=2))
        return
    table = Table("key", "user", "label", "created", "expires", "last used", "state")
    for key in keys:
        table.add_row(
            key.key_id,
            key.user_id,
            key.label or "",
            _when(key.created_at),
            _when(key.expires_at),
            _when(key.last_used_at),
            _key_state(key, now),
        )
    out.print(table)


def _key_state(key: ApiKey, now: float) -> str:
    return "revoked" if key.revoked_at else "active" if key.is_usable(now) else "expired"


def _key_json(key: ApiKey, now: float) -> dict[str, object]:
    return {
        "key_id": key.key_id,
        "user_id": key.user_id,
        "label": key.label,
        "created_at": _iso(key.created_at),
        "expires_at": _iso(key.expires_at),
        "last_used_at": _iso(key.last_used_at),
        "state": _key_state(key, now),
    }


def _user_json(user: User) -> dict[str, object]:
    return {
        "user_id": user.user_id,
        "roles": sorted(user.roles),
        "has_password": user.has_password,
        "created_at": _iso(user.created_at),
    }


@key_app.command("revoke")
def key_revoke(key_id: str) -> None:
    """Revoke an API key; requests using it are refused from now on."""
    store = _open_store(_settings())
    try:
        key = store.users.revoke_key(key_id)
    finally:
        store.close()
    print(f"revoked key {key.key_id} of {key.user_id}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning every error into one line on stderr."""
    args = sys.argv[1:] if argv is None else argv
    try:
        _check_utf8(args)
        result = app(args=args, standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("jobhost: aborted", file=sys.stderr)
        return 130
    except typer.TyperException as exc:  # usage errors: bad option, missing argument
        format_message = getattr(exc, "format_message", None)
        message = format_message() if callable(format_message) else str(exc)
        if message:  # empty when the help text was shown instead
            print(f"jobhost: {message}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except JobhostError as exc:
        print(f"jobhost: {exc}", file=sys.stderr)
        return 1
    except UnicodeError as exc:  # e.g. stdin or an environment value that is not UTF-8
        print(f"jobhost: input is not valid UTF-8 ({exc.__class__.__name__})", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0


def _check_utf8(args: list[str]) -> None:
    """Refuse arguments that are not UTF-8: Python keeps their bytes as lone surrogates,
    which nothing downstream can send or store."""
    for position, arg in enumerate(args, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            raise InvalidInput(f"Argument {position} is not valid UTF-8: {shown!r}") from None


def run() -> None:
    """The console script."""
    sys.exit(main())
