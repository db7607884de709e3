"""A PostgreSQL server for the tests, and a fresh schema for each test.

The server is `CMA_POSTGRES_URL` (default postgresql://postgres@127.0.0.1:5432/test,
which .ci/run starts). An unreachable server fails the PostgreSQL tests with a
message saying so; only `CMA_SKIP_POSTGRES=1` turns that into a skip.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import Workspace
from psycopg import sql

from ledger.locations import EVENTS_TABLE, DatabaseUnreachableError, PostgresLocation

SERVER_URL = os.environ.get(
    "CMA_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
_unreachable: list[str] = []


def server() -> PostgresLocation:
    """The test server, or a failure (a skip with CMA_SKIP_POSTGRES=1) without one."""
    location = PostgresLocation.parse(SERVER_URL)
    if not _unreachable:
        try:
            location.connect().close()
            _unreachable.append("")
        except DatabaseUnreachableError as e:
            _unreachable.append(str(e))
    reason = _unreachable[0]
    if reason:
        if os.environ.get("CMA_SKIP_POSTGRES") == "1":
            pytest.skip(f"CMA_SKIP_POSTGRES=1 and {reason}")
        pytest.fail(
            f"{reason}\nThe PostgreSQL tests need this server: start it (.ci/run "
            "does), point CMA_POSTGRES_URL elsewhere, or set CMA_SKIP_POSTGRES=1 "
            "to skip them.",
            pytrace=False,
        )
    return location


@contextmanager
def fresh_schema() -> Iterator[PostgresLocation]:
    """A schema of its own for one test, dropped afterwards with all it holds."""
    location = dataclasses.replace(server(), schema=f"cma_test_{uuid.uuid4().hex[:12]}")
    try:
        yield location
    finally:
        with location.connect() as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(location.schema)
                )
            )


class PostgresWorkspace(Workspace):
    """A Workspace whose ledger lives in a PostgreSQL schema, not a file."""

    def __init__(self, folder: Path, location: PostgresLocation) -> None:
        super().__init__(folder)
        self.location = location

    def options(self) -> list[str]:
        return ["--ledger", str(self.location), "--review", str(self.review)]

    def event_count(self) -> int:
        if not self.location.exists():
            return 0
        with self.location.connect() as conn:
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {}.{}").format(
                    sql.Identifier(self.location.schema), sql.Identifier(EVENTS_TABLE)
                )
            ).fetchone()
        assert row is not None
        return int(row[0])
