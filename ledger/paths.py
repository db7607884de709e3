"""Which file is which: guards that keep a mistyped path from costing history.

A review database is disposable and a ledger is not, so every command that
writes a review database first makes sure its target is not a ledger (or some
other file), and every command that opens a ledger makes sure it is one. A
ledger in PostgreSQL (`ledger.locations.PostgresLocation`) is no file: the file
checks let it through, and the database itself answers for it.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ledger.locations import PostgresLocation

SQLITE_HEADER = b"SQLite format 3\x00"


class PathError(Exception):
    """A path that must not be used for what it was given for."""


def kind_of(path: Path) -> str:
    """missing, empty, ledger, review, sqlite (some other database) or other."""
    if not path.exists():
        return "missing"
    if path.is_dir():
        return "folder"
    with open(path, "rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if not header:
        return "empty"
    if header != SQLITE_HEADER:
        return "other"
    names = _table_names(path, "mode=ro")
    if names is None:
        names = _table_names(path, "immutable=1")  # a copy in a read-only folder
    if names is None:
        return "other"
    if "stored_events" in names:
        return "ledger"
    if "_projection" in names:
        return "review"
    return "sqlite" if names else "empty"


def _table_names(path: Path, mode: str) -> set[str] | None:
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True)
        try:
            return {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
        finally:
            con.close()
    except sqlite3.Error:
        return None


def check_ledger(path: Path | PostgresLocation) -> None:
    """The path holds a ledger, or nothing yet."""
    if isinstance(path, PostgresLocation):
        return
    kind = kind_of(path)
    if kind == "review":
        msg = (
            f"{path} is a review database, not a ledger; did you swap --ledger "
            "and --review?"
        )
        raise PathError(msg)
    if kind == "folder":
        raise PathError(f"{path} is a folder; give the ledger's file")
    if kind in ("sqlite", "other"):
        raise PathError(f"{path} is not a cma-ledger ledger; refusing to use it")


def check_review_target(
    path: Path, ledger: Path | PostgresLocation | None = None
) -> None:
    """The path may be (re)written as a review database: never a ledger or other."""
    if isinstance(ledger, PostgresLocation):
        ledger = None
    if ledger is not None and path.exists() and ledger.exists():
        if os.path.samefile(path, ledger):
            raise PathError(f"{path} is the ledger itself; give another review path")
    elif ledger is not None and path.resolve() == ledger.resolve():
        raise PathError(f"{path} is the ledger itself; give another review path")
    kind = kind_of(path)
    if kind == "ledger":
        raise PathError(
            f"{path} is a ledger; refusing to overwrite it with a review database"
        )
    if kind == "folder":
        raise PathError(f"{path} is a folder; give a file path for the review database")
    if kind in ("sqlite", "other"):
        raise PathError(
            f"{path} exists and is not a review database; refusing to overwrite it "
            "(remove it or choose another path)"
        )
    writable(path)


def writable(path: Path | PostgresLocation) -> None:
    """Fail before anything is appended, not halfway through."""
    if isinstance(path, PostgresLocation):
        return
    folder = path.absolute().parent
    if not folder.is_dir():
        raise PathError(f"no folder {folder} for {path}; create it first")
    if not os.access(folder, os.W_OK):
        raise PathError(f"cannot write in {folder} (read-only or no permission)")
    if path.exists() and not os.access(path, os.W_OK):
        raise PathError(f"cannot write {path} (read-only or no permission)")


def read_uri(path: Path | PostgresLocation) -> str | PostgresLocation:
    """How to open a ledger that is only read: read-only copies need `immutable`.

    SQLite cannot open a WAL database in a folder it may not write (it needs the
    shared-memory file), so a ledger in a read-only folder is opened immutable.
    A read-only copy must be checkpointed (no -wal file), which copying a closed
    ledger gives.
    """
    if isinstance(path, PostgresLocation):
        return path
    folder = path.absolute().parent
    if os.access(folder, os.W_OK) and os.access(path, os.W_OK):
        return os.fspath(path)
    return f"{path.resolve().as_uri()}?immutable=1"
