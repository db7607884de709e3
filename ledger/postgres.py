"""The PostgreSQL event store: eventsourcing's recorder plus the same hash chain.

`ChainedPostgresRecorder` writes the chain links of `ledger.chain` in the
transaction that inserts the events, as `ChainedRecorder` does for SQLite, so
the stored bytes, the chain and every verifier are the same on both backends.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Composed, Identifier

from ledger import chain
from ledger.locations import EVENTS_TABLE, PostgresLocation

BATCH = 5000


class ChainedPostgresRecorder(PostgresApplicationRecorder):
    """The PostgreSQL application recorder plus a hash chain, in one transaction.

    The library's recorder locks the events table in EXCLUSIVE mode before each
    insert, so inserting transactions run one at a time and commit in the order
    of their positions. This recorder relies on that lock twice: under it, it
    sets the position sequence to follow the last stored event (a rolled-back
    insert would otherwise leave a gap, and the chain needs 1, 2, 3...), and it
    reads the chain's tail knowing no other writer can extend it first.
    """

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        if datastore.originator_id_type != "uuid":
            msg = "the chain encodes stream ids as UUIDs: use ORIGINATOR_ID_TYPE=uuid"
            raise ValueError(msg)
        if datastore.enable_db_functions:
            msg = (
                "the chain is written beside the insert, which a database function "
                "would skip: set POSTGRES_ENABLE_DB_FUNCTIONS=no"
            )
            raise ValueError(msg)
        super().__init__(datastore, events_table_name=events_table_name)
        prefix = events_table_name.removesuffix("events")
        if prefix == events_table_name:
            prefix += "_"
        self.chain_table = f"{prefix}event_chain"
        self.meta_table = f"{prefix}meta"
        self.check_identifier_length(self.chain_table)
        self.check_identifier_length(self.meta_table)

        schema = Identifier(datastore.schema)
        self._events = SQL("{}.{}").format(schema, Identifier(events_table_name))
        self._chain = SQL("{}.{}").format(schema, Identifier(self.chain_table))
        self._meta = SQL("{}.{}").format(schema, Identifier(self.meta_table))
        self.sql_create_statements += [
            SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "position BIGINT PRIMARY KEY, chain_hash BYTEA NOT NULL)"
            ).format(self._chain),
            SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "name TEXT PRIMARY KEY, value TEXT NOT NULL)"
            ).format(self._meta),
        ]
        self._follow_last_position = SQL(
            "SELECT setval(pg_get_serial_sequence({}, 'notification_id'), "
            "COALESCE(MAX(notification_id), 0) + 1, false) FROM {}"
        ).format(
            f"{_quoted(datastore.schema)}.{_quoted(events_table_name)}", self._events
        )

    def create_table(self) -> None:
        if self.datastore.schema != "public":
            with self.datastore.transaction(commit=True) as c:
                c.execute(
                    SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                        Identifier(self.datastore.schema)
                    )
                )
        super().create_table()

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert the events and their links; any failure rolls back both.

        The library's version pipelines the statements and commits even when a
        step after the insert fails in Python; the chain must never be skipped,
        so this one runs them plainly inside one transaction.
        """
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return None
            self._insert_stored_events(curs, stored_events, **kwargs)
            positions = self._fetch_ids_after_insert_events(curs, stored_events)
            assert positions is not None
            self._extend_chain(curs, positions, stored_events)
        return positions

    def _lock_table(self, curs: Cursor[DictRow]) -> None:
        super()._lock_table(curs)
        curs.execute(self._follow_last_position)

    def _extend_chain(
        self,
        curs: Cursor[DictRow],
        positions: Sequence[int],
        stored_events: Sequence[StoredEvent],
    ) -> None:
        rows = chain.appended_rows(positions, stored_events)
        links = chain.extend(self._chain_tail(curs, positions[0]), rows)
        curs.executemany(
            SQL("INSERT INTO {} (position, chain_hash) VALUES (%s, %s)").format(
                self._chain
            ),
            links,
        )

    def _chain_tail(self, curs: Cursor[DictRow], first: int) -> bytes:
        """The link the new events extend: that of the position just before them."""
        curs.execute(
            SQL("SELECT chain_hash FROM {} WHERE position = %s").format(self._chain),
            (first - 1,),
        )
        row = curs.fetchone()
        return chain.link_before(first, bytes(row["chain_hash"]) if row else None)

    # What the ledger, the projections and the verifiers read.

    def stored_states(self, after: int, stop: int, limit: int) -> list[tuple[Any, ...]]:
        """(position, version, stored state) after `after`, up to `stop`."""
        return self._select(
            SQL(
                "SELECT notification_id, originator_version, state FROM {} "
                "WHERE notification_id > %s AND notification_id <= %s "
                "ORDER BY notification_id LIMIT %s"
            ).format(self._events),
            (after, stop, limit),
        )

    def chain_links(self, after: int, stop: int) -> list[tuple[Any, ...]]:
        """(position, chain hash) after `after`, up to `stop`."""
        return self._select(
            SQL(
                "SELECT position, chain_hash FROM {} "
                "WHERE position > %s AND position <= %s ORDER BY position"
            ).format(self._chain),
            (after, stop),
        )

    def entry(self, position: int) -> bytes:
        """The entry bytes of the event at `position`, as the chain hashed them."""
        rows = self._select(
            SQL(
                "SELECT originator_id, originator_version, topic, state FROM {} "
                "WHERE notification_id = %s"
            ).format(self._events),
            (position,),
        )
        stream_id, version, topic, state = rows[0]
        return chain.entry_bytes(position, stream_id, version, topic, state)

    @contextmanager
    def stored_history(
        self,
    ) -> Iterator[tuple[Iterator[tuple[Any, ...]], Iterator[tuple[Any, ...]]]]:
        """The raw event rows and chain links, in position order, from one snapshot.

        Stream ids come as hex text, as SQLite stores them, so `chain.walk`
        reads both backends alike. Rows stream through server-side cursors.
        """
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(force_rollback=True),
        ):
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            events = conn.cursor("cma_stored_events", row_factory=tuple_row)
            links = conn.cursor("cma_chain_links", row_factory=tuple_row)
            events.itersize = links.itersize = BATCH
            try:
                events.execute(
                    SQL(
                        "SELECT notification_id, "
                        "encode(uuid_send(originator_id), 'hex'), "
                        "originator_version, topic, state "
                        "FROM {} ORDER BY notification_id"
                    ).format(self._events)
                )
                links.execute(
                    SQL("SELECT position, chain_hash FROM {} ORDER BY position").format(
                        self._chain
                    )
                )
                yield iter(events), iter(links)
            finally:
                events.close()
                links.close()

    def read_meta(self) -> dict[str, str]:
        rows = self._select(SQL("SELECT name, value FROM {}").format(self._meta), ())
        return dict(rows)

    def init_meta(self, values: dict[str, str]) -> dict[str, str]:
        """Record `values` unless the ledger already has its own; return what holds."""
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                SQL(
                    "INSERT INTO {} (name, value) VALUES (%s, %s) "
                    "ON CONFLICT (name) DO NOTHING"
                ).format(self._meta),
                list(values.items()),
            )
        return self.read_meta()

    def _select(
        self, statement: Composed, params: Sequence[Any]
    ) -> list[tuple[Any, ...]]:
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            curs.execute(statement, params)
            return curs.fetchall()


def _quoted(name: str) -> str:
    """An identifier quoted for use inside a string literal (pg_get_serial_sequence)."""
    return '"' + name.replace('"', '""') + '"'


def open_history(location: PostgresLocation) -> ChainedPostgresRecorder:
    """The stored history alone, without the mapper or the key: for verifying.

    It uses its own one-connection pool with no idle-in-transaction limit, so
    a long verify holds its snapshot for as long as it reads.
    """
    datastore = PostgresDatastore(
        location.dbname,
        location.host,
        location.port,
        location.user,
        location.resolved_password(),
        schema=location.schema,
        pool_size=1,
        connect_timeout=10,
    )
    return ChainedPostgresRecorder(datastore, events_table_name=EVENTS_TABLE)
