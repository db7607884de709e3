"""The event store: an eventsourcing Application whose events are msgspec Structs.

eventsourcing 9.5 has no msgspec mapper, so `StructMapper` encodes the events
itself and still applies the library's compressor and cipher. `ChainedRecorder`
extends the SQLite application recorder with a hash chain written in the same
transaction as the events it covers; `ledger.postgres.ChainedPostgresRecorder`
does the same in PostgreSQL, chosen when the ledger's location is a
`postgresql://` URL.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

import msgspec
from eventsourcing.application import Application
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
)
from eventsourcing.utils import get_topic

from ledger import chain, keys, locations
from ledger import records as r
from ledger.locations import PostgresLocation
from ledger.state import Event, stream_of

if TYPE_CHECKING:
    from ledger.postgres import ChainedPostgresRecorder

STREAM_NAMESPACE = uuid.UUID("6f1d7a4e-6b0c-4c55-9d43-2f1c3b5e8a10")


def stream_uuid(stream: str) -> uuid.UUID:
    return uuid.uuid5(STREAM_NAMESPACE, stream)


class LedgerEvent(msgspec.Struct, frozen=True):
    """One record as the store keeps it: the record and when it was appended."""

    originator_id: uuid.UUID
    originator_version: int
    timestamp: dt.datetime
    record: r.AnyRecord


class _StoredState(msgspec.Struct, frozen=True):
    recorded_at: dt.datetime
    record: r.AnyRecord


_state_encoder = msgspec.json.Encoder()
_state_decoder = msgspec.json.Decoder(_StoredState)
TOPICS = {get_topic(cls): cls for cls in r.RECORD_TYPES.values()}


class StructMapper(Mapper):
    """Encodes LedgerEvent Structs as JSON, then compresses and encrypts as set."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        event: LedgerEvent = domain_event
        state = _state_encoder.encode(_StoredState(event.timestamp, event.record))
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return StoredEvent(
            originator_id=event.originator_id,
            originator_version=event.originator_version,
            topic=get_topic(type(event.record)),
            state=state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        state = stored_event.state
        if self.cipher:
            state = self.cipher.decrypt(state)
        if self.compressor:
            state = self.compressor.decompress(state)
        stored = _state_decoder.decode(state)
        return LedgerEvent(
            originator_id=uuid.UUID(str(stored_event.originator_id)),
            originator_version=stored_event.originator_version,
            timestamp=stored.recorded_at,
            record=stored.record,
        )


class ChainedRecorder(SQLiteApplicationRecorder):
    """The SQLite application recorder plus a hash chain, in one transaction.

    SQLite lets one writer at a time hold the write lock, and the events are
    inserted before the chain's tail is read, so the tail read inside the same
    transaction is always the newest committed link: concurrent writers queue,
    they never fork the chain. The chain arithmetic lives in `ledger.chain`, which
    `ledger.postgres.ChainedPostgresRecorder` reuses under PostgreSQL's
    exclusive table lock.
    """

    chain_table = "event_chain"
    meta_table = "ledger_meta"

    def __init__(
        self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"
    ) -> None:
        if datastore.originator_id_type != "uuid":
            msg = "the chain encodes stream ids as UUIDs: use ORIGINATOR_ID_TYPE=uuid"
            raise ValueError(msg)
        super().__init__(datastore, events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.chain_table} ("
            "position INTEGER PRIMARY KEY, chain_hash BLOB NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.meta_table} ("
            "name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        if not positions:
            return positions
        rows = chain.appended_rows(positions, stored_events)
        links = chain.extend(self._chain_tail(c, positions[0]), rows)
        c.executemany(f"INSERT INTO {self.chain_table} VALUES (?, ?)", links)
        return positions

    def _chain_tail(self, c: SQLiteCursor, first: int) -> bytes:
        """The link the new events extend: that of the position just before them."""
        c.execute(
            f"SELECT chain_hash FROM {self.chain_table} WHERE position = ?",
            (first - 1,),
        )
        row = c.fetchone()
        return chain.link_before(first, bytes(row[0]) if row else None)

    @contextmanager
    def stored_history(
        self,
    ) -> Iterator[tuple[Iterator[tuple[Any, ...]], Iterator[tuple[Any, ...]]]]:
        """The raw event rows and chain links, in position order, from one snapshot.

        Nothing is decoded or decrypted: verifying needs the stored bytes only.
        """
        with (
            self.datastore.get_connection(commit=False) as conn,
            conn.transaction(commit=False) as events,
        ):
            links = conn.cursor()
            try:
                events.execute(
                    "SELECT rowid, originator_id, originator_version, topic, state "
                    f"FROM {self.events_table_name} ORDER BY rowid"
                )
                links.execute(
                    f"SELECT position, chain_hash FROM {self.chain_table} "
                    "ORDER BY position"
                )
                yield _rows(events), _rows(links)
            finally:
                links.sqlite_cursor.close()

    def stored_states(self, after: int, stop: int, limit: int) -> list[tuple[Any, ...]]:
        """(position, version, stored state) after `after`, up to `stop`."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT rowid, originator_version, state "
                f"FROM {self.events_table_name} "
                "WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?",
                (after, stop, limit),
            )
            return [tuple(row) for row in c.fetchall()]

    def chain_links(self, after: int, stop: int) -> list[tuple[Any, ...]]:
        """(position, chain hash) after `after`, up to `stop`."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT position, chain_hash FROM {self.chain_table} "
                "WHERE position > ? AND position <= ? ORDER BY position",
                (after, stop),
            )
            return [tuple(row) for row in c.fetchall()]

    def entry(self, position: int) -> bytes:
        """The entry bytes of the event at `position`, as the chain hashed them."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT originator_id, originator_version, topic, state "
                f"FROM {self.events_table_name} WHERE rowid = ?",
                (position,),
            )
            stream_id, version, topic, state = c.fetchone()
        return chain.entry_bytes(position, uuid.UUID(stream_id), version, topic, state)

    def read_meta(self) -> dict[str, str]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT name, value FROM {self.meta_table}")
            return {row[0]: row[1] for row in c.fetchall()}

    def init_meta(self, values: dict[str, str]) -> dict[str, str]:
        """Record `values` unless the ledger already has its own; return what holds."""
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                f"INSERT OR IGNORE INTO {self.meta_table} VALUES (?, ?)",
                list(values.items()),
            )
        return self.read_meta()


def _rows(cursor: SQLiteCursor) -> Iterator[tuple[Any, ...]]:
    """Plain tuples, fetched in batches: a verify reads every row once."""
    cursor.sqlite_cursor.row_factory = None
    while batch := cursor.sqlite_cursor.fetchmany(5000):
        yield from batch


Rows = Iterator[tuple[Any, ...]]


@runtime_checkable
class StoredHistory(Protocol):
    """What both chained recorders offer the ledger and the verifiers, in raw rows."""

    def stored_states(
        self, after: int, stop: int, limit: int
    ) -> list[tuple[Any, ...]]: ...

    def chain_links(self, after: int, stop: int) -> list[tuple[Any, ...]]: ...

    def entry(self, position: int) -> bytes: ...

    def stored_history(self) -> AbstractContextManager[tuple[Rows, Rows]]: ...

    def read_meta(self) -> dict[str, str]: ...

    def init_meta(self, values: dict[str, str]) -> dict[str, str]: ...


Location = str | os.PathLike[str] | PostgresLocation


def open_history(
    path: Location,
) -> ChainedRecorder | ChainedPostgresRecorder:
    """The stored history alone, without the mapper or the key: for verifying.

    The chain covers the stored (possibly encrypted) bytes, so verify, digest
    and prove never need the cipher key.
    """
    if locations.is_postgres(path):
        from ledger import postgres

        return postgres.open_history(_postgres_location(path))
    assert not isinstance(path, PostgresLocation)
    return ChainedRecorder(SQLiteDatastore(os.fspath(path), lock_timeout=30))


def _postgres_location(path: Location) -> PostgresLocation:
    if isinstance(path, PostgresLocation):
        return path
    return PostgresLocation.parse(os.fspath(path))


class Ledger(Application[uuid.UUID]):
    """The append-only store of every record a county has fed in."""

    name = "CMALedger"

    def __init__(self, path: Location, cipher_key: str | None = None) -> None:
        """Open or create the ledger; without `cipher_key`, the environment's key.

        `path` is a SQLite file, or a `postgresql://` URL (`ledger.locations`).
        A wrong or missing key is refused here (`keys.CipherKeyError`), before
        any event is decrypted.
        """
        key = cipher_key if cipher_key is not None else keys.resolve_key()
        if key is not None:
            keys.decode_key(key)
        cipher = {
            "CIPHER_TOPIC": keys.CIPHER_TOPIC if key else "",
            "CIPHER_KEY": key or "",
        }
        store: dict[str, str]
        if locations.is_postgres(path):
            location = _postgres_location(path)
            store = {
                **location.eventsourcing_env(),
                "APPLICATION_RECORDER_TOPIC": get_topic(_postgres_recorder()),
            }
            if not _environ_has("POSTGRES_POOL_SIZE", self.name):
                store["POSTGRES_POOL_SIZE"] = "1"  # one command, one connection
            where = str(location)
        else:
            assert not isinstance(path, PostgresLocation)
            where = os.fspath(path)
            store = {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": where,
                "SQLITE_LOCK_TIMEOUT": "30",
                "APPLICATION_RECORDER_TOPIC": get_topic(ChainedRecorder),
            }
        pinned = {**store, **cipher}
        super().__init__(
            env={
                **pinned,
                "MAPPER_TOPIC": get_topic(StructMapper),
                # The library also reads the application-prefixed spelling from
                # os.environ; pin it so only the store and key chosen here apply.
                **{f"{self.name.upper()}_{k}": v for k, v in pinned.items()},
            }
        )
        self._check_encryption(where, key)

    def _check_encryption(self, where: str, key: str | None) -> None:
        recorder: StoredHistory = self.recorder  # type: ignore[assignment]
        meta = recorder.read_meta()
        if not meta:
            # A ledger written before ledger_meta existed was never encrypted.
            written = self.last_position > 0
            meta = recorder.init_meta(keys.meta_for(None if written else key))
        keys.check_key(meta, key, where)

    @property
    def last_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def append(self, events: Sequence[LedgerEvent]) -> list[int]:
        """Append in one transaction; returns the positions given to the events."""
        recordings = self.save(*events)
        return [rec.notification.id for rec in recordings]

    def read(
        self, after: int = 0, upto: int | None = None, batch: int = 5000
    ) -> Iterator[Event]:
        """The stored events in position order, as the projections see them."""
        if isinstance(self.recorder, StoredHistory):
            return self._read_stored(after, upto, batch)
        return self._read_notifications(after, upto, batch)

    def _read_notifications(
        self, after: int, upto: int | None, batch: int
    ) -> Iterator[Event]:
        """`read` through the library's notifications and mapper, for any store."""
        start = after + 1
        while True:
            notifications = self.recorder.select_notifications(start, batch, stop=upto)
            for n in notifications:
                event = cast(LedgerEvent, self.mapper.to_domain_event(n))
                yield Event(
                    position=n.id,
                    recorded_at=event.timestamp,
                    stream=stream_of(event.record),
                    version=event.originator_version,
                    record=event.record,
                )
            if len(notifications) < batch:
                return
            start = notifications[-1].id + 1

    def _read_stored(self, after: int, upto: int | None, batch: int) -> Iterator[Event]:
        """`read` by a plain SELECT and one msgspec decode per event.

        The library's notification objects and mapper cost about four times
        the decoding itself; this path skips them and still applies the
        mapper's cipher and compressor. Both chained recorders offer it.
        """
        recorder: StoredHistory = self.recorder  # type: ignore[assignment]
        cipher, compressor = self.mapper.cipher, self.mapper.compressor
        decode = _state_decoder.decode
        stop = upto if upto is not None else 2**62
        while True:
            rows = recorder.stored_states(after, stop, batch)
            for position, version, state in rows:
                if cipher:
                    state = cipher.decrypt(state)
                if compressor:
                    state = compressor.decompress(state)
                stored = decode(state)
                yield Event(
                    position=position,
                    recorded_at=stored.recorded_at,
                    stream=stream_of(stored.record),
                    version=version,
                    record=stored.record,
                )
            if len(rows) < batch:
                return
            after = rows[-1][0]

    def chain_hashes(
        self, after: int = 0, upto: int | None = None
    ) -> Iterator[tuple[int, bytes]]:
        stop = upto if upto is not None else 2**62
        recorder: StoredHistory = self.recorder  # type: ignore[assignment]
        for position, chain_hash in recorder.chain_links(after, stop):
            yield position, bytes(chain_hash)


def _postgres_recorder() -> type[ChainedPostgresRecorder]:
    """Imported only when asked for: the SQLite path never loads the driver."""
    from ledger.postgres import ChainedPostgresRecorder

    return ChainedPostgresRecorder


def _environ_has(key: str, app_name: str) -> bool:
    return key in os.environ or f"{app_name.upper()}_{key}" in os.environ


def new_event(record: r.Record, version: int, recorded_at: dt.datetime) -> LedgerEvent:
    return LedgerEvent(
        originator_id=stream_uuid(stream_of(record)),
        originator_version=version,
        timestamp=recorded_at,
        record=record,  # type: ignore[arg-type]  # every Record is one of AnyRecord
    )
