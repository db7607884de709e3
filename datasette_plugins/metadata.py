"""What Datasette shows about each table and column, and the canned queries."""

from __future__ import annotations

from typing import Any

POSITIONS = "JSON array of the event positions that decided this row"

TABLES: dict[str, dict[str, Any]] = {
    "events": {
        "title": "Events",
        "description": "Every record the ledger accepted, in the order it was appended. "
        "Nothing here is ever changed or deleted; corrections are later events.",
        "sort": "position",
        "facets": ["type"],
        "columns": {
            "position": "The ledger's global order: 1, 2, 3...",
            "recorded_at": "When the ledger appended the event (UTC)",
            "type": "The record type, as in the feed",
            "stream_id": "The subject the event belongs to (e.g. task/T-19)",
            "stream_version": "The event's number within its subject's stream",
            "occurred_on": "The business date the record speaks of",
            "entered_by": "Who entered the record at the source",
            "record_id": "The source's idempotency key",
            "payload": "The record's fields as JSON (task notes withheld)",
            "chain_hash": "SHA-256 chain hash, hex: verify with cma-ledger verify",
            "entered_at": "When the source system entered the record",
            "person_id": "The person the event is about, where there is one",
        },
    },
    "billable_days": {
        "title": "Billable days",
        "description": "One row per claim: what may be paid and, in reasons, which "
        "billing rules cut it.",
        "sort": "service_date",
        "facets": ["status", "provider_id"],
        "columns": {
            "claim_id": "The claim",
            "provider_id": "The provider that billed it",
            "person_id": "The person served (PMI)",
            "service_date": "The day of service claimed",
            "agreement_id": "The service agreement the claim cites",
            "claimed_units": "Units claimed (15 minutes each)",
            "documented_units": "Units documented by approved aide work that day",
            "billable_units": "Units that may be paid",
            "rate": "Dollars per unit, from the service agreement",
            "amount_cents": "Billable units times rate, in cents, rounded half up",
            "status": "billable, partially_billable, not_billable, pending_review "
            "or voided",
            "reasons": "Billing rule ids that apply (JSON array)",
            "positions": POSITIONS,
        },
    },
    "findings": {
        "title": "Audit findings",
        "description": "Every billing rule that applies to a live claim, and every "
        "completed task done by an unsupervised or unqualified aide.",
        "sort": "service_date",
        "facets": ["rule", "subject_type"],
        "columns": {
            "rule": "The rule id (see docs/rules.md)",
            "subject_type": "claim or task",
            "subject_id": "The claim or task id",
            "person_id": "The person served",
            "service_date": "The service date or the day the task was performed",
            "detail": "What was found, in words",
            "positions": POSITIONS,
        },
    },
    "caseloads": {
        "title": "Caseloads",
        "description": "Each aide's open work now.",
        "sort": "aide_id",
        "facets": ["agency_id", "case_manager_id"],
        "columns": {
            "aide_id": "The aide",
            "agency_id": "The aide's employer",
            "case_manager_id": "The supervising case manager (supervision with no end)",
            "open_tasks": "Tasks assigned or returned, not completed or cancelled",
            "awaiting_review": "Tasks whose newest completion is not yet reviewed",
            "persons": "Distinct persons over those tasks",
            "name": "The aide's name",
        },
    },
    "oversight_queue": {
        "title": "Oversight queue",
        "description": "Completed aide work waiting for the case manager's review. "
        "The view oversight_waiting adds the days waited, computed when read.",
        "sort": "performed_on",
        "facets": ["case_manager_id"],
        "columns": {
            "task_id": "The task",
            "aide_id": "The aide who did the work",
            "case_manager_id": "The case manager who must review it",
            "person_id": "The person served",
            "performed_on": "The day the work was performed",
            "category": "The kind of administrative task",
            "minutes": "Minutes documented",
            "position": "Position of the completion event",
        },
    },
    "agencies": {"title": "Agencies", "description": "Lead agencies and providers."},
    "staff": {"title": "Staff", "description": "Case managers and aides, with "
              "qualification and separation."},
    "supervision": {"title": "Supervision", "description": "Which case manager "
                    "supervised which aide, and when (end dates inclusive)."},
    "persons": {"title": "Persons", "description": "People served, by PMI."},
    "enrollments": {"title": "Enrollments", "description": "Program enrollment "
                    "periods (BI, CAC, CADI, DD, EW, AC, ECS)."},
    "cdcs_periods": {"title": "CDCS periods", "description": "When a person used "
                     "consumer directed community supports."},
    "financial_interests": {"title": "Financial interests", "description": "Declared "
                            "financial interests of staff and agencies in providers."},
    "service_agreements": {"title": "Service agreements", "description": "Authorized "
                           "services with their units, rate, and units billed so far."},
    "tasks": {"title": "Tasks", "description": "Delegated administrative tasks and "
              "where each stands.", "facets": ["status", "category"]},
    "claims": {"title": "Claims", "description": "Claims as submitted."},
}

QUERIES: dict[str, dict[str, str]] = {
    "findings_by_rule": {
        "title": "Findings by rule",
        "description": "How many findings each rule produced, by subject type.",
        "sql": "SELECT rule, subject_type, count(*) AS findings, "
        "count(DISTINCT person_id) AS persons FROM findings "
        "GROUP BY rule, subject_type ORDER BY findings DESC",
    },
    "person_history": {
        "title": "A person's history",
        "description": "Every event about one person, in ledger order.",
        "sql": "SELECT position, recorded_at, occurred_on, type, stream_id, payload "
        "FROM events WHERE person_id = :person_id ORDER BY position",
    },
}


def metadata(database: str = "review", synthetic: bool = False) -> dict[str, Any]:
    tables = {}
    for name, spec in TABLES.items():
        table = {k: v for k, v in spec.items() if k != "columns"}
        if "columns" in spec:
            table["columns"] = spec["columns"]
        tables[name] = table
    title = "cma-ledger review"
    if synthetic:
        title += " (SYNTHETIC DEMO DATA)"
    return {
        "title": title,
        "description": "Supervised delegation to case management aides: events, "
        "billable days and audit findings, read-only.",
        "databases": {database: {"tables": tables, "queries": QUERIES}},
    }
