"""What Datasette says about each table and column, the canned queries, the charts.

Every facet and default sort here is backed by an index in
`projections.review.TABLES`; tests/test_datasette.py checks that it stays so.
"""

from __future__ import annotations

import copy
from typing import Any

from datasette_plugins.access import PLUGIN, REVIEW_DATABASE

POSITIONS = "The event positions that decided this row (links to the events)"
POSITION = "Position of the event that recorded this row"
PERSON = "The person served (PMI)"
DAY = "YYYY-MM-DD"

TABLES: dict[str, dict[str, Any]] = {
    "events": {
        "title": "Events",
        "description": "Every record the ledger accepted, in the order it was "
        "appended. Nothing here is ever changed or deleted: a correction is a "
        "later event. Task notes are left out unless the review database was "
        "built with --include-notes.",
        "sort": "position",
        "facets": ["type"],
        "columns": {
            "position": "The ledger's global order: 1, 2, 3...",
            "recorded_at": "When the ledger appended the event (UTC)",
            "type": "The record type, as in the feed",
            "stream_id": "The subject the event belongs to, e.g. task/T-19",
            "stream_version": "The event's number within its subject's stream",
            "occurred_on": "The business date the record speaks of",
            "entered_by": "Who entered the record at the source",
            "record_id": "The source's idempotency key",
            "payload": "The record's fields (task notes withheld unless included)",
            "chain_hash": "SHA-256 chain hash, hex; check with cma-ledger verify",
            "entered_at": "When the source system entered the record",
            "person_id": "The person the event is about, where there is one",
        },
    },
    "billable_days": {
        "title": "Billable days",
        "description": "One row per claim: what may be paid and, in reasons, the "
        "billing rules that cut it. The claim id opens a page that walks the "
        "rules one by one with the facts each used.",
        "sort_desc": "service_date",
        "facets": ["status", "provider_id"],
        "columns": {
            "claim_id": "The claim (opens the rule-by-rule explanation)",
            "provider_id": "The provider that billed it",
            "person_id": PERSON,
            "service_date": "The day of service claimed",
            "agreement_id": "The service agreement the claim cites",
            "claimed_units": "Units claimed (15 minutes each)",
            "documented_units": "Units documented by approved aide work that day",
            "billable_units": "Units that may be paid",
            "rate": "Dollars per unit, from the service agreement",
            "amount_cents": "Billable units times rate, rounded half up (shown in "
            "dollars)",
            "status": "billable, partially_billable, not_billable, pending_review "
            "or voided",
            "reasons": "Billing rule ids that apply",
            "positions": POSITIONS,
        },
    },
    "findings": {
        "title": "Audit findings",
        "description": "Every billing rule that applies to a live claim, and every "
        "completed task done by an aide who was unsupervised or unqualified that "
        "day, claimed or not.",
        "sort_desc": "service_date",
        "facets": ["rule", "subject_type"],
        "columns": {
            "rule": "The rule id, as in the billing rules table",
            "subject_type": "claim or task",
            "subject_id": "The claim or task the finding is about",
            "person_id": PERSON,
            "service_date": "The service date, or the day the task was performed",
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
            "case_manager_id": "The supervising case manager (the supervision with "
            "no end recorded)",
            "open_tasks": "Tasks assigned or returned, not completed or cancelled",
            "awaiting_review": "Tasks whose newest completion is not yet reviewed",
            "persons": "Distinct persons over those tasks",
            "name": "The aide's name",
        },
    },
    "oversight_queue": {
        "title": "Oversight queue",
        "description": "Completed aide work waiting for the case manager's review, "
        "oldest first. The view oversight_waiting adds the days waited.",
        "sort": "performed_on",
        "facets": ["case_manager_id"],
        "columns": {
            "task_id": "The task",
            "aide_id": "The aide who did the work",
            "case_manager_id": "The case manager who must review it",
            "person_id": PERSON,
            "performed_on": "The day the work was performed",
            "category": "The kind of administrative task",
            "minutes": "Minutes documented",
            "position": "Position of the completion event",
        },
    },
    "oversight_waiting": {
        "title": "Oversight queue, with days waiting",
        "description": "The oversight queue with how long each item has waited, "
        "counted from the day the work was performed to today (computed when read).",
        "facets": ["case_manager_id"],
        "columns": {
            "task_id": "The task",
            "aide_id": "The aide who did the work",
            "case_manager_id": "The case manager who must review it",
            "person_id": PERSON,
            "performed_on": "The day the work was performed",
            "category": "The kind of administrative task",
            "minutes": "Minutes documented",
            "position": "Position of the completion event",
            "days_waiting": "Whole days from performed_on to today",
        },
    },
    "agencies": {
        "title": "Agencies",
        "description": "Lead agencies and providers, with their roles.",
        "sort": "agency_id",
        "columns": {
            "agency_id": "The agency",
            "name": "Its name",
            "roles": "lead_agency, case_management_provider, service_provider",
            "private": "1 for a private provider (its own financial interests count)",
            "position": POSITION,
        },
    },
    "staff": {
        "title": "Staff",
        "description": "Case managers and aides, with their latest qualification "
        "facts and separation. Earlier qualification facts are events "
        "(aide_qualification_updated).",
        "sort": "staff_id",
        "facets": ["kind", "agency_id"],
        "columns": {
            "staff_id": "The staff member",
            "kind": "case_manager or aide",
            "agency_id": "The employer",
            "name": "Their name",
            "qualified_on": "Case managers: the day they became qualified",
            "hired_on": "Aides: the day they were hired",
            "high_school_graduate": "Aides: 1 if a high school graduate",
            "case_aide_experience_months": "Aides: months of case aide experience",
            "post_secondary_months": "Aides: months of post-secondary education",
            "separated_on": "The last day employed, if separated",
            "position": POSITION,
        },
    },
    "supervision": {
        "title": "Supervision",
        "description": "Which case manager supervised which aide, and when. End "
        "dates are inclusive; no end means it goes on.",
        "sort": "aide_id",
        "facets": ["case_manager_id"],
        "columns": {
            "aide_id": "The aide",
            "case_manager_id": "The supervising case manager",
            "start_on": "First day supervised",
            "end_on": "Last day supervised",
            "start_position": "Position of supervision_started",
            "end_position": "Position of supervision_ended",
        },
    },
    "persons": {
        "title": "Persons",
        "description": "People served, by PMI. The person id opens their timeline.",
        "sort": "person_id",
        "columns": {
            "person_id": "The person (opens their timeline)",
            "open_programs": "Programs with an enrollment that has no end",
            "uses_cdcs": "1 if a CDCS period is open",
            "first_position": "Position of the first event about the person",
        },
    },
    "enrollments": {
        "title": "Enrollments",
        "description": "Program enrollment periods (BI, CAC, CADI, DD, EW, AC, ECS).",
        "sort": "person_id",
        "facets": ["program", "lead_agency_id"],
        "columns": {
            "person_id": PERSON,
            "program": "BI, CAC, CADI, DD, EW, AC or ECS",
            "lead_agency_id": "The lead agency",
            "start_on": "First day enrolled",
            "end_on": "Last day enrolled",
            "start_position": "Position of person_enrolled",
            "end_position": "Position of enrollment_ended",
        },
    },
    "cdcs_periods": {
        "title": "CDCS periods",
        "description": "When a person used consumer directed community supports. "
        "Under AC or EW, aide work on those days is not billable.",
        "sort": "person_id",
        "columns": {
            "person_id": PERSON,
            "start_on": "First day of CDCS",
            "end_on": "Last day of CDCS",
            "start_position": "Position of cdcs_started",
            "end_position": "Position of cdcs_ended",
        },
    },
    "financial_interests": {
        "title": "Financial interests",
        "description": "Declared financial interests of staff and agencies in "
        "providers.",
        "sort": "holder_id",
        "facets": ["provider_id"],
        "columns": {
            "holder_id": "The staff member or agency with the interest",
            "provider_id": "The provider they have an interest in",
            "declared_on": "The day it was declared",
            "position": POSITION,
        },
    },
    "service_agreements": {
        "title": "Service agreements",
        "description": "Authorized services with their units, rate, and the units "
        "billed so far.",
        "sort": "agreement_id",
        "facets": ["provider_id"],
        "columns": {
            "agreement_id": "The service agreement",
            "person_id": PERSON,
            "lead_agency_id": "The lead agency that approved it",
            "provider_id": "The provider authorized",
            "procedure_code": "The procedure code, e.g. T1016",
            "modifiers": "The procedure modifiers, e.g. TF UC for the aide service",
            "start_on": "First day covered",
            "end_on": "Last day covered, after any early end",
            "ended_early_on": "The end recorded by service_agreement_ended, if any",
            "units": "Units authorized",
            "units_billed": "Billable units of its claims so far",
            "units_left": "Units authorized minus units billed",
            "rate": "Dollars per unit",
            "position": POSITION,
        },
    },
    "tasks": {
        "title": "Tasks",
        "description": "Administrative tasks delegated to aides, and where each "
        "stands: its newest completion and that completion's newest review.",
        "sort_desc": "assigned_on",
        "facets": ["status", "category"],
        "columns": {
            "task_id": "The task",
            "person_id": PERSON,
            "category": "The kind of administrative task",
            "aide_id": "The aide it is assigned to",
            "case_manager_id": "The case manager who assigned it",
            "assigned_on": "The day it was assigned",
            "due_on": "When it is due, if set",
            "status": "assigned, awaiting_review, returned, approved or cancelled",
            "performed_on": "The day of the newest completion",
            "minutes": "Minutes of the newest completion",
            "completions": "How many times it was completed (returned work is "
            "done again)",
            "reviewed_on": "The day of the newest review",
            "reviewed_by": "The case manager who reviewed it",
            "outcome": "approved or returned",
            "cancelled_on": "The day it was cancelled, if it was",
            "position": "Position of task_assigned",
        },
    },
    "claims": {
        "title": "Claims",
        "description": "Claims as submitted, and voided. Their outcome is in "
        "billable days.",
        "sort_desc": "service_date",
        "facets": ["provider_id"],
        "columns": {
            "claim_id": "The claim (opens the rule-by-rule explanation)",
            "provider_id": "The provider that billed it",
            "person_id": PERSON,
            "service_date": "The day of service claimed",
            "procedure_code": "The procedure code billed",
            "modifiers": "The modifiers billed",
            "units": "Units claimed",
            "agreement_id": "The service agreement cited",
            "task_ids": "The tasks cited as documentation",
            "voided_on": "The day it was voided, if it was",
            "position": "Position of claim_submitted",
        },
    },
    "billing_by_month": {
        "title": "Billing by month",
        "description": "Per month of service and provider: live claims, billable "
        "days, units and the amount that may be paid, added up from billable days "
        "when the review database is brought up to date. Voided claims are left out.",
        "sort": "month",
        "facets": ["provider_id"],
        "columns": {
            "month": "The month of service, YYYY-MM",
            "provider_id": "The provider that billed",
            "claims": "Live (not voided) claims",
            "billable_days": "Claims billable or partially billable",
            "claimed_units": "Units claimed",
            "billable_units": "Units that may be paid",
            "amount_cents": "The amount that may be paid (shown in dollars)",
        },
    },
    "same_day_claims": {
        "title": "Same-day claims",
        "description": "Every live claim that shares its person and service date "
        "with another live claim; only the first recorded can be paid (CMA-DUP, "
        "CMA-SAME-DAY).",
        "sort": "service_date",
        "facets": ["provider_id", "status"],
        "columns": {
            "claim_id": "The claim (opens the rule-by-rule explanation)",
            "person_id": PERSON,
            "service_date": "The day of service the claims share",
            "provider_id": "The provider that billed it",
            "procedure_code": "The procedure code billed",
            "position": "Position of claim_submitted: the lowest was recorded first",
            "status": "The claim's outcome, as in billable days",
            "reasons": "Billing rule ids that apply",
            "amount_cents": "The amount that may be paid (shown in dollars)",
        },
    },
    "_projection": {
        "title": "Projection status",
        "description": "The ledger position this review database reflects.",
        "columns": {
            "name": "The projection",
            "position": "The last ledger position applied",
            "schema_version": "The review database's schema version",
            "include_notes": "1 if confidential task notes were copied in",
            "layout": "A digest of the tables' layout; a database with another "
            "layout is rebuilt, not caught up",
            "cut": "For a replay, the events it keeps (e.g. until-position 50); "
            "empty when the database follows the ledger",
        },
    },
}

NOTE_FREE_PAYLOAD = "json_remove(payload, '$.note') AS payload"
# Long canned queries answer a page at a time; `?_page=N` picks the page (see
# `datasette_plugins.paging`).
PAGE_ROWS = 100
A_PAGE = f"LIMIT {PAGE_ROWS} OFFSET :_page_offset"

QUERIES: dict[str, dict[str, Any]] = {
    "oversight_queue_waiting": {
        "title": "Oversight queue with days waiting",
        "description": "Completed aide work not yet reviewed, longest waiting "
        f"first, counted to today; {PAGE_ROWS} to a page.",
        "sql": "SELECT task_id, case_manager_id, aide_id, person_id, performed_on, "
        "category, minutes, days_waiting FROM oversight_waiting "
        f"ORDER BY days_waiting DESC, task_id {A_PAGE}",
    },
    "findings_by_rule": {
        "title": "Findings by rule",
        "description": "How many findings each rule produced, over how many persons "
        "and which service dates.",
        "sql": "SELECT rule, subject_type, count(*) AS findings, "
        "count(DISTINCT person_id) AS persons, min(service_date) AS first_date, "
        "max(service_date) AS last_date FROM findings "
        "GROUP BY rule, subject_type ORDER BY findings DESC, rule",
    },
    "amounts_by_month_and_provider": {
        "title": "Amounts billable per month and provider",
        "description": "Per month of service and provider: claims, billable days "
        "and the amount that may be paid. Voided claims are left out.",
        "sql": "SELECT month, provider_id, claims, billable_days, claimed_units, "
        "billable_units, amount_cents FROM billing_by_month "
        "ORDER BY month, provider_id",
    },
    "same_day_conflicts": {
        "title": "Same-day conflicts",
        "description": "Persons with more than one live claim on one service date, "
        "with each claim's provider and outcome; only the first recorded can be "
        f"paid (CMA-DUP, CMA-SAME-DAY); {PAGE_ROWS} to a page. The table same-day "
        "claims holds the same rows, to filter, facet and export.",
        "sql": "SELECT person_id, service_date, claim_id, provider_id, "
        "procedure_code, position, status, reasons, amount_cents FROM same_day_claims "
        f"ORDER BY service_date, person_id, position {A_PAGE}",
    },
    "person_history": {
        "title": "A person's history",
        "description": "Every event about one person, in ledger order (task notes "
        f"left out), {PAGE_ROWS} to a page. The person's timeline page shows them "
        "all with billing outcomes beside the days.",
        "sql": "SELECT position, recorded_at, occurred_on, type, stream_id, "
        f"{NOTE_FREE_PAYLOAD} FROM events WHERE person_id = :person_id "
        f"ORDER BY position {A_PAGE}",
    },
}

PROVIDER_FILTER = "[[ AND provider_id = :provider ]]"
MONTH = "substr(service_date, 1, 7) AS month"

DASHBOARDS: dict[str, Any] = {
    "billing": {
        "title": "Billing and findings",
        "description": "Billable amounts and days per month by provider, and the "
        "findings each rule produced per month.",
        "filters": {
            "provider": {
                "name": "Provider",
                "type": "select",
                "db": REVIEW_DATABASE,
                "query": "SELECT DISTINCT provider_id FROM billable_days "
                "ORDER BY provider_id",
            },
        },
        "layout": [
            ["amount-by-month", "days-by-month"],
            ["findings-by-month", "findings-by-month"],
        ],
        "charts": {
            "amount-by-month": {
                "title": "Billable amount per month, by provider (dollars)",
                "db": REVIEW_DATABASE,
                "query": "SELECT month, provider_id, amount_cents "
                f"FROM billing_by_month WHERE TRUE {PROVIDER_FILTER} ORDER BY month",
                "library": "vega-lite",
                "display": {
                    "transform": [
                        {"calculate": "datum.amount_cents / 100", "as": "dollars"}
                    ],
                    "mark": {"type": "bar", "tooltip": True},
                    "encoding": {
                        "x": {"field": "month", "type": "ordinal", "title": "Month"},
                        "y": {
                            "field": "dollars",
                            "type": "quantitative",
                            "title": "Billable ($)",
                            "axis": {"format": "$,.2f"},
                        },
                        "color": {
                            "field": "provider_id",
                            "type": "nominal",
                            "title": "Provider",
                        },
                    },
                },
            },
            "days-by-month": {
                "title": "Billable days per month, by provider",
                "db": REVIEW_DATABASE,
                "query": "SELECT month, provider_id, billable_days AS days "
                f"FROM billing_by_month WHERE TRUE {PROVIDER_FILTER} ORDER BY month",
                "library": "vega-lite",
                "display": {
                    "mark": {"type": "bar", "tooltip": True},
                    "encoding": {
                        "x": {"field": "month", "type": "ordinal", "title": "Month"},
                        "y": {
                            "field": "days",
                            "type": "quantitative",
                            "title": "Billable days",
                        },
                        "color": {
                            "field": "provider_id",
                            "type": "nominal",
                            "title": "Provider",
                        },
                    },
                },
            },
            "findings-by-month": {
                "title": "Findings per month, by rule",
                "db": REVIEW_DATABASE,
                "query": f"SELECT {MONTH}, rule, count(*) AS findings FROM findings "
                "WHERE TRUE [[ AND subject_id IN (SELECT claim_id FROM billable_days "
                "WHERE provider_id = :provider) ]] GROUP BY month, rule ORDER BY month",
                "library": "vega-lite",
                "display": {
                    "mark": {"type": "line", "point": True, "tooltip": True},
                    "encoding": {
                        "x": {"field": "month", "type": "ordinal", "title": "Month"},
                        "y": {
                            "field": "findings",
                            "type": "quantitative",
                            "title": "Findings",
                        },
                        "color": {"field": "rule", "type": "nominal", "title": "Rule"},
                    },
                },
            },
        },
    },
    "oversight": {
        "title": "Oversight waiting times",
        "description": "How long completed aide work has waited for the case "
        "manager's review, counted to today.",
        "layout": [["waiting-count", "oldest"], ["waiting-histogram", "by-manager"]],
        "charts": {
            "waiting-count": {
                "title": "Items waiting",
                "db": REVIEW_DATABASE,
                "query": "SELECT count(*) AS waiting FROM oversight_waiting",
                "library": "metric",
                "display": {"field": "waiting", "prefix": "", "suffix": " items"},
            },
            "oldest": {
                "title": "Longest wait",
                "db": REVIEW_DATABASE,
                "query": "SELECT coalesce(max(days_waiting), 0) AS days "
                "FROM oversight_waiting",
                "library": "metric",
                "display": {"field": "days", "prefix": "", "suffix": " days"},
            },
            "waiting-histogram": {
                "title": "Items by days waiting",
                "db": REVIEW_DATABASE,
                # Grouped in SQL: Datasette returns at most 1,000 rows to a chart.
                "query": "SELECT days_waiting, count(*) AS items "
                "FROM oversight_waiting GROUP BY days_waiting",
                "library": "vega-lite",
                "display": {
                    "mark": {"type": "bar", "tooltip": True},
                    "encoding": {
                        "x": {
                            "field": "days_waiting",
                            "bin": {"maxbins": 30},
                            "type": "quantitative",
                            "title": "Days waiting",
                        },
                        "y": {
                            "aggregate": "sum",
                            "field": "items",
                            "type": "quantitative",
                            "title": "Items",
                        },
                    },
                },
            },
            "by-manager": {
                "title": "Longest wait by case manager",
                "db": REVIEW_DATABASE,
                "query": "SELECT case_manager_id, count(*) AS items, "
                "max(days_waiting) AS longest, "
                "round(avg(days_waiting), 1) AS average "
                "FROM oversight_waiting GROUP BY case_manager_id",
                "library": "vega-lite",
                "display": {
                    "mark": {"type": "bar", "tooltip": True},
                    "encoding": {
                        "y": {
                            "field": "case_manager_id",
                            "type": "nominal",
                            "title": "Case manager",
                            "sort": "-x",
                        },
                        "x": {
                            "field": "longest",
                            "type": "quantitative",
                            "title": "Longest wait (days)",
                        },
                        "tooltip": [
                            {"field": "case_manager_id", "type": "nominal"},
                            {"field": "items", "type": "quantitative"},
                            {"field": "average", "type": "quantitative"},
                            {"field": "longest", "type": "quantitative"},
                        ],
                    },
                },
            },
        },
    },
}


def metadata(
    *,
    sign_in: bool,
    accounts_path: str | None = None,
    synthetic: bool = False,
    notes_included: bool = False,
) -> dict[str, Any]:
    """Datasette metadata for the review database.

    With sign-in, only accounts with a role see anything and only auditors run
    SQL of their own; when task notes are in the database, only auditors see
    the events table (every other page leaves notes out).
    """
    tables = copy.deepcopy(TABLES)
    if sign_in and notes_included:
        tables["events"]["allow"] = {"role": "auditor"}
    title = "CMA ledger review"
    if synthetic:
        title += " (SYNTHETIC DATA)"
    data: dict[str, Any] = {
        "title": title,
        "description": "Supervised delegation to case management aides: the "
        "ledger's events, billable days and audit findings, read-only.",
        "databases": {
            REVIEW_DATABASE: {
                "title": "Review database",
                "tables": tables,
                "queries": copy.deepcopy(QUERIES),
            }
        },
        "plugins": {
            PLUGIN: {
                "sign_in": sign_in,
                "accounts": accounts_path,
                "synthetic": synthetic,
            },
            "datasette-dashboards": copy.deepcopy(DASHBOARDS),
        },
    }
    if sign_in:
        data["allow"] = {"role": ["auditor", "reviewer"]}
        data["allow_sql"] = {"role": "auditor"}
    return data
