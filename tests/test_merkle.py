"""The Merkle tree, its proofs, and the standalone verifier, against RFC 6962.

The vectors are Certificate Transparency's (transparency-dev/merkle,
proof/verify_test.go, the Go port of the C++ suite): eight leaves, the tree
head of every size 1 to 8, and known inclusion and consistency proofs. The
size-8 root, 5dc9da79...4328, is recomputed here too, never just trusted.
"""

from __future__ import annotations

import ast
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from small_county import small_county_feed

from ledger import merkle, verifier
from ledger.cli import main
from ledger.store import open_history
from ledger.verifier import VerificationError, verify_consistency, verify_inclusion
from ledger.verify import consistency_proof, digest, inclusion_proof

LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
ROOTS = [  # tree heads of sizes 1 to 8
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
INCLUSION = [  # (leaf index, tree size, audit path)
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (0, 1, []),
]
CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
SOME_HASH = bytes.fromhex(
    "abacaba000000000000000000000000000000000000000000060061e00123456"
)
VERIFIER = Path(verifier.__file__)


def unhex(hashes: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hashes]


def test_the_size_eight_root_is_recomputed_from_first_principles() -> None:
    h = hashlib.sha256
    leaf = [h(b"\x00" + d).digest() for d in LEAVES]
    node = [h(b"\x01" + leaf[i] + leaf[i + 1]).digest() for i in range(0, 8, 2)]
    left = h(b"\x01" + node[0] + node[1]).digest()
    right = h(b"\x01" + node[2] + node[3]).digest()

    assert h(b"\x01" + left + right).hexdigest() == ROOTS[7]


def test_tree_heads_match_the_published_roots_for_every_size() -> None:
    tree = merkle.MerkleTree(LEAVES)

    assert tree.root(0).hex() == EMPTY_ROOT
    assert [tree.root(n).hex() for n in range(1, 9)] == ROOTS
    for n in range(9):
        hashes = [verifier.leaf_hash(d) for d in LEAVES[:n]]
        assert verifier.merkle_root(hashes) == tree.root(n)


@pytest.mark.parametrize("index, size, path", INCLUSION)
def test_inclusion_proofs_match_the_published_vectors(
    index: int, size: int, path: list[str]
) -> None:
    tree = merkle.MerkleTree(LEAVES)

    assert tree.inclusion_proof(index, size) == unhex(path)
    verify_inclusion(
        index,
        size,
        verifier.leaf_hash(LEAVES[index]),
        unhex(path),
        bytes.fromhex(ROOTS[size - 1]),
    )


@pytest.mark.parametrize("old, new, proof", CONSISTENCY)
def test_consistency_proofs_match_the_published_vectors(
    old: int, new: int, proof: list[str]
) -> None:
    tree = merkle.MerkleTree(LEAVES)

    assert tree.consistency_proof(old, new) == unhex(proof)
    verify_consistency(
        old,
        new,
        unhex(proof),
        bytes.fromhex(ROOTS[old - 1]),
        bytes.fromhex(ROOTS[new - 1]),
    )


def flipped(proof: list[bytes], at: int) -> list[bytes]:
    copy = list(proof)
    copy[at] = bytes([copy[at][0] ^ 0x08]) + copy[at][1:]
    return copy


def altered_inclusion(
    index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes
) -> Iterator[tuple[str, tuple[int, int, bytes, list[bytes], bytes]]]:
    """Every way of spoiling a good inclusion proof that must then be refused."""
    yield "index - 1", (index - 1, size, leaf, proof, root)
    yield "index + 1", (index + 1, size, leaf, proof, root)
    yield "index ^ 2", (index ^ 2, size, leaf, proof, root)
    yield "size * 2", (index, size * 2, leaf, proof, root)
    yield "size // 2", (index, size // 2, leaf, proof, root)
    yield "wrong leaf", (index, size, SOME_HASH, proof, root)
    yield "wrong root", (index, size, leaf, proof, SOME_HASH)
    yield "empty-tree root", (index, size, leaf, proof, bytes.fromhex(EMPTY_ROOT))
    yield "extra element", (index, size, leaf, [*proof, root], root)
    yield "element in front", (index, size, leaf, [root, *proof], root)
    yield "short element", (index, size, leaf, [*proof, b""], root)
    for i in range(len(proof)):
        yield (
            f"flipped byte in element {i}",
            (index, size, leaf, flipped(proof, i), root),
        )
        yield (
            f"dropped element {i}",
            (index, size, leaf, proof[:i] + proof[i + 1 :], root),
        )


def altered_consistency(
    old: int, new: int, proof: list[bytes], old_root: bytes, new_root: bytes
) -> Iterator[tuple[str, tuple[int, int, list[bytes], bytes, bytes]]]:
    """Every way of spoiling a good, non-empty consistency proof."""
    yield "old - 1", (old - 1, new, proof, old_root, new_root)
    yield "old + 1", (old + 1, new, proof, old_root, new_root)
    yield "old ^ 2", (old ^ 2, new, proof, old_root, new_root)
    yield "new * 2", (old, new * 2, proof, old_root, new_root)
    yield "new // 2", (old, new // 2, proof, old_root, new_root)
    yield "wrong old root", (old, new, proof, SOME_HASH, new_root)
    yield "wrong new root", (old, new, proof, old_root, SOME_HASH)
    yield "swapped roots", (old, new, proof, new_root, old_root)
    yield "empty proof", (old, new, [], old_root, new_root)
    yield "extra old root", (old, new, [*proof, old_root], old_root, new_root)
    yield "extra new root", (old, new, [*proof, new_root], old_root, new_root)
    yield "old root in front", (old, new, [old_root, *proof], old_root, new_root)
    yield "element repeated", (old, new, [proof[0], *proof], old_root, new_root)
    for i in range(len(proof)):
        yield (
            f"flipped byte in element {i}",
            (old, new, flipped(proof, i), old_root, new_root),
        )
        yield (
            f"dropped element {i}",
            (old, new, proof[:i] + proof[i + 1 :], old_root, new_root),
        )


@pytest.mark.parametrize("size", range(1, 65))
def test_every_inclusion_proof_verifies_and_every_altered_one_is_refused(
    size: int,
) -> None:
    tree = merkle.MerkleTree([i.to_bytes(4, "big") * 8 for i in range(size)])
    root = tree.root()

    for index in range(size):
        proof = tree.inclusion_proof(index)
        verify_inclusion(index, size, tree.hashes[index], proof, root)
        for change, args in altered_inclusion(
            index, size, tree.hashes[index], proof, root
        ):
            with pytest.raises(VerificationError):
                verify_inclusion(*args)
                pytest.fail(f"size {size}, index {index}: {change} was accepted")


@pytest.mark.parametrize("size", range(1, 65))
def test_every_consistency_proof_verifies_and_every_altered_one_is_refused(
    size: int,
) -> None:
    tree = merkle.MerkleTree([i.to_bytes(4, "big") * 8 for i in range(size)])
    root = tree.root()

    for old in range(size + 1):
        proof = tree.consistency_proof(old)
        verify_consistency(old, size, proof, tree.root(old), root)
        if not proof:
            continue
        for change, args in altered_consistency(old, size, proof, tree.root(old), root):
            with pytest.raises(VerificationError):
                verify_consistency(*args)
                pytest.fail(f"size {size}, old {old}: {change} was accepted")


def test_trivial_consistency_proofs_are_refused_when_not_empty_or_roots_differ() -> (
    None
):
    tree = merkle.MerkleTree(LEAVES)
    empty, one = tree.root(0), tree.root(1)

    verify_consistency(0, 0, [], empty, empty)
    verify_consistency(0, 8, [], empty, tree.root())
    verify_consistency(1, 1, [], one, one)
    for args in [
        (1, 1, [], one, tree.root(2)),
        (0, 1, [empty], empty, one),
        (1, 1, [one], one, one),
        (0, 1, [], SOME_HASH, one),
        (2, 1, [], one, one),
    ]:
        with pytest.raises(VerificationError):
            verify_consistency(*args)


def test_a_proof_for_a_leaf_outside_the_tree_is_refused() -> None:
    for index, size in [(0, 0), (1, 1), (2, 1)]:
        with pytest.raises(VerificationError):
            verify_inclusion(index, size, SOME_HASH, [], SOME_HASH)


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("CMA_CIPHER_KEY", "CIPHER_KEY", "CMA_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "ledger.db"
    feed = tmp_path / "county.jsonl"
    feed.write_bytes(small_county_feed(tasks=6))
    result = CliRunner().invoke(
        main,
        [
            "--ledger",
            str(path),
            "--review",
            str(tmp_path / "r.db"),
            "import",
            str(feed),
        ],
    )
    assert result.exit_code == 0, result.output
    return path


def test_every_proof_the_ledger_makes_verifies_in_the_standalone_verifier(
    ledger: Path,
) -> None:
    history = open_history(ledger)
    count = len(verifier.chain_hashes(ledger))

    for size in range(count + 1):
        head = digest(history, size).as_json()
        assert verifier.check_digest(head, ledger) == count
        for position in range(1, size + 1):
            proof = inclusion_proof(history, position, size, with_entry=True)
            verifier.check_inclusion(proof, head)
        for old in range(size + 1):
            old_head = digest(history, old).as_json()
            verifier.check_consistency(
                consistency_proof(history, old, size), old_head, head
            )


def test_an_inclusion_proof_with_a_foreign_entry_is_refused(ledger: Path) -> None:
    history = open_history(ledger)
    proof = inclusion_proof(history, 5, with_entry=True)
    other = inclusion_proof(history, 6, with_entry=True)

    with pytest.raises(VerificationError, match="previous"):
        verifier.check_inclusion({**proof, "entry": other["entry"]}, None)
    with pytest.raises(VerificationError):
        verifier.check_inclusion({**proof, "leaf_index": 5}, None)


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The verifier as an auditor runs it: no site-packages, nothing but the stdlib."""
    return subprocess.run(
        [sys.executable, "-I", "-S", str(VERIFIER), *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
    )


def test_the_verifier_script_checks_cli_output_with_only_the_standard_library(
    ledger: Path, tmp_path: Path
) -> None:
    def cli(*args: str) -> str:
        result = CliRunner().invoke(main, ["--ledger", str(ledger), *args])
        assert result.exit_code == 0, result.output
        path = tmp_path / f"{'-'.join(args)}.json"
        path.write_text(result.stdout)
        return str(path)

    old, proof3, consistency = (
        cli("digest", "--size", "9"),
        cli("prove", "3"),
        cli("prove", "--consistency", "9"),
    )
    new = cli("digest")

    assert run("digest", old, "--ledger", str(ledger)).returncode == 0
    assert run("digest", new, "--ledger", str(ledger)).returncode == 0
    assert run("inclusion", proof3, "--digest", new).returncode == 0
    assert run("consistency", consistency, "--old", old, "--new", new).returncode == 0
    chain = run("chain", str(ledger))
    assert json.loads(chain.stdout) == json.loads(Path(new).read_text())

    refused = run("inclusion", proof3, "--digest", old)
    assert refused.returncode == 1
    assert refused.stderr.startswith("FAILED: ")
    spoiled = json.loads(Path(proof3).read_text())
    spoiled["audit_path"][0] = "00" * 32
    assert run("inclusion", "-", stdin=json.dumps(spoiled)).returncode == 1


def test_the_verifier_imports_nothing_outside_the_standard_library() -> None:
    tree = ast.parse(VERIFIER.read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }

    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
