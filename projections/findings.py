"""Audit findings: each reason on a live claim; unsupervised or unqualified work."""

from __future__ import annotations

from ledger.state import State
from projections.billing import BillableDay


def claim_findings(days: list[BillableDay]) -> list[dict]:
    return [
        {
            "rule": rule,
            "subject_type": "claim",
            "subject_id": day.claim_id,
            "person_id": day.person_id,
            "service_date": day.service_date.isoformat(),
            "detail": day.details.get(rule, ""),
            "positions": day.positions,
        }
        for day in days
        if day.status != "voided"
        for rule in day.reasons
    ]


def task_findings(state: State) -> list[dict]:
    """A completed task whose aide was unsupervised or unqualified that day."""
    found = []
    for task in state.tasks.values():
        completion = task.newest_completion
        if completion is None:
            continue
        day = completion.performed_on
        aide = state.staff[completion.aide_id]
        base = {
            "subject_type": "task",
            "subject_id": task.task_id,
            "person_id": task.person_id,
            "service_date": day.isoformat(),
        }
        supervisions = state.supervisors_on(aide.staff_id, day)
        supervisors = [
            s
            for s in supervisions
            if state.staff[s.case_manager_id].is_qualified_on(day)
        ]
        if not supervisors:
            positions = {completion.position}
            for s in state.supervisions_of(aide.staff_id):
                positions.update(s.period.positions)
            found.append(
                base
                | {
                    "rule": "CMA-SUPERVISION",
                    "detail": f"aide {aide.staff_id} had no qualified, employed "
                    f"supervising case manager on {day}",
                    "positions": sorted(positions),
                }
            )
        if not aide.is_qualified_on(day):
            why = "separated" if aide.separated_by(day) else "not qualified"
            found.append(
                base
                | {
                    "rule": "CMA-QUALIFIED",
                    "detail": f"aide {aide.staff_id} was {why} on {day}",
                    "positions": sorted(
                        {completion.position, *aide.qualification_positions(day)}
                    ),
                }
            )
    return found


def findings(state: State, days: list[BillableDay]) -> list[dict]:
    rows = claim_findings(days) + task_findings(state)
    rows.sort(
        key=lambda f: (f["service_date"], f["subject_type"], f["subject_id"], f["rule"])
    )
    return rows
