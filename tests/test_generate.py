"""The synthetic county: reproducible, accepted by the entry rules, and
carrying the facts that make every kind of billing fault."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections import Counter

import pytest

from ledger import records as r
from ledger import rules
from ledger.generate import generate, write_feed
from ledger.state import Event, State, stream_of

RECORDED_AT = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
FAULT_MAKING_KINDS = (
    "claim_voided",
    "financial_interest_declared",
    "supervision_ended",
    "cdcs_started",
    "enrollment_ended",
    "service_agreement_ended",
    "aide_qualification_updated",
    "staff_separated",
    "task_reassigned",
    "task_cancelled",
)


def feed_bytes(persons: int, days: int, seed: int) -> bytes:
    out = io.BytesIO()
    write_feed(generate(persons, days, seed), out)
    return out.getvalue()


@pytest.fixture(scope="module")
def small_county() -> list[r.Record]:
    return list(generate(persons=40, days=60, seed=3))


def test_the_same_seed_gives_the_same_bytes() -> None:
    assert feed_bytes(40, 30, 7) == feed_bytes(40, 30, 7)


def test_another_seed_gives_another_history() -> None:
    assert feed_bytes(40, 30, 7) != feed_bytes(40, 30, 8)


def test_write_feed_writes_one_line_per_record_and_counts_them() -> None:
    out = io.BytesIO()
    count = write_feed(generate(10, 20, 1), out)

    lines = out.getvalue().splitlines()
    assert count == len(lines) == len(list(generate(10, 20, 1)))
    assert all(r.decode_record(line) for line in lines)


def test_every_generated_record_passes_the_entry_rules(
    small_county: list[r.Record],
) -> None:
    state = State()
    for position, record in enumerate(small_county, start=1):
        assert r.decode_record(r.encode_record(record)) == record
        assert rules.check(record, state) is None, (position, record)
        stream = stream_of(record)
        state.apply(
            Event(
                position=position,
                recorded_at=RECORDED_AT,
                stream=stream,
                version=state.stream_versions.get(stream, 0) + 1,
                record=record,
            )
        )


def test_every_record_has_its_own_record_id_and_says_who_entered_it(
    small_county: list[r.Record],
) -> None:
    record_ids = [record.record_id for record in small_county]

    assert None not in record_ids
    assert len(set(record_ids)) == len(record_ids)
    assert all(record.entered_by for record in small_county)


def test_persons_are_enrolled_in_all_seven_programs(
    small_county: list[r.Record],
) -> None:
    programs = {
        record.program
        for record in small_county
        if isinstance(record, r.PersonEnrolled)
    }

    assert programs == {"BI", "CAC", "CADI", "DD", "EW", "AC", "ECS"}


def test_every_kind_of_record_that_makes_a_fault_appears(
    small_county: list[r.Record],
) -> None:
    kinds = Counter(record.type for record in small_county)

    assert [kind for kind in FAULT_MAKING_KINDS if not kinds[kind]] == []


def test_some_claims_bill_aide_work_under_the_case_management_code(
    small_county: list[r.Record],
) -> None:
    claims = [record for record in small_county if isinstance(record, r.ClaimSubmitted)]
    modifier_sets = Counter(frozenset(claim.modifiers) for claim in claims)

    assert modifier_sets[frozenset({"UC"})] >= 1
    assert modifier_sets[frozenset({"TF", "UC"})] > 0.9 * len(claims)


def test_some_person_has_claims_from_two_providers_on_one_day(
    small_county: list[r.Record],
) -> None:
    providers: dict[tuple[str, dt.date], set[str]] = {}
    for record in small_county:
        if isinstance(record, r.ClaimSubmitted):
            key = (record.person_id, record.service_date)
            providers.setdefault(key, set()).add(record.provider_id)

    assert any(len(found) > 1 for found in providers.values())


def test_a_large_county_streams_its_first_records_without_simulating_the_rest() -> None:
    first = list(itertools.islice(generate(persons=5000, days=3650, seed=1), 20))

    assert len(first) == 20
    assert first[0].type == "agency_registered"


def test_a_county_needs_a_person_and_a_day() -> None:
    with pytest.raises(ValueError, match="at least one person"):
        generate(persons=0, days=10, seed=1)
