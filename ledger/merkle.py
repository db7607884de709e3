"""RFC 6962 Merkle trees over the chain hashes: tree heads and their proofs.

The leaves are the 32-byte chain hashes in position order (leaf index =
position - 1). A leaf hashes as SHA-256(0x00 || leaf), a node as
SHA-256(0x01 || left || right), and a tree of n leaves splits at the largest
power of two below n (RFC 6962 section 2.1; RFC 9162 section 2.1 is the same).
The proofs follow the RFC's PATH and PROOF definitions word for word; checking
them is `ledger.verifier`'s job, deliberately written apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """k, the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """The tree over a list of leaves, able to answer for any earlier size too."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.hashes = [leaf_hash(leaf) for leaf in leaves]

    @property
    def size(self) -> int:
        return len(self.hashes)

    def root(self, size: int | None = None) -> bytes:
        """MTH(D[size]): the tree head of the first `size` leaves."""
        size = self._size(size)
        return self._mth(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]): the audit path of one leaf."""
        size = self._size(size)
        if not 0 <= index < size:
            msg = f"leaf index {index} is outside a tree of size {size}"
            raise ValueError(msg)
        return self._path(index, 0, size)

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[size]): that the older tree is a prefix of this one."""
        size = self._size(size)
        if not 0 <= old_size <= size:
            msg = f"old size {old_size} is not between 0 and the tree size {size}"
            raise ValueError(msg)
        if old_size in (0, size):
            return []
        return self._subproof(old_size, 0, size, True)

    def _size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            msg = f"the tree has {self.size} leaves; there is no tree of size {size}"
            raise ValueError(msg)
        return size

    def _mth(self, lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return self.hashes[lo]
        k = split(hi - lo)
        return node_hash(self._mth(lo, lo + k), self._mth(lo + k, hi))

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = split(n)
        if m < k:
            return [*self._path(m, lo, lo + k), self._mth(lo + k, hi)]
        return [*self._path(m - k, lo + k, hi), self._mth(lo, lo + k)]

    def _subproof(self, m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if complete else [self._mth(lo, hi)]
        k = split(n)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, complete), self._mth(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self._mth(lo, lo + k)]
