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
from typing import Any

import msgspec
from eventsourcing.application import Application
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import get_topic

from ledger import chain
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
    """The SQLite application recorder plus a hash chain, in one transaction."""

    chain_table = "event_chain"

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.chain_table} ("
            "position INTEGER PRIMARY KEY, chain_hash BLOB NOT NULL)",
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        assert positions is not None
        c.execute(
            f"SELECT chain_hash FROM {self.chain_table} ORDER BY position DESC LIMIT 1"
        )
        row = c.fetchone()
        previous = row[0] if row else chain.GENESIS
        links = []
        for position, stored in zip(positions, stored_events, strict=True):
            entry = chain.entry_bytes(
                position,
                uuid.UUID(str(stored.originator_id)),
                stored.originator_version,
                stored.topic,
                stored.state,
            )
            previous = chain.next_hash(previous, entry)
            links.append((position, previous))
        c.executemany(f"INSERT INTO {self.chain_table} VALUES (?, ?)", links)
        return positions


class Ledger(Application[uuid.UUID]):
    """The append-only store of every record a county has fed in."""

    name = "CMALedger"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(
            env={
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": os.fspath(path),
                "SQLITE_LOCK_TIMEOUT": "30",
                "MAPPER_TOPIC": get_topic(StructMapper),
                "APPLICATION_RECORDER_TOPIC": get_topic(ChainedRecorder),
            }
        )

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
        start = after + 1
        while True:
            notifications = self.recorder.select_notifications(
                start, batch, stop=upto
            )
            for n in notifications:
                event: LedgerEvent = self.mapper.to_domain_event(n)
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
