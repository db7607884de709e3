"""The hash chain over stored events, independent of the database holding them.

Each stored event's chain hash is SHA-256 over the previous chain hash (32 zero
bytes before the first event) and the event's entry bytes. A recorder calls
`extend` inside the transaction that inserts the events, so the chain and the
events commit together; `verify` recomputes it from the stored bytes alone.
docs/verification.md gives the same layout in prose, for anyone writing their
own verifier.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any, NamedTuple, Protocol
from uuid import UUID

GENESIS = bytes(32)
HASH_SIZE = 32


class StoredRow(NamedTuple):
    """One stored event as the chain sees it: its place and its exact bytes."""

    position: int
    stream_id: UUID
    version: int
    topic: str
    state: bytes


class ChainError(Exception):
    """The chain cannot be extended: the history it would extend is damaged."""


def entry_bytes(
    position: int, stream_id: UUID | bytes, version: int, topic: str, state: bytes
) -> bytes:
    """position (8 bytes) | stream id (16) | version (8) | topic | stored state.

    Integers are unsigned big-endian; topic and state are each preceded by their
    length as a 4-byte unsigned big-endian integer; the topic is UTF-8. The
    stream id is a UUID or its 16 bytes.
    """
    stream = stream_id.bytes if isinstance(stream_id, UUID) else stream_id
    topic_bytes = topic.encode("utf-8")
    return b"".join(
        (
            position.to_bytes(8, "big"),
            stream,
            version.to_bytes(8, "big"),
            len(topic_bytes).to_bytes(4, "big"),
            topic_bytes,
            len(state).to_bytes(4, "big"),
            state,
        )
    )


def next_hash(previous: bytes, entry: bytes) -> bytes:
    return hashlib.sha256(previous + entry).digest()


class Stored(Protocol):
    """What a recorder inserts: eventsourcing's StoredEvent has these fields."""

    @property
    def originator_id(self) -> UUID | str: ...
    @property
    def originator_version(self) -> int: ...
    @property
    def topic(self) -> str: ...
    @property
    def state(self) -> bytes: ...


def appended_rows(
    positions: Sequence[int], stored_events: Sequence[Stored]
) -> Iterator[StoredRow]:
    """The rows a recorder just inserted, at the positions it gave them."""
    for position, stored in zip(positions, stored_events, strict=True):
        stream_id = stored.originator_id
        yield StoredRow(
            position,
            stream_id if isinstance(stream_id, UUID) else UUID(stream_id),
            stored.originator_version,
            stored.topic,
            stored.state,
        )


def link_before(first: int, found: bytes | None) -> bytes:
    """The chain hash that events appended from position `first` extend.

    A missing link before them means the history was damaged: appending on top
    would hide where, so it is refused.
    """
    if first == 1:
        return GENESIS
    if found is None:
        msg = (
            f"the chain has no hash for position {first - 1}, so nothing can "
            "be appended; run 'cma-ledger verify' to find the damage"
        )
        raise ChainError(msg)
    return found


def extend(previous: bytes, rows: Iterable[StoredRow]) -> list[tuple[int, bytes]]:
    """The (position, chain hash) links for rows appended after `previous`."""
    links = []
    for row in rows:
        previous = next_hash(previous, entry_bytes(*row))
        links.append((row.position, previous))
    return links


@dataclass(frozen=True)
class Verification:
    """The outcome of recomputing the chain: how far it held, and what broke."""

    count: int
    bad_position: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.bad_position is None


class Broken(Exception):
    """Where a recomputed chain first disagrees with what is stored."""

    def __init__(self, position: int, problem: str) -> None:
        super().__init__(f"position {position}: {problem}")
        self.position = position
        self.problem = problem


def walk(
    events: Iterable[tuple[Any, ...]], links: Iterable[tuple[Any, ...]]
) -> Iterator[bytes]:
    """Recompute the chain hash of each position from 1, checking each stored link.

    `events` are stored rows (position, stream id as hex text, version, topic,
    state) and `links` stored (position, chain hash), both in position order, as
    read from the database, their types untrusted. Yields each recomputed hash
    that matches its link; raises `Broken` at the first position that does not.
    """
    previous = GENESIS
    for expected, (event, link) in enumerate(zip_longest(events, links), start=1):
        if event is None or link is None or not event[0] == link[0] == expected:
            raise _misaligned(expected, event, link)
        previous = next_hash(previous, entry_bytes(*_checked(event)))
        if previous != link[1]:
            raise Broken(
                expected,
                "the stored bytes do not match the chain hash "
                "(changed, swapped or inserted)",
            )
        yield previous


def _misaligned(
    expected: int, event: tuple[Any, ...] | None, link: tuple[Any, ...] | None
) -> Broken:
    """Say which of the two tables lacks `expected`, the first position not found."""
    has_event = event is not None and event[0] == expected
    has_link = link is not None and link[0] == expected
    if has_event:
        return Broken(
            expected, "the event has no chain hash (added outside the ledger)"
        )
    if has_link:
        return Broken(
            expected, "the event is missing but its chain hash is still there (deleted)"
        )
    return Broken(
        expected, "the position is missing from both the events and the chain (deleted)"
    )


def _checked(event: tuple[Any, ...]) -> tuple[int, bytes, int, str, bytes]:
    position, stream_id, version, topic, state = event
    try:
        stream = bytes.fromhex(stream_id)
    except (TypeError, ValueError):
        stream = b""
    if len(stream) != 16:
        raise Broken(position, "the stream id is not a UUID in hex (changed)")
    if not isinstance(version, int) or not 0 <= version < 2**63:
        raise Broken(position, "the version is not a whole number (changed)")
    if not isinstance(topic, str):
        raise Broken(position, "the topic is not text (changed)")
    if not isinstance(state, bytes):
        raise Broken(position, "the state is not stored as bytes (changed)")
    return position, stream, version, topic, state


def verify(
    events: Iterable[tuple[Any, ...]],
    links: Iterable[tuple[Any, ...]],
    keep: list[bytes] | None = None,
) -> Verification:
    """Walk the whole chain; `keep`, when given, collects the recomputed hashes."""
    count = 0
    try:
        for chain_hash in walk(events, links):
            count += 1
            if keep is not None:
                keep.append(chain_hash)
    except Broken as broken:
        return Verification(count, broken.position, broken.problem)
    return Verification(count)
