"""Killing `cma-ledger project` at random moments never spoils the review database.

Each catch-up is one SQLite transaction that carries the position it reached,
and a first build is renamed into place only when complete. So after any number
of SIGKILLs the database is either absent or whole, and the next `project`
resumes from where the last completed one stopped and ends equal to a rebuild.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from review_rows import all_rows, append_unchecked

from ledger.generate import generate
from ledger.store import Ledger
from projections import runner

KILLS = 8


def project(ledger: Path, review: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ledger",
            "--ledger",
            str(ledger),
            "--review",
            str(review),
            "project",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def whole(review: Path) -> int | None:
    """The position of a complete database, or None when there is none yet."""
    if not review.exists():
        return None
    with sqlite3.connect(review) as conn:
        reached = conn.execute("SELECT position FROM _projection").fetchone()[0]
        count, last = conn.execute(
            "SELECT count(*), max(position) FROM events"
        ).fetchone()
    assert count == reached and (last or 0) == reached
    return reached


def test_project_killed_at_random_moments_resumes_to_the_rows_of_a_rebuild(
    tmp_path: Path,
) -> None:
    chance = random.Random(20250303)
    records = list(generate(160, 120, 8))
    cuts = sorted(chance.sample(range(len(records) // 3, len(records)), KILLS - 1))
    starts, ends = [0, *cuts], [*cuts, len(records)]
    pieces = [records[a:b] for a, b in zip(starts, ends, strict=True)]
    ledger_path, review = tmp_path / "ledger.db", tmp_path / "review.db"
    ledger = Ledger(ledger_path)
    append_unchecked(ledger, pieces[0])

    # How long one run takes here, so that the kills land inside runs.
    started = time.monotonic()
    project(ledger_path, tmp_path / "timing.db").wait()
    run = time.monotonic() - started

    killed = 0
    for number, piece in enumerate(pieces):
        if number:
            append_unchecked(ledger, piece)
        running = project(ledger_path, review)
        time.sleep(chance.uniform(0.05, 1.1) * run)
        if running.poll() is None:
            running.send_signal(signal.SIGKILL)
            killed += 1
        running.wait()
        whole(review)

    finished = project(ledger_path, review)
    _, err = finished.communicate(timeout=60)
    assert finished.returncode == 0, err
    assert killed >= 2, "the drill should interrupt most runs"
    assert whole(review) == len(records)
    assert sorted(tmp_path.glob(".review.db.*")) == []
    runner.build(ledger, tmp_path / "rebuilt.db")
    assert all_rows(review) == all_rows(tmp_path / "rebuilt.db")
