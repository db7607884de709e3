"""`cma-ledger diff` names what a later history changed in billing and findings."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import County, Workspace


def kept(workspace: Workspace, name: str) -> Path:
    copy = workspace.folder / name
    copy.write_bytes(workspace.review.read_bytes())
    return copy


def late_cdcs_start() -> County:
    """p-1 moved to EW on March 1 and, as recorded later, used CDCS all year."""
    return (
        County(baseline=False)
        .cdcs("p-1", "2025-01-01")
        .end_enrollment("p-1", "CADI", "2025-02-28")
        .enroll("p-1", "EW", start_on="2025-03-01")
    )


def diff(workspace: Workspace, old: Path, new: Path, *options: str) -> str:
    result = workspace.cli("diff", str(old), str(new), *options)
    assert result.exit_code == 0, result.output
    return result.output


def test_diff_lists_days_and_findings_that_appeared_disappeared_or_changed(
    workspace: Workspace,
) -> None:
    workspace.imported(County().task("t-1").claim("c-1", ["t-1"]))
    march = kept(workspace, "march.db")
    later = County(baseline=False)
    later.task("t-2", on="2025-03-04").claim("c-2", ["t-2"], units=3, on="2025-03-04")
    later.void("c-1", on="2025-03-10")
    workspace.imported(later)

    lines = diff(workspace, march, workspace.review).splitlines()

    assert any(
        line.startswith("~ billable day c-1 ") and '"billable" -> "voided"' in line
        for line in lines
    ), lines
    assert any(line.startswith("+ billable day c-2 ") for line in lines), lines
    assert any(
        line.startswith("+ finding CMA-UNITS-DOC on claim c-2 ") for line in lines
    )
    assert lines[-1] == (
        "billable days: 1 appeared, 0 disappeared, 1 changed; "
        "findings: 1 appeared, 0 disappeared, 0 changed"
    )
    backwards = diff(workspace, workspace.review, march).splitlines()
    assert any(line.startswith("- billable day c-2 ") for line in backwards)
    assert any(
        line.startswith("- finding CMA-UNITS-DOC on claim c-2 ") for line in backwards
    )


def test_diff_as_json_gives_both_rows_and_the_fields_that_changed(
    workspace: Workspace,
) -> None:
    workspace.imported(County().task("t-1").claim("c-1", ["t-1"]))
    march = kept(workspace, "march.db")
    workspace.imported(late_cdcs_start())

    found = json.loads(diff(workspace, march, workspace.review, "--json"))

    [changed] = found["billable_days"]["changed"]
    assert changed["key"] == {"claim_id": "c-1"}
    assert {"status", "billable_units", "reasons"} <= set(changed["fields"])
    assert changed["old"]["status"] == "billable"
    assert changed["new"]["reasons"] == ["CMA-CDCS"]
    [appeared] = found["findings"]["appeared"]
    assert appeared["key"] == {
        "rule": "CMA-CDCS",
        "subject_type": "claim",
        "subject_id": "c-1",
    }


def test_diff_of_a_database_with_itself_lists_nothing(workspace: Workspace) -> None:
    workspace.imported(County().task("t-1").claim("c-1", ["t-1"]))
    assert diff(workspace, workspace.review, workspace.review).splitlines() == [
        "billable days: 0 appeared, 0 disappeared, 0 changed; "
        "findings: 0 appeared, 0 disappeared, 0 changed"
    ]


def test_diff_of_a_missing_database_says_so(workspace: Workspace) -> None:
    workspace.imported(County())
    result = workspace.cli(
        "diff", str(workspace.folder / "nope.db"), str(workspace.review)
    )
    assert result.exit_code != 0
    assert "no review database at" in result.output


def test_the_example_in_the_projections_doc_is_what_diff_prints(
    workspace: Workspace,
) -> None:
    workspace.imported(County().task("t-1").claim("c-1", ["t-1"]))
    march = kept(workspace, "march.db")
    workspace.imported(late_cdcs_start())
    doc = (Path(__file__).parent.parent / "docs" / "projections.md").read_text()
    printed = diff(workspace, march, workspace.review)
    assert f"```\n{printed}```" in doc
