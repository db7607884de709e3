"""Tampering with the ledger file directly, and `verify` naming the first bad position.

Every case edits the SQLite file with sqlite3, as someone with write access to
the file could, then runs both `cma-ledger verify` and the standalone verifier.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from small_county import small_county_feed

from ledger import chain, verifier
from ledger.cli import main

EVENTS = 17  # small_county_feed(): 5 set-up records and 3 per task


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "CMA_CIPHER_KEY",
        "CIPHER_KEY",
        "CMA_KEY_FILE",
        "CMALEDGER_CIPHER_KEY",
    ):
        monkeypatch.delenv(name, raising=False)


def cli(ledger: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main,
        ["--ledger", str(ledger), "--review", str(ledger.with_suffix(".rv")), *args],
    )
    return result.exit_code, result.output


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    feed = tmp_path / "county.jsonl"
    feed.write_bytes(small_county_feed())
    code, output = cli(path, "import", str(feed))
    assert code == 0, output
    return path


def tamper(ledger: Path, *statements: str, params: tuple = ()) -> None:
    con = sqlite3.connect(ledger)
    with con:
        for statement in statements:
            con.execute(statement, params if "?" in statement else ())
    con.close()


def row(ledger: Path, position: int) -> tuple:
    con = sqlite3.connect(ledger)
    try:
        return con.execute(
            "SELECT originator_id, originator_version, topic, state "
            "FROM stored_events WHERE rowid = ?",
            (position,),
        ).fetchone()
    finally:
        con.close()


def flip_byte(data: bytes, at: int = 0) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def assert_caught_at(ledger: Path, position: int) -> None:
    code, output = cli(ledger, "verify")
    assert code != 0
    assert f"verification failed at position {position}:" in output

    with pytest.raises(verifier.VerificationError, match=f"position {position}:"):
        verifier.chain_hashes(ledger)


def test_an_untouched_ledger_verifies_with_its_count(ledger: Path) -> None:
    code, output = cli(ledger, "verify")

    assert code == 0
    assert output.strip() == f"ok: {EVENTS} events verified"
    assert len(verifier.chain_hashes(ledger)) == EVENTS


def test_a_changed_byte_in_the_state_is_caught_at_its_position(ledger: Path) -> None:
    state = row(ledger, 9)[3]
    tamper(
        ledger,
        "UPDATE stored_events SET state = ? WHERE rowid = 9",
        params=(flip_byte(state, len(state) // 2),),
    )

    assert_caught_at(ledger, 9)


@pytest.mark.parametrize(
    "column, changed",
    [
        ("topic", "'ledger.records:TaskCancelled'"),
        ("originator_version", "originator_version + 100"),
        ("originator_id", f"'{uuid.UUID(int=7).hex}'"),
        ("originator_id", "'not-a-uuid'"),
        ("state", "CAST(state AS TEXT)"),
    ],
)
def test_a_changed_stream_version_or_topic_is_caught(
    ledger: Path, column: str, changed: str
) -> None:
    tamper(ledger, f"UPDATE stored_events SET {column} = {changed} WHERE rowid = 6")

    assert_caught_at(ledger, 6)


def test_a_changed_byte_in_a_chain_hash_is_caught_at_its_position(
    ledger: Path,
) -> None:
    tamper(
        ledger,
        "UPDATE event_chain SET chain_hash = ? WHERE position = 12",
        params=(flip_byte(bytes(32), 31),),
    )

    assert_caught_at(ledger, 12)


def test_a_deleted_event_is_caught_at_its_position(ledger: Path) -> None:
    tamper(ledger, "DELETE FROM stored_events WHERE rowid = 4")

    assert_caught_at(ledger, 4)


def test_an_event_deleted_with_its_chain_hash_is_caught(ledger: Path) -> None:
    tamper(
        ledger,
        "DELETE FROM stored_events WHERE rowid = 4",
        "DELETE FROM event_chain WHERE position = 4",
    )

    assert_caught_at(ledger, 4)


def test_the_first_event_deleted_is_caught_at_position_one(ledger: Path) -> None:
    tamper(
        ledger,
        "DELETE FROM stored_events WHERE rowid = 1",
        "DELETE FROM event_chain WHERE position = 1",
    )

    assert_caught_at(ledger, 1)


def test_an_event_inserted_at_the_end_is_caught(ledger: Path) -> None:
    stream, version, topic, state = row(ledger, EVENTS)
    tamper(
        ledger,
        "INSERT INTO stored_events VALUES (?, ?, ?, ?)",
        params=(stream, version + 1, topic, state),
    )

    assert_caught_at(ledger, EVENTS + 1)


def test_an_event_inserted_with_a_made_up_chain_hash_is_caught(ledger: Path) -> None:
    stream, version, topic, state = row(ledger, EVENTS)
    tamper(
        ledger,
        "INSERT INTO stored_events VALUES (?, ?, ?, ?)",
        params=(stream, version + 1, topic, state),
    )
    tamper(
        ledger,
        "INSERT INTO event_chain VALUES (?, ?)",
        params=(EVENTS + 1, hashlib.sha256(b"forged").digest()),
    )

    assert_caught_at(ledger, EVENTS + 1)


def test_an_event_inserted_in_the_middle_is_caught_where_it_went(
    ledger: Path,
) -> None:
    stream, version, topic, state = row(ledger, 2)
    tamper(
        ledger,
        "UPDATE stored_events SET rowid = rowid + 1000 WHERE rowid >= 3",
        "UPDATE stored_events SET rowid = rowid - 999 WHERE rowid >= 1000",
    )
    tamper(
        ledger,
        "INSERT INTO stored_events(rowid, originator_id, originator_version,"
        " topic, state) VALUES (3, ?, ?, ?, ?)",
        params=(stream, version + 50, topic, state),
    )

    assert_caught_at(ledger, 3)


def swap_events(ledger: Path, a: int, b: int) -> None:
    first, second = row(ledger, a), row(ledger, b)
    insert = (
        "INSERT INTO stored_events(rowid, originator_id, originator_version, "
        "topic, state) VALUES (?, ?, ?, ?, ?)"
    )
    con = sqlite3.connect(ledger)
    with con:
        con.execute("DELETE FROM stored_events WHERE rowid IN (?, ?)", (a, b))
        con.execute(insert, (a, *second))
        con.execute(insert, (b, *first))
    con.close()


def test_two_swapped_events_are_caught_at_the_first(ledger: Path) -> None:
    swap_events(ledger, 7, 11)

    assert_caught_at(ledger, 7)


def test_two_swapped_chain_hashes_are_caught_at_the_first(ledger: Path) -> None:
    tamper(
        ledger,
        "UPDATE event_chain SET position = -1 WHERE position = 5",
        "UPDATE event_chain SET position = 5 WHERE position = 8",
        "UPDATE event_chain SET position = 8 WHERE position = -1",
    )

    assert_caught_at(ledger, 5)


def rechain(ledger: Path) -> None:
    """What a careful forger does after editing: recompute every chain hash."""
    con = sqlite3.connect(ledger)
    rows = con.execute(
        "SELECT rowid, originator_id, originator_version, topic, state "
        "FROM stored_events ORDER BY rowid"
    ).fetchall()
    links = chain.extend(
        chain.GENESIS,
        (chain.StoredRow(p, uuid.UUID(s), v, t, st) for p, s, v, t, st in rows),
    )
    with con:
        con.execute("DELETE FROM event_chain")
        con.executemany("INSERT INTO event_chain VALUES (?, ?)", links)
    con.close()


def publish_digest(ledger: Path, tmp_path: Path) -> Path:
    code, output = cli(ledger, "digest")
    assert code == 0, output
    published = tmp_path / "digest.json"
    published.write_text(output)
    return published


@pytest.mark.parametrize(
    "forge",
    [
        lambda ledger: tamper(
            ledger,
            "DELETE FROM stored_events WHERE rowid = 17",
            "DELETE FROM event_chain WHERE position = 17",
        ),
        lambda ledger: (swap_events(ledger, 3, 4), rechain(ledger)),
    ],
    ids=["truncated", "rewritten-and-rechained"],
)
def test_a_rewrite_the_chain_cannot_see_fails_against_a_published_digest(
    ledger: Path, tmp_path: Path, forge: Callable[[Path], object]
) -> None:
    published = publish_digest(ledger, tmp_path)
    forge(ledger)

    assert cli(ledger, "verify")[0] == 0
    code, output = cli(ledger, "verify", "--against", str(published))
    assert code != 0
    assert "verification against the digest failed" in output
    with pytest.raises(verifier.VerificationError):
        verifier.check_digest(json.loads(published.read_text()), ledger)


def test_appending_after_a_published_digest_still_verifies_against_it(
    ledger: Path, tmp_path: Path
) -> None:
    published = publish_digest(ledger, tmp_path)
    more = tmp_path / "more.jsonl"
    more.write_bytes(
        json.dumps(
            {"type": "cdcs_started", "person_id": "p-1", "start_on": "2025-04-01"}
        ).encode()
        + b"\n"
    )
    assert cli(ledger, "import", str(more))[0] == 0

    code, output = cli(ledger, "verify", "--against", str(published))

    assert code == 0, output
    assert f"ok: {EVENTS + 1} events verified" in output
    assert (
        verifier.check_digest(json.loads(published.read_text()), ledger) == EVENTS + 1
    )


def test_digest_and_prove_refuse_a_broken_history(ledger: Path) -> None:
    tamper(ledger, "DELETE FROM stored_events WHERE rowid = 4")

    for args in (["digest"], ["prove", "2"], ["prove", "--consistency", "2"]):
        code, output = cli(ledger, *args)
        assert code != 0
        assert "verification failed at position 4" in output


def test_a_file_that_is_not_a_ledger_is_refused_plainly(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()

    code, output = cli(other, "verify")

    assert code != 0
    assert "is not a readable ledger" in output
    assert "Traceback" not in output


def test_no_code_in_the_product_deletes_or_edits_stored_history() -> None:
    root = Path(__file__).parent.parent
    writes = re.compile(
        r"(DELETE\s+FROM|UPDATE|REPLACE\s+INTO|DROP\s+TABLE)\s+\S*"
        r"(stored_events|event_chain|ledger_meta|chain_table|events_table_name|meta_table)",
        re.IGNORECASE,
    )
    sources = [
        path
        for package in ("ledger", "projections", "datasette_plugins")
        for path in (root / package).rglob("*.py")
    ]

    offending = [str(p) for p in sources if writes.search(p.read_text())]

    assert sources and offending == []
