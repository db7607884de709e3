"""`project --rebuild` swaps a complete database in, and leaves nothing behind."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from review_rows import all_rows, append_unchecked

from ledger.generate import generate
from ledger.store import Ledger
from projections import review as review_module
from projections import runner


def consistent(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """(position, events, billable days), read in one transaction; a complete
    database holds every event up to its position."""
    conn.execute("BEGIN")
    try:
        reached = conn.execute("SELECT position FROM _projection").fetchone()[0]
        count, last = conn.execute(
            "SELECT count(*), max(position) FROM events"
        ).fetchone()
        days = conn.execute("SELECT count(*) FROM billable_days").fetchone()[0]
    finally:
        conn.execute("COMMIT")
    assert count == reached == last
    return reached, count, days


@pytest.fixture
def county(tmp_path: Path) -> tuple[Ledger, Path]:
    ledger = Ledger(tmp_path / "ledger.db")
    append_unchecked(ledger, list(generate(40, 60, 9)))
    review = tmp_path / "review.db"
    runner.build(ledger, review)
    return ledger, review


def test_a_reader_of_the_old_file_keeps_a_complete_database_through_a_rebuild(
    county: tuple[Ledger, Path],
) -> None:
    ledger, review = county
    reader = sqlite3.connect(review, isolation_level=None)
    before = consistent(reader)
    reader.execute("BEGIN")
    held = reader.execute("SELECT count(*) FROM events").fetchone()[0]

    more = list(generate(3, 5, 99))
    append_unchecked(ledger, more)
    runner.build(ledger, review)

    assert reader.execute("SELECT count(*) FROM events").fetchone()[0] == held
    reader.execute("COMMIT")
    assert consistent(reader) == before  # the old file, still whole
    reader.close()
    with sqlite3.connect(review, isolation_level=None) as fresh:
        assert consistent(fresh)[0] == before[0] + len(more)


def test_readers_never_see_a_half_built_database_while_a_rebuild_runs(
    county: tuple[Ledger, Path],
) -> None:
    _, review = county
    ledger_path = review.with_name("ledger.db")
    rebuild = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ledger",
            "--ledger",
            str(ledger_path),
            "--review",
            str(review),
            "project",
            "--rebuild",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    looks = 0
    while rebuild.poll() is None or looks == 0:
        with sqlite3.connect(review, isolation_level=None, timeout=30) as conn:
            consistent(conn)
        looks += 1
        time.sleep(0.005)
    assert rebuild.returncode == 0, rebuild.stderr.read()
    assert looks > 1


def leftovers(review: Path) -> list[Path]:
    return sorted(review.parent.glob(f".{review.name}.*"))


def test_a_failed_rebuild_removes_its_temporary_file_and_keeps_the_old_database(
    county: tuple[Ledger, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, review = county
    before = all_rows(review)

    def broken(*args: object) -> object:
        yield "billable_days", []
        raise RuntimeError("disk full, say")

    monkeypatch.setattr(review_module, "derived_tables", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        runner.build(ledger, review)
    assert leftovers(review) == []
    assert all_rows(review) == before


def test_a_build_removes_what_an_interrupted_build_left_behind(
    county: tuple[Ledger, Path],
) -> None:
    ledger, review = county
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    abandoned = review.with_name(f".{review.name}.{gone.stdout.strip()}.building")
    abandoned.write_bytes(b"half a database")
    runner.build(ledger, review)
    assert leftovers(review) == []


def test_a_database_of_another_layout_is_rebuilt_rather_than_caught_up(
    county: tuple[Ledger, Path],
) -> None:
    ledger, review = county
    with sqlite3.connect(review) as conn:
        conn.execute("UPDATE _projection SET layout = 'older', position = 1")
        conn.execute("ALTER TABLE tasks DROP COLUMN cancelled_on")
    runner.update(ledger, review)
    runner.build(ledger, review.with_name("rebuilt.db"))
    assert all_rows(review) == all_rows(review.with_name("rebuilt.db"))
