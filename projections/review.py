"""The review database: the read models, written with sqlite-utils.

`ReviewDatabase.update` appends the events it has not seen and rewrites the
derived tables, all in one transaction together with the position it reached,
so a crash leaves the previous consistent state. `rebuild` writes a new file and
swaps it in, so a reader never sees a half-built database.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path

import sqlite_utils

from ledger.state import Event, State
from projections import caseloads, current, findings
from projections.billing import BillableDay, BillingCodes, bill
from projections.events import event_row

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

# table: (columns with types, primary key, indexed columns)
TABLES: dict[str, tuple[dict[str, type], str | tuple[str, ...], list[str]]] = {
    "events": (
        {
            "position": int, "recorded_at": str, "type": str, "stream_id": str,
            "stream_version": int, "occurred_on": str, "entered_by": str,
            "record_id": str, "payload": str, "chain_hash": str, "entered_at": str,
            "person_id": str,
        },
        "position",
        ["type", "stream_id", "person_id", "occurred_on", "recorded_at"],
    ),
    "billable_days": (
        {
            "claim_id": str, "provider_id": str, "person_id": str, "service_date": str,
            "agreement_id": str, "claimed_units": int, "documented_units": int,
            "billable_units": int, "rate": str, "amount_cents": int, "status": str,
            "reasons": str, "positions": str,
        },
        "claim_id",
        ["provider_id", "person_id", "service_date", "status", "agreement_id"],
    ),
    "findings": (
        {
            "rule": str, "subject_type": str, "subject_id": str, "person_id": str,
            "service_date": str, "detail": str, "positions": str,
        },
        ("rule", "subject_type", "subject_id"),
        ["rule", "subject_type", "person_id", "service_date"],
    ),
    "caseloads": (
        {
            "aide_id": str, "agency_id": str, "case_manager_id": str, "open_tasks": int,
            "awaiting_review": int, "persons": int, "name": str,
        },
        "aide_id",
        ["agency_id", "case_manager_id"],
    ),
    "oversight_queue": (
        {
            "task_id": str, "aide_id": str, "case_manager_id": str, "person_id": str,
            "performed_on": str, "category": str, "minutes": int, "position": int,
        },
        "task_id",
        ["case_manager_id", "aide_id", "performed_on"],
    ),
    "agencies": (
        {"agency_id": str, "name": str, "roles": str, "private": int, "position": int},
        "agency_id",
        [],
    ),
    "staff": (
        {
            "staff_id": str, "kind": str, "agency_id": str, "name": str,
            "qualified_on": str, "hired_on": str, "high_school_graduate": int,
            "case_aide_experience_months": int, "post_secondary_months": int,
            "separated_on": str, "position": int,
        },
        "staff_id",
        ["kind", "agency_id"],
    ),
    "supervision": (
        {
            "aide_id": str, "case_manager_id": str, "start_on": str, "end_on": str,
            "start_position": int, "end_position": int,
        },
        "start_position",
        ["aide_id", "case_manager_id"],
    ),
    "persons": (
        {"person_id": str, "open_programs": str, "uses_cdcs": int, "first_position": int},
        "person_id",
        [],
    ),
    "enrollments": (
        {
            "person_id": str, "program": str, "lead_agency_id": str, "start_on": str,
            "end_on": str, "start_position": int, "end_position": int,
        },
        "start_position",
        ["person_id", "program", "lead_agency_id"],
    ),
    "cdcs_periods": (
        {
            "person_id": str, "start_on": str, "end_on": str, "start_position": int,
            "end_position": int,
        },
        "start_position",
        ["person_id"],
    ),
    "financial_interests": (
        {"holder_id": str, "provider_id": str, "declared_on": str, "position": int},
        "position",
        ["holder_id", "provider_id"],
    ),
    "service_agreements": (
        {
            "agreement_id": str, "person_id": str, "lead_agency_id": str,
            "provider_id": str, "procedure_code": str, "modifiers": str, "start_on": str,
            "end_on": str, "ended_early_on": str, "units": int, "units_billed": int,
            "units_left": int, "rate": str, "position": int,
        },
        "agreement_id",
        ["person_id", "provider_id"],
    ),
    "tasks": (
        {
            "task_id": str, "person_id": str, "category": str, "aide_id": str,
            "case_manager_id": str, "assigned_on": str, "due_on": str, "status": str,
            "performed_on": str, "minutes": int, "completions": int, "reviewed_on": str,
            "reviewed_by": str, "outcome": str, "cancelled_on": str, "position": int,
        },
        "task_id",
        ["person_id", "aide_id", "case_manager_id", "status", "category"],
    ),
    "claims": (
        {
            "claim_id": str, "provider_id": str, "person_id": str, "service_date": str,
            "procedure_code": str, "modifiers": str, "units": int, "agreement_id": str,
            "task_ids": str, "voided_on": str, "position": int,
        },
        "claim_id",
        ["provider_id", "person_id", "service_date"],
    ),
}

VIEWS = {
    "oversight_waiting": (
        "SELECT q.*, CAST(julianday('now') - julianday(q.performed_on) AS INTEGER) "
        "AS days_waiting FROM oversight_queue q ORDER BY q.performed_on, q.task_id"
    ),
}


def billable_row(day: BillableDay) -> dict:
    row = asdict(day)
    row.pop("details")
    row["service_date"] = day.service_date.isoformat()
    row["reasons"] = json.dumps(day.reasons)
    row["positions"] = json.dumps(day.positions)
    return row


def derived_tables(state: State, codes: BillingCodes) -> dict[str, list[dict]]:
    """Every table but `events`, computed afresh from the whole state."""
    days = bill(state, codes)
    found = findings.findings(state, days)
    for f in found:
        f["positions"] = json.dumps(f["positions"])
    return {
        "billable_days": [billable_row(d) for d in days],
        "findings": found,
        "caseloads": caseloads.caseloads(state),
        "oversight_queue": caseloads.oversight_queue(state),
        "agencies": current.agencies(state),
        "staff": current.staff(state),
        "supervision": current.supervision(state),
        "persons": current.persons(state),
        "enrollments": current.enrollments(state),
        "cdcs_periods": current.cdcs_periods(state),
        "financial_interests": current.financial_interests(state),
        "service_agreements": current.service_agreements(state, days),
        "tasks": current.tasks(state),
        "claims": current.claims(state),
    }


def _sorted_rows(table: str, rows: list[dict]) -> list[dict]:
    pk = TABLES[table][1]
    keys = (pk,) if isinstance(pk, str) else pk
    return sorted(rows, key=lambda row: tuple(row[k] for k in keys))


class ReviewDatabase:
    """One review database file and the ledger position it reflects."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def create(self, include_notes: bool) -> None:
        db = sqlite_utils.Database(self.path)
        for table, (columns, pk, indexes) in TABLES.items():
            db[table].create(columns, pk=pk, if_not_exists=True)
            for column in indexes:
                db[table].create_index([column], if_not_exists=True)
        for name, sql in VIEWS.items():
            db.create_view(name, sql, ignore=True)
        db["_projection"].create(
            {"name": str, "position": int, "schema_version": int, "include_notes": int},
            pk="name",
            if_not_exists=True,
        )
        if not db.execute("SELECT 1 FROM _projection WHERE name='review'").fetchone():
            db.execute(
                "INSERT INTO _projection VALUES ('review', 0, ?, ?)",
                (SCHEMA_VERSION, int(include_notes)),
            )
            db.conn.commit()
        db.close()

    def tracking(self) -> tuple[int, bool] | None:
        """The position reached and the notes setting, or None for no database."""
        if not self.path.exists():
            return None
        conn = sqlite3.connect(self.path)
        try:
            row = conn.execute(
                "SELECT position, include_notes FROM _projection WHERE name='review'"
            ).fetchone()
        except sqlite3.OperationalError:
            return None
        finally:
            conn.close()
        return (row[0], bool(row[1])) if row else None

    def write(
        self,
        state: State,
        new_events: Iterable[tuple[Event, bytes | None]],
        include_notes: bool,
        codes: BillingCodes,
    ) -> int:
        """Append new events and rewrite the derived tables, in one transaction."""
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                _insert(conn, "events", (
                    event_row(e, h, state, include_notes) for e, h in new_events
                ))
                for table, rows in derived_tables(state, codes).items():
                    conn.execute(f"DELETE FROM [{table}]")
                    _insert(conn, table, _sorted_rows(table, rows))
                conn.execute(
                    "UPDATE _projection SET position=? WHERE name='review'",
                    (state.position,),
                )
        finally:
            conn.close()
        return state.position


def _insert(conn: sqlite3.Connection, table: str, rows: Iterable[dict]) -> None:
    columns = list(TABLES[table][0])
    sql = (
        f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    conn.executemany(sql, (tuple(row.get(c) for c in columns) for row in rows))


def _chunks(events: Iterator, size: int = 10_000) -> Iterator[list]:
    chunk = []
    for e in events:
        chunk.append(e)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
