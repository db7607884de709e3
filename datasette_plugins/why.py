"""Why a claim came out as it did: the billing rules in order, with their facts.

Everything is read from the review database. The verdict on each rule is the
billing projection's own (the claim's `reasons` and its findings); this module
does not decide the rules again, it gathers the rows each rule looked at so an
auditor can check the verdict against them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from projections.billing import NO_UNITS_RULES

RULES: list[tuple[str, str]] = [
    (
        "CMA-AUTH",
        "Is the cited service agreement for this person and provider, "
        "in force on the service date, and for the aide service code?",
    ),
    (
        "CMA-NOT-CM",
        "Is the claim billed with the aide service code (T1016 with "
        "modifiers TF and UC), not as case management or another code?",
    ),
    (
        "CMA-DUP",
        "Was another live claim for this person and day, from the same "
        "provider, recorded first?",
    ),
    (
        "CMA-SAME-DAY",
        "Was another live claim for this person and day, from another "
        "provider, recorded first?",
    ),
    ("CMA-ENROLLED", "Is the person enrolled in a program on the service date?"),
    ("CMA-CDCS", "Is the program that day AC or EW while the person uses CDCS?"),
    (
        "CMA-INTEREST",
        "Has a documenting aide, the aide's supervising case manager "
        "or this provider (if private) declared, by the service date, a financial "
        "interest in a provider that serves the person that day?",
    ),
    (
        "CMA-SUPERVISION",
        "Was every documenting aide supervised that day by a "
        "qualified, employed case manager?",
    ),
    (
        "CMA-QUALIFIED",
        "Was every documenting aide qualified and still employed that day?",
    ),
    (
        "CMA-UNITS-DOC",
        "Do the claimed units exceed the units documented by approved aide work?",
    ),
    ("CMA-UNITS-AUTH", "Do the units wanted exceed what is left on the agreement?"),
]
EFFECTS = {
    "CMA-UNITS-DOC": "units cut to those documented",
    "CMA-UNITS-AUTH": "units cut to those left on the agreement",
}


@dataclass
class Facts:
    """One table of rows a rule looked at."""

    title: str
    columns: list[str]
    rows: list[dict[str, Any]]


@dataclass
class Step:
    rule: str
    question: str
    applies: bool
    effect: str
    detail: str
    facts: list[Facts] = field(default_factory=list)


@dataclass
class Explanation:
    claim: dict[str, Any]
    outcome: dict[str, Any]
    tasks: Facts
    steps: list[Step]
    summary: str


def covers(start: str | None, end: str | None, day: str) -> bool:
    return start is not None and start <= day and (end is None or day <= end)


def yes(flag: bool) -> str:
    return "yes" if flag else "no"


async def rows(db, sql: str, params: list | dict) -> list[dict[str, Any]]:
    return [dict(r) for r in (await db.execute(sql, params)).rows]


async def one(db, sql: str, params: list | dict) -> dict[str, Any] | None:
    found = await rows(db, sql, params)
    return found[0] if found else None


async def stream_positions(db, streams: list[str]) -> dict[str, list[int]]:
    """The positions of every event of each stream, in ledger order."""
    found = await rows(
        db,
        "SELECT stream_id, position FROM events WHERE stream_id IN "
        "(SELECT value FROM json_each(?)) ORDER BY position",
        [json.dumps(streams)],
    )
    positions: dict[str, list[int]] = {s: [] for s in streams}
    for r in found:
        positions[r["stream_id"]].append(r["position"])
    return positions


async def with_events(db, facts: list[dict], stream_of) -> list[dict]:
    """Add to each row the positions of the events about its subject."""
    streams = sorted({stream_of(r) for r in facts})
    positions = await stream_positions(db, streams)
    return [dict(r, events=positions[stream_of(r)]) for r in facts]


async def documenting_tasks(db, claim: dict) -> list[dict]:
    """The claim's tasks, with the four conditions for documenting it checked."""
    tasks = await rows(
        db,
        "SELECT t.task_id, t.person_id, t.status, t.performed_on, t.minutes, "
        "t.outcome, t.reviewed_on, t.reviewed_by, "
        "(SELECT json_extract(e.payload, '$.aide_id') FROM events e "
        " WHERE e.stream_id = 'task/' || t.task_id AND e.type = 'task_completed' "
        " ORDER BY e.position DESC LIMIT 1) AS completed_by "
        "FROM tasks t WHERE t.task_id IN (SELECT value FROM json_each(?)) "
        "ORDER BY t.task_id",
        [claim["task_ids"]],
    )
    employers = (
        {
            r["staff_id"]: r["agency_id"]
            for r in await rows(db, "SELECT staff_id, agency_id FROM staff", [])
        }
        if tasks
        else {}
    )
    for t in tasks:
        t["aide_employer"] = employers.get(t["completed_by"])
        t["same_person"] = t["person_id"] == claim["person_id"]
        t["on_service_date"] = t["performed_on"] == claim["service_date"]
        t["aide_of_provider"] = t["aide_employer"] == claim["provider_id"]
        t["approved"] = t["outcome"] == "approved"
        t["documents"] = all(
            t[k]
            for k in ("same_person", "on_service_date", "aide_of_provider", "approved")
        )
    return await with_events(db, tasks, lambda r: f"task/{r['task_id']}")


async def explain(db, claim_id: str) -> Explanation | None:
    claim = await one(db, "SELECT * FROM claims WHERE claim_id = ?", [claim_id])
    if claim is None:
        return None
    outcome = await one(
        db, "SELECT * FROM billable_days WHERE claim_id = ?", [claim_id]
    )
    assert outcome is not None, f"claim {claim_id} has no billable day"
    reasons = set(json.loads(outcome["reasons"]))
    details = {
        r["rule"]: r["detail"]
        for r in await rows(
            db,
            "SELECT rule, detail FROM findings WHERE subject_type = 'claim' "
            "AND subject_id = ?",
            [claim_id],
        )
    }
    day = claim["service_date"]
    tasks = await documenting_tasks(db, claim)
    aides = sorted({t["completed_by"] for t in tasks if t["documents"]})

    gather = FactGatherer(db, claim, outcome, aides)
    steps = []
    for rule, question in RULES:
        applies = rule in reasons
        effect = "no units" if rule in NO_UNITS_RULES else EFFECTS[rule]
        detail = details.get(rule, "") if applies else ""
        steps.append(
            Step(rule, question, applies, effect, detail, await gather.facts_for(rule))
        )
    task_columns = [
        "task_id",
        "completed_by",
        "performed_on",
        "minutes",
        "outcome",
        "reviewed_on",
        "same_person",
        "on_service_date",
        "aide_of_provider",
        "approved",
        "documents",
        "events",
    ]
    task_rows = [
        {k: (yes(v) if isinstance(v, bool) else v) for k, v in t.items()} for t in tasks
    ]
    return Explanation(
        claim=claim,
        outcome=outcome,
        tasks=Facts(f"Tasks cited for {day}", task_columns, task_rows),
        steps=steps,
        summary=summarise(claim, outcome),
    )


def summarise(claim: dict, outcome: dict) -> str:
    status = outcome["status"]
    if status == "voided":
        return f"Voided on {claim['voided_on']}: no units and no reasons."
    if status == "pending_review":
        return (
            "Waiting for oversight review: until every cited task's newest completion "
            "is approved, no units are billable and none are taken from the agreement."
        )
    return (
        f"{status.replace('_', ' ').capitalize()}: {outcome['billable_units']} of "
        f"{outcome['claimed_units']} units claimed may be paid."
    )


class FactGatherer:
    """The rows each rule looked at, for one claim."""

    def __init__(self, db, claim: dict, outcome: dict, aides: list[str]) -> None:
        self.db = db
        self.claim = claim
        self.outcome = outcome
        self.day = claim["service_date"]
        self.aides = aides

    async def facts_for(self, rule: str) -> list[Facts]:
        method = getattr(self, rule.lower().replace("-", "_"))
        return await method()

    async def cma_auth(self) -> list[Facts]:
        agreement = await one(
            self.db,
            "SELECT agreement_id, person_id, provider_id, procedure_code, modifiers, "
            "start_on, end_on, ended_early_on, units, rate FROM service_agreements "
            "WHERE agreement_id = ?",
            [self.claim["agreement_id"]],
        )
        if agreement is None:
            return []
        agreement["in_force_that_day"] = yes(
            covers(agreement["start_on"], agreement["end_on"], self.day)
        )
        found = await with_events(
            self.db, [agreement], lambda r: f"agreement/{r['agreement_id']}"
        )
        return [Facts("The cited service agreement", list(found[0]), found)]

    async def cma_not_cm(self) -> list[Facts]:
        keys = ["claim_id", "procedure_code", "modifiers", "units", "position"]
        return [Facts("The claim as billed", keys, [{k: self.claim[k] for k in keys}])]

    async def same_day_claims(self) -> list[Facts]:
        found = await rows(
            self.db,
            "SELECT claim_id, provider_id, procedure_code, position, voided_on "
            "FROM claims WHERE person_id = ? AND service_date = ? ORDER BY position",
            [self.claim["person_id"], self.day],
        )
        first = next((r["claim_id"] for r in found if r["voided_on"] is None), None)
        for r in found:
            r["first_of_day"] = yes(r["claim_id"] == first)
        title = f"Every claim for {self.claim['person_id']} on {self.day}"
        return [Facts(title, list(found[0]), found)] if found else []

    cma_dup = same_day_claims
    cma_same_day = same_day_claims

    async def enrollments(self, programs: tuple[str, ...] | None = None) -> Facts:
        found = await rows(
            self.db,
            "SELECT program, lead_agency_id, start_on, end_on, start_position, "
            "end_position FROM enrollments WHERE person_id = ? ORDER BY start_on",
            [self.claim["person_id"]],
        )
        if programs:
            found = [r for r in found if r["program"] in programs]
        for r in found:
            r["covers_the_day"] = yes(covers(r["start_on"], r["end_on"], self.day))
        columns = [
            "program",
            "lead_agency_id",
            "start_on",
            "end_on",
            "covers_the_day",
            "start_position",
            "end_position",
        ]
        return Facts("The person's enrollments", columns, found)

    async def cma_enrolled(self) -> list[Facts]:
        return [await self.enrollments()]

    async def cma_cdcs(self) -> list[Facts]:
        periods = await rows(
            self.db,
            "SELECT start_on, end_on, start_position, end_position FROM cdcs_periods "
            "WHERE person_id = ? ORDER BY start_on",
            [self.claim["person_id"]],
        )
        for r in periods:
            r["covers_the_day"] = yes(covers(r["start_on"], r["end_on"], self.day))
        columns = [
            "start_on",
            "end_on",
            "covers_the_day",
            "start_position",
            "end_position",
        ]
        return [
            await self.enrollments(("AC", "EW")),
            Facts("The person's CDCS periods", columns, periods),
        ]

    async def supervisions(self) -> list[dict]:
        found = await rows(
            self.db,
            "SELECT s.aide_id, s.case_manager_id, s.start_on, s.end_on, "
            "m.qualified_on AS manager_qualified_on, "
            "m.separated_on AS manager_separated_on, s.start_position, s.end_position "
            "FROM supervision s LEFT JOIN staff m ON m.staff_id = s.case_manager_id "
            "WHERE s.aide_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY s.aide_id, s.start_on",
            [json.dumps(self.aides)],
        )
        for r in found:
            r["covers_the_day"] = yes(covers(r["start_on"], r["end_on"], self.day))
            r["manager_qualified_that_day"] = yes(
                covers(r["manager_qualified_on"], r["manager_separated_on"], self.day)
            )
        return found

    async def cma_interest(self) -> list[Facts]:
        holders = [
            {"holder_id": a, "why_it_counts": "documenting aide"} for a in self.aides
        ]
        holders += [
            {
                "holder_id": s["case_manager_id"],
                "why_it_counts": f"supervised {s['aide_id']} that day",
            }
            for s in await self.supervisions()
            if s["covers_the_day"] == "yes"
        ]
        provider = await one(
            self.db,
            "SELECT agency_id, private FROM agencies WHERE agency_id = ?",
            [self.claim["provider_id"]],
        )
        if provider and provider["private"]:
            holders.append(
                {
                    "holder_id": provider["agency_id"],
                    "why_it_counts": "the billing provider is private",
                }
            )
        interests = await rows(
            self.db,
            "SELECT holder_id, provider_id, declared_on, position "
            "FROM financial_interests "
            "WHERE holder_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY holder_id, declared_on",
            [json.dumps(sorted({h["holder_id"] for h in holders}))],
        )
        for r in interests:
            r["declared_by_the_day"] = yes(r["declared_on"] <= self.day)
        serving = await rows(
            self.db,
            "SELECT agreement_id, provider_id, procedure_code, start_on, end_on, "
            "position FROM service_agreements WHERE person_id = ? "
            "AND start_on <= ? AND end_on >= ? ORDER BY provider_id",
            [self.claim["person_id"], self.day, self.day],
        )
        return [
            Facts("Whose interests count", ["holder_id", "why_it_counts"], holders),
            Facts(
                "Their declared financial interests",
                [
                    "holder_id",
                    "provider_id",
                    "declared_on",
                    "declared_by_the_day",
                    "position",
                ],
                interests,
            ),
            Facts(
                f"Providers with an agreement covering {self.day}",
                [
                    "agreement_id",
                    "provider_id",
                    "procedure_code",
                    "start_on",
                    "end_on",
                    "position",
                ],
                serving,
            ),
        ]

    async def cma_supervision(self) -> list[Facts]:
        found = await self.supervisions()
        columns = [
            "aide_id",
            "case_manager_id",
            "start_on",
            "end_on",
            "covers_the_day",
            "manager_qualified_on",
            "manager_separated_on",
            "manager_qualified_that_day",
            "start_position",
            "end_position",
        ]
        return [Facts("Supervision of the documenting aides", columns, found)]

    async def cma_qualified(self) -> list[Facts]:
        aides = await rows(
            self.db,
            "SELECT staff_id, agency_id, hired_on, high_school_graduate, "
            "case_aide_experience_months, post_secondary_months, separated_on "
            "FROM staff WHERE staff_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY staff_id",
            [json.dumps(self.aides)],
        )
        found = await with_events(self.db, aides, lambda r: f"staff/{r['staff_id']}")
        title = (
            "The documenting aides now (their qualification on the day is in "
            "the events: aide_registered, aide_qualification_updated, "
            "staff_separated)"
        )
        return [Facts(title, list(found[0]) if found else [], found)]

    async def cma_units_doc(self) -> list[Facts]:
        keys = ["claimed_units", "documented_units"]
        return [Facts("Units", keys, [{k: self.outcome[k] for k in keys}])]

    async def cma_units_auth(self) -> list[Facts]:
        earlier = await rows(
            self.db,
            "SELECT b.claim_id, b.service_date, c.position, b.status, b.billable_units "
            "FROM billable_days b JOIN claims c USING (claim_id) "
            "WHERE b.agreement_id = ? AND (b.service_date, c.position) < (?, ?) "
            "AND b.billable_units > 0 ORDER BY b.service_date, c.position",
            [self.claim["agreement_id"], self.day, self.claim["position"]],
        )
        agreement = await one(
            self.db,
            "SELECT units FROM service_agreements WHERE agreement_id = ?",
            [self.claim["agreement_id"]],
        )
        authorized = agreement["units"] if agreement else 0
        used = sum(r["billable_units"] for r in earlier)
        wanted = min(self.outcome["claimed_units"], self.outcome["documented_units"])
        summary = {
            "units_authorized": authorized,
            "used_by_earlier_claims": used,
            "left_for_this_claim": max(authorized - used, 0),
            "units_wanted": wanted,
        }
        return [
            Facts("The agreement's units", list(summary), [summary]),
            Facts(
                "Earlier claims that used its units, in (service date, position) order",
                ["claim_id", "service_date", "position", "status", "billable_units"],
                earlier,
            ),
        ]
