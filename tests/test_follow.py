"""`project --follow` keeps the review database in step until it is stopped."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from review_rows import all_rows, append_unchecked

from ledger.generate import generate
from ledger.store import Ledger
from projections import runner


def reached(review: Path) -> int | None:
    try:
        with sqlite3.connect(review) as conn:
            return conn.execute("SELECT position FROM _projection").fetchone()[0]
    except sqlite3.Error:
        return None


def wait_for(review: Path, position: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while reached(review) != position:
        assert time.monotonic() < deadline, (
            f"stuck at {reached(review)}, not {position}"
        )
        time.sleep(0.05)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_following_projects_each_new_import_and_stops_cleanly_on_a_signal(
    tmp_path: Path, stop: signal.Signals
) -> None:
    records = list(generate(6, 30, 4))
    first, second = len(records) // 2, 3 * len(records) // 4
    parts = [records[:first], records[first:second], records[second:]]
    ledger = Ledger(tmp_path / "ledger.db")
    review = tmp_path / "review.db"
    append_unchecked(ledger, parts[0])

    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ledger",
            "--ledger",
            str(tmp_path / "ledger.db"),
            "--review",
            str(review),
            "project",
            "--follow",
            "--interval",
            "0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(review, first)
        append_unchecked(ledger, parts[1])
        wait_for(review, second)
        append_unchecked(ledger, parts[2])
        wait_for(review, len(records))
        time.sleep(0.3)  # a few idle looks, which log nothing
        follower.send_signal(stop)
        out, err = follower.communicate(timeout=20)
    finally:
        follower.kill()

    assert follower.returncode == 0, err
    assert f"review database at position {len(records)}" in out
    catch_ups = [
        line for line in err.splitlines() if "caught up" in line or "built" in line
    ]
    assert 2 <= len(catch_ups) <= 3, err
    runner.build(ledger, tmp_path / "rebuilt.db")
    assert all_rows(review) == all_rows(tmp_path / "rebuilt.db")
