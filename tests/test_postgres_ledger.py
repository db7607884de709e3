"""The same ledger behaviour on SQLite and on PostgreSQL, through the command line.

Each `backend` test runs twice: once with the ledger in a SQLite file, once in a
fresh PostgreSQL schema (`--ledger postgresql://...?schema=...`). The review
database is SQLite either way.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import County, Workspace
from pg_support import PostgresWorkspace, fresh_schema
from psycopg import sql
from review_rows import append_unchecked

from ledger import keys
from ledger.generate import generate
from ledger.locations import EVENTS_TABLE, PostgresLocation
from ledger.store import Ledger
from ledger.verify import digest, inclusion_proof

ACCEPTANCE = Path(__file__).resolve().parents[1].parent / "shared" / "acceptance"


@pytest.fixture
def location() -> Any:
    with fresh_schema() as fresh:
        yield fresh


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Workspace:
    if request.param == "sqlite":
        return Workspace(tmp_path)
    return PostgresWorkspace(tmp_path, request.getfixturevalue("location"))


def acceptance(name: str) -> tuple[Path, dict[str, Any]]:
    feed = ACCEPTANCE / f"{name}.jsonl"
    if not feed.exists():
        pytest.skip(f"no acceptance feed at {feed} (shared/ sits beside the checkout)")
    return feed, json.loads((ACCEPTANCE / f"{name}.expected.json").read_text())


def flip_state_byte(workspace: Workspace, position: int) -> None:
    """Change one byte of a stored event's state behind the ledger's back."""
    if isinstance(workspace, PostgresWorkspace):
        with workspace.location.connect() as conn:
            conn.execute(
                sql.SQL(
                    "UPDATE {}.{} "
                    "SET state = set_byte(state, 3, get_byte(state, 3) # 1) "
                    "WHERE notification_id = %s"
                ).format(
                    sql.Identifier(workspace.location.schema),
                    sql.Identifier(EVENTS_TABLE),
                ),
                (position,),
            )
        return
    import sqlite3

    with sqlite3.connect(workspace.ledger) as conn:
        (state,) = conn.execute(
            "SELECT state FROM stored_events WHERE rowid = ?", (position,)
        ).fetchone()
        changed = bytearray(state)
        changed[3] ^= 1
        conn.execute(
            "UPDATE stored_events SET state = ? WHERE rowid = ?",
            (bytes(changed), position),
        )


def test_the_march_county_feed_gives_the_expected_billable_days_and_findings(
    backend: Workspace,
) -> None:
    feed, expected = acceptance("march-county")

    result = backend.cli("import", str(feed))

    assert result.exit_code == 0, result.output
    assert backend.event_count() == expected["events"]
    days = backend.billable_days()
    for claim_id, fields in expected["billable_days"].items():
        assert {k: days[claim_id][k] for k in fields} == fields, claim_id
    assert backend.findings() == sorted(tuple(f) for f in expected["findings"])


def test_a_refused_feed_writes_nothing(backend: Workspace) -> None:
    feed, expected = acceptance("refused-assessment")
    backend.imported(County())
    before = backend.snapshot()

    result = backend.cli("import", str(feed))

    assert result.exit_code != 0
    for text in expected["stderr_contains"]:
        assert text in result.output
    assert backend.snapshot() == before


def test_importing_the_same_feed_again_appends_nothing(backend: Workspace) -> None:
    county = County().task("t-1").claim("c-1", ["t-1"]).with_record_ids()
    backend.imported(county)

    again = backend.imported(county)

    assert f"0 records appended, {len(county)} already recorded" in again.output
    assert backend.event_count() == len(county)


def test_verify_names_the_position_whose_stored_bytes_changed(
    backend: Workspace,
) -> None:
    backend.imported(County().task("t-1").claim("c-1", ["t-1"]))
    assert (
        backend.cli("verify").output.strip()
        == f"ok: {backend.event_count()} events verified"
    )

    flip_state_byte(backend, 4)
    result = backend.cli("verify")

    assert result.exit_code != 0
    assert "verification failed at position 4" in result.output
    assert "no digest" in backend.cli("digest").output


def test_replay_until_a_position_keeps_only_what_was_recorded_by_then(
    backend: Workspace,
) -> None:
    county = County().task("t-1").claim("c-1", ["t-1"])
    backend.imported(county)
    out = backend.folder / "replay.db"

    result = backend.cli(
        "replay", "--until-position", str(len(county) - 1), "--out", str(out)
    )

    assert result.exit_code == 0, result.output
    replayed = Workspace(backend.folder)
    replayed.review = out
    assert replayed.billable_days() == {}
    assert set(backend.billable_days()) == {"c-1"}


def test_prove_with_entry_ties_the_leaf_to_the_stored_event(backend: Workspace) -> None:
    backend.imported(County().task("t-1"))

    proof = json.loads(backend.cli("prove", "5", "--with-entry").output)
    head = json.loads(backend.cli("digest").output)

    leaf = hashlib.sha256(
        bytes.fromhex(proof["previous"]) + bytes.fromhex(proof["entry"])
    ).hexdigest()
    assert proof["leaf"] == leaf
    assert proof["root"] == head["root"] and head["size"] == backend.event_count()


def test_the_same_feed_gives_the_same_review_and_proof_shapes_on_both_backends(
    tmp_path: Path, location: PostgresLocation
) -> None:
    """Chain hashes cover `recorded_at`, which two imports never share: compare
    everything else."""
    (tmp_path / "lite").mkdir()
    (tmp_path / "pg").mkdir()
    lite, pg = (
        Workspace(tmp_path / "lite"),
        PostgresWorkspace(tmp_path / "pg", location),
    )
    county = (
        County()
        .task("t-1", minutes=30)
        .claim("c-1", ["t-1"], units=2)
        .with_record_ids()
    )
    for workspace in (lite, pg):
        workspace.imported(county)

    assert lite.billable_days() == pg.billable_days()
    assert lite.findings() == pg.findings()
    assert lite.caseloads() == pg.caseloads()
    lite_head, pg_head = (json.loads(w.cli("digest").output) for w in (lite, pg))
    assert lite_head["size"] == pg_head["size"] == len(county)
    for arguments in (["3"], ["--consistency", "4"]):
        lite_proof, pg_proof = (
            json.loads(w.cli("prove", *arguments).output) for w in (lite, pg)
        )
        assert {k: _shape(v) for k, v in lite_proof.items()} == {
            k: _shape(v) for k, v in pg_proof.items()
        }


def _shape(value: Any) -> Any:
    """A proof's numbers as they are, its hashes as lengths."""
    if isinstance(value, list):
        return [len(v) for v in value]
    return len(value) if isinstance(value, str) else value


def test_the_same_history_gives_the_same_digest_on_both_backends(
    tmp_path: Path, location: PostgresLocation
) -> None:
    """With `recorded_at` the same, the stored bytes are too, and so is every hash."""
    records = list(generate(3, 20, 6))
    lite, pg = Ledger(tmp_path / "ledger.db"), Ledger(location)
    try:
        for ledger in (lite, pg):
            append_unchecked(ledger, records)

        assert digest(lite) == digest(pg)
        assert inclusion_proof(lite, 7, with_entry=True) == inclusion_proof(
            pg, 7, with_entry=True
        )
        assert list(lite.read()) == list(pg.read())
    finally:
        pg.close()


@pytest.mark.parametrize("stored", ["plain", "encrypted"])
def test_the_direct_read_equals_reading_through_notifications_on_postgres(
    location: PostgresLocation, stored: str
) -> None:
    ledger = Ledger(location, keys.new_key() if stored == "encrypted" else None)
    try:
        assert bool(ledger.mapper.cipher) == (stored == "encrypted")
        append_unchecked(ledger, list(generate(3, 20, 6)))

        direct = list(ledger.read(batch=7))
        assert [e.position for e in direct] == list(range(1, ledger.last_position + 1))
        assert direct == list(ledger._read_notifications(0, None, 7))
        assert list(ledger.read(after=5, upto=40, batch=4)) == direct[5:40]
    finally:
        ledger.close()


def test_an_encrypted_postgres_ledger_refuses_another_key(
    location: PostgresLocation,
) -> None:
    Ledger(location, keys.new_key()).close()

    with pytest.raises(keys.CipherKeyError):
        Ledger(location, keys.new_key())


def test_a_postgres_import_waits_for_the_writer_holding_the_advisory_lock(
    tmp_path: Path, location: PostgresLocation
) -> None:
    workspace = PostgresWorkspace(tmp_path, location)
    feed = workspace.write_feed(County())
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with location.writer_lock():
            locked.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(10)
    importer = subprocess.Popen(
        [sys.executable, "-m", "ledger", *workspace.options(), "import", str(feed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        time.sleep(1.5)
        assert importer.poll() is None, importer.communicate()[0]
        assert workspace.event_count() == 0
    finally:
        release.set()
        holder.join()
    output, _ = importer.communicate(timeout=60)

    assert importer.returncode == 0, output
    assert workspace.event_count() == len(County())


def test_a_ledger_url_without_a_server_fails_plainly(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    result = workspace.cli(
        "--ledger", "postgresql://postgres@127.0.0.1:1/test", "verify"
    )

    assert result.exit_code != 0
    assert "cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1:1/test" in (
        result.output
    )
