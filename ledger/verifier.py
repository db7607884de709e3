#!/usr/bin/env python3
"""Check a cma-ledger history without trusting cma-ledger: standard library only.

This file imports nothing from the ledger, on purpose. An auditor can read it
in one sitting, copy it anywhere Python 3.11 runs, and use it to

- recompute the hash chain from the raw bytes of a ledger file and compare the
  Merkle tree head with a digest published earlier (`digest`), or print the
  tree head it computes (`chain`);
- check an inclusion proof, optionally against a digest (`inclusion`);
- check a consistency proof, optionally against two digests (`consistency`).

    python ledger/verifier.py chain LEDGER.db
    python ledger/verifier.py digest DIGEST.json --ledger LEDGER.db
    python ledger/verifier.py inclusion PROOF.json [--digest DIGEST.json]
    python ledger/verifier.py consistency PROOF.json [--old OLD.json] [--new NEW.json]

Exit 0 when everything checks, 1 when something does not (the reason on
stderr), 2 for a usage error. docs/verification.md describes every byte hashed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

HASH_SIZE = 32
GENESIS = bytes(HASH_SIZE)
EMPTY_ROOT = hashlib.sha256(b"").digest()
EVENTS_TABLE = "stored_events"
CHAIN_TABLE = "event_chain"


class VerificationError(Exception):
    """Something does not check; the message says what."""


# RFC 6962 / RFC 9162 section 2.1: hashing.


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes: the left subtree takes the largest power of two."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return node_hash(merkle_root(leaf_hashes[:k]), merkle_root(leaf_hashes[k:]))


# RFC 9162 section 2.1.3.2: verifying an inclusion proof.


def root_from_inclusion_proof(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root that `proof` leads to from the leaf hash `leaf` at `index`."""
    _check_hashes([leaf, *proof])
    if not 0 <= index < size:
        msg = f"leaf index {index} is outside a tree of size {size}"
        raise VerificationError(msg)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            msg = "the inclusion proof is longer than the tree is deep"
            raise VerificationError(msg)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        msg = "the inclusion proof is shorter than the tree is deep"
        raise VerificationError(msg)
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise unless the leaf hash `leaf` is at `index` in the tree with `root`."""
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        msg = "the inclusion proof does not lead to the root"
        raise VerificationError(msg)


# RFC 9162 section 2.1.4.2: verifying a consistency proof.


def verify_consistency(
    old_size: int,
    new_size: int,
    proof: Sequence[bytes],
    old_root: bytes,
    new_root: bytes,
) -> None:
    """Raise unless the tree with `old_root` is a prefix of the one with `new_root`."""
    _check_hashes([*proof, old_root, new_root])
    if not 0 <= old_size <= new_size:
        msg = f"old size {old_size} is not between 0 and new size {new_size}"
        raise VerificationError(msg)
    if old_size == new_size or old_size == 0:
        if proof:
            msg = "the consistency proof should be empty for these sizes"
            raise VerificationError(msg)
        expected_old = new_root if old_size == new_size else EMPTY_ROOT
        if old_root != expected_old:
            msg = "the old root does not match the tree it claims to be"
            raise VerificationError(msg)
        return
    if not proof:
        msg = "the consistency proof is empty"
        raise VerificationError(msg)

    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1

    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            msg = "the consistency proof is longer than the trees need"
            raise VerificationError(msg)
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1

    if sn != 0:
        msg = "the consistency proof is shorter than the trees need"
        raise VerificationError(msg)
    if fr != old_root:
        msg = "the consistency proof does not lead to the old root"
        raise VerificationError(msg)
    if sr != new_root:
        msg = "the consistency proof does not lead to the new root"
        raise VerificationError(msg)


def _check_hashes(hashes: Sequence[bytes]) -> None:
    for h in hashes:
        if len(h) != HASH_SIZE:
            msg = f"a hash is {len(h)} bytes, not {HASH_SIZE}"
            raise VerificationError(msg)


# The ledger's hash chain, recomputed from the raw rows of its SQLite file.


def entry_bytes(
    position: int, stream_id: uuid.UUID, version: int, topic: str, state: bytes
) -> bytes:
    """position u64 | stream id 16 | version u64 | u32 len | topic | u32 len | state."""
    topic_bytes = topic.encode("utf-8")
    return (
        position.to_bytes(8, "big")
        + stream_id.bytes
        + version.to_bytes(8, "big")
        + len(topic_bytes).to_bytes(4, "big")
        + topic_bytes
        + len(state).to_bytes(4, "big")
        + state
    )


def chain_hashes(ledger: Path) -> list[bytes]:
    """Every chain hash, recomputed from the stored events and checked link by link."""
    if not ledger.is_file():
        msg = f"no ledger file at {ledger}"
        raise VerificationError(msg)
    # A copy in a read-only folder cannot take SQLite's shared-memory file, so
    # it is opened immutable: the auditor's copy is not being written anyway.
    writable = os.access(ledger.resolve().parent, os.W_OK)
    mode = "mode=ro" if writable else "immutable=1"
    con = sqlite3.connect(f"{ledger.resolve().as_uri()}?{mode}", uri=True)
    try:
        events = con.execute(
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {EVENTS_TABLE} ORDER BY rowid"
        )
        links = con.cursor().execute(
            f"SELECT position, chain_hash FROM {CHAIN_TABLE} ORDER BY position"
        )
        return list(_walk(events, links))
    except sqlite3.Error as e:
        msg = f"{ledger} is not a readable cma-ledger file: {e}"
        raise VerificationError(msg) from e
    finally:
        con.close()


def _walk(events: Iterator[Any], links: Iterator[Any]) -> Iterator[bytes]:
    previous, expected = GENESIS, 1
    event, link = next(events, None), next(links, None)
    while event is not None or link is not None:
        at_event = event[0] if event is not None else None
        at_link = link[0] if link is not None else None
        position = min(p for p in (at_event, at_link) if p is not None)
        if position != expected:
            _broken(expected, "missing from both the events and the chain")
        if at_event != position:
            _broken(position, "the event is missing but its chain hash is there")
        if at_link != position:
            _broken(position, "the event has no chain hash")
        assert event is not None and link is not None
        _, stream_id, version, topic, state = event
        try:
            stream = uuid.UUID(bytes=bytes.fromhex(stream_id))
            if not isinstance(state, bytes) or isinstance(version, bool):
                raise TypeError(state)
            entry = entry_bytes(position, stream, version, topic, state)
        except (ValueError, TypeError, AttributeError, OverflowError):
            _broken(position, "the stored row is not well formed")
        previous = hashlib.sha256(previous + entry).digest()
        if previous != link[1]:
            _broken(position, "the stored bytes do not match the chain hash")
        yield previous
        expected += 1
        event, link = next(events, None), next(links, None)


def _broken(position: int, problem: str) -> NoReturn:
    msg = f"the chain breaks at position {position}: {problem}"
    raise VerificationError(msg)


# The JSON documents that `cma-ledger digest` and `cma-ledger prove` print.


def check_digest(digest: dict[str, Any], ledger: Path) -> int:
    """Raise unless the ledger's first `size` events have the digest's root."""
    size, root = _int(digest, "size"), _hash(digest, "root")
    hashes = chain_hashes(ledger)
    if size > len(hashes):
        msg = f"the digest covers {size} events; the ledger holds {len(hashes)}"
        raise VerificationError(msg)
    if merkle_root([leaf_hash(h) for h in hashes[:size]]) != root:
        msg = f"the ledger's first {size} events do not have the digest's root"
        raise VerificationError(msg)
    return len(hashes)


def check_inclusion(proof: dict[str, Any], digest: dict[str, Any] | None) -> None:
    """Raise unless the proof holds, and matches `digest` when one is given."""
    size, index = _int(proof, "size"), _int(proof, "leaf_index")
    leaf, root = _hash(proof, "leaf"), _hash(proof, "root")
    path = [_hex(h, "audit_path") for h in _list(proof, "audit_path")]
    if digest is not None:
        _same_head(size, root, digest, "the proof's tree")
    if "entry" in proof:
        _check_entry(proof, index, leaf)
    verify_inclusion(index, size, leaf_hash(leaf), path, root)


def _check_entry(proof: dict[str, Any], index: int, leaf: bytes) -> None:
    entry, previous = _hex(proof["entry"], "entry"), _hash(proof, "previous")
    if hashlib.sha256(previous + entry).digest() != leaf:
        msg = "SHA-256(previous || entry) is not the leaf"
        raise VerificationError(msg)
    if int.from_bytes(entry[:8], "big") != index + 1:
        msg = "the entry's position is not leaf_index + 1"
        raise VerificationError(msg)


def check_consistency(
    proof: dict[str, Any],
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
) -> None:
    old_size, new_size = _int(proof, "old_size"), _int(proof, "new_size")
    old_root, new_root = _hash(proof, "old_root"), _hash(proof, "new_root")
    path = [_hex(h, "proof") for h in _list(proof, "proof")]
    if old is not None:
        _same_head(old_size, old_root, old, "the proof's old tree")
    if new is not None:
        _same_head(new_size, new_root, new, "the proof's new tree")
    verify_consistency(old_size, new_size, path, old_root, new_root)


def _same_head(size: int, root: bytes, digest: dict[str, Any], what: str) -> None:
    if (size, root) != (_int(digest, "size"), _hash(digest, "root")):
        msg = f"{what} (size {size}) is not the digest's (size {digest.get('size')})"
        raise VerificationError(msg)


def _int(doc: dict[str, Any], key: str) -> int:
    value = doc.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        msg = f"'{key}' should be a whole number, not {value!r}"
        raise VerificationError(msg)
    return value


def _list(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key)
    if not isinstance(value, list):
        msg = f"'{key}' should be a list of hex strings"
        raise VerificationError(msg)
    return value


def _hash(doc: dict[str, Any], key: str) -> bytes:
    value = _hex(doc.get(key), key)
    _check_hashes([value])
    return value


def _hex(value: object, key: str) -> bytes:
    if not isinstance(value, str):
        msg = f"'{key}' should be hex text, not {value!r}"
        raise VerificationError(msg)
    try:
        return bytes.fromhex(value)
    except ValueError:
        msg = f"'{key}' is not hex: {value[:70]!r}"
        raise VerificationError(msg) from None


def _load(name: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text()
        doc = json.loads(text)
    except (OSError, ValueError) as e:
        msg = f"cannot read {name}: {e}"
        raise VerificationError(msg) from e
    if not isinstance(doc, dict):
        msg = f"{name} is not a JSON object"
        raise VerificationError(msg)
    return doc


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="verifier.py", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    chain = commands.add_parser("chain", help="recompute the chain; print the head")
    chain.add_argument("ledger", type=Path)
    digest = commands.add_parser("digest", help="check a digest against a ledger")
    digest.add_argument("digest", help="digest JSON ('-' for stdin)")
    digest.add_argument("--ledger", type=Path, required=True)
    inclusion = commands.add_parser("inclusion", help="check an inclusion proof")
    inclusion.add_argument("proof", help="proof JSON ('-' for stdin)")
    inclusion.add_argument("--digest", help="a digest the proof's tree must match")
    consistency = commands.add_parser("consistency", help="check a consistency proof")
    consistency.add_argument("proof", help="proof JSON ('-' for stdin)")
    consistency.add_argument("--old", help="a digest the old tree must match")
    consistency.add_argument("--new", help="a digest the new tree must match")
    args = parser.parse_args(argv)

    try:
        if args.command == "chain":
            hashes = chain_hashes(args.ledger)
            root = merkle_root([leaf_hash(h) for h in hashes])
            print(json.dumps({"size": len(hashes), "root": root.hex()}))
        elif args.command == "digest":
            count = check_digest(_load(args.digest), args.ledger)
            print(f"ok: the digest matches; the chain of {count} events is intact")
        elif args.command == "inclusion":
            trusted = _load(args.digest) if args.digest else None
            check_inclusion(_load(args.proof), trusted)
            print("ok: the leaf is in the tree")
        else:
            old = _load(args.old) if args.old else None
            new = _load(args.new) if args.new else None
            check_consistency(_load(args.proof), old, new)
            print("ok: the old tree is a prefix of the new one")
    except VerificationError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
