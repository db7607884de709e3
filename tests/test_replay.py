"""Replaying the ledger at a past moment, and the determinism replays rely on."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import County, Workspace
from review_rows import all_rows, append_unchecked

from ledger import records as r
from ledger.generate import generate
from ledger.state import Event
from ledger.store import Ledger
from projections import runner


def position(review: Path) -> int:
    with sqlite3.connect(review) as conn:
        return conn.execute("SELECT position FROM _projection").fetchone()[0]


def events(review: Path) -> list[tuple[int, str, str | None]]:
    with sqlite3.connect(review) as conn:
        return conn.execute(
            "SELECT position, type, occurred_on FROM events ORDER BY position"
        ).fetchall()


@pytest.fixture
def two_imports(workspace: Workspace) -> tuple[Workspace, Path, int]:
    """A county imported in two feeds; the review database as the first left it."""
    workspace.imported(County().task("t-1").claim("c-1", ["t-1"]))
    first = workspace.folder / "after-first.db"
    first.write_bytes(workspace.review.read_bytes())
    later = County(baseline=False)
    later.task("t-2", on="2025-03-04").claim("c-2", ["t-2"], on="2025-03-04")
    later.void("c-1", on="2025-03-05")
    workspace.imported(later)
    return workspace, first, position(first)


def replay(workspace: Workspace, *options: str) -> Path:
    out = workspace.folder / "replayed.db"
    result = workspace.cli("replay", *options, "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_replaying_at_the_last_position_gives_the_live_database_row_for_row(
    two_imports: tuple[Workspace, Path, int],
) -> None:
    workspace, _, _ = two_imports
    last = position(workspace.review)
    replayed = replay(workspace, "--until-position", str(last))
    assert all_rows(replayed, tracking=False) == all_rows(
        workspace.review, tracking=False
    )
    assert position(replayed) == last


def test_replaying_until_a_past_position_gives_the_database_of_that_time(
    two_imports: tuple[Workspace, Path, int],
) -> None:
    workspace, first, reached = two_imports
    replayed = replay(workspace, "--until-position", str(reached))
    assert all_rows(replayed, tracking=False) == all_rows(first, tracking=False)
    assert position(replayed) == reached


def test_replaying_what_was_known_at_a_moment_ignores_what_was_recorded_later(
    two_imports: tuple[Workspace, Path, int],
) -> None:
    workspace, first, reached = two_imports
    with sqlite3.connect(first) as conn:
        known = conn.execute("SELECT max(recorded_at) FROM events").fetchone()[0]
    replayed = replay(workspace, "--known-at", known)
    assert all_rows(replayed, tracking=False) == all_rows(first, tracking=False)
    assert position(replayed) == reached


def test_replaying_as_of_a_date_keeps_events_dated_on_or_before_it_and_undated_ones(
    two_imports: tuple[Workspace, Path, int],
) -> None:
    workspace, _, _ = two_imports
    replayed = replay(workspace, "--as-of", "2025-03-04")
    kept = events(replayed)
    assert all(on is None or on <= "2025-03-04" for _, _, on in kept)
    assert "agency_registered" in {kind for _, kind, _ in kept}
    assert "claim_voided" not in {kind for _, kind, _ in kept}
    with sqlite3.connect(replayed) as conn:
        statuses = dict(conn.execute("SELECT claim_id, status FROM billable_days"))
    assert statuses == {"c-1": "billable", "c-2": "billable"}


def test_a_void_dated_before_its_claim_is_kept_alone_by_a_replay_as_of_between_them(
    workspace: Workspace,
) -> None:
    county = County().task("t-1").claim("c-1", ["t-1"]).void("c-1", on="2025-03-01")
    workspace.imported(county)
    replayed = replay(workspace, "--as-of", "2025-03-02")
    kinds = [kind for _, kind, _ in events(replayed)]
    assert "claim_voided" in kinds and "claim_submitted" not in kinds
    assert table_rows(replayed, "billable_days") == []
    assert table_rows(replayed, "claims") == []


def test_replays_as_of_any_day_survive_events_whose_subject_is_dated_later(
    workspace: Workspace,
) -> None:
    county = County()
    # A claim against an agreement that starts after the service date.
    county.agreement("sa-late", start_on="2025-04-01")
    county.task("t-1").claim("c-1", ["t-1"], agreement="sa-late")
    # An aide hired after the work she was assigned, supervised and reviewed.
    county.aide("aide-2", hired_on="2025-03-10").supervise("aide-2", "cm-1")
    county.task("t-2", aide="aide-2").qualification("aide-2", as_of="2025-03-01")
    # A claim voided before its service date, and ends recorded for all of them.
    county.task("t-3").claim("c-3", ["t-3"]).void("c-3", on="2025-02-28")
    county.end_supervision("aide-2", "cm-1", "2025-03-20")
    county.separate("aide-2", "2025-03-25")
    workspace.imported(county)

    for day in (
        "2025-02-28",
        "2025-03-02",
        "2025-03-03",
        "2025-03-05",
        "2025-03-12",
        "2025-03-22",
        "2025-04-02",
    ):
        replayed = replay(workspace, "--as-of", day)
        assert position(replayed) > 0

    replayed = replay(workspace, "--as-of", "2025-03-05")
    with sqlite3.connect(replayed) as conn:
        kept = set(conn.execute("SELECT type, stream_id FROM events"))
        tasks = {t for (t,) in conn.execute("SELECT task_id FROM tasks")}
        claims = {c for (c,) in conn.execute("SELECT claim_id FROM claims")}
    assert ("task_completed", "task/t-2") in kept
    assert ("aide_registered", "staff/aide-2") not in kept
    assert ("claim_submitted", "claim/c-1") in kept
    assert ("service_agreement_approved", "agreement/sa-late") not in kept
    assert tasks == {"t-1", "t-3"} and claims == {"c-3"}
    everything = replay(workspace, "--as-of", "2099-12-31")
    assert all_rows(everything, tracking=False) == all_rows(
        workspace.review, tracking=False
    )


def table_rows(review: Path, table: str) -> list[tuple]:
    with sqlite3.connect(review) as conn:
        return conn.execute(f"SELECT * FROM [{table}]").fetchall()


def test_replay_wants_exactly_one_moment(workspace: Workspace) -> None:
    workspace.imported(County())
    out = str(workspace.folder / "x.db")
    both = workspace.cli(
        "replay", "--until-position", "1", "--as-of", "2025-01-01", "--out", out
    )
    neither = workspace.cli("replay", "--out", out)
    assert both.exit_code != 0 and neither.exit_code != 0
    assert "exactly one" in both.output


def test_two_rebuilds_and_a_replay_give_identical_rows(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    append_unchecked(ledger, list(generate(12, 40, 5)))
    runner.build(ledger, tmp_path / "a.db")
    runner.build(ledger, tmp_path / "b.db")
    runner.build(ledger, tmp_path / "c.db", cut=runner.until_position(10**9))
    assert all_rows(tmp_path / "a.db") == all_rows(tmp_path / "b.db")
    assert all_rows(tmp_path / "a.db", tracking=False) == all_rows(
        tmp_path / "c.db", tracking=False
    )


def test_every_billable_day_and_finding_names_positions_that_exist_in_events(
    tmp_path: Path,
) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    append_unchecked(ledger, list(generate(30, 60, 2)))
    review = tmp_path / "review.db"
    runner.build(ledger, review)
    with sqlite3.connect(review) as conn:
        stored = {p for (p,) in conn.execute("SELECT position FROM events")}
        rows = conn.execute(
            "SELECT 'billable_days', claim_id, positions FROM billable_days "
            "UNION ALL SELECT 'findings', subject_id, positions FROM findings"
        ).fetchall()
    assert {table for table, _, _ in rows} == {"billable_days", "findings"}
    for table, subject, positions in rows:
        named = json.loads(positions)
        assert named, f"{table} {subject} names no positions"
        assert set(named) <= stored, f"{table} {subject}: {set(named) - stored}"


def test_known_at_keeps_a_prefix_even_when_the_clock_stepped_back() -> None:
    noon = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)
    recorded = [noon, noon + dt.timedelta(hours=2), noon + dt.timedelta(hours=1)]
    events = [
        Event(
            position,
            at,
            "agency/a",
            1,
            r.AgencyRegistered(
                agency_id="a", name="A", roles=["lead_agency"], private=False
            ),
        )
        for position, at in enumerate(recorded, start=1)
    ]
    keep = runner.known_at(noon + dt.timedelta(hours=1, minutes=30)).keep
    assert [e.position for e in events if keep(e)] == [1]


def test_a_replay_is_never_caught_up_as_if_it_followed_the_ledger(
    two_imports: tuple[Workspace, Path, int],
) -> None:
    workspace, _, _ = two_imports
    replayed = replay(workspace, "--as-of", "2025-03-04")
    before = all_rows(replayed)
    result = workspace.cli("--review", str(replayed), "project")
    assert result.exit_code != 0
    assert "replay --as-of 2025-03-04" in result.output
    feed = workspace.write_feed(County(baseline=False).task("t-9", on="2025-03-06"))
    imported = workspace.cli("--review", str(replayed), "import", str(feed))
    assert imported.exit_code == 0
    assert "3 records appended" in imported.output
    assert "review database not updated" in imported.output
    assert all_rows(replayed) == before
