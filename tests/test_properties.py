"""Properties of billing over generated histories, and of importing a feed
with one line spoiled.

Two sources of valid histories: `histories()` below, small and dense, built to
crowd the edges (tight agreements, two providers on one day, returned work,
voids, facts recorded late); and the synthetic county of `ledger.generate`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from conftest import DAY, County, Workspace, check, day, folded
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.generate import generate, write_feed
from ledger.records import RECORD_TYPES
from ledger.state import State
from projections.billing import NO_UNITS_RULES, bill

CMA = ("T1016", ["TF", "UC"])
CASE_MANAGEMENT = ("T1016", ["UC"])
RATES = ["5.12", "9.665", "0.125", "4.9", "10", "0.0049", "3.3333"]
PROGRAMS = ["CADI", "EW", "AC", "DD"]
MANAGER = {"cty": "cm-1", "prov": "cm-p"}
AIDES = {"cty": ["aide-1", "aide-2"], "prov": ["aide-p"]}
PERSONS = ["p-1", "p-2"]
STATUSES = {"billable", "partially_billable", "not_billable", "pending_review"}
STATUSES.add("voided")
RULES = NO_UNITS_RULES | {"CMA-UNITS-DOC", "CMA-UNITS-AUTH"}

SLOW_DATA = [HealthCheck.too_slow]
FAST = settings(max_examples=40, deadline=None, suppress_health_check=SLOW_DATA)


@st.composite
def histories(draw: st.DrawFn) -> County:
    """A valid history of two persons, two providers and up to twelve tasks."""
    county = County(baseline=False)
    county.agency("cty").agency("prov", ["case_management_provider"], private=True)
    county.agency("home", ["service_provider"], private=True)
    county.case_manager("cm-1").case_manager("cm-p", "prov")
    for provider, aides in AIDES.items():
        for aide in aides:
            county.aide(aide, provider).supervise(aide, MANAGER[provider])

    for person in PERSONS:
        county.enroll(person, draw(st.sampled_from(PROGRAMS)))
        if draw(st.booleans()):
            county.cdcs(person, day(draw(st.integers(-3, 12))))
        for provider in MANAGER:
            start = draw(st.integers(-5, 3))
            county.agreement(
                f"sa-{person}-{provider}",
                person,
                provider,
                start_on=day(start),
                end_on=day(start + draw(st.integers(0, 14))),
                units=draw(st.integers(0, 8)),
                rate=draw(st.sampled_from(RATES)),
            )
        if draw(st.booleans()):
            start = day(draw(st.integers(-5, 5)))
            county.agreement(
                f"sa-{person}-home", person, "home", ("S5130", []), start_on=start
            )
    if draw(st.booleans()):
        holder = draw(st.sampled_from(["aide-1", "aide-p", "cm-1", "prov", "cty"]))
        county.interest(holder, "home", day(draw(st.integers(-2, 10))))

    tasks: list[str] = []
    for n in range(draw(st.integers(1, 12))):
        provider = draw(st.sampled_from(sorted(MANAGER)))
        aide, cm = draw(st.sampled_from(AIDES[provider])), MANAGER[provider]
        person, on = draw(st.sampled_from(PERSONS)), day(draw(st.integers(0, 9)))
        task = f"t-{n}"
        tasks.append(task)
        county.assign(task, on, person, aide, cm)
        county.complete(task, on, draw(st.integers(1, 70)), aide)
        outcome = draw(st.sampled_from(["approved", "approved", "returned", None]))
        if outcome is not None:
            county.review(task, outcome, on, cm)
        if outcome == "returned" and draw(st.booleans()):
            county.complete(task, on, draw(st.integers(1, 70)), aide)
            county.review(task, draw(st.sampled_from(["approved", "returned"])), on, cm)

        if draw(st.integers(0, 4)) == 0:
            continue
        other = draw(st.sampled_from(sorted(MANAGER)))
        county.claim(
            f"c-{n}",
            [task, *draw(st.lists(st.sampled_from(tasks), max_size=2))],
            units=draw(st.integers(1, 6)),
            on=on,
            person=person,
            provider=provider,
            agreement=f"sa-{draw(st.sampled_from(PERSONS))}-{other}",
            code=draw(st.sampled_from([CMA, CMA, CMA, CASE_MANAGEMENT])),
        )
        if draw(st.integers(0, 7)) == 0:
            county.void(f"c-{n}", on)

    if draw(st.booleans()):
        county.end_supervision("aide-1", "cm-1", day(draw(st.integers(-1, 8))))
    if draw(st.booleans()):
        county.separate("aide-2", day(draw(st.integers(-1, 8))))
    if draw(st.booleans()):
        months = draw(st.integers(0, 24))
        county.qualification("aide-p", day(draw(st.integers(-1, 8))), experience=months)
    return county


def half_up_cents(units: int, rate: str) -> int:
    """Units times a dollar rate in whole cents, rounded half up, in integers."""
    dollars, _, fraction = rate.partition(".")
    ten_thousandths = int(dollars) * 10_000 + int(fraction.ljust(4, "0"))
    return (units * ten_thousandths + 50) // 100


def assert_billing_holds(state: State) -> None:
    days = bill(state)

    billed = Counter((d.person_id, d.service_date) for d in days if d.billable_units)
    assert all(count == 1 for count in billed.values()), billed

    used: dict[str, int] = defaultdict(int)
    for d in days:
        used[d.agreement_id] += d.billable_units
    for agreement_id, units in used.items():
        assert units <= state.agreements[agreement_id].record.units, agreement_id

    for d in days:
        assert 0 <= d.billable_units <= min(d.claimed_units, d.documented_units), d
        assert d.amount_cents == half_up_cents(d.billable_units, d.rate), d
        assert d.reasons == sorted(set(d.reasons)) and set(d.reasons) <= RULES, d
        assert d.status in STATUSES
        if NO_UNITS_RULES & set(d.reasons):
            assert d.billable_units == 0, d
        if d.status in ("voided", "pending_review"):
            assert (d.billable_units, d.reasons) == (0, []), d
        if d.status == "billable":
            assert d.billable_units == d.claimed_units, d
        if d.status == "partially_billable":
            assert 0 < d.billable_units < d.claimed_units, d
        if d.status == "not_billable":
            assert d.billable_units == 0 and d.reasons, d
        if d.billable_units:
            agreement = state.agreements[d.agreement_id]
            assert agreement.covers(d.service_date)
            assert agreement.record.person_id == d.person_id
            assert agreement.record.provider_id == d.provider_id


def test_half_up_cents_is_itself_right() -> None:
    assert [half_up_cents(1, r) for r in ("9.665", "0.125", "0.0049", "10")] == [
        967,
        13,
        0,
        1000,
    ]


@FAST
@given(histories())
def test_billing_rules_hold_for_any_valid_history(county: County) -> None:
    assert_billing_holds(folded(county))


@FAST
@given(histories())
def test_billing_is_the_same_however_often_it_is_evaluated(county: County) -> None:
    assert bill(folded(county)) == bill(folded(county))


@settings(max_examples=15, deadline=None)
@given(
    persons=st.integers(1, 12),
    days=st.integers(3, 45),
    seed=st.integers(0, 10_000),
)
def test_billing_rules_hold_for_the_synthetic_county(
    persons: int, days: int, seed: int
) -> None:
    out = io.BytesIO()
    write_feed(generate(persons, days, seed, start=dt.date.fromisoformat(DAY)), out)

    assert_billing_holds(folded(out.getvalue()))


# One line spoiled


OPTIONAL = {"record_id", "entered_by", "entered_at", "due_on", "note", "comment"}


def spoil(line: str, how: str, choice: int) -> bytes:
    """The line made invalid in one way; `choice` picks the field to spoil."""
    record = json.loads(line)
    fields = sorted(k for k in record if k != "type")
    name = fields[choice % len(fields)]
    value = record[name]
    if how == "truncate":
        return line[: max(1, len(line) * (choice % 9 + 1) // 10)].encode()
    if how == "drop a required field":
        required = sorted(k for k in record if k not in OPTIONAL)
        del record[required[choice % len(required)]]
    elif how == "add an unknown field":
        record[f"{name}_"] = value
    elif how == "wrong type":
        wrong = "12" if isinstance(value, int) and not isinstance(value, bool) else 12
        record[name] = wrong
    elif how == "bad date or id":
        typed = ("_id", "_on", "_date", "as_of")
        checked = sorted(k for k in record if k.endswith(typed))
        name = checked[choice % len(checked)]
        record[name] = "a b" if name.endswith("_id") else "2025-02-30"
    elif how == "not UTF-8":
        return json.dumps(record).encode().replace(b'"type"', b'"ty\xffpe"')
    return json.dumps(record).encode()


SPOILS = [
    "truncate",
    "drop a required field",
    "add an unknown field",
    "wrong type",
    "bad date or id",
    "not UTF-8",
]


def spoiled_feed(county: County, index: int, how: str, choice: int) -> bytes:
    lines = [line.encode() for line in county.lines()]
    lines[index] = spoil(county.lines()[index], how, choice)
    return b"\n".join(lines) + b"\n"


def test_every_way_of_spoiling_every_line_is_refused_at_that_line() -> None:
    county = County().task("t-1").task("t-2", outcome="returned").claim("c-1", ["t-1"])
    county.cancel("t-2").void("c-1").with_record_ids()

    for index in range(len(county)):
        for how in SPOILS:
            for choice in range(6):
                refusals = check(spoiled_feed(county, index, how, choice)).refusals
                where = [(r.line, r.rule) for r in refusals[:1]]
                assert where == [(index + 1, "FORMAT")], (index, how, choice)


@settings(max_examples=30, deadline=None, suppress_health_check=SLOW_DATA)
@given(histories(), st.data(), st.sampled_from(SPOILS), st.integers(0, 1000))
def test_a_feed_with_one_spoiled_line_is_refused_at_that_line_and_writes_nothing(
    county: County, data: st.DataObject, how: str, choice: int
) -> None:
    index = data.draw(st.integers(0, len(county) - 1))
    feed = spoiled_feed(county, index, how, choice)

    with tempfile.TemporaryDirectory() as folder:
        workspace = Workspace(Path(folder))
        result = workspace.cli("import", str(workspace.write_feed(feed)))

        assert result.exit_code != 0
        first = result.stderr.splitlines()[0]
        assert first.startswith(f"line {index + 1}: FORMAT: "), first
        assert "nothing was written" in result.stderr
        assert not workspace.ledger.exists() and not workspace.review.exists()


@settings(max_examples=12, deadline=None, suppress_health_check=SLOW_DATA)
@given(histories(), st.data(), st.sampled_from(SPOILS), st.integers(0, 1000))
def test_a_spoiled_second_import_leaves_the_ledger_and_review_as_they_were(
    county: County, data: st.DataObject, how: str, choice: int
) -> None:
    split = data.draw(st.integers(1, len(county) - 1))
    index = data.draw(st.integers(split, len(county) - 1))
    first = County(baseline=False)
    first.records = county.records[:split]
    rest = spoiled_feed(county, index, how, choice).split(b"\n")[split:]

    with tempfile.TemporaryDirectory() as folder:
        workspace = Workspace(Path(folder))
        workspace.imported(first)
        before = workspace.snapshot()

        result = workspace.cli("import", str(workspace.write_feed(b"\n".join(rest))))

        assert result.exit_code != 0
        assert result.stderr.startswith(f"line {index - split + 1}: FORMAT: ")
        assert workspace.snapshot() == before


# Whatever arrives, the importer answers with refusals, never an exception


RULE_IDS = {
    "FORMAT",
    "IDEMPOTENCY",
    "DUPLICATE-ID",
    "REF",
    "CMA-EMPLOYER",
    "CMA-SCOPE",
    "LIFECYCLE",
    "CMA-QUALIFIED",
    "CMA-SUPERVISION",
}
FIELD_NAMES = sorted(
    {name for kind in RECORD_TYPES.values() for name in kind.__struct_fields__}
)
KNOWN_VALUES = [DAY, "t-1", "aide-1", "cm-1", "p-1", "cty", "sa-1", "c-1", "5.12", "EW"]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(KNOWN_VALUES),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
records = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted(RECORD_TYPES)) | st.text(max_size=8)},
    optional={name: json_values for name in FIELD_NAMES},
)
stray_lines = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b" "))


@FAST
@given(st.lists(records.map(json.dumps).map(str.encode) | stray_lines, min_size=1))
def test_any_line_after_a_valid_county_is_answered_without_an_exception(
    lines: list[bytes],
) -> None:
    baseline = County().task("t-1").claim("c-1", ["t-1"]).jsonl()

    checked = check(baseline + b"\n".join(lines) + b"\n")

    assert {refusal.rule for refusal in checked.refusals} <= RULE_IDS
    accepted_or_refused = len(checked.accepted) + len(checked.refusals)
    assert accepted_or_refused + checked.already_recorded == checked.lines
