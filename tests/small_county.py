"""A small valid county feed for tests that need a real ledger file."""

from __future__ import annotations

import json

SECRET_NOTE = "Spoke with Ms. Halvorsen about her seizure medication refill"


def small_county_feed(tasks: int = 4, note: str = SECRET_NOTE) -> bytes:
    """Five set-up records, then an assignment, a completion and a review per task."""
    records: list[dict[str, object]] = [
        {
            "type": "agency_registered",
            "agency_id": "cty",
            "name": "County",
            "roles": ["lead_agency", "case_management_provider"],
            "private": False,
        },
        {
            "type": "case_manager_registered",
            "staff_id": "cm-1",
            "agency_id": "cty",
            "name": "R. Ortiz",
            "qualified_on": "2024-01-01",
        },
        {
            "type": "aide_registered",
            "staff_id": "aide-1",
            "agency_id": "cty",
            "name": "J. Lee",
            "hired_on": "2024-01-01",
            "high_school_graduate": True,
            "case_aide_experience_months": 18,
            "post_secondary_months": 0,
        },
        {
            "type": "supervision_started",
            "aide_id": "aide-1",
            "case_manager_id": "cm-1",
            "start_on": "2024-02-01",
        },
        {
            "type": "person_enrolled",
            "person_id": "p-1",
            "program": "CADI",
            "lead_agency_id": "cty",
            "start_on": "2024-01-01",
        },
    ]
    for i in range(1, tasks + 1):
        day = f"2025-03-{i:02d}"
        records += [
            {
                "type": "task_assigned",
                "task_id": f"t-{i}",
                "person_id": "p-1",
                "aide_id": "aide-1",
                "case_manager_id": "cm-1",
                "category": "provider_contact",
                "assigned_on": day,
            },
            {
                "type": "task_completed",
                "task_id": f"t-{i}",
                "aide_id": "aide-1",
                "performed_on": day,
                "minutes": 20,
                "note": f"{note} ({i})",
            },
            {
                "type": "oversight_reviewed",
                "task_id": f"t-{i}",
                "case_manager_id": "cm-1",
                "reviewed_on": day,
                "outcome": "approved",
            },
        ]
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)
