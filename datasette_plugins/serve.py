"""Running Datasette on a review database, read-only, with this project's plugins.

The database is always named `review` in URLs, whatever its file is called, so
links, bookmarks and the auditor guide stay valid.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from datasette.app import Database, Datasette
from datasette.cli import inspect_

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
    sign_in = accounts is not None
    config = metadata(
        sign_in=sign_in,
        accounts_path=str(accounts) if accounts else None,
        auth_passwords=(
            accounts_file.auth_passwords_config(accounts_file.load(accounts))
            if accounts
            else None
        ),
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
    ds.add_database(
        Database(ds, path=str(review), is_mutable=not immutable), name=REVIEW_DATABASE
    )
    return ds


@contextmanager
def snapshot(review: Path) -> Iterator[tuple[Path, dict]]:
    """A checkpointed copy of the review database and its `datasette inspect` data.

    An immutable file is read without its -wal, so the copy is made with
    VACUUM INTO, which writes every committed page into one standalone file.
    """
    with tempfile.TemporaryDirectory(prefix="cma-snapshot-") as folder:
        copy = Path(folder) / f"{REVIEW_DATABASE}.db"
        conn = sqlite3.connect(f"file:{review}?mode=ro", uri=True)
        try:
            conn.execute("VACUUM INTO ?", (str(copy),))
        finally:
            conn.close()
        inspect_data = asyncio.run(inspect_([str(copy)], []))
        log.info("snapshot of %s taken into %s", review, copy)
        yield copy, inspect_data


def serve(
    review: Path,
    host: str,
    port: int,
    *,
    accounts: Path | None = None,
    synthetic: bool = False,
    use_snapshot: bool = False,
) -> None:
    import uvicorn

    with ExitStack() as stack:
        path, inspect_data = review, None
        if use_snapshot:
            path, inspect_data = stack.enter_context(snapshot(review))
        ds = make_datasette(
            path,
            accounts=accounts,
            synthetic=synthetic,
            immutable=use_snapshot,
            inspect_data=inspect_data,
        )
        uvicorn.run(ds.app(), host=host, port=port, log_level="warning")
