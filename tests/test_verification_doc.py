"""Every value in docs/verification.md's worked example, recomputed."""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path

from ledger import chain, merkle, verifier
from ledger.store import stream_uuid

DOC = (Path(__file__).parent.parent / "docs" / "verification.md").read_text()
STATES = [
    b'{"recorded_at":"2025-06-01T12:00:00Z","record":{"type":"agency_registered",'
    b'"agency_id":"cty","name":"County","roles":["lead_agency",'
    b'"case_management_provider"],"private":false}}',
    b'{"recorded_at":"2025-06-01T12:00:00Z","record":{"type":'
    b'"case_manager_registered","staff_id":"cm-1","agency_id":"cty",'
    b'"name":"R. Ortiz","qualified_on":"2024-01-01"}}',
    b'{"recorded_at":"2025-06-01T12:00:00Z","record":{"type":"aide_registered",'
    b'"staff_id":"aide-1","agency_id":"cty","name":"J. Lee","hired_on":'
    b'"2024-01-01","high_school_graduate":true,"case_aide_experience_months":18,'
    b'"post_secondary_months":0}}',
]
ROWS = [
    ("agency/cty", "ledger.records:AgencyRegistered"),
    ("staff/cm-1", "ledger.records:CaseManagerRegistered"),
    ("staff/aide-1", "ledger.records:AideRegistered"),
]


def entries() -> list[bytes]:
    return [
        chain.entry_bytes(position, stream_uuid(stream), 1, topic, state)
        for position, ((stream, topic), state) in enumerate(
            zip(ROWS, STATES, strict=True), 1
        )
    ]


def doc_hex_block(after: str) -> str:
    """The hex digits of the fenced block that follows `after`, fields joined."""
    block = DOC.split(after, 1)[1].split("```", 2)[1]
    return "".join(re.findall(r"^([0-9a-f]+)", block, flags=re.MULTILINE))


def test_the_documented_entry_bytes_are_what_the_chain_hashes() -> None:
    first = entries()[0]

    assert doc_hex_block("Its entry bytes") == first.hex()
    assert f"({len(first)} bytes" in DOC
    assert STATES[0].decode() in DOC
    assert str(stream_uuid("agency/cty")) in DOC


def test_the_documented_chain_tree_and_proofs_are_recomputed() -> None:
    hashes, previous = [], chain.GENESIS
    for entry in entries():
        previous = hashlib.sha256(previous + entry).digest()
        hashes.append(previous)
    tree = merkle.MerkleTree(hashes)

    for position, h in enumerate(hashes, 1):
        assert f"chain_hash({position}) = {h.hex()}" in DOC
    assert merkle.leaf_hash(hashes[0]).hex() in DOC
    assert tree.root(2).hex() in DOC
    assert f'{{"size": 3, "root": "{tree.root().hex()}"}}' in DOC
    assert tree.inclusion_proof(1)[1].hex() in DOC
    assert [h.hex() for h in tree.consistency_proof(2)] == [
        tree.inclusion_proof(1)[1].hex()
    ]
    verifier.verify_inclusion(
        1, 3, verifier.leaf_hash(hashes[1]), tree.inclusion_proof(1), tree.root()
    )


def test_the_stream_id_is_a_uuid5_in_the_ledgers_namespace() -> None:
    assert stream_uuid("agency/cty") == uuid.UUID(
        "efe14504-697e-5e56-a2a0-d8ee81dbc85f"
    )
