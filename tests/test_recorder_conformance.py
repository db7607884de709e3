"""ChainedRecorder against eventsourcing's own recorder test cases, plus the chain.

The library's cases prove the subclass is still a faithful application
recorder; after each concurrent case the chain must verify, which is what
"right under concurrency" means here.
"""

from __future__ import annotations

import multiprocessing
import uuid
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
    tmpfile_uris,
)

from ledger import chain
from ledger.store import ChainedRecorder
from ledger.verify import verify_chain


def chained_recorder(db_uri: str, pool_size: int = 100) -> ChainedRecorder:
    recorder = ChainedRecorder(SQLiteDatastore(db_name=db_uri, pool_size=pool_size))
    recorder.create_table()
    return recorder


class TestChainedRecorderAsApplicationRecorder(
    ApplicationRecorderTestCase[ChainedRecorder]
):
    """The library's SQLite application recorder cases, run on ChainedRecorder."""

    db_uri = ":memory:"

    def create_recorder(self) -> ChainedRecorder:
        self.recorder = chained_recorder(self.db_uri)
        return self.recorder

    def tearDown(self) -> None:
        recorder = getattr(self, "recorder", None)
        if recorder is not None and recorder.max_notification_id():
            result = verify_chain(recorder)
            assert result.ok, result
            assert result.count == recorder.max_notification_id()
        super().tearDown()

    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        self.db_uri = next(tmpfile_uris())
        super().test_concurrent_no_conflicts()

    def test_concurrent_no_conflicts_in_memory_db(self) -> None:
        self.db_uri = "file::memory:?cache=shared"
        super().test_concurrent_no_conflicts()

    def test_concurrent_throughput(self) -> None:
        self.db_uri = next(tmpfile_uris())
        super().test_concurrent_throughput()

    def test_concurrent_throughput_in_memory_db(self) -> None:
        self.db_uri = "file::memory:?cache=shared"
        super().test_concurrent_throughput()


class TestChainedRecorderDoesNotInterleave(NonInterleavingNotificationIDsBaseCase):
    """Two racing batches get contiguous positions, so each chains as one run."""

    def create_recorder(self) -> ChainedRecorder:
        self.recorder = chained_recorder(next(tmpfile_uris()))
        return self.recorder

    def test(self) -> None:
        super().test()
        assert verify_chain(self.recorder).ok


def stored_event(version: int = 1, state: bytes = b"{}") -> StoredEvent:
    return StoredEvent(
        originator_id=uuid.uuid4(), originator_version=version, topic="t", state=state
    )


def test_each_link_hashes_the_previous_link_and_the_entry(tmp_path: Path) -> None:
    recorder = chained_recorder(str(tmp_path / "l.db"), pool_size=5)
    events = [stored_event(state=bytes([i])) for i in range(3)]
    recorder.insert_events(events[:2])
    recorder.insert_events(events[2:])

    with recorder.datastore.transaction(commit=False) as c:
        c.execute("SELECT position, chain_hash FROM event_chain ORDER BY position")
        links = [(row[0], row[1]) for row in c.fetchall()]

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
        assert links[position - 1] == (position, previous)


def test_a_version_conflict_writes_neither_event_nor_link(tmp_path: Path) -> None:
    recorder = chained_recorder(str(tmp_path / "l.db"), pool_size=5)
    first = stored_event()
    recorder.insert_events([first])

    with pytest.raises(IntegrityError):
        recorder.insert_events([stored_event(), first])

    result = verify_chain(recorder)
    assert result.ok and result.count == 1


def test_appending_after_a_missing_link_is_refused(tmp_path: Path) -> None:
    recorder = chained_recorder(str(tmp_path / "l.db"), pool_size=5)
    recorder.insert_events([stored_event(), stored_event()])
    with recorder.datastore.transaction(commit=True) as c:
        c.execute("DELETE FROM event_chain WHERE position = 2")

    with pytest.raises(chain.ChainError, match="no hash for position 2"):
        recorder.insert_events([stored_event()])
    assert recorder.max_notification_id() == 2


def test_text_stream_ids_are_refused_up_front() -> None:
    with pytest.raises(ValueError, match="UUID"):
        ChainedRecorder(SQLiteDatastore(":memory:", originator_id_type="text"))


def _append_batches(db: str, batches: int, queue: Any) -> None:
    try:
        recorder = ChainedRecorder(SQLiteDatastore(db, lock_timeout=30, pool_size=2))
        for _ in range(batches):
            stream = uuid.uuid4()
            recorder.insert_events(
                [StoredEvent(stream, v, "t", b"x" * v) for v in range(1, 6)]
            )
        queue.put(None)
    except Exception as e:  # reported to the parent, which fails the test
        queue.put(repr(e))


def test_writers_in_separate_processes_never_fork_the_chain(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    chained_recorder(db, pool_size=2)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    writers = [
        context.Process(target=_append_batches, args=(db, 20, queue)) for _ in range(4)
    ]
    for writer in writers:
        writer.start()
    outcomes = [queue.get(timeout=120) for _ in writers]
    for writer in writers:
        writer.join(timeout=60)

    assert outcomes == [None] * 4
    result = verify_chain(chained_recorder(db, pool_size=2))
    assert result.ok and result.count == 4 * 20 * 5
