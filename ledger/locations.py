"""Where a ledger lives: a SQLite file, or a PostgreSQL database named by a URL.

`--ledger postgresql://USER@HOST:PORT/DBNAME` keeps the ledger in PostgreSQL.
This module only parses and names such a location, so the SQLite path never
imports the PostgreSQL driver; `ledger.postgres` holds the recorder itself.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    import psycopg

SCHEMES = ("postgresql", "postgres")
# eventsourcing names a PostgreSQL events table after the application
# (`Ledger.name`, "CMALedger"); the chain and the metadata tables follow it.
EVENTS_TABLE = "cmaledger_events"
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class LocationError(ValueError):
    """A ledger location that cannot be used: says what a right one looks like."""


class DatabaseUnreachableError(ConnectionError):
    """The PostgreSQL server named by a ledger URL did not accept a connection."""


def is_postgres(value: object) -> bool:
    """A `postgresql://` URL (or a location parsed from one)."""
    if isinstance(value, PostgresLocation):
        return True
    if not isinstance(value, str):
        return False
    scheme, separator, _ = value.partition("://")
    return bool(separator) and scheme.lower() in SCHEMES


@dataclass(frozen=True)
class PostgresLocation:
    """A ledger in a PostgreSQL database (and schema), as given by its URL.

    The password may come in the URL, but better from `POSTGRES_PASSWORD`,
    `PGPASSWORD` or `~/.pgpass`: the URL is printed in messages without it.
    """

    user: str
    host: str
    port: int
    dbname: str
    schema: str = "public"
    password: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, url: str) -> PostgresLocation:
        shape = "postgresql://USER@HOST:PORT/DBNAME (optionally ?schema=NAME)"
        parts = urlsplit(url)
        if parts.scheme.lower() not in SCHEMES:
            raise LocationError(f"{url!r} is not a PostgreSQL URL; give {shape}")
        try:
            port = parts.port or 5432
        except ValueError as e:
            raise LocationError(f"the port in {url!r} is not a number") from e
        dbname = unquote(parts.path.lstrip("/"))
        if not parts.username or not parts.hostname or not dbname or "/" in dbname:
            raise LocationError(
                f"{_without_password(url)!r} needs a user, a host and a database "
                f"name: {shape}"
            )
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(query) - {"schema"})
        if unknown or parts.fragment:
            raise LocationError(
                "the ledger URL takes only ?schema=NAME, "
                f"not {unknown or parts.fragment}"
            )
        schema = query.get("schema", ["public"])[-1]
        if not SCHEMA_NAME.fullmatch(schema):
            raise LocationError(
                f"schema {schema!r}: use lower-case letters, digits and '_' "
                "(at most 63, not starting with a digit)"
            )
        password = unquote(parts.password) if parts.password is not None else None
        return cls(
            unquote(parts.username), parts.hostname, port, dbname, schema, password
        )

    def __str__(self) -> str:
        schema = "" if self.schema == "public" else f"?schema={self.schema}"
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}{schema}"

    def resolved_password(self) -> str:
        """The URL's password, else POSTGRES_PASSWORD; empty lets libpq use PGPASSWORD
        or ~/.pgpass."""
        if self.password is not None:
            return self.password
        return os.environ.get("POSTGRES_PASSWORD", "")

    def eventsourcing_env(self) -> dict[str, str]:
        """The settings eventsourcing's PostgreSQL factory reads."""
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.resolved_password(),
            "POSTGRES_SCHEMA": self.schema,
        }

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        """A plain connection in autocommit mode, outside eventsourcing's pool."""
        import psycopg

        try:
            return psycopg.connect(
                dbname=self.dbname,
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.resolved_password() or None,
                autocommit=True,
                connect_timeout=10,
                **kwargs,
            )
        except psycopg.OperationalError as e:
            reason = " ".join(str(e).split()) or type(e).__name__
            msg = f"cannot connect to PostgreSQL at {self}: {reason}"
            raise DatabaseUnreachableError(msg) from e

    def exists(self) -> bool:
        """Whether a ledger was created here (its events table exists)."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text))",
                (self.schema, EVENTS_TABLE),
            ).fetchone()
        return row is not None and row[0] is not None

    @property
    def lock_key(self) -> int:
        """The advisory lock that one writer at a time holds for this ledger."""
        name = f"cma-ledger {self.schema}.{EVENTS_TABLE}".encode()
        return int.from_bytes(hashlib.sha256(name).digest()[:8], "big", signed=True)

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """One writer at a time, across machines: a session-level advisory lock.

        Held on its own connection, outside any transaction, for as long as an
        import validates and appends; closing the connection releases it too.
        """
        with self.connect() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (self.lock_key,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (self.lock_key,))


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def parse(value: str | os.PathLike[str]) -> Path | PostgresLocation:
    """A ledger location as given on the command line or in CMA_LEDGER."""
    if is_postgres(value):
        return PostgresLocation.parse(os.fspath(value))
    return Path(value)
