"""Recomputing the hash chain from the stored bytes, position by position."""

from __future__ import annotations


import uuid
from dataclasses import dataclass

from ledger import chain
from ledger.store import ChainedRecorder, Ledger


@dataclass(frozen=True)
class Verification:
    count: int
    bad_position: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.bad_position is None


def verify_rows(
    events: list[tuple[int, str, int, str, bytes]], links: list[tuple[int, bytes]]
) -> Verification:
    """Compare stored events (position, stream id, version, topic, state) with links."""
    previous = chain.GENESIS
    stored = {row[0]: row for row in events}
    linked = dict(links)
    positions = sorted(set(stored) | set(linked))
    for expected, position in enumerate(positions, start=1):
        if position != expected:
            return Verification(expected - 1, expected, "position is missing from the history")
        row = stored.get(position)
        if row is None:
            return Verification(position - 1, position, "the event was deleted")
        link = linked.get(position)
        if link is None:
            return Verification(position - 1, position, "the event has no chain hash (inserted)")
        _, stream_id, version, topic, state = row
        entry = chain.entry_bytes(position, uuid.UUID(stream_id), version, topic, state)
        previous = chain.next_hash(previous, entry)
        if previous != link:
            return Verification(position - 1, position, "stored bytes do not match the chain")
    return Verification(len(positions))


def verify_chain(ledger: Ledger) -> Verification:
    recorder: ChainedRecorder = ledger.recorder  # type: ignore[assignment]
    with recorder.datastore.transaction(commit=False) as c:
        c.execute(
            f"SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {recorder.events_table_name} ORDER BY rowid"
        )
        events = [tuple(row) for row in c.fetchall()]
        c.execute(f"SELECT position, chain_hash FROM {recorder.chain_table} ORDER BY position")
        links = [tuple(row) for row in c.fetchall()]
    return verify_rows(events, links)  # type: ignore[arg-type]



