"""The entry rules of contract section 4: what the ledger refuses to record.

Each rule is one function named after its rule id. It looks at one record and
at what the ledger knew when the record arrived (a `State`), and returns why the
record is refused, or None. `check` runs them in the contract's order and
reports the first that refuses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import singledispatch

from ledger import records as r
from ledger.state import State

Check = Callable[[r.Record, State], "str | None"]


# DUPLICATE-ID: an agency, staff, task, agreement or claim id registered twice.


@singledispatch
def duplicate_id(record: r.Record, state: State) -> str | None:
    return None


# Staff and agencies share one namespace: a financial interest's holder_id
# names either, and must name exactly one.


@duplicate_id.register
def _(record: r.AgencyRegistered, state: State) -> str | None:
    if record.agency_id in state.agencies:
        return f"agency {record.agency_id} is already registered; use a new agency_id"
    if record.agency_id in state.staff:
        return (
            f"agency id {record.agency_id} is already a staff id; staff and agencies "
            "share one namespace, so use a new agency_id"
        )
    return None


@duplicate_id.register(r.CaseManagerRegistered)
@duplicate_id.register(r.AideRegistered)
def _(record: r.CaseManagerRegistered | r.AideRegistered, state: State) -> str | None:
    if record.staff_id in state.staff:
        kind = state.staff[record.staff_id].kind.replace("_", " ")
        return (
            f"staff {record.staff_id} is already registered (as {kind}); "
            "use a new staff_id, or aide_qualification_updated to change an aide"
        )
    if record.staff_id in state.agencies:
        return (
            f"staff id {record.staff_id} is already an agency id; staff and agencies "
            "share one namespace, so use a new staff_id"
        )
    return None


@duplicate_id.register
def _(record: r.ServiceAgreementApproved, state: State) -> str | None:
    if record.agreement_id in state.agreements:
        return (
            f"service agreement {record.agreement_id} is already approved; "
            "use a new agreement_id"
        )
    return None


@duplicate_id.register
def _(record: r.TaskAssigned, state: State) -> str | None:
    if record.task_id in state.tasks:
        return (
            f"task {record.task_id} is already assigned; use a new task_id, "
            "or task_reassigned to give it to another aide"
        )
    return None


@duplicate_id.register
def _(record: r.ClaimSubmitted, state: State) -> str | None:
    if record.claim_id in state.claims:
        return f"claim {record.claim_id} is already submitted; use a new claim_id"
    return None


# REF: an id that names nothing, or names the wrong kind of thing.


def _agency(state: State, agency_id: str, role: str) -> str | None:
    if agency_id not in state.agencies:
        return f"{role} {agency_id} is not a registered agency; register it first"
    return None


def _lead_agency(state: State, agency_id: str) -> str | None:
    missing = _agency(state, agency_id, "lead agency")
    if missing:
        return missing
    if not state.agencies[agency_id].is_lead_agency:
        return (
            f"agency {agency_id} is named as lead agency but was registered "
            "without the lead_agency role"
        )
    return None


def _aide(state: State, staff_id: str) -> str | None:
    if staff_id not in state.staff:
        return f"aide {staff_id} is not registered; register the aide first"
    if state.aide(staff_id) is None:
        return f"{staff_id} is a case manager, not an aide; name a registered aide"
    return None


def _case_manager(state: State, staff_id: str) -> str | None:
    if staff_id not in state.staff:
        return (
            f"case manager {staff_id} is not registered; register the case manager "
            "first"
        )
    if state.case_manager(staff_id) is None:
        return (
            f"{staff_id} is an aide, not a case manager; name a registered case manager"
        )
    return None


def _person(state: State, person_id: str) -> str | None:
    if person_id not in state.persons:
        return (
            f"person {person_id} has never been enrolled; record person_enrolled first"
        )
    return None


def _task(state: State, task_id: str) -> str | None:
    if task_id not in state.tasks:
        return f"task {task_id} was never assigned; record task_assigned first"
    return None


def _agreement(state: State, agreement_id: str) -> str | None:
    if agreement_id not in state.agreements:
        return f"service agreement {agreement_id} was never approved"
    return None


def _claim(state: State, claim_id: str) -> str | None:
    if claim_id not in state.claims:
        return f"claim {claim_id} was never submitted"
    return None


def _first(*found: str | None) -> str | None:
    return next((f for f in found if f), None)


@singledispatch
def ref(record: r.Record, state: State) -> str | None:
    return None


@ref.register(r.CaseManagerRegistered)
@ref.register(r.AideRegistered)
def _(record: r.CaseManagerRegistered | r.AideRegistered, state: State) -> str | None:
    return _agency(state, record.agency_id, "employer")


@ref.register
def _(record: r.AideQualificationUpdated, state: State) -> str | None:
    return _aide(state, record.staff_id)


@ref.register
def _(record: r.StaffSeparated, state: State) -> str | None:
    if record.staff_id not in state.staff:
        return f"staff {record.staff_id} is not registered"
    return None


@ref.register(r.SupervisionStarted)
@ref.register(r.SupervisionEnded)
def _(record: r.SupervisionStarted | r.SupervisionEnded, state: State) -> str | None:
    return _first(
        _aide(state, record.aide_id), _case_manager(state, record.case_manager_id)
    )


@ref.register
def _(record: r.PersonEnrolled, state: State) -> str | None:
    return _lead_agency(state, record.lead_agency_id)


@ref.register(r.EnrollmentEnded)
@ref.register(r.CdcsStarted)
@ref.register(r.CdcsEnded)
def _(
    record: r.EnrollmentEnded | r.CdcsStarted | r.CdcsEnded, state: State
) -> str | None:
    return _person(state, record.person_id)


@ref.register
def _(record: r.FinancialInterestDeclared, state: State) -> str | None:
    if record.holder_id not in state.staff and record.holder_id not in state.agencies:
        return f"holder {record.holder_id} is neither registered staff nor an agency"
    return _agency(state, record.provider_id, "provider")


@ref.register
def _(record: r.ServiceAgreementApproved, state: State) -> str | None:
    return _first(
        _person(state, record.person_id),
        _lead_agency(state, record.lead_agency_id),
        _agency(state, record.provider_id, "provider"),
    )


@ref.register
def _(record: r.ServiceAgreementEnded, state: State) -> str | None:
    return _agreement(state, record.agreement_id)


@ref.register
def _(record: r.TaskAssigned, state: State) -> str | None:
    return _first(
        _person(state, record.person_id),
        _aide(state, record.aide_id),
        _case_manager(state, record.case_manager_id),
    )


@ref.register
def _(record: r.TaskReassigned, state: State) -> str | None:
    return _first(
        _task(state, record.task_id),
        _aide(state, record.aide_id),
        _case_manager(state, record.case_manager_id),
    )


@ref.register
def _(record: r.TaskCancelled, state: State) -> str | None:
    return _first(
        _task(state, record.task_id), _case_manager(state, record.case_manager_id)
    )


@ref.register
def _(record: r.TaskCompleted, state: State) -> str | None:
    return _first(_task(state, record.task_id), _aide(state, record.aide_id))


@ref.register
def _(record: r.OversightReviewed, state: State) -> str | None:
    return _first(
        _task(state, record.task_id), _case_manager(state, record.case_manager_id)
    )


@ref.register
def _(record: r.ClaimSubmitted, state: State) -> str | None:
    return _first(
        _agency(state, record.provider_id, "provider"),
        _person(state, record.person_id),
        _agreement(state, record.agreement_id),
        *(_task(state, task_id) for task_id in record.task_ids),
    )


@ref.register
def _(record: r.ClaimVoided, state: State) -> str | None:
    return _claim(state, record.claim_id)


# CMA-EMPLOYER: aides and case managers work for a case management provider.


@singledispatch
def cma_employer(record: r.Record, state: State) -> str | None:
    return None


@cma_employer.register(r.CaseManagerRegistered)
@cma_employer.register(r.AideRegistered)
def _(record: r.CaseManagerRegistered | r.AideRegistered, state: State) -> str | None:
    if not state.agencies[record.agency_id].is_case_management_provider:
        role = "aide" if isinstance(record, r.AideRegistered) else "case manager"
        return (
            f"{role} {record.staff_id} is registered at agency {record.agency_id}, "
            "which lacks the case_management_provider role (the "
            f"{role} must be employed by an agency that provides case management); "
            "register the staff at a case management provider"
        )
    return None


# CMA-SCOPE: only the covered administrative services may be delegated.


@singledispatch
def cma_scope(record: r.Record, state: State) -> str | None:
    return None


@cma_scope.register
def _(record: r.TaskAssigned, state: State) -> str | None:
    if record.category not in r.COVERED_CATEGORIES:
        reason = {
            "assessment": "assessments cannot be delegated",
            "reassessment": "reassessments cannot be delegated",
            "support_plan_development": "support plans cannot be developed by an aide",
            "professional_judgement": "tasks needing professional judgement "
            "cannot be delegated",
        }[record.category]
        return (
            f"task {record.task_id} category '{record.category}' is not a case "
            f"management aide service ({reason})"
        )
    return None


# LIFECYCLE: the order of things is impossible.


def _ends_before_start(what: str, start: dt.date, end: dt.date) -> str | None:
    if end < start:
        return f"{what} would end on {end}, before it started on {start}"
    return None


@singledispatch
def lifecycle(record: r.Record, state: State) -> str | None:
    return None


@lifecycle.register
def _(record: r.StaffSeparated, state: State) -> str | None:
    staff = state.staff[record.staff_id]
    if staff.separated_on is not None:
        return f"staff {record.staff_id} was already separated on {staff.separated_on}"
    if staff.hired_on is not None:
        return _ends_before_start(
            f"employment of {record.staff_id}", staff.hired_on, record.separated_on
        )
    return None


@lifecycle.register
def _(record: r.SupervisionStarted, state: State) -> str | None:
    if state.open_supervision(record.aide_id, record.case_manager_id):
        return (
            f"supervision of aide {record.aide_id} by {record.case_manager_id} is "
            "already open; end it before starting it again"
        )
    return None


@lifecycle.register
def _(record: r.SupervisionEnded, state: State) -> str | None:
    supervision = state.open_supervision(record.aide_id, record.case_manager_id)
    if supervision is None:
        return (
            f"supervision of aide {record.aide_id} by {record.case_manager_id} "
            "is not open"
        )
    return _ends_before_start(
        f"supervision of aide {record.aide_id}", supervision.period.start, record.end_on
    )


@lifecycle.register
def _(record: r.PersonEnrolled, state: State) -> str | None:
    if state.open_enrollment(record.person_id, record.program):
        return (
            f"person {record.person_id} is already enrolled in {record.program}; "
            "end that enrollment first"
        )
    return None


@lifecycle.register
def _(record: r.EnrollmentEnded, state: State) -> str | None:
    enrollment = state.open_enrollment(record.person_id, record.program)
    if enrollment is None:
        return (
            f"person {record.person_id} has no open {record.program} enrollment to "
            "end; check the program, or record person_enrolled first"
        )
    return _ends_before_start(
        f"{record.program} enrollment of {record.person_id}",
        enrollment.period.start,
        record.end_on,
    )


@lifecycle.register
def _(record: r.CdcsStarted, state: State) -> str | None:
    if state.open_cdcs(record.person_id):
        return f"person {record.person_id} already uses CDCS; end it first"
    return None


@lifecycle.register
def _(record: r.CdcsEnded, state: State) -> str | None:
    period = state.open_cdcs(record.person_id)
    if period is None:
        return (
            f"person {record.person_id} has no open CDCS period to end; record "
            "cdcs_started first"
        )
    return _ends_before_start(
        f"CDCS of {record.person_id}", period.start, record.end_on
    )


@lifecycle.register
def _(record: r.ServiceAgreementApproved, state: State) -> str | None:
    return _ends_before_start(
        f"service agreement {record.agreement_id}", record.start_on, record.end_on
    )


@lifecycle.register
def _(record: r.ServiceAgreementEnded, state: State) -> str | None:
    agreement = state.agreements[record.agreement_id]
    if agreement.ended_on is not None:
        return (
            f"service agreement {record.agreement_id} was already ended on "
            f"{agreement.ended_on}"
        )
    return _ends_before_start(
        f"service agreement {record.agreement_id}",
        agreement.record.start_on,
        record.end_on,
    )


@lifecycle.register
def _(record: r.TaskAssigned, state: State) -> str | None:
    if record.due_on is not None:
        if record.due_on < record.assigned_on:
            return (
                f"task {record.task_id} would be due on {record.due_on}, before it "
                f"was assigned on {record.assigned_on}; give a due_on on or after "
                "assigned_on"
            )
    return None


def _cancelled(task_id: str, state: State) -> str | None:
    task = state.tasks[task_id]
    if task.cancelled_on is not None:
        return (
            f"task {task_id} was cancelled on {task.cancelled_on}; nothing may follow"
        )
    return None


@lifecycle.register
def _(record: r.TaskReassigned, state: State) -> str | None:
    task = state.tasks[record.task_id]
    if task.cancelled_on is not None:
        return _cancelled(record.task_id, state)
    if record.reassigned_on < task.assigned_on:
        return (
            f"task {record.task_id} reassigned on {record.reassigned_on}, before it "
            f"was assigned on {task.assigned_on}"
        )
    if task.status in ("awaiting_review", "approved"):
        return (
            f"task {record.task_id} is completed ({task.status.replace('_', ' ')}); "
            "only an open or returned task can be reassigned"
        )
    return None


@lifecycle.register
def _(record: r.TaskCancelled, state: State) -> str | None:
    task = state.tasks[record.task_id]
    if task.cancelled_on is not None:
        return _cancelled(record.task_id, state)
    if record.cancelled_on < task.assigned_on:
        return (
            f"task {record.task_id} cancelled on {record.cancelled_on}, before it "
            f"was assigned on {task.assigned_on}"
        )
    return None


@lifecycle.register
def _(record: r.TaskCompleted, state: State) -> str | None:
    task = state.tasks[record.task_id]
    if task.cancelled_on is not None:
        return _cancelled(record.task_id, state)
    if record.aide_id != task.aide_id:
        return (
            f"task {record.task_id} is assigned to aide {task.aide_id}, not "
            f"{record.aide_id}; reassign it first"
        )
    if record.performed_on < task.assigned_on:
        return (
            f"task {record.task_id} performed on {record.performed_on}, before it "
            f"was assigned on {task.assigned_on}"
        )
    if task.status in ("awaiting_review", "approved"):
        return (
            f"task {record.task_id} is already completed "
            f"({task.status.replace('_', ' ')}); it may be completed again only "
            "after a 'returned' review"
        )
    return None


@lifecycle.register
def _(record: r.OversightReviewed, state: State) -> str | None:
    task = state.tasks[record.task_id]
    if task.cancelled_on is not None:
        return _cancelled(record.task_id, state)
    completion = task.newest_completion
    if completion is None:
        return f"task {record.task_id} has not been completed, so it cannot be reviewed"
    if record.reviewed_on < completion.performed_on:
        return (
            f"task {record.task_id} reviewed on {record.reviewed_on}, before it was "
            f"performed on {completion.performed_on}"
        )
    return None


@lifecycle.register
def _(record: r.ClaimVoided, state: State) -> str | None:
    claim = state.claims[record.claim_id]
    if claim.voided:
        return f"claim {record.claim_id} was already voided on {claim.voided_on}"
    return None


# CMA-QUALIFIED: tasks go to qualified, employed aides from qualified managers.


def _assignment_qualified(
    task_id: str,
    aide_id: str,
    case_manager_id: str,
    day: dt.date,
    state: State,
    verb: str = "assigned",
) -> str | None:
    aide = state.staff[aide_id]
    if aide.separated_by(day):
        return (
            f"task {task_id} {verb} on {day} to aide {aide_id}, who was separated "
            f"on {aide.separated_on}"
        )
    if not aide.is_qualified_on(day):
        q = aide.qualification_on(day)
        return (
            f"task {task_id} {verb} on {day} to aide {aide_id}, who is not "
            "qualified then (needs a high school diploma and 12 months of case aide "
            "experience or post-secondary education; has diploma="
            f"{'yes' if q.high_school_graduate else 'no'}, "
            f"{q.case_aide_experience_months} months experience, "
            f"{q.post_secondary_months} months post-secondary)"
        )
    manager = state.staff[case_manager_id]
    if not manager.is_qualified_on(day):
        why = (
            f"separated on {manager.separated_on}"
            if manager.separated_by(day)
            else f"qualified only from {manager.qualified_on}"
        )
        return (
            f"task {task_id} {verb} on {day} by case manager {case_manager_id}, "
            f"who is not qualified then ({why})"
        )
    return None


@singledispatch
def cma_qualified(record: r.Record, state: State) -> str | None:
    return None


@cma_qualified.register
def _(record: r.TaskAssigned, state: State) -> str | None:
    return _assignment_qualified(
        record.task_id,
        record.aide_id,
        record.case_manager_id,
        record.assigned_on,
        state,
    )


@cma_qualified.register
def _(record: r.TaskReassigned, state: State) -> str | None:
    return _assignment_qualified(
        record.task_id,
        record.aide_id,
        record.case_manager_id,
        record.reassigned_on,
        state,
        verb="reassigned",
    )


# CMA-SUPERVISION: the case manager who directs the aide oversees the work.


def _supervises(state: State, case_manager_id: str, aide_id: str, day: dt.date) -> bool:
    return any(
        s.case_manager_id == case_manager_id for s in state.supervisors_on(aide_id, day)
    )


@singledispatch
def cma_supervision(record: r.Record, state: State) -> str | None:
    return None


@cma_supervision.register
def _(record: r.SupervisionStarted, state: State) -> str | None:
    aide = state.staff[record.aide_id]
    manager = state.staff[record.case_manager_id]
    if aide.agency_id != manager.agency_id:
        return (
            f"aide {record.aide_id} (agency {aide.agency_id}) cannot be supervised by "
            f"case manager {record.case_manager_id} of another agency "
            f"({manager.agency_id})"
        )
    return None


@cma_supervision.register(r.TaskAssigned)
@cma_supervision.register(r.TaskReassigned)
def _(record: r.TaskAssigned | r.TaskReassigned, state: State) -> str | None:
    first = isinstance(record, r.TaskAssigned)
    day = record.assigned_on if first else record.reassigned_on  # type: ignore[union-attr]
    verb = "assigned" if first else "reassigned"
    if not _supervises(state, record.case_manager_id, record.aide_id, day):
        return (
            f"task {record.task_id} {verb} on {day} by case manager "
            f"{record.case_manager_id}, who does not supervise aide {record.aide_id} "
            "on that date; record supervision_started first"
        )
    return None


@cma_supervision.register
def _(record: r.OversightReviewed, state: State) -> str | None:
    completion = state.tasks[record.task_id].newest_completion
    assert completion is not None
    if not _supervises(
        state, record.case_manager_id, completion.aide_id, completion.performed_on
    ):
        supervisors = sorted(
            s.case_manager_id
            for s in state.supervisors_on(completion.aide_id, completion.performed_on)
        )
        expected = ", ".join(supervisors) if supervisors else "nobody"
        return (
            f"task {record.task_id} reviewed by case manager {record.case_manager_id}, "
            f"but aide {completion.aide_id} was supervised by {expected} on "
            f"{completion.performed_on}, the day the work was performed"
        )
    return None


ENTRY_RULES: list[tuple[str, Check]] = [
    ("DUPLICATE-ID", duplicate_id),
    ("REF", ref),
    ("CMA-EMPLOYER", cma_employer),
    ("CMA-SCOPE", cma_scope),
    ("LIFECYCLE", lifecycle),
    ("CMA-QUALIFIED", cma_qualified),
    ("CMA-SUPERVISION", cma_supervision),
]


def check(record: r.Record, state: State) -> tuple[str, str] | None:
    """The first entry rule (in the contract's order) that refuses the record."""
    for rule, rule_check in ENTRY_RULES:
        message = rule_check(record, state)
        if message:
            return rule, message
    return None
