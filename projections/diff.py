"""What changed between two review databases: billable days and findings.

An auditor replays the ledger at two moments (or keeps last month's review
database) and asks what a late fact changed. Rows are matched by their keys; a
row whose values differ is changed. `positions` is left out of the comparison:
it names the evidence, and new evidence that changes no value is not a change.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEYS: dict[str, tuple[str, ...]] = {
    "billable_days": ("claim_id",),
    "findings": ("rule", "subject_type", "subject_id"),
}
NOT_COMPARED = frozenset({"positions"})
KINDS = ("appeared", "disappeared", "changed")


class NotAReviewDatabaseError(Exception):
    """The file is missing or holds no review tables."""


@dataclass(frozen=True)
class Change:
    table: str
    kind: str  # appeared, disappeared or changed
    old: dict[str, Any] | None
    new: dict[str, Any] | None

    @property
    def row(self) -> dict[str, Any]:
        row = self.new if self.new is not None else self.old
        assert row is not None
        return row

    @property
    def key(self) -> tuple[Any, ...]:
        return tuple(self.row[k] for k in KEYS[self.table])

    @property
    def fields(self) -> list[str]:
        """The compared columns whose values differ (changed rows only)."""
        if self.old is None or self.new is None:
            return []
        return [
            c
            for c in self.new
            if c not in NOT_COMPARED and self.old.get(c) != self.new.get(c)
        ]

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "kind": self.kind,
            "key": dict(zip(KEYS[self.table], self.key, strict=True)),
        }
        if self.kind == "changed":
            found["fields"] = self.fields
        found["old"] = _decoded(self.old)
        found["new"] = _decoded(self.new)
        return found


JSON_TEXT_COLUMNS = ("reasons", "positions")


def _decoded(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """The row with its JSON-text columns as arrays, for a machine to read."""
    if row is None:
        return None
    return {
        c: json.loads(v) if c in JSON_TEXT_COLUMNS and v else v for c, v in row.items()
    }


def rows(path: str | os.PathLike[str], table: str) -> dict[tuple[Any, ...], dict]:
    path = Path(path)
    if not path.is_file():
        msg = f"no review database at {path}"
        raise NotAReviewDatabaseError(msg)
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        found = conn.execute(f"SELECT * FROM [{table}]").fetchall()
    except sqlite3.DatabaseError as e:
        msg = f"{path} is not a review database ({e})"
        raise NotAReviewDatabaseError(msg) from e
    finally:
        conn.close()
    return {tuple(row[k] for k in KEYS[table]): dict(row) for row in found}


def compare(
    old_path: str | os.PathLike[str], new_path: str | os.PathLike[str]
) -> list[Change]:
    """Every billable day and finding that appeared, disappeared or changed."""
    changes = []
    for table in KEYS:
        old, new = rows(old_path, table), rows(new_path, table)
        for key in sorted(old.keys() | new.keys(), key=_sortable):
            before, after = old.get(key), new.get(key)
            if before is None:
                changes.append(Change(table, "appeared", None, after))
            elif after is None:
                changes.append(Change(table, "disappeared", before, None))
            elif Change(table, "changed", before, after).fields:
                changes.append(Change(table, "changed", before, after))
    return changes


def _sortable(key: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple("" if part is None else str(part) for part in key)


def describe(change: Change) -> str:
    """One line a person reads: what the row is, and what became of it."""
    row = change.row
    if change.table == "billable_days":
        subject = (
            f"billable day {row['claim_id']} ({row['person_id']}, "
            f"{row['service_date']}, {row['provider_id']})"
        )
    else:
        subject = (
            f"finding {row['rule']} on {row['subject_type']} {row['subject_id']} "
            f"({row['person_id']}, {row['service_date']})"
        )
    if change.kind == "changed":
        assert change.old is not None and change.new is not None
        what = "; ".join(
            f"{c} {_shown(change.old.get(c))} -> {_shown(change.new.get(c))}"
            for c in change.fields
        )
        return f"~ {subject} changed: {what}"
    sign = "+" if change.kind == "appeared" else "-"
    return f"{sign} {subject} {change.kind}: {_summary(change.table, row)}"


def _summary(table: str, row: dict[str, Any]) -> str:
    if table == "findings":
        return str(row["detail"])
    reasons = ", ".join(json.loads(row["reasons"])) or "no reasons"
    return (
        f"{row['status']}, {row['billable_units']} of {row['claimed_units']} units, "
        f"${row['amount_cents'] / 100:,.2f}, {reasons}"
    )


def _shown(value: Any) -> str:
    """Text quoted, JSON arrays (reasons) and numbers as they are, None as null."""
    if value is None:
        return "null"
    if isinstance(value, str) and not value.startswith("["):
        return json.dumps(value)
    return str(value)


def summary(changes: list[Change]) -> str:
    parts = []
    for table, label in (("billable_days", "billable days"), ("findings", "findings")):
        counts = {kind: 0 for kind in KINDS}
        for change in changes:
            if change.table == table:
                counts[change.kind] += 1
        parts.append(
            f"{label}: " + ", ".join(f"{n} {kind}" for kind, n in counts.items())
        )
    return "; ".join(parts)


def as_json(changes: list[Change], old: str, new: str) -> dict[str, Any]:
    found: dict[str, Any] = {"old": old, "new": new}
    for table in KEYS:
        found[table] = {
            kind: [c.as_json() for c in changes if c.table == table and c.kind == kind]
            for kind in KINDS
        }
    return found
