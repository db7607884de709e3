"""Billable days: every billing rule of contract section 5, in one place.

`bill` evaluates every claim afresh from what the ledger holds, so a fact
recorded late (a retroactive CDCS start, an ended supervision, a voided first
claim of a day) changes earlier results the next time it runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from ledger.state import Claim, Completion, State, Task

# Rules whose presence means the claim gets no units.
NO_UNITS_RULES = frozenset(
    {
        "CMA-AUTH",
        "CMA-NOT-CM",
        "CMA-DUP",
        "CMA-SAME-DAY",
        "CMA-ENROLLED",
        "CMA-CDCS",
        "CMA-INTEREST",
        "CMA-SUPERVISION",
        "CMA-QUALIFIED",
    }
)
CDCS_PROGRAMS = frozenset({"AC", "EW"})


@dataclass(frozen=True)
class BillingCodes:
    """Procedure codes and unit size; the defaults are DHS's MMIS codes."""

    aide_procedure: str = "T1016"
    aide_modifiers: frozenset[str] = frozenset({"TF", "UC"})
    minutes_per_unit: int = 15
    rounding_minutes: int = 7

    def is_aide_service(self, procedure: str, modifiers: list[str]) -> bool:
        return (
            procedure == self.aide_procedure
            and frozenset(modifiers) == self.aide_modifiers
        )

    def units(self, minutes: int) -> int:
        """8 to 22 minutes make one unit by default."""
        return (minutes + self.rounding_minutes) // self.minutes_per_unit


@dataclass
class BillableDay:
    claim_id: str
    provider_id: str
    person_id: str
    service_date: dt.date
    agreement_id: str
    claimed_units: int
    documented_units: int
    billable_units: int
    rate: str
    amount_cents: int
    status: str
    reasons: list[str]
    positions: list[int]
    details: dict[str, str] = field(default_factory=dict)


def cents(units: int, rate: Decimal) -> int:
    """Units times the dollar rate, rounded half up to whole cents."""
    return int((units * rate * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def documents(task: Task, claim: Claim, state: State) -> Completion | None:
    """The task's newest completion, when it documents the claim."""
    completion = task.newest_completion
    record = claim.record
    if completion is None or task.person_id != record.person_id:
        return None
    if completion.performed_on != record.service_date:
        return None
    aide = state.staff.get(completion.aide_id)
    if aide is None or aide.agency_id != record.provider_id:
        return None
    review = completion.newest_review
    if review is None or review.outcome != "approved":
        return None
    return completion


def awaits_review(task: Task) -> bool:
    """The newest completion is unreviewed, or its newest review is `returned`.

    This holds for a cancelled task too, as the contract words it: a claim
    citing cancelled, unapproved work stays pending until it is voided.
    """
    completion = task.newest_completion
    if completion is None:
        return False
    review = completion.newest_review
    return review is None or review.outcome == "returned"


def first_claims_of_days(state: State) -> dict[tuple[str, dt.date], Claim]:
    """For each person and service date, the non-voided claim recorded first."""
    first: dict[tuple[str, dt.date], Claim] = {}
    for claim in state.claims.values():
        if claim.voided:
            continue
        key = (claim.record.person_id, claim.record.service_date)
        if key not in first or claim.position < first[key].position:
            first[key] = claim
    return first


class ClaimReview:
    """Walks the billing rules for one claim and keeps the facts each used."""

    def __init__(
        self,
        claim: Claim,
        state: State,
        codes: BillingCodes,
        first: dict[tuple[str, dt.date], Claim],
    ) -> None:
        self.claim = claim
        self.record = claim.record
        self.state = state
        self.codes = codes
        self.first = first
        self.day = claim.record.service_date
        self.reasons: dict[str, str] = {}
        self.positions: set[int] = {claim.position}
        cited = dict.fromkeys(self.record.task_ids)  # a task listed twice counts once
        tasks = [state.tasks[t] for t in cited if t in state.tasks]
        self.tasks = tasks
        self.documenting: list[tuple[Task, Completion]] = []
        for task in tasks:
            completion = documents(task, claim, state)
            if completion is not None:
                self.documenting.append((task, completion))
                self.positions.update([task.position, completion.position])
                self.positions.update(rv.position for rv in completion.reviews)
        minutes = sum(c.minutes for _, c in self.documenting)
        self.documented_units = codes.units(minutes)

    def found(self, rule: str, detail: str, *positions: int) -> None:
        self.reasons[rule] = detail
        self.positions.update(p for p in positions if p)

    def cma_auth(self) -> None:
        agreement = self.state.agreements[self.record.agreement_id]
        a = agreement.record
        problems = []
        if a.person_id != self.record.person_id:
            problems.append(f"is for person {a.person_id}")
        if a.provider_id != self.record.provider_id:
            problems.append(f"is for provider {a.provider_id}")
        if not agreement.covers(self.day):
            problems.append(f"covers {a.start_on} to {agreement.end}, not {self.day}")
        if not self.codes.is_aide_service(a.procedure_code, a.modifiers):
            problems.append(
                f"is for {a.procedure_code} {' '.join(a.modifiers)}, "
                "not the case management aide service"
            )
        self.positions.update(agreement.positions)
        if problems:
            self.found("CMA-AUTH", f"agreement {a.agreement_id} " + "; ".join(problems))

    def cma_not_cm(self) -> None:
        if not self.codes.is_aide_service(
            self.record.procedure_code, self.record.modifiers
        ):
            modifiers = " ".join(self.record.modifiers)
            code = f"{self.record.procedure_code} {modifiers}".strip()
            self.found(
                "CMA-NOT-CM",
                f"billed as {code}; aide work is billed only as the aide service code",
            )

    def first_of_day(self) -> None:
        first = self.first.get((self.record.person_id, self.day))
        if first is None or first is self.claim:
            return
        if first.record.provider_id == self.record.provider_id:
            self.found(
                "CMA-DUP",
                f"claim {first.record.claim_id} of the same provider came first "
                "that day",
                first.position,
            )
        else:
            self.found(
                "CMA-SAME-DAY",
                f"claim {first.record.claim_id} of provider {first.record.provider_id} "
                "came first that day",
                first.position,
            )

    def cma_enrolled(self) -> None:
        enrollments = self.state.enrollments_on(self.record.person_id, self.day)
        for e in enrollments:
            self.positions.update(e.period.positions)
        if not enrollments:
            self.found("CMA-ENROLLED", f"no enrollment covers {self.day}")

    def cma_cdcs(self) -> None:
        programs = [
            e
            for e in self.state.enrollments_on(self.record.person_id, self.day)
            if e.program in CDCS_PROGRAMS
        ]
        periods = self.state.cdcs_on(self.record.person_id, self.day)
        if programs and periods:
            self.found(
                "CMA-CDCS",
                f"person uses CDCS under {programs[0].program} on {self.day}",
                *programs[0].period.positions,
                *periods[0].positions,
            )

    def cma_interest(self) -> None:
        holders: list[str] = []
        for _, completion in self.documenting:
            holders.append(completion.aide_id)
            holders.extend(
                s.case_manager_id
                for s in self.state.supervisors_on(completion.aide_id, self.day)
            )
        provider = self.state.agencies.get(self.record.provider_id)
        if provider is not None and provider.record.private:
            holders.append(self.record.provider_id)
        with_agreements = {
            a.record.provider_id
            for a in self.state.agreements_by_person.get(self.record.person_id, [])
            if a.covers(self.day)
        }
        for holder in dict.fromkeys(holders):
            for interest in self.state.interests.get(holder, []):
                if (
                    interest.declared_on <= self.day
                    and interest.provider_id in with_agreements
                ):
                    self.found(
                        "CMA-INTEREST",
                        f"{holder} declared a financial interest in provider "
                        f"{interest.provider_id}, which serves the person on "
                        f"{self.day}",
                        interest.position,
                    )
                    return

    def cma_supervision(self) -> None:
        for _, completion in self.documenting:
            supervisors = [
                s
                for s in self.state.supervisors_on(completion.aide_id, self.day)
                if self.state.staff[s.case_manager_id].is_qualified_on(self.day)
            ]
            for s in self.state.supervisions_of(completion.aide_id):
                self.positions.update(s.period.positions)
            if not supervisors:
                self.found(
                    "CMA-SUPERVISION",
                    f"aide {completion.aide_id} had no qualified, employed "
                    f"supervising case manager on {self.day}",
                )
                return

    def cma_qualified(self) -> None:
        for _, completion in self.documenting:
            aide = self.state.staff[completion.aide_id]
            self.positions.update(aide.qualification_positions(self.day))
            if not aide.is_qualified_on(self.day):
                why = "separated" if aide.separated_by(self.day) else "not qualified"
                self.found(
                    "CMA-QUALIFIED", f"aide {aide.staff_id} was {why} on {self.day}"
                )
                return

    def evaluate(self, left_on_agreement: int) -> BillableDay:
        self.cma_auth()
        self.cma_not_cm()
        self.first_of_day()
        self.cma_enrolled()
        self.cma_cdcs()
        self.cma_interest()
        self.cma_supervision()
        self.cma_qualified()

        claimed = self.record.units
        no_units = bool(NO_UNITS_RULES & self.reasons.keys())
        if not no_units and any(awaits_review(t) for t in self.tasks):
            for t in self.tasks:
                self.positions.update(c.position for c in t.completions)
            return self.row(0, "pending_review", {})

        usable = min(claimed, self.documented_units)
        if claimed > self.documented_units:
            self.found(
                "CMA-UNITS-DOC",
                f"{claimed} units claimed, {self.documented_units} documented",
            )
        if usable > left_on_agreement:
            self.found(
                "CMA-UNITS-AUTH",
                f"{usable} units wanted, {left_on_agreement} left on agreement "
                f"{self.record.agreement_id}",
            )
        billable = 0 if no_units else min(usable, left_on_agreement)
        if billable == claimed:
            status = "billable"
        elif billable > 0:
            status = "partially_billable"
        else:
            status = "not_billable"
        return self.row(billable, status, self.reasons)

    def row(self, billable: int, status: str, reasons: dict[str, str]) -> BillableDay:
        agreement = self.state.agreements[self.record.agreement_id].record
        return BillableDay(
            claim_id=self.record.claim_id,
            provider_id=self.record.provider_id,
            person_id=self.record.person_id,
            service_date=self.day,
            agreement_id=self.record.agreement_id,
            claimed_units=self.record.units,
            documented_units=self.documented_units,
            billable_units=billable,
            rate=agreement.rate,
            amount_cents=cents(billable, agreement.rate_decimal),
            status=status,
            reasons=sorted(reasons),
            positions=sorted(self.positions),
            details=dict(sorted(reasons.items())),
        )


def voided_row(claim: Claim, state: State) -> BillableDay:
    record = claim.record
    agreement = state.agreements[record.agreement_id].record
    return BillableDay(
        claim_id=record.claim_id,
        provider_id=record.provider_id,
        person_id=record.person_id,
        service_date=record.service_date,
        agreement_id=record.agreement_id,
        claimed_units=record.units,
        documented_units=0,
        billable_units=0,
        rate=agreement.rate,
        amount_cents=0,
        status="voided",
        reasons=[],
        positions=sorted(p for p in (claim.position, claim.voided_position) if p),
    )


def bill(state: State, codes: BillingCodes | None = None) -> list[BillableDay]:
    """Every claim's billable day, agreement units used in (date, position) order."""
    codes = codes or BillingCodes()
    first = first_claims_of_days(state)
    used: dict[str, int] = {}
    rows = []
    ordered = sorted(
        state.claims.values(), key=lambda c: (c.record.service_date, c.position)
    )
    for claim in ordered:
        if claim.voided:
            rows.append(voided_row(claim, state))
            continue
        agreement = state.agreements[claim.record.agreement_id]
        left = max(
            agreement.record.units - used.get(agreement.record.agreement_id, 0), 0
        )
        row = ClaimReview(claim, state, codes, first).evaluate(left)
        used[row.agreement_id] = used.get(row.agreement_id, 0) + row.billable_units
        rows.append(row)
    rows.sort(key=lambda b: (b.service_date, b.claim_id))
    return rows
