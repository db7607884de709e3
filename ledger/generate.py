"""A synthetic county history for `cma-ledger generate` (contract section 7).

A seeded, day-by-day simulation of one or two counties: agencies, staff,
supervision, enrollments and service agreements first, then tasks, completions,
oversight reviews and weekly claims. The billing faults are never typed into a
claim by hand. They arise the way they do in a county office: from facts that
are recorded late (a supervision ended last week, a backdated CDCS start, a
separation entered after the aide's last day) and from the occasional billing
slip, so every record passes the entry rules while the billable-days projection
still has something to find.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any, TypeVar

import msgspec

from ledger import records as r

RecordT = TypeVar("RecordT", bound=r.Record)
Action = Callable[[], Iterator[r.Record]]
Agenda = dict[dt.date, list[Action]]
ClaimKey = tuple[str, str, dt.date]

CMA_CODE = "T1016"
CMA_MODIFIERS = ("TF", "UC")
CASE_MANAGEMENT_MODIFIERS = ("UC",)
PROGRAMS = ("BI", "CAC", "CADI", "DD", "EW", "AC", "ECS")
PROGRAM_WEIGHTS = (8, 5, 30, 20, 25, 7, 5)
CDCS_FAULT_PROGRAMS = ("EW", "AC")

PERSONS_PER_CASE_MANAGER = 40
CMA_AGREEMENT_DAYS = 91
OTHER_AGREEMENT_DAYS = 365
BILLING_WEEKDAY = 2
BILLING_LAG = dt.timedelta(days=7)
DAY = dt.timedelta(days=1)
CLAIM_UNITS_CAP = 96
SECOND_PROVIDER_SHARE = 0.35
EARLY_CLAIM_SHARE = 0.012
RETURNED_SHARE = 0.06
CANCELLED_SHARE = 0.01
NOTE_SHARE = 0.35
SMALL_AGREEMENT_SHARE = 0.01
SLOT_BLOCK = 200
FAULT_SLOTS = {
    "not_cm": 1,
    "units_doc": 2,
    "dup": 1,
    "void": 3,
    "other_agreement": 1,
    "stale_agreement": 1,
}

CATEGORY_WEIGHTS = {
    "phone_contact": 25,
    "provider_contact": 20,
    "mmis_entry": 15,
    "case_preparation": 15,
    "support_plan_update": 10,
    "service_coordination": 15,
}
MINUTES = {
    "phone_contact": (5, 25),
    "provider_contact": (8, 35),
    "mmis_entry": (10, 40),
    "case_preparation": (15, 60),
    "support_plan_update": (20, 90),
    "service_coordination": (15, 120),
}
NOTES = (
    "called provider about schedule",
    "left voicemail for guardian",
    "updated MMIS service agreement lines",
    "mailed support plan signature page",
    "confirmed transportation for clinic visit",
    "sent referral packet to provider",
    "scheduled home visit for case manager",
    "requested updated timesheets from provider",
)
RETURN_COMMENTS = (
    "please note who you spoke with",
    "minutes look high; check your log",
    "attach the provider's reply before resubmitting",
)
FIRST_NAMES = tuple(
    "Ana Ben Carla Dawit Erin Fatuma Greg Hoa Ingrid Jamal Kari Luis Mai Nils Olga"
    " Pa Quinn Rosa Sam Tova Ubah Vic Wen Yusuf".split()
)
LAST_NAMES = tuple(
    "Anderson Berg Cruz Dahl Ek Farah Gustafson Her Iverson Johnson Khan Lee Moua"
    " Nelson Olson Peterson Quist Rahman Smith Thao Vang Warsame Xiong Yang".split()
)

LEAD_AGENCY_ROLES = ("lead_agency", "case_management_provider")
CM_PROVIDER_ROLES = ("case_management_provider",)
SERVICE_PROVIDER_ROLES = ("service_provider",)


@dataclass(frozen=True)
class AgencySpec:
    """An agency and the one service it contracts for, at its rate."""

    agency_id: str
    name: str
    roles: tuple[str, ...]
    private: bool
    code: str
    rate: str
    modifiers: tuple[str, ...] = ()


def county(agency_id: str, name: str, rate: str) -> AgencySpec:
    return AgencySpec(
        agency_id, name, LEAD_AGENCY_ROLES, False, CMA_CODE, rate, CMA_MODIFIERS
    )


def case_management_provider(
    agency_id: str, name: str, rate: str, modifiers: tuple[str, ...]
) -> AgencySpec:
    roles = CM_PROVIDER_ROLES
    return AgencySpec(agency_id, name, roles, True, CMA_CODE, rate, modifiers)


def service_provider(agency_id: str, name: str, code: str, rate: str) -> AgencySpec:
    return AgencySpec(agency_id, name, SERVICE_PROVIDER_ROLES, True, code, rate)


COUNTIES = (
    county("pine-county", "Pine County Health and Human Services", "5.12"),
    county("lake-county", "Lake County Human Services", "5.31"),
)
CM_PROVIDERS = (
    case_management_provider(
        "northstar-cm", "North Star Case Management LLC", "9.665", CMA_MODIFIERS
    ),
    case_management_provider(
        "riverbend-cc", "Riverbend Care Coordination", "8.0125", ("UC", "TF")
    ),
)
SERVICE_PROVIDERS = (
    service_provider("prairie-home", "Prairie Home Supports", "S5130", "6.38"),
    service_provider("cedar-homemaking", "Cedar Homemaking Services", "S5130", "6.52"),
    service_provider("birchwood-respite", "Birchwood Respite", "S5150", "4.97"),
    service_provider("northwoods-adc", "Northwoods Adult Day Center", "S5100", "3.815"),
)
LAKESIDE = service_provider(
    "lakeside-companions", "Lakeside Companion Care", "S5135", "5.09"
)
MAPLE = service_provider("maple-day", "Maple Day Services", "S5100", "3.90")


def is_workday(day: dt.date) -> bool:
    return day.weekday() < 5


def next_workday(day: dt.date) -> dt.date:
    while not is_workday(day):
        day += DAY
    return day


def workdays_after(day: dt.date, count: int) -> dt.date:
    day = next_workday(day)
    for _ in range(count):
        day = next_workday(day + DAY)
    return day


@dataclass
class Supervision:
    case_manager_id: str
    start: dt.date
    end: dt.date | None = None

    def covers(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass
class Aide:
    """What the county knows of an aide: who supervises them and whether they work."""

    staff_id: str
    agency_id: str
    supervisions: list[Supervision] = field(default_factory=list)
    working: bool = True
    in_scenario: bool = False

    def supervisor_on(self, day: dt.date) -> str | None:
        for supervision in self.supervisions:
            if supervision.covers(day):
                return supervision.case_manager_id
        return None

    @property
    def open_supervision(self) -> Supervision | None:
        for supervision in self.supervisions:
            if supervision.end is None:
                return supervision
        return None


@dataclass
class Agreement:
    agreement_id: str
    person_id: str
    provider: AgencySpec
    start: dt.date
    end: dt.date
    ended: bool = False

    def covers(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


@dataclass
class Person:
    """A person served: their providers and aides, and how often their case
    manager has aide work to hand out (`rate`, tasks per workday)."""

    person_id: str
    program: str
    county: AgencySpec
    rate: float
    enrolled_on: dt.date
    providers: list[AgencySpec]
    others: list[AgencySpec] = field(default_factory=list)
    aides: dict[str, str] = field(default_factory=dict)
    agreements: dict[str, list[Agreement]] = field(default_factory=dict)
    enrolled: bool = False
    receives_cma: bool = True
    cdcs: bool = False
    in_scenario: bool = False
    tight_budget: bool = False

    @property
    def cma_active(self) -> bool:
        """Enrolled and still getting aide work (CDCS stops it)."""
        return self.enrolled and self.receives_cma


@dataclass
class Task:
    task_id: str
    person_id: str
    provider_id: str
    aide_id: str
    case_manager_id: str
    category: str
    status: str = "assigned"
    performed_on: dt.date | None = None
    minutes: int = 0
    returned_once: bool = False

    @property
    def is_open(self) -> bool:
        return self.status in ("assigned", "returned")


class County:
    """The simulation: a model of the county's facts and an agenda of what
    happens on which day, emitting records in the order they reach the ledger."""

    def __init__(self, persons: int, days: int, seed: int, start: dt.date) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.n_persons = persons
        self.days = days
        self.start = start
        self.end = start + days * DAY
        self.count = 0
        self.counters: dict[str, int] = {}
        self.counties = COUNTIES[: 2 if persons >= 150 else 1]
        self.cm_agencies = [*self.counties, *CM_PROVIDERS]
        self.people: list[Person] = []
        self.people_by_id: dict[str, Person] = {}
        self.aides: dict[str, Aide] = {}
        self.managers: dict[str, list[str]] = {}
        self.rotation: dict[str, int] = {}
        self.trainee: Aide | None = None
        self.lakeside: list[Person] = []
        self.cma_agreements: dict[str, list[Agreement]] = {}
        self.tasks: dict[str, Task] = {}
        self.open_tasks: dict[str, Task] = {}
        self.unbilled: dict[ClaimKey, list[str]] = {}
        self.claimed: dict[ClaimKey, None] = {}
        self.slots: list[str | None] = []
        self.office: Agenda = {}
        self.work: Agenda = {}
        self.review: Agenda = {}
        self.billing: Agenda = {}

    # Records and ids.

    def record(self, kind: type[RecordT], by: str, **fields: Any) -> RecordT:
        return kind(record_id=self.next_record_id(), entered_by=by, **fields)

    def next_record_id(self) -> str:
        self.count += 1
        return f"g{self.seed}-{self.count:07d}"

    def next_id(self, prefix: str, width: int) -> str:
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return f"{prefix}-{self.counters[prefix]:0{width}d}"

    def name(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"

    def schedule(self, agenda: Agenda, day: dt.date, action: Action) -> None:
        if day < self.end:
            agenda.setdefault(day, []).append(action)

    def scenario_day(self, fraction: float) -> dt.date | None:
        """A workday that far into the period, late enough for a backdated fact."""
        offset = max(int(self.days * fraction), 14)
        day = next_workday(self.start + offset * DAY)
        return day if day < self.end else None

    # The whole history.

    def history(self) -> Iterator[r.Record]:
        self.plan_people()
        yield from self.register_agencies()
        yield from self.register_staff()
        yield from self.enroll_founding_persons()
        self.plan_scenarios()
        for offset in range(self.days):
            yield from self.one_day(self.start + offset * DAY)

    def one_day(self, day: dt.date) -> Iterator[r.Record]:
        yield from self.run(self.office, day)
        if is_workday(day):
            yield from self.assign_tasks(day)
        yield from self.run(self.work, day)
        yield from self.run(self.review, day)
        yield from self.run(self.billing, day)
        if day.weekday() == BILLING_WEEKDAY:
            yield from self.billing_run(day)

    def run(self, agenda: Agenda, day: dt.date) -> Iterator[r.Record]:
        for action in agenda.get(day, []):
            yield from action()
        agenda.pop(day, None)

    # The county before the period starts.

    def plan_people(self) -> None:
        rng = self.rng
        late_joiners = self.days >= 20 and self.n_persons >= 20
        for index in range(self.n_persons):
            program = (
                PROGRAMS[index]
                if index < len(PROGRAMS)
                else rng.choices(PROGRAMS, PROGRAM_WEIGHTS)[0]
            )
            county = rng.choices(self.counties, (6, 4)[: len(self.counties)])[0]
            provider = county if rng.random() < 0.62 else rng.choice(CM_PROVIDERS)
            if index >= len(PROGRAMS) and late_joiners and rng.random() < 0.05:
                enrolled_on = next_workday(
                    self.start + rng.randint(5, self.days - 5) * DAY
                )
            else:
                enrolled_on = self.start - rng.randint(14, 2000) * DAY
            person = Person(
                person_id=f"p{index + 1:05d}",
                program=program,
                county=county,
                rate=rng.triangular(0.05, 0.6, 0.2),
                enrolled_on=enrolled_on,
                providers=[provider],
            )
            if rng.random() < 0.35:
                person.others.append(rng.choice(SERVICE_PROVIDERS))
            self.people.append(person)
            self.people_by_id[person.person_id] = person
        founding = [p for p in self.people if p.enrolled_on < self.start]
        self.plan_second_providers(founding)
        self.plan_lakeside(founding)
        tight = self.cast(founding)
        if tight is not None:
            tight.tight_budget = True

    def plan_second_providers(self, founding: list[Person]) -> None:
        """A few persons also get aide work from a second provider."""
        if len(founding) < 5:
            return
        ranked = sorted(founding, key=lambda p: (-p.rate, p.person_id))
        busy = ranked[: len(ranked) // 2]
        for person in self.rng.sample(busy, max(2, round(0.02 * len(founding)))):
            choices = [a for a in self.cm_agencies if a != person.providers[0]]
            person.providers.append(self.rng.choice(choices))
            person.in_scenario = True

    def plan_lakeside(self, founding: list[Person]) -> None:
        """A small companion provider serving a few persons, some of whose aides,
        case managers or providers will later declare an interest in it."""
        if len(founding) < 3:
            return
        chosen = self.rng.sample(founding, max(3, round(0.03 * len(founding))))
        if not any(p.providers[0].private for p in chosen):
            private = [p for p in founding if p.providers[0].private]
            if private:
                chosen[-1] = self.rng.choice(private)
        for person in chosen:
            person.others.append(LAKESIDE)
            person.in_scenario = True
        self.lakeside = chosen

    def register_agencies(self) -> Iterator[r.Record]:
        for spec in (*self.cm_agencies, *SERVICE_PROVIDERS, LAKESIDE, MAPLE):
            yield self.record(
                r.AgencyRegistered,
                "dhs-provider-enrollment",
                agency_id=spec.agency_id,
                name=spec.name,
                roles=list(spec.roles),
                private=spec.private,
            )

    def register_staff(self) -> Iterator[r.Record]:
        for agency in self.cm_agencies:
            served = sum(agency in p.providers for p in self.people)
            managers = max(2, math.ceil(served / PERSONS_PER_CASE_MANAGER))
            aides = max(1, round(managers / 2))
            yield from self.hire_case_managers(agency, managers)
            for number in range(aides):
                manager = self.managers[agency.agency_id][number % managers]
                yield from self.hire_aide(agency, manager, qualified=True)
        first = self.counties[0]
        yield from self.hire_aide(first, self.managers[first.agency_id][-1], False)

    def hire_case_managers(self, agency: AgencySpec, count: int) -> Iterator[r.Record]:
        ids = self.managers.setdefault(agency.agency_id, [])
        for _ in range(count):
            staff_id = self.next_id("cm", 3)
            ids.append(staff_id)
            yield self.record(
                r.CaseManagerRegistered,
                f"hr.{agency.agency_id}",
                staff_id=staff_id,
                agency_id=agency.agency_id,
                name=self.name(),
                qualified_on=self.start - self.rng.randint(200, 4000) * DAY,
            )

    def hire_aide(
        self, agency: AgencySpec, manager: str, qualified: bool
    ) -> Iterator[r.Record]:
        """An experienced aide, or a trainee two months short of the twelve months
        of experience the job needs."""
        staff_id = self.next_id("aide", 3)
        hired_on = self.start - (self.rng.randint(90, 2500) if qualified else 15) * DAY
        experience = self.rng.randint(12, 60) if qualified else 10
        schooling = self.rng.choice((0, 0, 6, 12, 24)) if qualified else 0
        aide = Aide(staff_id, agency.agency_id)
        self.aides[staff_id] = aide
        if not qualified:
            aide.working = False
            self.trainee = aide
        yield self.aide_registered(aide, self.name(), hired_on, experience, schooling)
        yield self.start_supervision(aide, manager, hired_on)

    def aide_registered(
        self, aide: Aide, name: str, hired_on: dt.date, experience: int, schooling: int
    ) -> r.AideRegistered:
        """The caller draws the name, keeping its own order of random draws."""
        return self.record(
            r.AideRegistered,
            f"hr.{aide.agency_id}",
            staff_id=aide.staff_id,
            agency_id=aide.agency_id,
            name=name,
            hired_on=hired_on,
            high_school_graduate=True,
            case_aide_experience_months=experience,
            post_secondary_months=schooling,
        )

    def qualification_updated(
        self, aide: Aide, as_of: dt.date, experience: int
    ) -> r.AideQualificationUpdated:
        return self.record(
            r.AideQualificationUpdated,
            f"hr.{aide.agency_id}",
            staff_id=aide.staff_id,
            as_of=as_of,
            high_school_graduate=True,
            case_aide_experience_months=experience,
            post_secondary_months=0,
        )

    def start_supervision(
        self, aide: Aide, manager: str, start_on: dt.date
    ) -> r.SupervisionStarted:
        aide.supervisions.append(Supervision(manager, start_on))
        return self.record(
            r.SupervisionStarted,
            f"hr.{aide.agency_id}",
            aide_id=aide.staff_id,
            case_manager_id=manager,
            start_on=start_on,
        )

    def end_supervision(
        self, aide: Aide, supervision: Supervision, end_on: dt.date
    ) -> r.SupervisionEnded:
        supervision.end = end_on
        return self.record(
            r.SupervisionEnded,
            f"hr.{aide.agency_id}",
            aide_id=aide.staff_id,
            case_manager_id=supervision.case_manager_id,
            end_on=end_on,
        )

    def enroll_founding_persons(self) -> Iterator[r.Record]:
        for person in self.people:
            if person.enrolled_on < self.start:
                yield from self.enroll(person, founding=True)
            else:
                self.schedule(
                    self.office,
                    person.enrolled_on,
                    partial(self.enroll, person, founding=False),
                )

    def enroll(self, person: Person, founding: bool) -> Iterator[r.Record]:
        yield self.record(
            r.PersonEnrolled,
            f"intake.{person.county.agency_id}",
            person_id=person.person_id,
            program=person.program,
            lead_agency_id=person.county.agency_id,
            start_on=person.enrolled_on,
        )
        person.enrolled = True
        if founding and person.program not in CDCS_FAULT_PROGRAMS:
            if self.rng.random() < 0.08:
                start_on = max(person.enrolled_on, self.start - 30 * DAY)
                yield from self.start_cdcs(person, start_on)
        for provider in person.providers:
            person.aides[provider.agency_id] = self.aide_for(provider.agency_id)
            start_on = self.first_start(person, CMA_AGREEMENT_DAYS)
            yield from self.approve(person, provider, start_on)
        for provider in person.others:
            start_on = self.first_start(person, OTHER_AGREEMENT_DAYS)
            yield from self.approve(person, provider, start_on)

    def first_start(self, person: Person, length: int) -> dt.date:
        """Founding agreements are staggered so renewals spread over the year."""
        if person.enrolled_on >= self.start:
            return person.enrolled_on
        if person.tight_budget and length == CMA_AGREEMENT_DAYS:
            return self.start
        staggered = self.start - self.rng.randint(0, length - 2) * DAY
        return max(staggered, person.enrolled_on)

    def aide_for(self, agency_id: str) -> str:
        working = [
            a.staff_id
            for a in self.aides.values()
            if a.agency_id == agency_id and a.working
        ]
        turn = self.rotation.get(agency_id, 0)
        self.rotation[agency_id] = turn + 1
        return working[turn % len(working)]

    # Service agreements.

    def approve(
        self, person: Person, provider: AgencySpec, start_on: dt.date
    ) -> Iterator[r.Record]:
        is_cma = provider.code == CMA_CODE
        length = CMA_AGREEMENT_DAYS if is_cma else OTHER_AGREEMENT_DAYS
        agreement = Agreement(
            self.next_id("sa", 6),
            person.person_id,
            provider,
            start_on,
            start_on + (length - 1) * DAY,
        )
        person.agreements.setdefault(provider.agency_id, []).append(agreement)
        if is_cma:
            self.cma_agreements.setdefault(provider.agency_id, []).append(agreement)
        yield self.record(
            r.ServiceAgreementApproved,
            f"sa.{person.county.agency_id}",
            agreement_id=agreement.agreement_id,
            person_id=person.person_id,
            lead_agency_id=person.county.agency_id,
            provider_id=provider.agency_id,
            procedure_code=provider.code,
            modifiers=list(provider.modifiers),
            start_on=agreement.start,
            end_on=agreement.end,
            units=self.units_for(person, provider, start_on, length),
            rate=provider.rate,
        )
        self.schedule(
            self.office, agreement.end + DAY, partial(self.renew, person, agreement)
        )

    def units_for(
        self, person: Person, provider: AgencySpec, start_on: dt.date, length: int
    ) -> int:
        """Enough units for the person's usual need, except for a few agreements
        written too small, which run out."""
        if provider.code != CMA_CODE:
            return self.rng.randint(100, 1500)
        share = 1.0 if provider == person.providers[0] else SECOND_PROVIDER_SHARE
        expected = person.rate * share * length * 5 / 7 * 2.6
        if person.tight_budget and start_on >= self.start and share == 1.0:
            person.tight_budget = False
            return max(3, int(expected / 8))
        if self.rng.random() < SMALL_AGREEMENT_SHARE:
            return max(3, int(expected / 5))
        return math.ceil(expected * 1.5) + 6

    def renew(self, person: Person, agreement: Agreement) -> Iterator[r.Record]:
        if agreement.ended or not person.enrolled:
            return
        if agreement.provider.code == CMA_CODE and not person.receives_cma:
            return
        yield from self.approve(person, agreement.provider, agreement.end + DAY)

    def end_agreements(
        self, person: Person, end_on: dt.date, cma_only: bool
    ) -> Iterator[r.Record]:
        for agreements in person.agreements.values():
            for agreement in agreements:
                if agreement.ended or not agreement.covers(end_on):
                    continue
                if cma_only and agreement.provider.code != CMA_CODE:
                    continue
                yield self.end_agreement(person, agreement, end_on)

    def end_agreement(
        self, person: Person, agreement: Agreement, end_on: dt.date
    ) -> r.ServiceAgreementEnded:
        agreement.ended = True
        agreement.end = end_on
        return self.record(
            r.ServiceAgreementEnded,
            f"sa.{person.county.agency_id}",
            agreement_id=agreement.agreement_id,
            end_on=end_on,
        )

    def agreement_for(
        self, person: Person, provider_id: str, day: dt.date
    ) -> Agreement | None:
        """The agreement covering the day, else the last one started before it."""
        found = None
        for agreement in person.agreements.get(provider_id, []):
            if agreement.covers(day):
                return agreement
            if agreement.start <= day:
                found = agreement
        return found

    # Daily work: tasks, completions and oversight review.

    def assign_tasks(self, day: dt.date) -> Iterator[r.Record]:
        for person in self.people:
            if not person.cma_active:
                continue
            if self.rng.random() >= person.rate:
                continue
            lag = self.rng.choices((0, 1, 2, 3, 4), (20, 35, 25, 12, 8))[0]
            yield from self.assign(person, person.providers[0], day, lag)
            second = person.providers[1:]
            if second and self.rng.random() < SECOND_PROVIDER_SHARE:
                yield from self.assign(person, second[0], day, lag)

    def assign(
        self, person: Person, provider: AgencySpec, day: dt.date, lag: int
    ) -> Iterator[r.Record]:
        aide = self.aides[person.aides[provider.agency_id]]
        manager = aide.supervisor_on(day)
        if not aide.working or manager is None:
            return
        category = self.rng.choices(
            list(CATEGORY_WEIGHTS), list(CATEGORY_WEIGHTS.values())
        )[0]
        task = Task(
            self.next_id("t", 7),
            person.person_id,
            provider.agency_id,
            aide.staff_id,
            manager,
            category,
        )
        self.tasks[task.task_id] = task
        self.open_tasks[task.task_id] = task
        due_on = None
        if self.rng.random() < 0.6:
            due_on = day + self.rng.randint(3, 10) * DAY
        yield self.record(
            r.TaskAssigned,
            manager,
            task_id=task.task_id,
            person_id=person.person_id,
            aide_id=aide.staff_id,
            case_manager_id=manager,
            category=category,
            assigned_on=day,
            due_on=due_on,
        )
        if self.rng.random() < CANCELLED_SHARE:
            when = workdays_after(day, 1)
            self.schedule(self.work, when, partial(self.cancel, task, when))
        else:
            when = workdays_after(day, lag)
            self.schedule(self.work, when, partial(self.complete, task, when))

    def cancel(self, task: Task, day: dt.date) -> Iterator[r.Record]:
        if not task.is_open:
            return
        task.status = "cancelled"
        self.open_tasks.pop(task.task_id, None)
        yield self.record(
            r.TaskCancelled,
            task.case_manager_id,
            task_id=task.task_id,
            case_manager_id=task.case_manager_id,
            cancelled_on=day,
        )

    def complete(self, task: Task, day: dt.date) -> Iterator[r.Record]:
        if not task.is_open:
            return
        low, high = MINUTES[task.category]
        minutes = int(self.rng.triangular(low, high, low + (high - low) / 4))
        note = self.rng.choice(NOTES) if self.rng.random() < NOTE_SHARE else None
        task.status = "awaiting_review"
        task.performed_on = day
        task.minutes = minutes
        self.open_tasks.pop(task.task_id, None)
        yield self.record(
            r.TaskCompleted,
            task.aide_id,
            task_id=task.task_id,
            aide_id=task.aide_id,
            performed_on=day,
            minutes=minutes,
            note=note,
        )
        wait = self.rng.choices((0, 1, 2, 3), (30, 40, 20, 10))[0]
        review_on = workdays_after(day, wait)
        self.schedule(self.review, review_on, partial(self.oversee, task, review_on))
        if not task.returned_once and self.rng.random() < EARLY_CLAIM_SHARE:
            self.schedule(self.billing, day, partial(self.bill_early, task, day))

    def oversee(self, task: Task, day: dt.date) -> Iterator[r.Record]:
        """The aide's supervisor on the day of the work reviews it; when nobody
        supervised the aide that day, nobody may, and the task keeps waiting."""
        if task.status != "awaiting_review" or task.performed_on is None:
            return
        reviewer = self.aides[task.aide_id].supervisor_on(task.performed_on)
        if reviewer is None:
            return
        returned = not task.returned_once and self.rng.random() < RETURNED_SHARE
        yield self.record(
            r.OversightReviewed,
            reviewer,
            task_id=task.task_id,
            case_manager_id=reviewer,
            reviewed_on=day,
            outcome="returned" if returned else "approved",
            comment=self.rng.choice(RETURN_COMMENTS) if returned else None,
        )
        if returned:
            task.status = "returned"
            task.returned_once = True
            self.open_tasks[task.task_id] = task
            again = workdays_after(day, self.rng.randint(1, 3))
            self.schedule(self.work, again, partial(self.complete, task, again))
            return
        task.status = "approved"
        key = (task.provider_id, task.person_id, task.performed_on)
        if key not in self.claimed:
            self.unbilled.setdefault(key, []).append(task.task_id)

    # Claims.

    def billing_run(self, day: dt.date) -> Iterator[r.Record]:
        """Each provider's weekly claim file: one claim per person and service
        date of approved work at least a week old."""
        cutoff = day - BILLING_LAG
        due = sorted(
            (key for key in self.unbilled if key[2] <= cutoff),
            key=lambda key: (key[2], key[0], key[1]),
        )
        for key in due:
            yield from self.submit(key, self.unbilled.pop(key), day)
        forget = day - 30 * DAY
        for key in [k for k in self.claimed if k[2] < forget]:
            del self.claimed[key]

    def bill_early(self, task: Task, day: dt.date) -> Iterator[r.Record]:
        """A claim sent before the oversight review (pending until it is done)."""
        key = (task.provider_id, task.person_id, day)
        if task.status == "awaiting_review" and key not in self.claimed:
            yield from self.submit(key, [task.task_id], day)

    def next_slot(self) -> str | None:
        """Billing slips, spread evenly but unpredictably over the claims."""
        if not self.slots:
            block: list[str | None] = [None] * SLOT_BLOCK
            index = 0
            for slip, count in FAULT_SLOTS.items():
                block[index : index + count] = [slip] * count
                index += count
            self.rng.shuffle(block)
            self.slots = block
        return self.slots.pop()

    def submit(
        self, key: ClaimKey, task_ids: list[str], day: dt.date
    ) -> Iterator[r.Record]:
        provider_id, person_id, service_date = key
        self.claimed[key] = None
        minutes = sum(self.tasks[t].minutes for t in task_ids)
        documented = min((minutes + 7) // 15, CLAIM_UNITS_CAP)
        person = self.people_by_id[person_id]
        agreement = self.agreement_for(person, provider_id, service_date)
        if documented == 0 or agreement is None:
            return
        slip = self.next_slot()
        units = documented
        modifiers = list(agreement.provider.modifiers)
        if slip == "not_cm":
            modifiers = list(CASE_MANAGEMENT_MODIFIERS)
        elif slip == "units_doc":
            units = min(documented + self.rng.randint(1, 2), CLAIM_UNITS_CAP)
        elif slip == "void":
            units = min(documented + 3, CLAIM_UNITS_CAP)
        elif slip == "other_agreement":
            agreement = self.someone_elses_agreement(agreement)
        elif slip == "stale_agreement":
            agreement = self.earlier_agreement(person, agreement)
        claim = self.claim(key, agreement, units, modifiers, task_ids)
        yield claim
        if slip == "void":
            when = workdays_after(day, self.rng.randint(3, 8))
            correct = partial(self.void_and_correct, claim, documented, when)
            self.schedule(self.billing, when, correct)
        elif slip == "dup":
            when = day + 7 * DAY
            self.schedule(self.billing, when, partial(self.resubmit, claim, when))

    def claim(
        self,
        key: ClaimKey,
        agreement: Agreement,
        units: int,
        modifiers: list[str],
        task_ids: list[str],
    ) -> r.ClaimSubmitted:
        provider_id, person_id, service_date = key
        return self.record(
            r.ClaimSubmitted,
            f"billing.{provider_id}",
            claim_id=self.next_id("cl", 7),
            provider_id=provider_id,
            person_id=person_id,
            service_date=service_date,
            procedure_code=CMA_CODE,
            modifiers=modifiers,
            units=units,
            agreement_id=agreement.agreement_id,
            task_ids=task_ids,
        )

    def someone_elses_agreement(self, agreement: Agreement) -> Agreement:
        """A mistyped agreement number: another person's at the same provider."""
        pool = self.cma_agreements[agreement.provider.agency_id]
        for _ in range(10):
            other = self.rng.choice(pool)
            if other.person_id != agreement.person_id:
                return other
        return agreement

    def earlier_agreement(self, person: Person, agreement: Agreement) -> Agreement:
        """Billing under last quarter's agreement after it was renewed."""
        history = person.agreements[agreement.provider.agency_id]
        index = history.index(agreement)
        if index > 0:
            return history[index - 1]
        return self.someone_elses_agreement(agreement)

    def resubmit(self, claim: r.ClaimSubmitted, day: dt.date) -> Iterator[r.Record]:
        """The same claim sent again a week later; a third of them are caught."""
        copy = self.copy_claim(claim, claim.units)
        yield copy
        if self.rng.random() < 1 / 3:
            when = workdays_after(day, self.rng.randint(2, 6))
            self.schedule(
                self.billing,
                when,
                partial(self.void, copy, "duplicate submission", when),
            )

    def void_and_correct(
        self, claim: r.ClaimSubmitted, units: int, day: dt.date
    ) -> Iterator[r.Record]:
        yield from self.void(claim, "units entered in error", day)
        yield self.copy_claim(claim, units)

    def void(
        self, claim: r.ClaimSubmitted, reason: str, day: dt.date
    ) -> Iterator[r.Record]:
        yield self.record(
            r.ClaimVoided,
            f"billing.{claim.provider_id}",
            claim_id=claim.claim_id,
            voided_on=day,
            reason=reason,
        )

    def copy_claim(self, claim: r.ClaimSubmitted, units: int) -> r.ClaimSubmitted:
        return msgspec.structs.replace(
            claim,
            record_id=self.next_record_id(),
            claim_id=self.next_id("cl", 7),
            units=units,
        )

    # Scenarios: the facts that reach the ledger late.

    def plan_scenarios(self) -> None:
        plans: list[tuple[float, Callable[[dt.date], Iterator[r.Record]]]] = [
            (0.20, partial(self.declare_interest, "benign")),
            (0.28, partial(self.declare_interest, "aide")),
            (0.42, partial(self.declare_interest, "case_manager")),
            (0.56, partial(self.declare_interest, "provider")),
        ]
        for turn in range(max(1, self.n_persons // 250)):
            step = 0.05 * turn
            plans += [
                (0.12 + step, self.hand_over_supervision),
                (0.30 + step, self.backdate_cdcs),
                (0.38 + step, self.end_supervision_late),
                (0.45 + step, self.end_enrollment_late),
                (0.47 + step, self.end_enrollment_late),
                (0.50 + step, self.drop_qualification),
                (0.62 + step, self.separate_late),
                (0.70 + step, self.end_agreement_late),
            ]
        for fraction, scenario in plans:
            when = self.scenario_day(fraction)
            if when is not None:
                self.schedule(self.office, when, partial(scenario, when))
        if self.trainee is not None:
            when = next_workday(self.trainee.supervisions[0].start + 61 * DAY)
            self.schedule(self.office, when, partial(self.qualify_trainee, when))
        for turn in range(max(1, self.n_persons // 50)):
            when = next_workday(self.start + self.rng.randint(7, self.days + 7) * DAY)
            self.schedule(self.office, when, partial(self.exit_program, when))
            if turn % 2 == 0:
                self.schedule(self.office, when, partial(self.change_cdcs, when))

    def cast(self, persons: list[Person]) -> Person | None:
        """One of the persons with the most aide work, so the fault shows in claims,
        kept out of the other scenarios."""
        free = [p for p in persons if not p.in_scenario]
        if not free:
            return None
        ranked = sorted(free, key=lambda p: (-p.rate, p.person_id))
        person = self.rng.choice(ranked[: max(1, len(ranked) // 4)])
        person.in_scenario = True
        return person

    def pick_aide(self, settled_by: dt.date) -> Aide | None:
        """An aide employed a month or more, supervised by the same case manager
        since that day, whose caseload is small but not negligible, so one aide's
        trouble is a small share of the claims yet shows in them."""
        caseloads = self.caseloads()
        established = settled_by - 30 * DAY
        candidates = []
        for aide in self.aides.values():
            supervision = aide.open_supervision
            if not aide.working or aide.in_scenario or supervision is None:
                continue
            if aide is self.trainee or aide.supervisions[0].start > established:
                continue
            if supervision.start <= settled_by and caseloads.get(aide.staff_id):
                candidates.append((caseloads[aide.staff_id], aide.staff_id))
        if not candidates:
            return None
        floor = max(candidates)[0] / 4
        aide = self.aides[min(c for c in candidates if c[0] >= floor)[1]]
        aide.in_scenario = True
        return aide

    def caseloads(self) -> dict[str, int]:
        """How many persons receiving aide work each aide serves."""
        caseloads: dict[str, int] = {}
        for person in self.people:
            if person.cma_active:
                for aide_id in person.aides.values():
                    caseloads[aide_id] = caseloads.get(aide_id, 0) + 1
        return caseloads

    def other_manager(self, aide: Aide, current: str) -> str | None:
        others = [m for m in self.managers[aide.agency_id] if m != current]
        return self.rng.choice(others) if others else None

    def change_supervisor(
        self, aide: Aide, end_on: dt.date, start_on: dt.date
    ) -> Iterator[r.Record]:
        supervision = aide.open_supervision
        assert supervision is not None
        successor = self.other_manager(aide, supervision.case_manager_id)
        if successor is None:
            return
        yield self.end_supervision(aide, supervision, end_on)
        yield self.start_supervision(aide, successor, start_on)

    def hand_over_supervision(self, day: dt.date) -> Iterator[r.Record]:
        """A caseload rebalancing recorded on time: no fault."""
        aide = self.pick_aide(settled_by=day - DAY)
        if aide is not None:
            aide.in_scenario = False
            yield from self.change_supervisor(aide, day - DAY, day)

    def end_supervision_late(self, day: dt.date) -> Iterator[r.Record]:
        """The supervisor left eight days ago and nobody told the ledger; the work
        done meanwhile was supervised by nobody (CMA-SUPERVISION)."""
        aide = self.pick_aide(settled_by=day - 8 * DAY)
        if aide is not None:
            yield from self.change_supervisor(aide, day - 8 * DAY, day)

    def drop_qualification(self, day: dt.date) -> Iterator[r.Record]:
        """A reference check finds the aide's experience overstated since last
        week (CMA-QUALIFIED); a new aide takes over the caseload."""
        as_of = day - 6 * DAY
        aide = self.pick_aide(settled_by=as_of)
        if aide is None:
            return
        yield self.qualification_updated(aide, as_of, self.rng.randint(4, 9))
        yield from self.replace_aide(aide, day)

    def separate_late(self, day: dt.date) -> Iterator[r.Record]:
        """A separation entered five days after the aide's last day, with the
        supervision ended back to it (CMA-QUALIFIED and CMA-SUPERVISION)."""
        last_day = day - 5 * DAY
        aide = self.pick_aide(settled_by=last_day)
        if aide is None:
            return
        supervision = aide.open_supervision
        assert supervision is not None
        yield self.record(
            r.StaffSeparated,
            f"hr.{aide.agency_id}",
            staff_id=aide.staff_id,
            separated_on=last_day,
        )
        yield self.end_supervision(aide, supervision, last_day)
        yield from self.replace_aide(aide, day)

    def replace_aide(self, old: Aide, day: dt.date) -> Iterator[r.Record]:
        """A new hire starts today and takes over the old aide's persons and open
        tasks."""
        manager = old.supervisions[-1].case_manager_id
        new = Aide(self.next_id("aide", 3), old.agency_id)
        self.aides[new.staff_id] = new
        old.working = False
        name = self.name()
        experience = self.rng.randint(14, 48)
        yield self.aide_registered(new, name, day, experience, self.rng.choice((0, 12)))
        yield self.start_supervision(new, manager, day)
        for person in self.people:
            for provider_id, aide_id in person.aides.items():
                if aide_id == old.staff_id:
                    person.aides[provider_id] = new.staff_id
        for task in list(self.open_tasks.values()):
            if task.aide_id != old.staff_id:
                continue
            task.aide_id = new.staff_id
            task.case_manager_id = manager
            yield self.record(
                r.TaskReassigned,
                manager,
                task_id=task.task_id,
                aide_id=new.staff_id,
                case_manager_id=manager,
                reassigned_on=day,
            )

    def qualify_trainee(self, day: dt.date) -> Iterator[r.Record]:
        """The trainee reaches twelve months and takes half of the busiest
        colleague's persons."""
        trainee = self.trainee
        assert trainee is not None
        yield self.qualification_updated(trainee, day, 12)
        trainee.working = True
        caseloads = self.caseloads()
        colleagues = [
            (caseloads.get(a.staff_id, 0), a.staff_id)
            for a in self.aides.values()
            if a.agency_id == trainee.agency_id and a.working and a is not trainee
        ]
        if not colleagues:
            return
        busiest = max(colleagues)[1]
        turn = 0
        for person in self.people:
            if person.aides.get(trainee.agency_id) == busiest:
                turn += 1
                if turn % 2 == 0:
                    person.aides[trainee.agency_id] = trainee.staff_id

    def start_cdcs(self, person: Person, start_on: dt.date) -> Iterator[r.Record]:
        person.cdcs = True
        yield self.record(
            r.CdcsStarted,
            f"intake.{person.county.agency_id}",
            person_id=person.person_id,
            start_on=start_on,
        )

    def end_cdcs(self, person: Person, end_on: dt.date) -> r.CdcsEnded:
        person.cdcs = False
        return self.record(
            r.CdcsEnded,
            f"intake.{person.county.agency_id}",
            person_id=person.person_id,
            end_on=end_on,
        )

    def backdate_cdcs(self, day: dt.date) -> Iterator[r.Record]:
        """An EW or AC person's CDCS plan, entered ten days after it took effect;
        the aide work goes on eight more workdays before it stops (CMA-CDCS)."""
        person = self.cast(
            [
                p
                for p in self.people
                if p.cma_active
                and not p.cdcs
                and p.program in CDCS_FAULT_PROGRAMS
                and p.enrolled_on <= day - 10 * DAY
            ]
        )
        if person is None:
            return
        yield from self.start_cdcs(person, day - 10 * DAY)
        when = workdays_after(day, 8)
        self.schedule(self.office, when, partial(self.stop_aide_work, person, when))

    def stop_aide_work(self, person: Person, day: dt.date) -> Iterator[r.Record]:
        if not person.cma_active:
            return
        person.receives_cma = False
        yield from self.end_agreements(person, day, cma_only=True)
        yield from self.cancel_open_tasks(person, day)

    def change_cdcs(self, day: dt.date) -> Iterator[r.Record]:
        """CDCS starting or ending for programs where it does not bar aide billing."""
        eligible = [
            p
            for p in self.people
            if p.enrolled and p.program not in CDCS_FAULT_PROGRAMS
        ]
        users = [p for p in eligible if p.cdcs]
        if users and self.rng.random() < 0.5:
            yield self.end_cdcs(self.rng.choice(users), day)
            return
        others = [p for p in eligible if not p.cdcs]
        if others:
            yield from self.start_cdcs(self.rng.choice(others), day)

    def cancel_open_tasks(self, person: Person, day: dt.date) -> Iterator[r.Record]:
        for task in list(self.open_tasks.values()):
            if task.person_id == person.person_id:
                yield from self.cancel(task, day)

    def leave_program(
        self, person: Person, end_on: dt.date, day: dt.date
    ) -> Iterator[r.Record]:
        person.enrolled = False
        yield self.record(
            r.EnrollmentEnded,
            f"intake.{person.county.agency_id}",
            person_id=person.person_id,
            program=person.program,
            end_on=end_on,
        )
        yield from self.end_agreements(person, day, cma_only=False)
        yield from self.cancel_open_tasks(person, day)

    def exit_program(self, day: dt.date) -> Iterator[r.Record]:
        """A person leaves the waiver, recorded on time: no fault."""
        candidates = [
            p
            for p in self.people
            if p.enrolled and p.enrolled_on < day and not p.in_scenario
        ]
        if candidates:
            yield from self.leave_program(self.rng.choice(candidates), day, day)

    def end_enrollment_late(self, day: dt.date) -> Iterator[r.Record]:
        """A disenrollment entered two weeks late; the aide worked on meanwhile
        (CMA-ENROLLED)."""
        end_on = day - 14 * DAY
        person = self.cast(
            [p for p in self.people if p.cma_active and p.enrolled_on <= end_on]
        )
        if person is not None:
            yield from self.leave_program(person, end_on, day)

    def end_agreement_late(self, day: dt.date) -> Iterator[r.Record]:
        """A service agreement ended back ten days when it was rewritten; claims for
        the days between name an agreement that no longer covers them (CMA-AUTH)."""
        end_on = day - 10 * DAY
        candidates = []
        for person in self.people:
            if not person.cma_active:
                continue
            current = self.agreement_for(person, person.providers[0].agency_id, day)
            if current and current.covers(day) and current.start <= end_on:
                candidates.append((person, current))
        if not candidates:
            return
        person, agreement = self.rng.choice(candidates)
        yield self.end_agreement(person, agreement, end_on)
        yield from self.approve(person, agreement.provider, day)

    def declare_interest(self, kind: str, day: dt.date) -> Iterator[r.Record]:
        """Conflict-of-interest forms. The benign one names a provider serving
        nobody; the others name Lakeside, which serves a few of the holder's
        persons (CMA-INTEREST)."""
        holder, provider = self.interest_holder(kind, day)
        if holder is None:
            return
        by = holder if holder.startswith(("aide-", "cm-")) else f"compliance.{holder}"
        yield self.record(
            r.FinancialInterestDeclared,
            by,
            holder_id=holder,
            provider_id=provider,
            declared_on=day,
        )

    def interest_holder(self, kind: str, day: dt.date) -> tuple[str | None, str]:
        if kind == "benign":
            county = self.counties[0].agency_id
            return self.rng.choice(self.managers[county]), MAPLE.agency_id
        served = [p for p in self.lakeside if p.cma_active]
        if not served:
            return None, LAKESIDE.agency_id
        if kind == "provider":
            private = [p for p in served if p.providers[0].private]
            holder = private[0].providers[0].agency_id if private else None
            return holder, LAKESIDE.agency_id
        person = served[0] if kind == "aide" else served[-1]
        aide = self.aides[person.aides[person.providers[0].agency_id]]
        if kind == "aide":
            return aide.staff_id, LAKESIDE.agency_id
        return aide.supervisor_on(day), LAKESIDE.agency_id


def generate(
    persons: int, days: int, seed: int, start: dt.date = dt.date(2025, 1, 1)
) -> Iterator[r.Record]:
    """The records of a synthetic county, in feed order; the same seed always
    gives the same records."""
    if persons < 1 or days < 1:
        msg = f"need at least one person and one day, got {persons} and {days}"
        raise ValueError(msg)
    return County(persons, days, seed, start).history()


def write_feed(records: Iterable[r.Record], out: IO[bytes]) -> int:
    """Write records as JSON Lines in canonical encoding; returns how many."""
    count = 0
    for record in records:
        out.write(r.encode_record(record) + b"\n")
        count += 1
    return count
