"""A mistyped path, a damaged file or a read-only copy: refused plainly, never
with a traceback, and never at the cost of the ledger's history.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import County, Workspace

from ledger import cli, paths
from ledger.cli import main


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def county(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path)
    ws.imported(County().task("t-1").claim("c-1", ["t-1"]))
    return ws


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def test_a_review_path_naming_the_ledger_is_refused_and_the_ledger_kept(county):
    before = digest(county.ledger)
    code, out = run(
        "--ledger", str(county.ledger), "--review", str(county.ledger), "project"
    )
    assert code != 0 and "the ledger itself" in out
    assert digest(county.ledger) == before


def test_a_replay_written_over_the_ledger_is_refused(county):
    before = digest(county.ledger)
    code, out = run(
        "--ledger",
        str(county.ledger),
        "replay",
        "--until-position",
        "3",
        "--out",
        str(county.ledger),
    )
    assert code != 0 and "ledger" in out
    assert digest(county.ledger) == before


def test_a_replay_written_over_the_live_review_database_is_refused(county):
    before = digest(county.review)
    code, out = run(
        *county.options(),
        "replay",
        "--until-position",
        "3",
        "--out",
        str(county.review),
    )
    assert code != 0 and "live review database" in out
    assert digest(county.review) == before


def test_a_replay_over_a_file_that_is_not_a_review_database_is_refused(county):
    stranger = county.folder / "notes.jsonl"
    stranger.write_text('{"type": "x"}\n')
    code, out = run(
        *county.options(), "replay", "--as-of", "2025-03-03", "--out", str(stranger)
    )
    assert code != 0 and "not a review database" in out
    assert stranger.read_text() == '{"type": "x"}\n'


def test_a_review_database_given_as_the_ledger_is_not_turned_into_one(county):
    before = digest(county.review)
    feed = county.write_feed(County())
    other = county.folder / "other-review.db"
    code, out = run(
        "--ledger", str(county.review), "--review", str(other), "import", str(feed)
    )
    assert code != 0 and "swap --ledger and --review" in out
    assert digest(county.review) == before and not other.exists()


def test_a_review_folder_that_cannot_be_written_refuses_before_appending(
    county, monkeypatch
):
    events = county.event_count()
    locked = county.folder / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        paths.os,
        "access",
        lambda p, mode: (
            False if Path(p) == locked and mode == os.W_OK else real_access(p, mode)
        ),
    )
    feed = county.write_feed(County(baseline=False).agency("cty-2"))
    code, out = run(
        "--ledger",
        str(county.ledger),
        "--review",
        str(locked / "review.db"),
        "import",
        str(feed),
    )
    assert code != 0 and "cannot write" in out
    assert county.event_count() == events


def test_a_damaged_ledger_gets_a_plain_message(county, tmp_path):
    damaged = tmp_path / "damaged.db"
    data = bytearray(county.ledger.read_bytes())
    data[8000:11000] = b"x" * 3000
    damaged.write_bytes(bytes(data))
    code, out = run(
        "--ledger", str(damaged), "--review", str(tmp_path / "r2.db"), "project"
    )
    assert code != 0 and "Error:" in out


def test_an_unexpected_failure_is_one_line_without_the_records_content(
    county, monkeypatch
):
    def explode(*args, **kwargs):
        raise RuntimeError("note: client disclosed SECRET-WORD")

    monkeypatch.setattr(cli, "load_state", explode)
    feed = county.write_feed(County(baseline=False).agency("cty-2"))
    code, out = run(*county.options(), "import", str(feed))
    assert code != 0 and "unexpected failure (RuntimeError)" in out
    assert "SECRET-WORD" not in out


def test_a_negative_error_limit_is_refused():
    code, out = run("import", "--max-errors", "-1", "-")
    assert code == 2 and "--max-errors" in out


def test_an_empty_feed_is_reported_as_a_line_of_its_own(tmp_path):
    feed = tmp_path / "empty.jsonl"
    feed.write_bytes(b"")
    result = CliRunner().invoke(
        main,
        [
            "--ledger",
            str(tmp_path / "l.db"),
            "--review",
            str(tmp_path / "r.db"),
            "import",
            str(feed),
        ],
    )
    assert result.exit_code != 0
    assert "line 1: FORMAT: the feed is empty" in result.output
    assert not (tmp_path / "l.db").exists()


def test_a_ledger_in_a_read_only_folder_is_opened_immutable(county, monkeypatch):
    folder = county.ledger.parent
    real_access = os.access
    monkeypatch.setattr(
        paths.os,
        "access",
        lambda p, mode: (
            False
            if Path(p) in (folder, county.ledger) and mode == os.W_OK
            else real_access(p, mode)
        ),
    )
    assert paths.read_uri(county.ledger).endswith("?immutable=1")
    code, out = run("--ledger", str(county.ledger), "verify")
    assert code == 0 and "verified" in out


def test_a_replay_past_the_end_says_where_the_ledger_ends(county):
    code, out = run(
        *county.options(),
        "replay",
        "--until-position",
        "9999",
        "--out",
        str(county.folder / "all.db"),
    )
    assert code == 0 and f"ends at position {county.event_count()}" in out


def test_a_rebuild_does_not_replace_a_replay(county):
    replay = county.folder / "then.db"
    code, _ = run(
        *county.options(), "replay", "--until-position", "3", "--out", str(replay)
    )
    assert code == 0
    before = digest(replay)
    code, out = run(
        "--ledger", str(county.ledger), "--review", str(replay), "project", "--rebuild"
    )
    assert code != 0 and "replay --" in out
    assert digest(replay) == before


def test_a_replay_before_the_first_event_says_it_is_empty(county):
    code, out = run(
        *county.options(),
        "replay",
        "--known-at",
        "2000-01-01T00:00Z",
        "--out",
        str(county.folder / "empty.db"),
    )
    assert code == 0 and "the replay is empty" in out


def test_a_proof_for_a_position_outside_the_ledger_names_the_position(county):
    code, out = run("--ledger", str(county.ledger), "prove", "999999")
    assert code != 0 and "position 999999 is not in a history of" in out


def test_a_demo_folder_holding_another_demo_is_refused(tmp_path):
    folder = tmp_path / "demo"
    first = [
        "demo",
        "--dir",
        str(folder),
        "--persons",
        "5",
        "--days",
        "10",
        "--no-serve",
    ]
    code, _ = run(*first)
    assert code == 0
    before = digest(folder / "ledger.db")
    code, out = run(
        "demo",
        "--dir",
        str(folder),
        "--persons",
        "5",
        "--days",
        "10",
        "--seed",
        "2",
        "--no-serve",
    )
    assert code != 0 and "holds another demo" in out
    assert digest(folder / "ledger.db") == before
    code, out = run(*first)
    assert code == 0 and "0 records appended" in out
