"""Running Datasette on a review database, read-only, with this project's plugins.

The database is always named `review` in URLs, whatever its file is called, so
links, bookmarks and the auditor guide stay valid.

By default the site reads a snapshot: a standalone copy of the review
database, opened immutable and counted once, so no page counts a million rows
again. A watcher looks at the review database every few seconds and, when its
projection has moved on (or a rebuild swapped in a new file), takes a new
snapshot and swaps it in. `live` serves the file itself instead; `frozen` takes
one snapshot and keeps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import logging
import os
import re
import shutil
import signal
import socket
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from datasette.app import Database, Datasette

from datasette_plugins import accounts as accounts_file
from datasette_plugins.access import REVIEW_DATABASE
from datasette_plugins.metadata import metadata

log = logging.getLogger(__name__)

SETTINGS: dict[str, Any] = {
    "suggest_facets": False,  # the suggestions cost more than the page on big tables
    "sql_time_limit_ms": 3000,
    "facet_time_limit_ms": 1000,
    "allow_download": False,
    "max_returned_rows": 1000,
}

Mode = Literal["snapshot", "frozen", "live"]
MODES: tuple[Mode, ...] = ("snapshot", "frozen", "live")
# How often the watcher looks at the review database, in seconds.
LOOK_EVERY = 2.0
# Snapshots take at most this share of the time: one that took 3 s is followed
# by the next no sooner than 30 s later.
SNAPSHOT_SHARE = 0.1
# How long a replaced snapshot stays open for the requests still reading it.
RETIRE_AFTER = 60.0
# How long a snapshot waits for a projection's commit, as the projection waits.
LOCK_TIMEOUT = 30.0
# Datasette's queries over a whole table, no filter applied: a column's facet
# counts and the row count. They cost most on big tables and change only when
# the projection writes.
WHOLE_TABLE = re.compile(
    r"\s*select (?:\S+ as value, count\(\*\) as count from \(\s*"
    r"select [^()]*? from (?P<faceted>\[[^\]]+\]|\w+)\s*\)\s*where "
    r"|count\(\*\) from (?P<counted>\[[^\]]+\]|\w+)\s*$)",
    re.IGNORECASE,
)
ANSWERS_KEPT = 256
SNAPSHOT_PREFIX = "cma-snapshot-"


class ServeError(RuntimeError):
    """The review site cannot start as asked."""


def notes_included(review: Path) -> bool:
    conn = sqlite3.connect(f"file:{review}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT include_notes FROM _projection WHERE name = 'review'"
        ).fetchone()
    except sqlite3.DatabaseError as e:
        msg = f"{review} is not a cma-ledger review database ({e})"
        raise ServeError(msg) from e
    finally:
        conn.close()
    return bool(row and row[0])


class ReviewDatabaseFile(Database):
    """The review database as Datasette reads it, remembering whole-table answers.

    Datasette counts a table's rows, and its facets, afresh on each visit (an
    immutable file's row counts excepted); on the million-row `events` table
    that is most of the page. Both are remembered per version of the data.
    """

    def __init__(self, ds: Datasette, path: Path, is_mutable: bool) -> None:
        super().__init__(ds, path=str(path), is_mutable=is_mutable)
        self._tables: frozenset[str] | None = None  # not views: one reads the clock
        self._answers: dict[tuple[object, str], Any] = {}

    async def data_version(self) -> object:
        """Changes whenever the rows may have."""
        raise NotImplementedError

    async def execute(self, sql, params=None, *args, **kwargs):
        whole = WHOLE_TABLE.match(sql)
        if params or not whole:
            return await super().execute(sql, params, *args, **kwargs)
        if self._tables is None:
            self._tables = frozenset(await self.table_names())
        table = (whole["faceted"] or whole["counted"]).strip("[]")
        if table not in self._tables:
            return await super().execute(sql, params, *args, **kwargs)
        key = (await self.data_version(), sql)
        if key not in self._answers:
            if len(self._answers) >= ANSWERS_KEPT:
                self._answers.clear()
            self._answers[key] = await super().execute(sql, params, *args, **kwargs)
        return self._answers[key]


class LiveDatabase(ReviewDatabaseFile):
    """The review database file itself, read with `mode=ro`.

    The projection moves `_projection.position` in the same transaction as
    every row it writes, so the position is the version of the data.
    """

    def __init__(self, ds: Datasette, path: Path) -> None:
        super().__init__(ds, path, is_mutable=True)

    async def data_version(self) -> object:
        found = await super(ReviewDatabaseFile, self).execute(
            "SELECT position FROM _projection WHERE name = 'review'"
        )
        return found.rows[0][0] if found.rows else None


class SnapshotDatabase(ReviewDatabaseFile):
    """An immutable snapshot, read through connections of its own.

    Datasette keeps one connection per thread and database name; a snapshot
    swapped in under the same name must not be read through its predecessor's.
    """

    def __init__(self, ds: Datasette, path: Path) -> None:
        super().__init__(ds, path, is_mutable=False)
        self._connections = threading.local()

    async def data_version(self) -> object:
        return None

    async def execute_fn(self, fn):
        if self.ds.executor is None:
            return await super().execute_fn(fn)

        def in_thread():
            conn = getattr(self._connections, "conn", None)
            if conn is None:
                conn = self.connect()
                self.ds._prepare_connection(conn, self.name)
                self._connections.conn = conn
            return fn(conn)

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.ds.executor, in_thread)


def make_datasette(
    review: Path,
    *,
    accounts: Path | None = None,
    synthetic: bool = False,
    immutable: bool = False,
    inspect_data: dict | None = None,
) -> Datasette:
    """A Datasette for one review database: signed-in unless it is synthetic.

    Datasette opens a mutable file with `mode=ro` and an immutable one with
    `immutable=1`; the plugin adds `PRAGMA query_only` to every connection.
    """
    if accounts is None and not synthetic:
        msg = "a review site of real records needs an accounts file"
        raise ServeError(msg)
    if accounts is not None:
        try:
            accounts_file.load(accounts)
        except accounts_file.AccountError as e:
            raise ServeError(str(e)) from e
    sign_in = accounts is not None
    config = metadata(
        sign_in=sign_in,
        accounts_path=str(accounts.resolve()) if accounts else None,
        synthetic=synthetic,
        notes_included=notes_included(review),
    )
    settings = dict(SETTINGS, default_allow_sql=not sign_in)
    ds = Datasette(
        [],
        metadata=config,
        settings=settings,
        inspect_data=inspect_data,
        secret=os.environ.get("DATASETTE_SECRET"),
    )
    ds.remove_database("_memory")
    database = SnapshotDatabase if immutable else LiveDatabase
    ds.add_database(database(ds, review), name=REVIEW_DATABASE)
    return ds


@dataclass(frozen=True)
class Snapshot:
    """A checkpointed copy of the review database, and what it was copied from."""

    path: Path
    source: tuple[int, int]  # the review file's inode, and the copy's position
    inspect_data: dict
    took: float  # seconds


def looked_at(review: Path) -> tuple[int, int] | None:
    """The review database's file (a rebuild swaps in a new one) and position."""
    try:
        inode = review.stat().st_ino
        conn = sqlite3.connect(f"file:{review}?mode=ro", uri=True)
    except (OSError, sqlite3.Error):
        return None
    try:
        row = conn.execute(
            "SELECT position FROM _projection WHERE name = 'review'"
        ).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return (inode, row[0]) if row else None


def inspect(copy: Path) -> dict:
    """What `datasette inspect` says of a file, without hashing it: the row counts."""
    conn = sqlite3.connect(f"file:{copy}?immutable=1", uri=True)
    try:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        ]
        counts = {
            table: conn.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0]
            for table in tables
        }
    finally:
        conn.close()
    return {
        REVIEW_DATABASE: {
            "hash": None,
            "size": copy.stat().st_size,
            "file": str(copy),
            "tables": {table: {"count": count} for table, count in counts.items()},
        }
    }


_numbers = itertools.count(1)


def take_snapshot(review: Path, folder: Path) -> Snapshot:
    """Copy the review database into `folder` and count its tables.

    VACUUM INTO copies what one read transaction sees into a standalone file,
    whatever the journal mode (an immutable reader would not see a -wal file).
    """
    started = time.perf_counter()
    inode = review.stat().st_ino
    copy = folder / f"{REVIEW_DATABASE}-{next(_numbers)}.db"
    conn = sqlite3.connect(f"file:{review}?mode=ro", uri=True, timeout=LOCK_TIMEOUT)
    try:
        conn.execute("VACUUM INTO ?", (str(copy),))
    except BaseException:
        copy.unlink(missing_ok=True)
        raise
    finally:
        conn.close()
    copied = sqlite3.connect(f"file:{copy}?immutable=1", uri=True)
    try:
        (position,) = copied.execute(
            "SELECT position FROM _projection WHERE name = 'review'"
        ).fetchone()
    finally:
        copied.close()
    inspect_data = inspect(copy)
    took = time.perf_counter() - started
    log.info("snapshot of %s at position %s taken in %.1fs", review, position, took)
    return Snapshot(copy, (inode, position), inspect_data, took)


def snapshot_folder() -> tempfile.TemporaryDirectory:
    """A private folder (mode 0700) for snapshots, named for this process.

    The name lets a later `serve` remove it if this one is killed before it
    can (see `remove_stale_snapshots`): it holds a copy of the case records.
    """
    return tempfile.TemporaryDirectory(prefix=f"{SNAPSHOT_PREFIX}{os.getpid()}-")


def remove_stale_snapshots(under: Path | None = None) -> list[Path]:
    """Delete the snapshot folders of `serve` processes that are gone."""
    removed = []
    for folder in Path(under or tempfile.gettempdir()).glob(f"{SNAPSHOT_PREFIX}*"):
        pid = folder.name[len(SNAPSHOT_PREFIX) :].partition("-")[0]
        try:
            if not pid.isdigit() or folder.stat().st_uid != os.getuid():
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        except OSError:  # another user's process, or the folder went meanwhile
            continue
    if removed:
        log.warning(
            "removed %d snapshot folder(s) left by serve processes that were killed",
            len(removed),
        )
    return removed


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, or a ServeError that says why it cannot be."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )[0]
    except (socket.gaierror, UnicodeError) as e:
        msg = f"cannot find the host {host!r} ({e}); give an address such as 127.0.0.1"
        raise ServeError(msg) from e
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            msg = f"port {port} on {host} is in use; choose another with --port"
        elif e.errno == errno.EACCES:
            msg = f"port {port} on {host} needs privileges; choose one above 1023"
        elif e.errno == errno.EADDRNOTAVAIL:
            msg = f"{host} is not an address of this machine; choose another --host"
        else:
            msg = f"cannot listen on {host} port {port}: {e.strerror or e}"
        raise ServeError(msg) from e
    sock.set_inheritable(True)
    return sock


@contextmanager
def snapshot(review: Path) -> Iterator[tuple[Path, dict]]:
    """A snapshot in a temporary folder, and its inspect data."""
    with snapshot_folder() as folder:
        taken = take_snapshot(review, Path(folder))
        yield taken.path, taken.inspect_data


def swap_in(ds: Datasette, taken: Snapshot) -> Database:
    """Serve `taken` from now on; returns the database it replaced."""
    old = ds.get_database(REVIEW_DATABASE)
    new = SnapshotDatabase(ds, taken.path)
    ds.inspect_data = taken.inspect_data
    ds.remove_database(REVIEW_DATABASE)
    ds.add_database(new, name=REVIEW_DATABASE)
    return old


class SnapshotWatcher:
    """Keeps a Datasette on a recent snapshot of the review database."""

    def __init__(
        self, ds: Datasette, review: Path, folder: Path, current: Snapshot
    ) -> None:
        self.ds = ds
        self.review = review
        self.folder = folder
        self.current = current
        self.notes = notes_included(current.path)
        self.taken_at = time.monotonic()
        self.refused: tuple[int, int] | None = None
        self.retiring: list[tuple[float, Database]] = []

    async def run(self, every: float = LOOK_EVERY) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.refresh()
            except Exception:
                log.exception(
                    "could not take a new snapshot of %s; still serving position %s",
                    self.review,
                    self.current.source[1],
                )

    async def refresh(self) -> bool:
        """Swap in a new snapshot if the review database moved on; True if so."""
        self.retire(time.monotonic())
        now = await asyncio.to_thread(looked_at, self.review)
        if now is None or now in (self.current.source, self.refused):
            return False
        if time.monotonic() - self.taken_at < self.current.took / SNAPSHOT_SHARE:
            return False
        self.taken_at = time.monotonic()
        taken = await asyncio.to_thread(take_snapshot, self.review, self.folder)
        if notes_included(taken.path) != self.notes:
            log.warning(
                "%s now %s task notes: restart serve to show it",
                self.review,
                "holds" if not self.notes else "leaves out",
            )
            self.refused = taken.source
            taken.path.unlink()
            return False
        old = swap_in(self.ds, taken)
        self.retiring.append((time.monotonic() + RETIRE_AFTER, old))
        self.current = taken
        return True

    def retire(self, now: float, everything: bool = False) -> None:
        """Close and delete the snapshots replaced long enough ago."""
        keep = []
        for due, old in self.retiring:
            if everything or due <= now:
                old.close()
                with contextlib.suppress(FileNotFoundError):
                    Path(old.path).unlink()
            else:
                keep.append((due, old))
        self.retiring = keep


async def run_server(
    server, watcher: SnapshotWatcher | None, sock: socket.socket | None = None
) -> None:
    watching = asyncio.create_task(watcher.run()) if watcher else None
    try:
        await server.serve(sockets=[sock] if sock else None)
    finally:
        if watching:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching


def leave_on_sigterm(signum, frame) -> None:
    """Exit through Python, so the snapshot folder is removed on the way out."""
    raise SystemExit(128 + signum)


def serve(
    review: Path,
    host: str,
    port: int,
    *,
    accounts: Path | None = None,
    synthetic: bool = False,
    mode: Mode = "snapshot",
    sock: socket.socket | None = None,
) -> None:
    """Serve until stopped, on `sock` if given (see `listen`), else host:port."""
    import uvicorn

    if mode not in MODES:
        msg = f"unknown serving mode {mode!r}: one of {', '.join(MODES)}"
        raise ServeError(msg)
    with ExitStack() as stack:
        if sock is not None:
            stack.callback(sock.close)
        watcher = None
        if mode == "live":
            ds = make_datasette(review, accounts=accounts, synthetic=synthetic)
        else:
            remove_stale_snapshots()
            folder = Path(stack.enter_context(snapshot_folder()))
            first = take_snapshot(review, folder)
            ds = make_datasette(
                first.path,
                accounts=accounts,
                synthetic=synthetic,
                immutable=True,
                inspect_data=first.inspect_data,
            )
            if mode == "snapshot":
                watcher = SnapshotWatcher(ds, review, folder, first)
                stack.callback(watcher.retire, 0.0, everything=True)
        config = uvicorn.Config(ds.app(), host=host, port=port, log_level="warning")
        previous = signal.signal(signal.SIGTERM, leave_on_sigterm)
        stack.callback(signal.signal, signal.SIGTERM, previous)
        asyncio.run(run_server(uvicorn.Server(config), watcher, sock))
