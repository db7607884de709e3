"""The event store: an eventsourcing Application whose events are msgspec Structs.

eventsourcing 9.5 has no msgspec mapper, so `StructMapper` encodes the events
itself and still applies the library's compressor and cipher. `ChainedRecorder`
extends the SQLite application recorder with a hash chain written in the same
transaction as the events it covers.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import msgspec
from eventsourcing.application import Application
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
)
from eventsourcing.utils import get_topic

from ledger import chain, keys
from ledger import records as r
from ledger.state import Event, stream_of

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
    they never fork the chain. The chain arithmetic lives in `ledger.chain`, so
    a PostgreSQL recorder (whose insert takes an exclusive table lock) can reuse
    it by overriding `_insert_events` the same way.
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
        rows = (
            chain.StoredRow(
                position,
                _as_uuid(stored.originator_id),
                stored.originator_version,
                stored.topic,
                stored.state,
            )
            for position, stored in zip(positions, stored_events, strict=True)
        )
        links = chain.extend(self._chain_tail(c, positions[0]), rows)
        c.executemany(f"INSERT INTO {self.chain_table} VALUES (?, ?)", links)
        return positions

    def _chain_tail(self, c: SQLiteCursor, first: int) -> bytes:
        """The link the new events extend: that of the position just before them."""
        if first == 1:
            return chain.GENESIS
        c.execute(
            f"SELECT chain_hash FROM {self.chain_table} WHERE position = ?",
            (first - 1,),
        )
        row = c.fetchone()
        if row is None:
            msg = (
                f"the chain has no hash for position {first - 1}, so nothing can "
                "be appended; run 'cma-ledger verify' to find the damage"
            )
            raise chain.ChainError(msg)
        return bytes(row[0])

    @contextmanager
    def stored_history(
        self,
    ) -> Iterator[tuple[Iterator[tuple[Any, ...]], Iterator[tuple[Any, ...]]]]:
        """The raw event rows and chain links, in position order, from one snapshot.

        Nothing is decoded or decrypted: verifying needs the stored bytes only.
        """
        with self.datastore.get_connection(commit=False) as conn, conn.transaction(
            commit=False
        ) as events:
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


def _as_uuid(originator_id: uuid.UUID | str) -> uuid.UUID:
    if isinstance(originator_id, uuid.UUID):
        return originator_id
    return uuid.UUID(originator_id)


def _rows(cursor: SQLiteCursor) -> Iterator[tuple[Any, ...]]:
    """Plain tuples, fetched in batches: a verify reads every row once."""
    cursor.sqlite_cursor.row_factory = None
    while batch := cursor.sqlite_cursor.fetchmany(5000):
        yield from batch


def open_history(path: str | os.PathLike[str]) -> ChainedRecorder:
    """The stored history alone, without the mapper or the key: for verifying.

    The chain covers the stored (possibly encrypted) bytes, so verify, digest
    and prove never need the cipher key.
    """
    return ChainedRecorder(SQLiteDatastore(os.fspath(path), lock_timeout=30))


class Ledger(Application[uuid.UUID]):
    """The append-only store of every record a county has fed in."""

    name = "CMALedger"

    def __init__(
        self, path: str | os.PathLike[str], cipher_key: str | None = None
    ) -> None:
        """Open or create the ledger; without `cipher_key`, the environment's key.

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
        super().__init__(
            env={
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": os.fspath(path),
                "SQLITE_LOCK_TIMEOUT": "30",
                "MAPPER_TOPIC": get_topic(StructMapper),
                "APPLICATION_RECORDER_TOPIC": get_topic(ChainedRecorder),
                **cipher,
                # The library also reads the application-prefixed spelling from
                # os.environ; pin it so only the key resolved above applies.
                **{f"{self.name.upper()}_{k}": v for k, v in cipher.items()},
            }
        )
        self._check_encryption(os.fspath(path), key)

    def _check_encryption(self, where: str, key: str | None) -> None:
        recorder: ChainedRecorder = self.recorder  # type: ignore[assignment]
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
        if isinstance(self.recorder, SQLiteApplicationRecorder):
            return self._read_sqlite(after, upto, batch)
        return self._read_notifications(after, upto, batch)

    def _read_notifications(
        self, after: int, upto: int | None, batch: int
    ) -> Iterator[Event]:
        """`read` through the library's notifications and mapper, for any store."""
        start = after + 1
        while True:
            notifications = self.recorder.select_notifications(
                start, batch, stop=upto
            )
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

    def _read_sqlite(self, after: int, upto: int | None, batch: int) -> Iterator[Event]:
        """`read` by a plain SELECT and one msgspec decode per event.

        The library's notification objects and mapper cost about four times
        the decoding itself; this path skips them and still applies the
        mapper's cipher and compressor.
        """
        recorder: SQLiteApplicationRecorder = self.recorder  # type: ignore[assignment]
        cipher, compressor = self.mapper.cipher, self.mapper.compressor
        decode = _state_decoder.decode
        statement = (
            "SELECT rowid, originator_version, state "
            f"FROM {recorder.events_table_name} "
            "WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?"
        )
        stop = upto if upto is not None else 2**62
        while True:
            with recorder.datastore.transaction(commit=False) as c:
                c.execute(statement, (after, stop, batch))
                rows = c.fetchall()
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

    def chain_hashes(self, after: int = 0, upto: int | None = None) -> Iterator[tuple[int, bytes]]:
        stop = upto if upto is not None else 2**62
        recorder: ChainedRecorder = self.recorder  # type: ignore[assignment]
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT position, chain_hash FROM {recorder.chain_table} "
                "WHERE position > ? AND position <= ? ORDER BY position",
                (after, stop),
            )
            for row in c.fetchall():
                yield row[0], row[1]


def new_event(record: r.Record, version: int, recorded_at: dt.datetime) -> LedgerEvent:
    return LedgerEvent(
        originator_id=stream_uuid(stream_of(record)),
        originator_version=version,
        timestamp=recorded_at,
        record=record,
    )
