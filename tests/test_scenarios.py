"""Scenarios written by hand from the contract, each with its reasoning.

Every `tests/scenarios/NAME.jsonl` is imported into an empty ledger and the
review database compared with `NAME.expected.json`; `NAME.notes.md` works each
expected value out from the contract's sentences. The expected files use the
same keys as the acceptance feeds: events, billable_days, findings, caseloads,
oversight_queue, a refusal (exit, stderr_contains), and steps (reimport,
replay_until).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ledger.cli import main

SCENARIOS = Path(__file__).parent / "scenarios"
FEEDS = sorted(SCENARIOS.glob("*.jsonl"))


def rows(db: Path, sql: str) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql)]


def compare(db: Path, expected: dict[str, Any]) -> list[str]:
    """Every difference between the review database and what was worked out."""
    problems = []
    if "events" in expected:
        got = rows(db, "SELECT count(*) AS n FROM events")[0]["n"]
        if got != expected["events"]:
            problems.append(f"events: {got}, expected {expected['events']}")
    if "billable_days" in expected:
        days = {r["claim_id"]: r for r in rows(db, "SELECT * FROM billable_days")}
        want = expected["billable_days"]
        extra = sorted(set(days) - set(want))
        if extra and expected.get("billable_days_exact", True):
            problems.append(f"unexpected billable_days {extra}")
        for claim_id, fields in want.items():
            row = days.get(claim_id)
            if row is None:
                problems.append(f"no billable_days row for {claim_id}")
                continue
            row["reasons"] = json.loads(row["reasons"])
            for column, value in fields.items():
                if row[column] != value:
                    problems.append(
                        f"{claim_id}.{column} = {row[column]!r}, not {value!r}"
                    )
    if "findings" in expected:
        got = sorted(
            [r["rule"], r["subject_type"], r["subject_id"]]
            for r in rows(db, "SELECT * FROM findings")
        )
        if got != sorted(expected["findings"]):
            problems.append(f"findings {got}, expected {sorted(expected['findings'])}")
    if "caseloads" in expected:
        loads = {r["aide_id"]: r for r in rows(db, "SELECT * FROM caseloads")}
        for aide_id, fields in expected["caseloads"].items():
            for column, value in fields.items():
                got = loads.get(aide_id, {}).get(column)
                if got != value:
                    problems.append(
                        f"caseloads {aide_id}.{column} = {got!r}, not {value!r}"
                    )
    if "oversight_queue" in expected:
        got = sorted(r["task_id"] for r in rows(db, "SELECT * FROM oversight_queue"))
        if got != sorted(expected["oversight_queue"]):
            problems.append(
                f"oversight_queue {got}, expected {expected['oversight_queue']}"
            )
    return problems


@pytest.mark.parametrize("feed", FEEDS, ids=[f.stem for f in FEEDS])
def test_the_review_database_holds_what_the_contract_says(
    feed: Path, tmp_path: Path
) -> None:
    expected = json.loads(feed.with_name(f"{feed.stem}.expected.json").read_text())
    places = ["--ledger", str(tmp_path / "l.db"), "--review", str(tmp_path / "r.db")]

    def cma(*args: str):  # type: ignore[no-untyped-def]
        result = CliRunner().invoke(main, [*places, *args])
        assert not isinstance(result.exception, Exception) or isinstance(
            result.exception, SystemExit
        ), result.exception
        return result

    result = cma("import", str(feed))
    if expected.get("exit") == "refused":
        assert result.exit_code != 0, "the import should have been refused"
        for text in expected.get("stderr_contains", []):
            assert text in result.output
        assert not (tmp_path / "l.db").exists()
        return
    assert result.exit_code == 0, result.output
    assert compare(tmp_path / "r.db", expected) == []

    for step in expected.get("steps", []):
        if "reimport" in step:
            assert cma("import", str(feed)).exit_code == 0
            assert compare(tmp_path / "r.db", step["expect"]) == [], step["label"]
        if "replay_until" in step:
            out = tmp_path / f"replay-{step['replay_until']}.db"
            done = cma(
                "replay",
                "--until-position",
                str(step["replay_until"]),
                "--out",
                str(out),
            )
            assert done.exit_code == 0, done.output
            assert compare(out, step["expect"]) == [], step["label"]
