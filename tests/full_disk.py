"""A full disk, as the store meets it, without filling one: SQLite's ``max_page_count`` set
on the store's own write connections makes a write that would grow the file fail with
SQLITE_FULL ("database or disk is full"), the error a full disk gives."""

from __future__ import annotations

from jobhost.store import SqlStore


def cap_the_file(store: SqlStore, spare_pages: int = 0) -> None:
    """Let none of the store's driver write connections grow the database file by more
    than ``spare_pages`` pages from now on."""
    for at_once in (False, True):
        driver = store.db._own_driver_connection(at_once)
        pages = driver.execute("PRAGMA page_count").fetchone()[0]
        driver.execute(f"PRAGMA max_page_count={pages + spare_pages}")
