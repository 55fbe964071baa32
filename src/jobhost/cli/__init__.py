"""The ``jobhost`` command: main (entry point, serve, user, key), jobs, attach, view, admin."""

from __future__ import annotations

from jobhost.cli.main import run

__all__ = ["run"]
