"""Current-state tables, so an auditor can browse the facts without SQL."""

from __future__ import annotations

import json
from collections.abc import Iterator

from ledger.state import State
from projections.billing import BillableDay


def _day(value) -> str | None:
    return value.isoformat() if value is not None else None


def agencies(state: State) -> list[dict]:
    return [
        {
            "agency_id": a.record.agency_id,
            "name": a.record.name,
            "roles": json.dumps(sorted(a.record.roles)),
            "private": int(a.record.private),
            "position": a.position,
        }
        for a in state.agencies.values()
    ]


def staff(state: State) -> list[dict]:
    rows = []
    for s in state.staff.values():
        latest = s.qualifications[-1] if s.qualifications else None
        rows.append(
            {
                "staff_id": s.staff_id,
                "kind": s.kind,
                "agency_id": s.agency_id,
                "name": s.name,
                "qualified_on": _day(s.qualified_on),
                "hired_on": _day(s.hired_on),
                "high_school_graduate": (
                    int(latest.high_school_graduate) if latest else None
                ),
                "case_aide_experience_months": (
                    latest.case_aide_experience_months if latest else None
                ),
                "post_secondary_months": latest.post_secondary_months
                if latest
                else None,
                "separated_on": _day(s.separated_on),
                "position": s.position,
            }
        )
    return rows


def supervision(state: State) -> list[dict]:
    return [
        {
            "aide_id": s.aide_id,
            "case_manager_id": s.case_manager_id,
            "start_on": _day(s.period.start),
            "end_on": _day(s.period.end),
            "start_position": s.period.start_position,
            "end_position": s.period.end_position,
        }
        for periods in state.supervisions.values()
        for s in periods
    ]


def persons(state: State) -> list[dict]:
    rows = []
    for person_id, position in state.persons.items():
        enrollments = state.enrollments.get(person_id, [])
        open_programs = sorted(e.program for e in enrollments if e.period.end is None)
        rows.append(
            {
                "person_id": person_id,
                "open_programs": json.dumps(open_programs),
                "uses_cdcs": int(state.open_cdcs(person_id) is not None),
                "first_position": position,
            }
        )
    return rows


def enrollments(state: State) -> list[dict]:
    return [
        {
            "person_id": e.person_id,
            "program": e.program,
            "lead_agency_id": e.lead_agency_id,
            "start_on": _day(e.period.start),
            "end_on": _day(e.period.end),
            "start_position": e.period.start_position,
            "end_position": e.period.end_position,
        }
        for periods in state.enrollments.values()
        for e in periods
    ]


def cdcs_periods(state: State) -> list[dict]:
    return [
        {
            "person_id": person_id,
            "start_on": _day(p.start),
            "end_on": _day(p.end),
            "start_position": p.start_position,
            "end_position": p.end_position,
        }
        for person_id, periods in state.cdcs.items()
        for p in periods
    ]


def financial_interests(state: State) -> list[dict]:
    return [
        {
            "holder_id": i.holder_id,
            "provider_id": i.provider_id,
            "declared_on": _day(i.declared_on),
            "position": i.position,
        }
        for interests in state.interests.values()
        for i in interests
    ]


def service_agreements(state: State, days: list[BillableDay]) -> list[dict]:
    used: dict[str, int] = {}
    for day in days:
        used[day.agreement_id] = used.get(day.agreement_id, 0) + day.billable_units
    rows = []
    for a in state.agreements.values():
        rec = a.record
        rows.append(
            {
                "agreement_id": rec.agreement_id,
                "person_id": rec.person_id,
                "lead_agency_id": rec.lead_agency_id,
                "provider_id": rec.provider_id,
                "procedure_code": rec.procedure_code,
                "modifiers": json.dumps(sorted(rec.modifiers)),
                "start_on": _day(rec.start_on),
                "end_on": _day(a.end),
                "ended_early_on": _day(a.ended_on),
                "units": rec.units,
                "units_billed": used.get(rec.agreement_id, 0),
                "units_left": max(rec.units - used.get(rec.agreement_id, 0), 0),
                "rate": rec.rate,
                "position": a.position,
            }
        )
    return rows


def tasks(state: State) -> Iterator[dict]:
    for t in state.tasks.values():
        completion = t.newest_completion
        review = completion.newest_review if completion else None
        yield {
            "task_id": t.task_id,
            "person_id": t.person_id,
            "category": t.category,
            "aide_id": t.aide_id,
            "case_manager_id": t.case_manager_id,
            "assigned_on": _day(t.assigned_on),
            "due_on": _day(t.due_on),
            "status": t.status,
            "performed_on": _day(completion.performed_on) if completion else None,
            "minutes": completion.minutes if completion else None,
            "completions": len(t.completions),
            "reviewed_on": _day(review.reviewed_on) if review else None,
            "reviewed_by": review.case_manager_id if review else None,
            "outcome": review.outcome if review else None,
            "cancelled_on": _day(t.cancelled_on),
            "position": t.position,
        }


def claims(state: State) -> Iterator[dict]:
    return (
        {
            "claim_id": c.record.claim_id,
            "provider_id": c.record.provider_id,
            "person_id": c.record.person_id,
            "service_date": _day(c.record.service_date),
            "procedure_code": c.record.procedure_code,
            "modifiers": json.dumps(sorted(c.record.modifiers)),
            "units": c.record.units,
            "agreement_id": c.record.agreement_id,
            "task_ids": json.dumps(c.record.task_ids),
            "voided_on": _day(c.voided_on),
            "position": c.position,
        }
        for c in state.claims.values()
    )
