"""Following the ledger piece by piece gives exactly the rows of one rebuild.

Random valid histories (generated counties) are cut at random points and fed in
pieces, some through `cma-ledger import` (which projects with the state it has
at hand), some appended quietly and projected later by `runner.update` (which
folds for itself), some by a long-lived `Projector` as `project --follow` uses.
Afterwards every table of the review database must equal a rebuild, row for row.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from review_rows import all_rows, append_unchecked

from ledger import records as r
from ledger.cli import main
from ledger.generate import generate
from ledger.store import Ledger
from projections import runner
from projections.billing import BillingCodes
from projections.review import PositionMovedError, ReviewDatabase

WAYS = ("import", "append_then_update", "append_then_follow", "append_only")


def pieces(records: list[r.Record], cuts: list[float]) -> list[list[r.Record]]:
    points = sorted({round(c * len(records)) for c in cuts} | {0, len(records)})
    return [records[a:b] for a, b in zip(points, points[1:], strict=False) if b > a]


def import_piece(
    folder: Path, ledger: Path, review: Path, piece: list[r.Record]
) -> None:
    feed = folder / "piece.jsonl"
    feed.write_bytes(b"".join(r.encode_record(rec) + b"\n" for rec in piece))
    result = CliRunner().invoke(
        main, ["--ledger", str(ledger), "--review", str(review), "import", str(feed)]
    )
    assert result.exit_code == 0, result.output


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10_000),
    persons=st.integers(1, 6),
    days=st.integers(3, 40),
    cuts=st.lists(st.floats(0, 1), max_size=5),
    ways=st.lists(st.sampled_from(WAYS), min_size=6, max_size=6),
)
def test_a_history_fed_in_pieces_projects_to_the_rows_of_one_rebuild(
    seed: int, persons: int, days: int, cuts: list[float], ways: list[str]
) -> None:
    records = list(generate(persons, days, seed))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ledger_path, review = folder / "ledger.db", folder / "review.db"
        follower: runner.Projector | None = None
        for piece, way in zip(pieces(records, cuts), ways, strict=False):
            if way == "import":
                import_piece(folder, ledger_path, review, piece)
                continue
            ledger = Ledger(ledger_path)
            append_unchecked(ledger, piece)
            if way == "append_then_update":
                runner.update(ledger, review)
            elif way == "append_then_follow":
                follower = follower or runner.Projector(ledger, review)
                follower.catch_up()

        ledger = Ledger(ledger_path)
        assert runner.update(ledger, review) == len(records)
        runner.build(ledger, folder / "rebuilt.db")
        assert all_rows(review) == all_rows(folder / "rebuilt.db")


def test_a_follower_that_fell_behind_another_writer_catches_up_exactly_once(
    tmp_path: Path,
) -> None:
    records = list(generate(4, 30, 11))
    third = len(records) // 3
    ledger = Ledger(tmp_path / "ledger.db")
    review = tmp_path / "review.db"
    first, second = runner.Projector(ledger, review), runner.Projector(ledger, review)

    append_unchecked(ledger, records[:third])
    first.catch_up()
    append_unchecked(ledger, records[third : 2 * third])
    second.catch_up()  # the database moves on without `first` knowing
    append_unchecked(ledger, records[2 * third :])
    assert first.catch_up() == len(records)

    runner.build(ledger, tmp_path / "rebuilt.db")
    assert all_rows(review) == all_rows(tmp_path / "rebuilt.db")


def test_a_write_from_a_stale_position_is_refused_and_changes_nothing(
    tmp_path: Path,
) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    review = tmp_path / "review.db"
    append_unchecked(ledger, list(generate(2, 10, 3)))
    runner.update(ledger, review)
    before = all_rows(review)

    state = runner.Projector(ledger, review)
    state.catch_up()
    assert state.state is not None
    with pytest.raises(PositionMovedError):
        ReviewDatabase(review).write(state.state, [], False, BillingCodes(), after=0)
    assert all_rows(review) == before
