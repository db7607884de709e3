"""The review database: the read models, created with sqlite-utils.

`ReviewDatabase.write` appends the events the database has not seen and brings
every derived table up to date, in one transaction together with the position
it reached: a crash leaves the previous consistent state, and no event is
counted twice. `projections.runner` decides what to write and where.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import operator
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from ledger.state import Event, State
from projections import caseloads, current, findings, summaries
from projections.billing import BillableDay, BillingCodes, bill
from projections.events import event_row

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

# table: (columns with types, primary key, indexed columns)
TABLES: dict[str, tuple[dict[str, type], str | tuple[str, ...], list[str]]] = {
    "events": (
        {
            "position": int,
            "recorded_at": str,
            "type": str,
            "stream_id": str,
            "stream_version": int,
            "occurred_on": str,
            "entered_by": str,
            "record_id": str,
            "payload": str,
            "chain_hash": str,
            "entered_at": str,
            "person_id": str,
        },
        "position",
        ["type", "stream_id", "person_id", "occurred_on", "recorded_at"],
    ),
    "billable_days": (
        {
            "claim_id": str,
            "provider_id": str,
            "person_id": str,
            "service_date": str,
            "agreement_id": str,
            "claimed_units": int,
            "documented_units": int,
            "billable_units": int,
            "rate": str,
            "amount_cents": int,
            "status": str,
            "reasons": str,
            "positions": str,
        },
        "claim_id",
        ["provider_id", "person_id", "service_date", "status", "agreement_id"],
    ),
    "findings": (
        {
            "rule": str,
            "subject_type": str,
            "subject_id": str,
            "person_id": str,
            "service_date": str,
            "detail": str,
            "positions": str,
        },
        ("rule", "subject_type", "subject_id"),
        ["rule", "subject_type", "person_id", "service_date"],
    ),
    "caseloads": (
        {
            "aide_id": str,
            "agency_id": str,
            "case_manager_id": str,
            "open_tasks": int,
            "awaiting_review": int,
            "persons": int,
            "name": str,
        },
        "aide_id",
        ["agency_id", "case_manager_id"],
    ),
    "oversight_queue": (
        {
            "task_id": str,
            "aide_id": str,
            "case_manager_id": str,
            "person_id": str,
            "performed_on": str,
            "category": str,
            "minutes": int,
            "position": int,
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
            "staff_id": str,
            "kind": str,
            "agency_id": str,
            "name": str,
            "qualified_on": str,
            "hired_on": str,
            "high_school_graduate": int,
            "case_aide_experience_months": int,
            "post_secondary_months": int,
            "separated_on": str,
            "position": int,
        },
        "staff_id",
        ["kind", "agency_id"],
    ),
    "supervision": (
        {
            "aide_id": str,
            "case_manager_id": str,
            "start_on": str,
            "end_on": str,
            "start_position": int,
            "end_position": int,
        },
        "start_position",
        ["aide_id", "case_manager_id"],
    ),
    "persons": (
        {
            "person_id": str,
            "open_programs": str,
            "uses_cdcs": int,
            "first_position": int,
        },
        "person_id",
        [],
    ),
    "enrollments": (
        {
            "person_id": str,
            "program": str,
            "lead_agency_id": str,
            "start_on": str,
            "end_on": str,
            "start_position": int,
            "end_position": int,
        },
        "start_position",
        ["person_id", "program", "lead_agency_id"],
    ),
    "cdcs_periods": (
        {
            "person_id": str,
            "start_on": str,
            "end_on": str,
            "start_position": int,
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
            "agreement_id": str,
            "person_id": str,
            "lead_agency_id": str,
            "provider_id": str,
            "procedure_code": str,
            "modifiers": str,
            "start_on": str,
            "end_on": str,
            "ended_early_on": str,
            "units": int,
            "units_billed": int,
            "units_left": int,
            "rate": str,
            "position": int,
        },
        "agreement_id",
        ["person_id", "provider_id"],
    ),
    "tasks": (
        {
            "task_id": str,
            "person_id": str,
            "category": str,
            "aide_id": str,
            "case_manager_id": str,
            "assigned_on": str,
            "due_on": str,
            "status": str,
            "performed_on": str,
            "minutes": int,
            "completions": int,
            "reviewed_on": str,
            "reviewed_by": str,
            "outcome": str,
            "cancelled_on": str,
            "position": int,
        },
        "task_id",
        [
            "person_id",
            "aide_id",
            "case_manager_id",
            "status",
            "category",
            "assigned_on",
        ],
    ),
    "claims": (
        {
            "claim_id": str,
            "provider_id": str,
            "person_id": str,
            "service_date": str,
            "procedure_code": str,
            "modifiers": str,
            "units": int,
            "agreement_id": str,
            "task_ids": str,
            "voided_on": str,
            "position": int,
        },
        "claim_id",
        ["provider_id", "person_id", "service_date"],
    ),
    "billing_by_month": (
        {
            "month": str,
            "provider_id": str,
            "claims": int,
            "billable_days": int,
            "claimed_units": int,
            "billable_units": int,
            "amount_cents": int,
        },
        ("month", "provider_id"),
        ["provider_id"],
    ),
    "same_day_claims": (
        {
            "claim_id": str,
            "person_id": str,
            "service_date": str,
            "provider_id": str,
            "procedure_code": str,
            "position": int,
            "status": str,
            "reasons": str,
            "amount_cents": int,
        },
        "claim_id",
        ["person_id", "service_date", "provider_id", "status"],
    ),
}

VIEWS = {
    "oversight_waiting": (
        "SELECT q.*, CAST(julianday('now') - julianday(q.performed_on) AS INTEGER) "
        "AS days_waiting FROM oversight_queue q ORDER BY q.performed_on, q.task_id"
    ),
}


def billable_row(day: BillableDay) -> dict:
    row = {column: getattr(day, column) for column in TABLES["billable_days"][0]}
    row["service_date"] = day.service_date.isoformat()
    row["reasons"] = json.dumps(day.reasons)
    row["positions"] = json.dumps(day.positions)
    return row


def derived_tables(
    state: State, codes: BillingCodes
) -> Iterator[tuple[str, Iterable[dict]]]:
    """Every table but `events`, computed afresh from the whole state.

    One table at a time, so only one table's rows are held in memory at once.
    """
    days = bill(state, codes)
    yield "billable_days", (billable_row(d) for d in days)
    found = findings.findings(state, days)
    for f in found:
        f["positions"] = json.dumps(f["positions"])
    yield "findings", found
    yield "service_agreements", current.service_agreements(state, days)
    yield "billing_by_month", summaries.billing_by_month(days)
    yield "same_day_claims", summaries.same_day_claims(state, days)
    del days, found
    yield "caseloads", caseloads.caseloads(state)
    yield "oversight_queue", caseloads.oversight_queue(state)
    yield "agencies", current.agencies(state)
    yield "staff", current.staff(state)
    yield "supervision", current.supervision(state)
    yield "persons", current.persons(state)
    yield "enrollments", current.enrollments(state)
    yield "cdcs_periods", current.cdcs_periods(state)
    yield "financial_interests", current.financial_interests(state)
    yield "tasks", current.tasks(state)
    yield "claims", current.claims(state)


# A digest of the tables' layout: a database written with another layout is
# rebuilt rather than caught up, so a new column never meets an old table.
LAYOUT = hashlib.sha256(repr((SCHEMA_VERSION, TABLES, VIEWS)).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Tracking:
    """What `_projection` says about a review database."""

    position: int
    include_notes: bool
    layout: str | None
    cut: str | None  # the selection of a replay; None when it follows the ledger


class PositionMovedError(Exception):
    """Another process moved the review database on since its position was read."""

    def __init__(self, expected: int, found: int | None) -> None:
        super().__init__(f"review database at position {found}, expected {expected}")
        self.expected = expected
        self.found = found


class ReviewDatabase:
    """One review database file and the ledger position it reflects."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def create(
        self, include_notes: bool, indexes: bool = True, cut: str | None = None
    ) -> None:
        """The tables, views and tracking row. `indexes=False` leaves the indexes
        to `create_indexes`, which is faster after a bulk load; `cut` names the
        selection of a replay (None for a database that follows the ledger)."""
        db = sqlite_utils.Database(self.path)
        for table, (columns, pk, _) in TABLES.items():
            db.table(table).create(columns, pk=pk, if_not_exists=True)
        for name, sql in VIEWS.items():
            db.create_view(name, sql, ignore=True)
        db.table("_projection").create(
            {
                "name": str,
                "position": int,
                "schema_version": int,
                "include_notes": int,
                "layout": str,
                "cut": str,
            },
            pk="name",
            if_not_exists=True,
        )
        if not db.execute("SELECT 1 FROM _projection WHERE name='review'").fetchone():
            db.execute(
                "INSERT INTO _projection VALUES ('review', 0, ?, ?, ?, ?)",
                (SCHEMA_VERSION, int(include_notes), LAYOUT, cut),
            )
            db.conn.commit()
        db.close()
        if indexes:
            self.create_indexes()

    def create_indexes(self) -> None:
        db = sqlite_utils.Database(self.path)
        for table, (_, _, indexes) in TABLES.items():
            for column in indexes:
                db.table(table).create_index([column], if_not_exists=True)
        db.close()

    def tracking(self) -> Tracking | None:
        """Where the database stands, or None when there is no review database."""
        if not self.path.exists():
            return None
        conn = sqlite3.connect(self.path, timeout=30)
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute(
                "SELECT * FROM _projection WHERE name='review'"
            ).fetchone()
        except sqlite3.DatabaseError:
            return None
        finally:
            conn.close()
        if row is None:
            return None
        found = dict(row)
        return Tracking(
            position=found["position"],
            include_notes=bool(found["include_notes"]),
            layout=found.get("layout"),
            cut=found.get("cut"),
        )

    def write(
        self,
        state: State,
        new_events: Iterable[tuple[Event, bytes | None]],
        include_notes: bool,
        codes: BillingCodes,
        after: int,
        fresh: bool = False,
    ) -> int:
        """Append new events and bring the derived tables up to date, in one
        transaction with the position reached, so each event counts exactly once.

        `new_events` may advance `state` as it is iterated: the derived tables
        are computed once it is exhausted. The write is refused with
        `PositionMovedError`, before `new_events` is touched, unless the database
        is still at `after`. `fresh` is for an empty database being built into a
        temporary file: it skips the rollback journal, since a failed build is
        deleted rather than rolled back.
        """
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            if fresh:
                conn.execute("PRAGMA journal_mode=OFF")
                conn.execute("PRAGMA synchronous=OFF")
            conn.execute("BEGIN IMMEDIATE")
            try:
                found = conn.execute(
                    "SELECT position FROM _projection WHERE name='review'"
                ).fetchone()
                if found is None or found[0] != after:
                    raise PositionMovedError(after, found[0] if found else None)
                for chunk in _chunks(
                    event_row(e, h, state, include_notes) for e, h in new_events
                ):
                    _insert(conn, "events", chunk)
                for table, rows in derived_tables(state, codes):
                    if fresh:
                        _insert_sorted(conn, table, rows)
                    else:
                        _sync(conn, table, rows)
                conn.execute(
                    "UPDATE _projection SET position=? WHERE name='review'",
                    (state.position,),
                )
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()
        return state.position


def _columns(table: str) -> tuple[list[str], list[int]]:
    """The table's columns, and where its primary key columns stand among them."""
    columns, pk, _ = TABLES[table]
    keys = (pk,) if isinstance(pk, str) else pk
    names = list(columns)
    return names, [names.index(k) for k in keys]


def _values(table: str, rows: Iterable[dict]) -> Iterator[tuple]:
    """Each row's values in column order; a column a row lacks is NULL."""
    columns, _ = _columns(table)
    take = operator.itemgetter(*columns)
    for row in rows:
        try:
            yield take(row)
        except KeyError:
            yield tuple(row.get(c) for c in columns)


def _insert_sql(table: str, verb: str = "INSERT") -> str:
    columns, _ = _columns(table)
    return (
        f"{verb} INTO [{table}] ({', '.join(f'[{c}]' for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )


def _insert(conn: sqlite3.Connection, table: str, rows: Iterable[dict]) -> None:
    conn.executemany(_insert_sql(table), _values(table, rows))


def _insert_sorted(conn: sqlite3.Connection, table: str, rows: Iterable[dict]) -> None:
    """Insert in primary key order, which SQLite's B-trees take fastest."""
    _, at = _columns(table)
    values = list(_values(table, rows))
    values.sort(key=lambda v: tuple(v[i] for i in at))
    conn.executemany(_insert_sql(table), values)


def _sync(conn: sqlite3.Connection, table: str, rows: Iterable[dict]) -> None:
    """Make `table` hold exactly `rows`, writing only the rows that differ.

    Most of a county's rows are the same from one catch-up to the next; writing
    only the difference keeps the transaction, and the lock readers wait on,
    small.
    """
    columns, at = _columns(table)
    wanted = {tuple(v[i] for i in at): v for v in _values(table, rows)}
    listed = ", ".join(f"[{c}]" for c in columns)
    held = {
        tuple(v[i] for i in at): v
        for v in conn.execute(f"SELECT {listed} FROM [{table}]")
    }
    gone = sorted(held.keys() - wanted.keys())
    if gone:
        where = " AND ".join(f"[{columns[i]}] = ?" for i in at)
        conn.executemany(f"DELETE FROM [{table}] WHERE {where}", gone)
    changed = [wanted[k] for k in sorted(wanted) if held.get(k) != wanted[k]]
    conn.executemany(_insert_sql(table, "INSERT OR REPLACE"), changed)


def _chunks(items: Iterator, size: int = 10_000) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
