"""What the ledger holds at a position: every fact folded from the events.

The entry rules ask this model what the ledger knew when a record arrived; the
projections read it to rebuild caseloads, the oversight queue and billing. Each
fact keeps the position of the event that stated it, for provenance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import singledispatchmethod

from ledger import records as r


@dataclass
class Period:
    """An inclusive span of days; `end` is None while open."""

    start: dt.date
    start_position: int
    end: dt.date | None = None
    end_position: int | None = None

    def covers(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    @property
    def positions(self) -> list[int]:
        return [p for p in (self.start_position, self.end_position) if p]


@dataclass
class Agency:
    record: r.AgencyRegistered
    position: int

    @property
    def is_case_management_provider(self) -> bool:
        return "case_management_provider" in self.record.roles

    @property
    def is_lead_agency(self) -> bool:
        return "lead_agency" in self.record.roles


@dataclass
class Qualification:
    as_of: dt.date | None
    high_school_graduate: bool
    case_aide_experience_months: int
    post_secondary_months: int
    position: int

    @property
    def meets_aide_standard(self) -> bool:
        return self.high_school_graduate and (
            self.case_aide_experience_months >= 12 or self.post_secondary_months >= 12
        )


@dataclass
class Staff:
    staff_id: str
    kind: str  # "aide" or "case_manager"
    agency_id: str
    name: str
    position: int
    qualified_on: dt.date | None = None
    hired_on: dt.date | None = None
    qualifications: list[Qualification] = field(default_factory=list)
    separated_on: dt.date | None = None
    separated_position: int | None = None

    def separated_by(self, day: dt.date) -> bool:
        """`separated_on` is the last day employed."""
        return self.separated_on is not None and day > self.separated_on

    def qualification_on(self, day: dt.date) -> Qualification:
        current = self.qualifications[0]
        for q in self.qualifications[1:]:
            if q.as_of is not None and q.as_of <= day:
                current = q
        return current

    def is_qualified_on(self, day: dt.date) -> bool:
        if self.separated_by(day):
            return False
        if self.kind == "case_manager":
            return self.qualified_on is not None and self.qualified_on <= day
        return self.qualification_on(day).meets_aide_standard

    def qualification_positions(self, day: dt.date) -> list[int]:
        found = [self.position]
        if self.kind == "aide":
            found.append(self.qualification_on(day).position)
        if self.separated_position:
            found.append(self.separated_position)
        return sorted(set(found))


@dataclass
class Supervision:
    aide_id: str
    case_manager_id: str
    period: Period


@dataclass
class Enrollment:
    person_id: str
    program: str
    lead_agency_id: str
    period: Period


@dataclass
class Interest:
    holder_id: str
    provider_id: str
    declared_on: dt.date
    position: int


@dataclass
class Agreement:
    record: r.ServiceAgreementApproved
    position: int
    ended_on: dt.date | None = None
    ended_position: int | None = None

    @property
    def end(self) -> dt.date:
        if self.ended_on is not None and self.ended_on < self.record.end_on:
            return self.ended_on
        return self.record.end_on

    def covers(self, day: dt.date) -> bool:
        return self.record.start_on <= day <= self.end

    @property
    def positions(self) -> list[int]:
        return [p for p in (self.position, self.ended_position) if p]


@dataclass
class Review:
    case_manager_id: str
    reviewed_on: dt.date
    outcome: str
    position: int


@dataclass
class Completion:
    aide_id: str
    performed_on: dt.date
    minutes: int
    position: int
    reviews: list[Review] = field(default_factory=list)

    @property
    def newest_review(self) -> Review | None:
        return self.reviews[-1] if self.reviews else None


@dataclass
class Task:
    task_id: str
    person_id: str
    category: str
    aide_id: str
    case_manager_id: str
    assigned_on: dt.date
    due_on: dt.date | None
    position: int
    assignment_positions: list[int] = field(default_factory=list)
    cancelled_on: dt.date | None = None
    cancelled_position: int | None = None
    completions: list[Completion] = field(default_factory=list)

    @property
    def newest_completion(self) -> Completion | None:
        return self.completions[-1] if self.completions else None

    @property
    def status(self) -> str:
        """assigned, awaiting_review, returned, approved or cancelled."""
        if self.cancelled_on is not None:
            return "cancelled"
        completion = self.newest_completion
        if completion is None:
            return "assigned"
        review = completion.newest_review
        if review is None:
            return "awaiting_review"
        return review.outcome


@dataclass
class Claim:
    record: r.ClaimSubmitted
    position: int
    voided_on: dt.date | None = None
    voided_position: int | None = None

    @property
    def voided(self) -> bool:
        return self.voided_on is not None


@dataclass
class Event:
    """One stored event as the projections see it."""

    position: int
    recorded_at: dt.datetime
    stream: str
    version: int
    record: r.Record


def stream_of(record: r.Record) -> str:
    """The stream (aggregate) an event belongs to, by the subject it is about."""
    match record:
        case r.AgencyRegistered():
            return f"agency/{record.agency_id}"
        case (
            r.CaseManagerRegistered()
            | r.AideRegistered()
            | r.AideQualificationUpdated()
            | r.StaffSeparated()
        ):
            return f"staff/{record.staff_id}"
        case r.SupervisionStarted() | r.SupervisionEnded():
            return f"supervision/{record.aide_id}/{record.case_manager_id}"
        case r.PersonEnrolled() | r.EnrollmentEnded() | r.CdcsStarted() | r.CdcsEnded():
            return f"person/{record.person_id}"
        case r.FinancialInterestDeclared():
            return f"interest/{record.holder_id}"
        case r.ServiceAgreementApproved() | r.ServiceAgreementEnded():
            return f"agreement/{record.agreement_id}"
        case (
            r.TaskAssigned()
            | r.TaskReassigned()
            | r.TaskCancelled()
            | r.TaskCompleted()
            | r.OversightReviewed()
        ):
            return f"task/{record.task_id}"
        case r.ClaimSubmitted() | r.ClaimVoided():
            return f"claim/{record.claim_id}"
    msg = f"no stream for record type {record.type}"
    raise TypeError(msg)


class State:
    """Every fact the ledger holds, folded from its events in position order."""

    def __init__(self, entry_checks: bool = True) -> None:
        """`entry_checks=False` leaves out what only the entry rules ask for
        (record ids, stream versions), which the projections need not hold."""
        self.entry_checks = entry_checks
        self.position = 0
        self.agencies: dict[str, Agency] = {}
        self.staff: dict[str, Staff] = {}
        self.supervisions: dict[str, list[Supervision]] = {}
        self.persons: dict[str, int] = {}
        self.enrollments: dict[str, list[Enrollment]] = {}
        self.cdcs: dict[str, list[Period]] = {}
        self.interests: dict[str, list[Interest]] = {}
        self.agreements: dict[str, Agreement] = {}
        self.agreements_by_person: dict[str, list[Agreement]] = {}
        self.tasks: dict[str, Task] = {}
        self.claims: dict[str, Claim] = {}
        self.record_ids: dict[str, bytes] = {}
        self.stream_versions: dict[str, int] = {}
        # Tasks whose newest completion was skipped, so its reviews are skipped too.
        self.unheld_completions: set[str] = set()

    # Look-ups the rules and projections share.

    def aide(self, staff_id: str) -> Staff | None:
        staff = self.staff.get(staff_id)
        return staff if staff is not None and staff.kind == "aide" else None

    def case_manager(self, staff_id: str) -> Staff | None:
        staff = self.staff.get(staff_id)
        return staff if staff is not None and staff.kind == "case_manager" else None

    def supervisions_of(self, aide_id: str) -> list[Supervision]:
        return self.supervisions.get(aide_id, [])

    def supervisors_on(self, aide_id: str, day: dt.date) -> list[Supervision]:
        return [s for s in self.supervisions_of(aide_id) if s.period.covers(day)]

    def open_supervision(
        self, aide_id: str, case_manager_id: str
    ) -> Supervision | None:
        for s in self.supervisions_of(aide_id):
            if s.case_manager_id == case_manager_id and s.period.end is None:
                return s
        return None

    def enrollments_on(self, person_id: str, day: dt.date) -> list[Enrollment]:
        return [e for e in self.enrollments.get(person_id, []) if e.period.covers(day)]

    def open_enrollment(self, person_id: str, program: str) -> Enrollment | None:
        for e in self.enrollments.get(person_id, []):
            if e.program == program and e.period.end is None:
                return e
        return None

    def cdcs_on(self, person_id: str, day: dt.date) -> list[Period]:
        return [p for p in self.cdcs.get(person_id, []) if p.covers(day)]

    def open_cdcs(self, person_id: str) -> Period | None:
        for p in self.cdcs.get(person_id, []):
            if p.end is None:
                return p
        return None

    # Folding. The entry rules guarantee that every event names subjects the
    # state holds. A replay cut by business date (`--as-of`) can break that: a
    # void dated before its claim's service date is kept while the claim is not.
    # An event whose subject is not held is therefore skipped, never an error.

    def apply(self, event: Event) -> None:
        self.position = event.position
        record = event.record
        if self.entry_checks:
            self.stream_versions[event.stream] = event.version
            if record.record_id is not None:
                self.record_ids[record.record_id] = r.encode_record(record)
        fold = _folds.get(type(record))
        if fold is None:
            fold = _folds[type(record)] = _dispatch(type(record))
        fold(self, record, event.position)

    @singledispatchmethod
    def _apply(self, record: r.Record, position: int) -> None:
        msg = f"no fold for {record.type}"
        raise TypeError(msg)

    @_apply.register
    def _(self, record: r.AgencyRegistered, position: int) -> None:
        self.agencies[record.agency_id] = Agency(record, position)

    @_apply.register
    def _(self, record: r.CaseManagerRegistered, position: int) -> None:
        self.staff[record.staff_id] = Staff(
            record.staff_id,
            "case_manager",
            record.agency_id,
            record.name,
            position,
            qualified_on=record.qualified_on,
        )

    @_apply.register
    def _(self, record: r.AideRegistered, position: int) -> None:
        first = Qualification(
            None,
            record.high_school_graduate,
            record.case_aide_experience_months,
            record.post_secondary_months,
            position,
        )
        self.staff[record.staff_id] = Staff(
            record.staff_id,
            "aide",
            record.agency_id,
            record.name,
            position,
            hired_on=record.hired_on,
            qualifications=[first],
        )

    @_apply.register
    def _(self, record: r.AideQualificationUpdated, position: int) -> None:
        staff = self.staff.get(record.staff_id)
        if staff is None:
            return
        staff.qualifications.append(
            Qualification(
                record.as_of,
                record.high_school_graduate,
                record.case_aide_experience_months,
                record.post_secondary_months,
                position,
            )
        )
        staff.qualifications[1:] = sorted(
            staff.qualifications[1:], key=lambda q: (q.as_of, q.position)
        )

    @_apply.register
    def _(self, record: r.StaffSeparated, position: int) -> None:
        staff = self.staff.get(record.staff_id)
        if staff is None:
            return
        staff.separated_on = record.separated_on
        staff.separated_position = position

    @_apply.register
    def _(self, record: r.SupervisionStarted, position: int) -> None:
        if record.aide_id not in self.staff or record.case_manager_id not in self.staff:
            return
        self.supervisions.setdefault(record.aide_id, []).append(
            Supervision(
                record.aide_id,
                record.case_manager_id,
                Period(record.start_on, position),
            )
        )

    @_apply.register
    def _(self, record: r.SupervisionEnded, position: int) -> None:
        supervision = self.open_supervision(record.aide_id, record.case_manager_id)
        if supervision is None:
            return
        supervision.period.end = record.end_on
        supervision.period.end_position = position

    @_apply.register
    def _(self, record: r.PersonEnrolled, position: int) -> None:
        self.persons.setdefault(record.person_id, position)
        self.enrollments.setdefault(record.person_id, []).append(
            Enrollment(
                record.person_id,
                record.program,
                record.lead_agency_id,
                Period(record.start_on, position),
            )
        )

    @_apply.register
    def _(self, record: r.EnrollmentEnded, position: int) -> None:
        enrollment = self.open_enrollment(record.person_id, record.program)
        if enrollment is None:
            return
        enrollment.period.end = record.end_on
        enrollment.period.end_position = position

    @_apply.register
    def _(self, record: r.CdcsStarted, position: int) -> None:
        self.cdcs.setdefault(record.person_id, []).append(
            Period(record.start_on, position)
        )

    @_apply.register
    def _(self, record: r.CdcsEnded, position: int) -> None:
        period = self.open_cdcs(record.person_id)
        if period is None:
            return
        period.end = record.end_on
        period.end_position = position

    @_apply.register
    def _(self, record: r.FinancialInterestDeclared, position: int) -> None:
        self.interests.setdefault(record.holder_id, []).append(
            Interest(record.holder_id, record.provider_id, record.declared_on, position)
        )

    @_apply.register
    def _(self, record: r.ServiceAgreementApproved, position: int) -> None:
        agreement = Agreement(record, position)
        self.agreements[record.agreement_id] = agreement
        self.agreements_by_person.setdefault(record.person_id, []).append(agreement)

    @_apply.register
    def _(self, record: r.ServiceAgreementEnded, position: int) -> None:
        agreement = self.agreements.get(record.agreement_id)
        if agreement is None:
            return
        agreement.ended_on = record.end_on
        agreement.ended_position = position

    @_apply.register
    def _(self, record: r.TaskAssigned, position: int) -> None:
        if record.aide_id not in self.staff or record.case_manager_id not in self.staff:
            return
        self.tasks[record.task_id] = Task(
            record.task_id,
            record.person_id,
            record.category,
            record.aide_id,
            record.case_manager_id,
            record.assigned_on,
            record.due_on,
            position,
            assignment_positions=[position],
        )

    @_apply.register
    def _(self, record: r.TaskReassigned, position: int) -> None:
        task = self.tasks.get(record.task_id)
        if task is None or record.aide_id not in self.staff:
            return
        task.aide_id = record.aide_id
        task.case_manager_id = record.case_manager_id
        task.assigned_on = record.reassigned_on
        task.assignment_positions.append(position)

    @_apply.register
    def _(self, record: r.TaskCancelled, position: int) -> None:
        task = self.tasks.get(record.task_id)
        if task is None:
            return
        task.cancelled_on = record.cancelled_on
        task.cancelled_position = position

    @_apply.register
    def _(self, record: r.TaskCompleted, position: int) -> None:
        task = self.tasks.get(record.task_id)
        if task is None or record.aide_id not in self.staff:
            self.unheld_completions.add(record.task_id)
            return
        self.unheld_completions.discard(record.task_id)
        task.completions.append(
            Completion(record.aide_id, record.performed_on, record.minutes, position)
        )

    @_apply.register
    def _(self, record: r.OversightReviewed, position: int) -> None:
        task = self.tasks.get(record.task_id)
        completion = task.newest_completion if task is not None else None
        if completion is None or record.task_id in self.unheld_completions:
            return
        completion.reviews.append(
            Review(record.case_manager_id, record.reviewed_on, record.outcome, position)
        )

    @_apply.register
    def _(self, record: r.ClaimSubmitted, position: int) -> None:
        if record.agreement_id not in self.agreements:
            return
        self.claims[record.claim_id] = Claim(record, position)

    @_apply.register
    def _(self, record: r.ClaimVoided, position: int) -> None:
        claim = self.claims.get(record.claim_id)
        if claim is None:
            return
        claim.voided_on = record.voided_on
        claim.voided_position = position


# The fold of each record type, looked up once: `singledispatchmethod` builds a
# new bound method on every call, which a replay of a million events notices.
_folds: dict[type, Callable[[State, r.Record, int], None]] = {}
_dispatch = State.__dict__["_apply"].dispatcher.dispatch
