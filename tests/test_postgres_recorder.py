"""ChainedPostgresRecorder against eventsourcing's own recorder test cases, plus
the chain, as tests/test_recorder_conformance.py does for SQLite.

eventsourcing ships its generic application recorder cases in
`eventsourcing.tests.persistence`; its PostgreSQL setup (`postgres_utils`)
imports example packages that are not installed, so each case here gets a
fresh schema of its own instead, dropped afterwards.
"""

from __future__ import annotations

import multiprocessing
import uuid
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
)
from pg_support import fresh_schema
from psycopg import sql

from ledger import chain
from ledger.locations import PostgresLocation
from ledger.postgres import ChainedPostgresRecorder
from ledger.verify import verify_chain


def datastore(
    location: PostgresLocation, pool_size: int = 1, **kwargs: Any
) -> PostgresDatastore:
    return PostgresDatastore(
        location.dbname,
        location.host,
        location.port,
        location.user,
        location.resolved_password(),
        schema=location.schema,
        pool_size=pool_size,
        **kwargs,
    )


def chained_recorder(
    location: PostgresLocation, pool_size: int = 1
) -> ChainedPostgresRecorder:
    recorder = ChainedPostgresRecorder(datastore(location, pool_size))
    recorder.create_table()
    return recorder


class InFreshSchema:
    """unittest set-up: a schema per test, its datastore closed and dropped after."""

    pool_size = 1

    def setUp(self) -> None:
        self._schema = fresh_schema()
        self.location = self._schema.__enter__()
        self.datastore = datastore(self.location, self.pool_size)
        self.recorder: ChainedPostgresRecorder | None = None
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        try:
            recorder = self.recorder
            if recorder is not None and recorder.max_notification_id():
                result = verify_chain(recorder)
                assert result.ok, result
                assert result.count == recorder.max_notification_id()
        finally:
            self.datastore.close()
            self._schema.__exit__(None, None, None)
            super().tearDown()  # type: ignore[misc]

    def create_recorder(self) -> ChainedPostgresRecorder:
        self.recorder = ChainedPostgresRecorder(self.datastore)
        self.recorder.create_table()
        return self.recorder


class TestChainedPostgresRecorderAsApplicationRecorder(
    InFreshSchema, ApplicationRecorderTestCase[ChainedPostgresRecorder]
):
    """The library's application recorder cases, run on ChainedPostgresRecorder.

    After each case the chain must verify over every stored event, which is
    what "right under concurrency" means here.
    """

    def test_concurrent_throughput(self) -> None:
        self.datastore.pool.open()
        self.datastore.pool.resize(4, 4)
        super().test_concurrent_throughput()

    def test_insert_subscribe(self) -> None:
        self.datastore.pool.open()
        self.datastore.pool.resize(2, 2)
        super().optional_test_insert_subscribe()


class TestChainedPostgresRecorderDoesNotInterleave(
    InFreshSchema, NonInterleavingNotificationIDsBaseCase
):
    """Two racing batches get contiguous positions, so each chains as one run."""

    pool_size = 2


@pytest.fixture
def location() -> Any:
    with fresh_schema() as fresh:
        yield fresh


def stored_event(version: int = 1, state: bytes = b"{}") -> StoredEvent:
    return StoredEvent(
        originator_id=uuid.uuid4(), originator_version=version, topic="t", state=state
    )


def links_of(recorder: ChainedPostgresRecorder) -> list[tuple[int, bytes]]:
    return [(p, bytes(h)) for p, h in recorder.chain_links(0, 2**62)]


def test_each_link_hashes_the_previous_link_and_the_entry(
    location: PostgresLocation,
) -> None:
    recorder = chained_recorder(location)
    events = [stored_event(state=bytes([i])) for i in range(3)]
    recorder.insert_events(events[:2])
    recorder.insert_events(events[2:])

    previous = chain.GENESIS
    for position, event in enumerate(events, start=1):
        entry = chain.entry_bytes(
            position,
            event.originator_id,
            1,
            "t",
            event.state,  # type: ignore[arg-type]
        )
        previous = chain.next_hash(previous, entry)
        assert links_of(recorder)[position - 1] == (position, previous)
        assert recorder.entry(position) == entry


def test_a_version_conflict_writes_neither_event_nor_link_and_leaves_no_gap(
    location: PostgresLocation,
) -> None:
    recorder = chained_recorder(location)
    first = stored_event()
    recorder.insert_events([first])

    with pytest.raises(IntegrityError):
        recorder.insert_events([stored_event(), first])
    assert recorder.insert_events([stored_event()]) == [2]

    result = verify_chain(recorder)
    assert result.ok and result.count == 2


def test_appending_after_a_missing_link_is_refused(location: PostgresLocation) -> None:
    recorder = chained_recorder(location)
    recorder.insert_events([stored_event(), stored_event()])
    with recorder.datastore.transaction(commit=True) as c:
        c.execute(
            sql.SQL("DELETE FROM {}.{} WHERE position = 2").format(
                sql.Identifier(location.schema), sql.Identifier(recorder.chain_table)
            )
        )

    with pytest.raises(chain.ChainError, match="no hash for position 2"):
        recorder.insert_events([stored_event()])
    assert recorder.max_notification_id() == 2


def test_text_stream_ids_and_database_functions_are_refused_up_front(
    location: PostgresLocation,
) -> None:
    with pytest.raises(ValueError, match="UUID"):
        ChainedPostgresRecorder(datastore(location, originator_id_type="text"))
    with pytest.raises(ValueError, match="POSTGRES_ENABLE_DB_FUNCTIONS"):
        ChainedPostgresRecorder(datastore(location, enable_db_functions=True))


def _append_batches(url: str, schema: str, batches: int, queue: Any) -> None:
    try:
        location = PostgresLocation.parse(f"{url}?schema={schema}")
        recorder = ChainedPostgresRecorder(datastore(location))
        for _ in range(batches):
            stream = uuid.uuid4()
            recorder.insert_events(
                [StoredEvent(stream, v, "t", b"x" * v) for v in range(1, 6)]
            )
        queue.put(None)
    except Exception as e:  # reported to the parent, which fails the test
        queue.put(repr(e))


def test_writers_in_separate_processes_never_fork_the_chain(
    location: PostgresLocation,
) -> None:
    recorder = chained_recorder(location)
    url = str(location).split("?")[0]
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    writers = [
        context.Process(target=_append_batches, args=(url, location.schema, 20, queue))
        for _ in range(4)
    ]
    for writer in writers:
        writer.start()
    outcomes = [queue.get(timeout=120) for _ in writers]
    for writer in writers:
        writer.join(timeout=60)

    assert outcomes == [None] * 4
    result = verify_chain(recorder)
    assert result.ok and result.count == 4 * 20 * 5
