"""Recomputing the hash chain from the stored bytes, and summarising it as a tree.

Verifying reads the raw rows only (no mapper, no cipher), so an encrypted ledger
verifies without its key.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger import chain, merkle
from ledger.chain import Verification
from ledger.store import Ledger, StoredHistory

__all__ = [
    "BrokenHistory",
    "Digest",
    "Verification",
    "consistency_proof",
    "digest",
    "inclusion_proof",
    "diverges_from",
    "verify_chain",
]


def _recorder(source: Ledger | StoredHistory) -> StoredHistory:
    """The chained recorder of a ledger, SQLite or PostgreSQL alike."""
    recorder = source.recorder if isinstance(source, Ledger) else source
    assert isinstance(recorder, StoredHistory)
    return recorder


def verify_chain(
    source: Ledger | StoredHistory, keep: list[bytes] | None = None
) -> Verification:
    """Walk every stored event against its link; `keep` collects the hashes."""
    with _recorder(source).stored_history() as (events, links):
        return chain.verify(events, links, keep)


@dataclass(frozen=True)
class Digest:
    """The Merkle tree head over the first `size` verified chain hashes."""

    size: int
    root: bytes

    def as_json(self) -> dict[str, int | str]:
        return {"size": self.size, "root": self.root.hex()}

    @classmethod
    def from_json(cls, doc: object) -> Digest:
        """Read what `as_json` wrote; ValueError says what is wrong with it."""
        if not isinstance(doc, dict):
            msg = "a digest is a JSON object with 'size' and 'root'"
            raise ValueError(msg)
        size, root = doc.get("size"), doc.get("root")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            msg = f"the digest's size should be a whole number, not {size!r}"
            raise ValueError(msg)
        try:
            raw = bytes.fromhex(root) if isinstance(root, str) else b""
        except ValueError:
            raw = b""
        if len(raw) != chain.HASH_SIZE:
            msg = f"the digest's root should be 64 hex digits, not {root!r}"
            raise ValueError(msg)
        return cls(size, raw)


def digest(source: Ledger | StoredHistory, size: int | None = None) -> Digest:
    """The tree head of the first `size` events (all by default), once verified.

    A digest is a statement that the history up to `size` is intact, so it is
    taken over the recomputed chain hashes, and refused for a broken chain.
    """
    tree = merkle.MerkleTree(_verified_hashes(source))
    size = tree.size if size is None else size
    return Digest(size, tree.root(size))


def diverges_from(hashes: list[bytes], published: Digest) -> str | None:
    """Why the verified history does not extend a digest published earlier."""
    if published.size > len(hashes):
        return (
            f"the digest covers {published.size} events but the ledger holds "
            f"{len(hashes)} (events were removed from the end)"
        )
    root = merkle.MerkleTree(hashes[: published.size]).root()
    if root != published.root:
        return (
            f"the first {published.size} events no longer have the digest's root "
            f"(the history was rewritten, chain included)"
        )
    return None


def _verified_hashes(source: Ledger | StoredHistory) -> list[bytes]:
    hashes: list[bytes] = []
    result = verify_chain(source, keep=hashes)
    if not result.ok:
        raise BrokenHistory(result)
    return hashes


class BrokenHistory(Exception):
    """No proof is given about a history whose chain does not verify."""

    def __init__(self, result: Verification) -> None:
        super().__init__(
            f"verification failed at position {result.bad_position}: "
            f"{result.problem}; run 'cma-ledger verify'"
        )
        self.result = result


def inclusion_proof(
    source: Ledger | StoredHistory,
    position: int,
    size: int | None = None,
    with_entry: bool = False,
) -> dict[str, object]:
    """The audit path of the event at `position` in the tree of `size` events.

    `with_entry` adds the event's entry bytes and the previous chain hash, so a
    verifier can tie the leaf to the event itself: leaf = SHA-256(previous ||
    entry).
    """
    hashes = _verified_hashes(source)
    tree = merkle.MerkleTree(hashes)
    size = tree.size if size is None else size
    if not 1 <= position <= size:
        msg = f"position {position} is not in a history of {size} events"
        raise ValueError(msg)
    path = tree.inclusion_proof(position - 1, size)
    proof: dict[str, object] = {
        "size": size,
        "leaf_index": position - 1,
        "leaf": hashes[position - 1].hex(),
        "audit_path": [h.hex() for h in path],
        "root": tree.root(size).hex(),
    }
    if with_entry:
        previous = hashes[position - 2] if position > 1 else chain.GENESIS
        proof["previous"] = previous.hex()
        proof["entry"] = _entry(_recorder(source), position).hex()
    return proof


def consistency_proof(
    source: Ledger | StoredHistory, old_size: int, size: int | None = None
) -> dict[str, object]:
    """The proof that the tree of `old_size` events is a prefix of today's."""
    tree = merkle.MerkleTree(_verified_hashes(source))
    size = tree.size if size is None else size
    path = tree.consistency_proof(old_size, size)
    return {
        "old_size": old_size,
        "new_size": size,
        "proof": [h.hex() for h in path],
        "old_root": tree.root(old_size).hex(),
        "new_root": tree.root(size).hex(),
    }


def _entry(recorder: StoredHistory, position: int) -> bytes:
    return recorder.entry(position)
