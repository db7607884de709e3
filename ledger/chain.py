"""The hash chain over stored events.

Each stored event's chain hash is SHA-256 over the previous chain hash (32 zero
bytes before the first event) and the event's entry bytes. docs/verification.md
gives the same layout in prose, for anyone writing their own verifier.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

GENESIS = bytes(32)


def entry_bytes(position: int, stream_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    """position (8 bytes) | stream id (16) | version (8) | topic | stored state.

    Integers are unsigned big-endian; topic and state are each preceded by their
    length as a 4-byte unsigned big-endian integer; the topic is UTF-8.
    """
    topic_bytes = topic.encode("utf-8")
    return b"".join(
        (
            position.to_bytes(8, "big"),
            stream_id.bytes,
            version.to_bytes(8, "big"),
            len(topic_bytes).to_bytes(4, "big"),
            topic_bytes,
            len(state).to_bytes(4, "big"),
            state,
        )
    )


def next_hash(previous: bytes, entry: bytes) -> bytes:
    return hashlib.sha256(previous + entry).digest()
