"""Builders the tests share: a small county written as feed records, and a
ledger in a temporary folder driven through the real command line.

`County()` starts from a baseline in which every rule is satisfied, so a test
changes one fact and sees one rule answer:

- agency `cty`: a public county, lead agency and case management provider;
- case manager `cm-1` (qualified 2024-01-01) supervises aide `aide-1` (hired
  2024-01-01, high school graduate, 12 months of case aide experience);
- person `p-1`, enrolled in CADI from 2024-01-01;
- agreement `sa-1`: `p-1` with `cty` for T1016 TF UC, all of 2025, 100 units
  at $5.12.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ledger import feed as feeds
from ledger.cli import main
from ledger.state import State

DAY = "2025-03-03"
CMA_CODE = ("T1016", ["TF", "UC"])
RECORDED_AT = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


def day(offset: int, start: str = DAY) -> str:
    """The date `offset` days from `start`, as a feed writes it."""
    return (dt.date.fromisoformat(start) + dt.timedelta(days=offset)).isoformat()


class County:
    """A county's history as feed records (dicts), built one fact at a time."""

    def __init__(self, baseline: bool = True) -> None:
        self.records: list[dict[str, Any]] = []
        if baseline:
            self.agency("cty")
            self.case_manager("cm-1")
            self.aide("aide-1")
            self.supervise("aide-1", "cm-1")
            self.enroll("p-1")
            self.agreement("sa-1")

    # Records, one method per kind of fact. Each returns the county.

    def add(self, kind: str, **fields: Any) -> County:
        self.records.append({"type": kind, **fields})
        return self

    def agency(
        self,
        agency_id: str,
        roles: Iterable[str] = ("lead_agency", "case_management_provider"),
        private: bool = False,
    ) -> County:
        return self.add(
            "agency_registered",
            agency_id=agency_id,
            name=f"Agency {agency_id}",
            roles=list(roles),
            private=private,
        )

    def case_manager(
        self, staff_id: str, agency_id: str = "cty", qualified_on: str = "2024-01-01"
    ) -> County:
        return self.add(
            "case_manager_registered",
            staff_id=staff_id,
            agency_id=agency_id,
            name=f"Case manager {staff_id}",
            qualified_on=qualified_on,
        )

    def aide(
        self,
        staff_id: str,
        agency_id: str = "cty",
        hired_on: str = "2024-01-01",
        graduate: bool = True,
        experience: int = 12,
        post_secondary: int = 0,
    ) -> County:
        return self.add(
            "aide_registered",
            staff_id=staff_id,
            agency_id=agency_id,
            name=f"Aide {staff_id}",
            hired_on=hired_on,
            high_school_graduate=graduate,
            case_aide_experience_months=experience,
            post_secondary_months=post_secondary,
        )

    def qualification(
        self,
        staff_id: str,
        as_of: str,
        graduate: bool = True,
        experience: int = 12,
        post_secondary: int = 0,
    ) -> County:
        return self.add(
            "aide_qualification_updated",
            staff_id=staff_id,
            as_of=as_of,
            high_school_graduate=graduate,
            case_aide_experience_months=experience,
            post_secondary_months=post_secondary,
        )

    def separate(self, staff_id: str, separated_on: str) -> County:
        return self.add("staff_separated", staff_id=staff_id, separated_on=separated_on)

    def supervise(self, aide: str, cm: str, start_on: str = "2024-01-01") -> County:
        return self.add(
            "supervision_started", aide_id=aide, case_manager_id=cm, start_on=start_on
        )

    def end_supervision(self, aide: str, cm: str, end_on: str) -> County:
        return self.add(
            "supervision_ended", aide_id=aide, case_manager_id=cm, end_on=end_on
        )

    def enroll(
        self,
        person: str,
        program: str = "CADI",
        start_on: str = "2024-01-01",
        lead: str = "cty",
    ) -> County:
        return self.add(
            "person_enrolled",
            person_id=person,
            program=program,
            lead_agency_id=lead,
            start_on=start_on,
        )

    def end_enrollment(self, person: str, program: str, end_on: str) -> County:
        return self.add(
            "enrollment_ended", person_id=person, program=program, end_on=end_on
        )

    def cdcs(self, person: str, start_on: str) -> County:
        return self.add("cdcs_started", person_id=person, start_on=start_on)

    def end_cdcs(self, person: str, end_on: str) -> County:
        return self.add("cdcs_ended", person_id=person, end_on=end_on)

    def interest(self, holder: str, provider: str, declared_on: str = DAY) -> County:
        return self.add(
            "financial_interest_declared",
            holder_id=holder,
            provider_id=provider,
            declared_on=declared_on,
        )

    def agreement(
        self,
        agreement_id: str,
        person: str = "p-1",
        provider: str = "cty",
        code: tuple[str, list[str]] = CMA_CODE,
        start_on: str = "2025-01-01",
        end_on: str = "2025-12-31",
        units: int = 100,
        rate: str = "5.12",
        lead: str = "cty",
    ) -> County:
        return self.add(
            "service_agreement_approved",
            agreement_id=agreement_id,
            person_id=person,
            lead_agency_id=lead,
            provider_id=provider,
            procedure_code=code[0],
            modifiers=list(code[1]),
            start_on=start_on,
            end_on=end_on,
            units=units,
            rate=rate,
        )

    def end_agreement(self, agreement_id: str, end_on: str) -> County:
        return self.add(
            "service_agreement_ended", agreement_id=agreement_id, end_on=end_on
        )

    def assign(
        self,
        task_id: str,
        on: str = DAY,
        person: str = "p-1",
        aide: str = "aide-1",
        cm: str = "cm-1",
        category: str = "phone_contact",
        **extra: Any,
    ) -> County:
        return self.add(
            "task_assigned",
            task_id=task_id,
            person_id=person,
            aide_id=aide,
            case_manager_id=cm,
            category=category,
            assigned_on=on,
            **extra,
        )

    def reassign(
        self, task_id: str, aide: str, cm: str = "cm-1", on: str = DAY
    ) -> County:
        return self.add(
            "task_reassigned",
            task_id=task_id,
            aide_id=aide,
            case_manager_id=cm,
            reassigned_on=on,
        )

    def cancel(self, task_id: str, cm: str = "cm-1", on: str = DAY) -> County:
        return self.add(
            "task_cancelled", task_id=task_id, case_manager_id=cm, cancelled_on=on
        )

    def complete(
        self,
        task_id: str,
        on: str = DAY,
        minutes: int = 15,
        aide: str = "aide-1",
        **extra: Any,
    ) -> County:
        return self.add(
            "task_completed",
            task_id=task_id,
            aide_id=aide,
            performed_on=on,
            minutes=minutes,
            **extra,
        )

    def review(
        self,
        task_id: str,
        outcome: str = "approved",
        on: str = DAY,
        cm: str = "cm-1",
        **extra: Any,
    ) -> County:
        return self.add(
            "oversight_reviewed",
            task_id=task_id,
            case_manager_id=cm,
            reviewed_on=on,
            outcome=outcome,
            **extra,
        )

    def task(
        self,
        task_id: str,
        minutes: int = 15,
        on: str = DAY,
        person: str = "p-1",
        aide: str = "aide-1",
        cm: str = "cm-1",
        outcome: str | None = "approved",
    ) -> County:
        """A task assigned, performed and (unless `outcome` is None) reviewed,
        all on `on`."""
        self.assign(task_id, on, person, aide, cm)
        self.complete(task_id, on, minutes, aide)
        if outcome is not None:
            self.review(task_id, outcome, on, cm)
        return self

    def claim(
        self,
        claim_id: str,
        tasks: Iterable[str],
        units: int = 1,
        on: str = DAY,
        person: str = "p-1",
        provider: str = "cty",
        agreement: str = "sa-1",
        code: tuple[str, list[str]] = CMA_CODE,
    ) -> County:
        return self.add(
            "claim_submitted",
            claim_id=claim_id,
            provider_id=provider,
            person_id=person,
            service_date=on,
            procedure_code=code[0],
            modifiers=list(code[1]),
            units=units,
            agreement_id=agreement,
            task_ids=list(tasks),
        )

    def void(
        self, claim_id: str, on: str = DAY, reason: str = "entered in error"
    ) -> County:
        return self.add("claim_voided", claim_id=claim_id, voided_on=on, reason=reason)

    # Compound facts.

    def provider(
        self,
        agency_id: str,
        private: bool = True,
        person: str = "p-1",
        units: int = 100,
        rate: str = "4.90",
    ) -> County:
        """A second case management provider with its own case manager
        `cm-<agency>`, aide `aide-<agency>` and agreement `sa-<agency>` for `person`."""
        self.agency(agency_id, roles=["case_management_provider"], private=private)
        self.case_manager(f"cm-{agency_id}", agency_id)
        self.aide(f"aide-{agency_id}", agency_id)
        self.supervise(f"aide-{agency_id}", f"cm-{agency_id}")
        return self.agreement(
            f"sa-{agency_id}", person=person, provider=agency_id, units=units, rate=rate
        )

    # Output.

    def with_record_ids(self, prefix: str = "rec") -> County:
        """Give every record without a record_id one, by its place in the feed."""
        for number, record in enumerate(self.records, start=1):
            record.setdefault("record_id", f"{prefix}-{number}")
        return self

    def lines(self) -> list[str]:
        return [json.dumps(record) for record in self.records]

    def jsonl(self) -> bytes:
        return "".join(f"{line}\n" for line in self.lines()).encode()

    def __len__(self) -> int:
        return len(self.records)


FeedLike = County | bytes | str


def feed_bytes(feed: FeedLike) -> bytes:
    if isinstance(feed, County):
        return feed.jsonl()
    return feed.encode() if isinstance(feed, str) else feed


# The entry rules, without a ledger on disk.


def check(feed: FeedLike, state: State | None = None) -> feeds.Checked:
    """Validate a feed against `state` (empty by default), as an import would."""
    state = state if state is not None else State()
    return feeds.check_feed(feed_bytes(feed), state, RECORDED_AT, state.position + 1)


def first_refusal(feed: FeedLike, state: State | None = None) -> feeds.Refusal | None:
    refused = check(feed, state).refusals
    return refused[0] if refused else None


def folded(feed: FeedLike) -> State:
    """The state a valid feed leaves; fails the test if any line is refused."""
    state = State()
    checked = check(feed, state)
    assert not checked.refusals, [str(r) for r in checked.refusals]
    return state


# A ledger and its review database in a folder, through the command line.


class Workspace:
    """One ledger and review database in a folder, driven by `cma-ledger`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ledger = folder / "ledger.db"
        self.review = folder / "review.db"
        self.feeds = 0

    def options(self) -> list[str]:
        return ["--ledger", str(self.ledger), "--review", str(self.review)]

    def cli(self, *args: str, input: bytes | None = None) -> Result:
        """Run a command in this process; an unexpected exception fails the test."""
        result = CliRunner().invoke(main, [*self.options(), *args], input=input)
        unexpected = result.exception
        if unexpected is not None and not isinstance(unexpected, SystemExit):
            raise unexpected
        return result

    def real(
        self, *args: str, input: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a command as its own process, exactly as a user would."""
        return subprocess.run(
            [sys.executable, "-m", "ledger", *self.options(), *args],
            input=input,
            capture_output=True,
            timeout=120,
            check=False,
        )

    def write_feed(self, feed: FeedLike) -> Path:
        self.feeds += 1
        path = self.folder / f"feed-{self.feeds}.jsonl"
        path.write_bytes(feed_bytes(feed))
        return path

    def import_feed(self, feed: FeedLike) -> Result:
        return self.cli("import", str(self.write_feed(feed)))

    def imported(self, feed: FeedLike) -> Result:
        """Import a feed that must be accepted."""
        result = self.import_feed(feed)
        assert result.exit_code == 0, result.output
        return result

    # Reading the review database.

    def rows(self, table: str) -> list[dict[str, Any]]:
        with sqlite3.connect(self.review) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute(f"SELECT * FROM [{table}]")]

    def billable_days(self) -> dict[str, dict[str, Any]]:
        days = {}
        for row in self.rows("billable_days"):
            row["reasons"] = json.loads(row["reasons"])
            days[row["claim_id"]] = row
        return days

    def findings(self) -> list[tuple[str, str, str]]:
        found = self.rows("findings")
        return sorted((f["rule"], f["subject_type"], f["subject_id"]) for f in found)

    def caseloads(self) -> dict[str, dict[str, Any]]:
        return {row["aide_id"]: row for row in self.rows("caseloads")}

    def oversight_queue(self) -> list[str]:
        return sorted(row["task_id"] for row in self.rows("oversight_queue"))

    # What is written, to show that a refused import writes nothing.

    def event_count(self) -> int:
        if not self.ledger.exists():
            return 0
        with sqlite3.connect(self.ledger) as conn:
            return conn.execute("SELECT count(*) FROM stored_events").fetchone()[0]

    def snapshot(self) -> tuple[int, list[str] | None]:
        """The ledger's event count and a full dump of the review database."""
        dump = None
        if self.review.exists():
            conn = sqlite3.connect(self.review)
            try:
                dump = list(conn.iterdump())
            finally:
                conn.close()
        return self.event_count(), dump


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)
