"""The billing rules of contract section 5, each at its edges, read back from
the review database that `cma-ledger import` writes.

The baseline county (see `conftest`) bills cleanly: a test adds the one fact
that should change a claim's row and checks that row. Facts recorded after
the claims they change are imported in a second feed.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import DAY, County, Workspace, day

CM_CODE = ("T1016", ["UC"])


def claimed(
    county: County | None = None,
    on: str = DAY,
    minutes: int = 15,
    units: int = 1,
    task: str = "t-1",
    claim: str = "c-1",
    person: str = "p-1",
    **fields: Any,
) -> County:
    """A task performed and approved on `on`, claimed by the baseline provider."""
    county = county if county is not None else County()
    county.task(task, minutes=minutes, on=on, person=person)
    return county.claim(claim, [task], units=units, on=on, person=person, **fields)


def bill(workspace: Workspace, county: County) -> dict[str, dict[str, Any]]:
    workspace.imported(county)
    return workspace.billable_days()


def verdict(row: dict[str, Any]) -> tuple[int, str, list[str]]:
    return row["billable_units"], row["status"], row["reasons"]


BILLED = (1, "billable", [])
PENDING = (0, "pending_review", [])
AUTH = (0, "not_billable", ["CMA-AUTH"])
UNDOCUMENTED = (0, "not_billable", ["CMA-UNITS-DOC"])


# Units from minutes


@pytest.mark.parametrize(
    ("minutes", "documented"),
    [(1, 0), (7, 0), (8, 1), (15, 1), (22, 1), (23, 2), (37, 2), (38, 3)],
)
def test_minutes_turn_into_units_with_8_to_22_minutes_making_one(
    workspace: Workspace, minutes: int, documented: int
) -> None:
    row = bill(workspace, claimed(minutes=minutes, units=3))["c-1"]

    assert row["documented_units"] == documented
    assert row["billable_units"] == documented


@pytest.mark.parametrize(("each", "documented"), [(7, 1), (22, 3)])
def test_minutes_are_summed_across_tasks_before_rounding(
    workspace: Workspace, each: int, documented: int
) -> None:
    county = County().task("t-1", minutes=each).task("t-2", minutes=each)
    county.claim("c-1", ["t-1", "t-2"], units=4)

    assert bill(workspace, county)["c-1"]["documented_units"] == documented


def test_a_task_listed_twice_in_a_claim_counts_once(workspace: Workspace) -> None:
    county = County().task("t-1", minutes=15).claim("c-1", ["t-1", "t-1"], units=2)

    row = bill(workspace, county)["c-1"]

    assert (row["documented_units"], row["billable_units"]) == (1, 1)


def test_only_the_newest_completion_documents_the_work(workspace: Workspace) -> None:
    county = County().task("t-1", minutes=60, outcome="returned")
    county.complete("t-1", minutes=10, on=DAY).review("t-1", on=day(1))
    county.claim("c-1", ["t-1"], units=4)

    row = bill(workspace, county)["c-1"]

    assert (row["documented_units"], row["billable_units"]) == (1, 1)
    assert row["reasons"] == ["CMA-UNITS-DOC"]


# Money


@pytest.mark.parametrize(
    ("rate", "units", "cents"),
    [
        ("9.665", 1, 967),
        ("9.665", 3, 2900),
        ("0.125", 1, 13),
        ("0.115", 1, 12),
        ("0.005", 1, 1),
        ("0.0049", 1, 0),
        ("5.12", 2, 1024),
        ("10", 3, 3000),
        ("5.12345", 2, 1025),
    ],
)
def test_the_amount_is_units_times_the_rate_rounded_half_up_to_cents(
    workspace: Workspace, rate: str, units: int, cents: int
) -> None:
    county = County().agreement("sa-2", rate=rate)
    county = claimed(county, minutes=15 * units, units=units, agreement="sa-2")

    row = bill(workspace, county)["c-1"]

    assert (row["billable_units"], row["amount_cents"]) == (units, cents)
    assert row["rate"] == rate


# CMA-AUTH


@pytest.mark.parametrize(
    ("on", "covered"),
    [(day(-1), False), (DAY, True), (day(2), True), (day(3), False)],
)
def test_an_agreement_covers_its_first_and_last_days(
    workspace: Workspace, on: str, covered: bool
) -> None:
    county = County().agreement("sa-2", start_on=DAY, end_on=day(2))

    row = bill(workspace, claimed(county, on=on, agreement="sa-2"))["c-1"]

    assert verdict(row) == (BILLED if covered else AUTH)


@pytest.mark.parametrize(("on", "covered"), [(DAY, True), (day(1), False)])
def test_an_early_end_is_the_last_day_the_agreement_covers(
    workspace: Workspace, on: str, covered: bool
) -> None:
    county = claimed(on=on).end_agreement("sa-1", DAY)

    row = bill(workspace, county)["c-1"]

    assert verdict(row) == (BILLED if covered else AUTH)


def test_an_end_recorded_after_the_agreement_end_does_not_extend_it(
    workspace: Workspace,
) -> None:
    county = County().agreement("sa-2", start_on="2025-01-01", end_on=DAY)
    county.end_agreement("sa-2", day(30))

    row = bill(workspace, claimed(county, on=day(1), agreement="sa-2"))["c-1"]

    assert row["reasons"] == ["CMA-AUTH"]


@pytest.mark.parametrize(
    "agreement",
    [
        lambda c: c.enroll("p-2").agreement("sa-2", person="p-2"),
        lambda c: c.provider("prov").agreement("sa-2", provider="prov"),
        lambda c: c.agreement("sa-2", code=CM_CODE),
        lambda c: c.agreement("sa-2", code=("T1016", ["TF"])),
    ],
)
def test_an_agreement_for_another_person_provider_or_code_gives_no_units(
    workspace: Workspace, agreement
) -> None:
    county = claimed(agreement(County()), agreement="sa-2")

    assert verdict(bill(workspace, county)["c-1"]) == AUTH


def test_the_order_of_modifiers_does_not_matter(workspace: Workspace) -> None:
    county = County().agreement("sa-2", code=("T1016", ["UC", "TF"]))
    county = claimed(county, agreement="sa-2", code=("T1016", ["UC", "TF"]))

    assert verdict(bill(workspace, county)["c-1"]) == BILLED


# CMA-NOT-CM


@pytest.mark.parametrize(
    "code",
    [CM_CODE, ("T1016", ["TF"]), ("T1016", ["TF", "UC", "U1"]), ("S5130", [])],
)
def test_aide_work_billed_under_another_code_gives_no_units(
    workspace: Workspace, code: tuple[str, list[str]]
) -> None:
    row = bill(workspace, claimed(code=code))["c-1"]

    assert verdict(row) == (0, "not_billable", ["CMA-NOT-CM"])
    assert row["amount_cents"] == 0


# CMA-DUP and CMA-SAME-DAY


def test_a_second_claim_of_the_day_from_the_same_provider_is_a_dup(
    workspace: Workspace,
) -> None:
    county = claimed(claimed(), task="t-2", claim="c-2")

    days = bill(workspace, county)

    assert verdict(days["c-1"]) == BILLED
    assert verdict(days["c-2"]) == (0, "not_billable", ["CMA-DUP"])


def test_a_second_claim_of_the_day_from_another_provider_is_same_day(
    workspace: Workspace,
) -> None:
    county = claimed(County().provider("prov"))
    county.task("t-2", aide="aide-prov", cm="cm-prov")
    county.claim("c-2", ["t-2"], provider="prov", agreement="sa-prov")

    days = bill(workspace, county)

    assert verdict(days["c-1"]) == BILLED
    assert verdict(days["c-2"]) == (0, "not_billable", ["CMA-SAME-DAY"])


def test_the_first_claim_is_the_one_recorded_first_whatever_its_id_or_date_order(
    workspace: Workspace,
) -> None:
    county = claimed(County().task("t-0", on=day(-1)), claim="c-9")
    county.claim("c-1", ["t-0"], on=day(-1)).task("t-2").claim("c-2", ["t-2"])

    days = bill(workspace, county)

    assert verdict(days["c-9"]) == BILLED
    assert verdict(days["c-1"]) == BILLED
    assert days["c-2"]["reasons"] == ["CMA-DUP"]


@pytest.mark.parametrize(
    ("first", "status"),
    [
        (lambda c: claimed(c, code=CM_CODE), "not_billable"),
        (lambda c: c.task("t-1", outcome=None).claim("c-1", ["t-1"]), "pending_review"),
    ],
)
def test_the_first_claim_of_the_day_counts_whatever_its_code_or_status(
    workspace: Workspace, first, status: str
) -> None:
    county = claimed(first(County()), task="t-2", claim="c-2")

    days = bill(workspace, county)

    assert days["c-1"]["status"] == status
    assert verdict(days["c-2"]) == (0, "not_billable", ["CMA-DUP"])


def test_a_voided_first_claim_makes_way_for_the_next(workspace: Workspace) -> None:
    county = claimed(claimed(), task="t-2", claim="c-2").void("c-1")

    days = bill(workspace, county)

    assert verdict(days["c-1"]) == (0, "voided", [])
    assert verdict(days["c-2"]) == BILLED


def test_claims_for_two_persons_on_one_day_are_both_first(workspace: Workspace) -> None:
    county = claimed(County().enroll("p-2").agreement("sa-2", person="p-2"))
    county = claimed(county, task="t-2", claim="c-2", person="p-2", agreement="sa-2")

    days = bill(workspace, county)

    assert verdict(days["c-1"]) == verdict(days["c-2"]) == BILLED


def test_a_void_of_the_first_claim_imported_later_changes_the_next_claim(
    workspace: Workspace,
) -> None:
    assert bill(workspace, claimed(claimed(), task="t-2", claim="c-2"))["c-2"][
        "reasons"
    ] == ["CMA-DUP"]

    days = bill(workspace, County(baseline=False).void("c-1", on=day(10)))

    assert days["c-1"]["status"] == "voided"
    assert verdict(days["c-2"]) == BILLED


# CMA-ENROLLED


UNENROLLED = (0, "not_billable", ["CMA-ENROLLED"])


@pytest.mark.parametrize(("end", "enrolled"), [(DAY, True), (day(-1), False)])
def test_an_enrollment_covers_its_last_day(
    workspace: Workspace, end: str, enrolled: bool
) -> None:
    county = claimed().end_enrollment("p-1", "CADI", end)

    row = bill(workspace, county)["c-1"]

    assert verdict(row) == (BILLED if enrolled else UNENROLLED)


@pytest.mark.parametrize(("start", "enrolled"), [(DAY, True), (day(1), False)])
def test_an_enrollment_covers_its_first_day(
    workspace: Workspace, start: str, enrolled: bool
) -> None:
    county = County().enroll("p-2", "DD", start_on=start)
    county.agreement("sa-2", person="p-2")
    county = claimed(county, person="p-2", agreement="sa-2")

    row = bill(workspace, county)["c-1"]

    assert verdict(row) == (BILLED if enrolled else UNENROLLED)


# CMA-CDCS


CDCS = (0, "not_billable", ["CMA-CDCS"])


@pytest.mark.parametrize(
    ("program", "cdcs_applies"),
    [
        ("EW", True),
        ("AC", True),
        ("CADI", False),
        ("BI", False),
        ("CAC", False),
        ("DD", False),
        ("ECS", False),
    ],
)
def test_cdcs_stops_aide_billing_only_under_ac_and_ew(
    workspace: Workspace, program: str, cdcs_applies: bool
) -> None:
    county = County().enroll("p-2", program).cdcs("p-2", "2024-06-01")
    county.agreement("sa-2", person="p-2")
    county = claimed(county, person="p-2", agreement="sa-2")

    row = bill(workspace, county)["c-1"]

    assert verdict(row) == (CDCS if cdcs_applies else BILLED)


def ew_person(county: County) -> County:
    """Person p-2 under EW, with a claim c-1 for DAY that bills cleanly."""
    county.enroll("p-2", "EW").agreement("sa-2", person="p-2")
    return claimed(county, person="p-2", agreement="sa-2")


@pytest.mark.parametrize(
    ("period", "cdcs_applies"),
    [
        (lambda c: c.cdcs("p-2", DAY), True),
        (lambda c: c.cdcs("p-2", day(1)), False),
        (lambda c: c.cdcs("p-2", "2024-01-01").end_cdcs("p-2", DAY), True),
        (lambda c: c.cdcs("p-2", "2024-01-01").end_cdcs("p-2", day(-1)), False),
    ],
)
def test_a_cdcs_period_covers_its_first_and_last_days(
    workspace: Workspace, period, cdcs_applies: bool
) -> None:
    row = bill(workspace, period(ew_person(County())))["c-1"]

    assert verdict(row) == (CDCS if cdcs_applies else BILLED)


def test_cdcs_counts_only_under_the_program_held_on_the_service_date(
    workspace: Workspace,
) -> None:
    county = ew_person(County()).enroll("p-2", "CADI", day(-10))
    county.end_enrollment("p-2", "EW", day(-1)).cdcs("p-2", day(-5))

    assert verdict(bill(workspace, county)["c-1"]) == BILLED


def test_a_cdcs_start_recorded_after_the_claim_changes_it(workspace: Workspace) -> None:
    assert verdict(bill(workspace, ew_person(County()))["c-1"]) == BILLED

    days = bill(workspace, County(baseline=False).cdcs("p-2", "2025-01-01"))

    assert verdict(days["c-1"]) == CDCS


# CMA-INTEREST


def with_home_care(county: County, person: str = "p-1", **dates: str) -> County:
    """A private home care provider serving `person` under an S5130 agreement."""
    county.agency("home", roles=["service_provider"], private=True)
    return county.agreement(
        "sa-home", person, "home", ("S5130", []), units=400, **dates
    )


def interest_row(workspace: Workspace, county: County) -> tuple[int, str, list[str]]:
    return verdict(bill(workspace, county)["c-1"])


INTEREST = (0, "not_billable", ["CMA-INTEREST"])


@pytest.mark.parametrize(("declared", "found"), [(DAY, True), (day(1), False)])
def test_an_aides_interest_counts_from_the_day_it_is_declared(
    workspace: Workspace, declared: str, found: bool
) -> None:
    county = claimed(with_home_care(County())).interest("aide-1", "home", declared)

    assert interest_row(workspace, county) == (INTEREST if found else BILLED)


@pytest.mark.parametrize(
    ("dates", "found"),
    [
        ({"start_on": DAY, "end_on": DAY}, True),
        ({"start_on": day(1)}, False),
        ({"start_on": "2025-01-01", "end_on": day(-1)}, False),
    ],
)
def test_an_interest_counts_only_while_the_provider_serves_the_person(
    workspace: Workspace, dates: dict[str, str], found: bool
) -> None:
    county = claimed(with_home_care(County(), **dates))
    county.interest("aide-1", "home", "2025-01-01")

    assert interest_row(workspace, county) == (INTEREST if found else BILLED)


def test_an_interest_ends_with_an_early_end_of_the_providers_agreement(
    workspace: Workspace,
) -> None:
    county = claimed(with_home_care(County())).interest("aide-1", "home", "2025-01-01")
    county.end_agreement("sa-home", day(-1))

    assert interest_row(workspace, county) == BILLED


def test_an_interest_in_a_provider_serving_another_person_does_not_count(
    workspace: Workspace,
) -> None:
    county = with_home_care(County().enroll("p-2"), person="p-2")

    assert interest_row(workspace, claimed(county).interest("aide-1", "home")) == BILLED


@pytest.mark.parametrize(
    ("supervision", "found"),
    [
        (lambda c: c.supervise("aide-1", "cm-2"), True),
        (lambda c: c, False),
        (
            lambda c: c.supervise("aide-1", "cm-2").end_supervision(
                "aide-1", "cm-2", day(-1)
            ),
            False,
        ),
    ],
)
def test_the_interest_of_the_aides_supervisor_on_the_service_date_counts(
    workspace: Workspace, supervision, found: bool
) -> None:
    county = supervision(with_home_care(County()).case_manager("cm-2"))
    county = claimed(county).interest("cm-2", "home", "2025-01-01")

    assert interest_row(workspace, county) == (INTEREST if found else BILLED)


@pytest.mark.parametrize(("private", "found"), [(True, True), (False, False)])
def test_the_providers_own_interest_counts_only_for_a_private_agency(
    workspace: Workspace, private: bool, found: bool
) -> None:
    county = with_home_care(County().provider("prov", private=private))
    county.task("t-1", aide="aide-prov", cm="cm-prov")
    county.claim("c-1", ["t-1"], provider="prov", agreement="sa-prov")
    county.interest("prov", "home", "2025-01-01")

    assert interest_row(workspace, county) == (INTEREST if found else BILLED)


def test_a_public_agencys_interest_does_not_count(workspace: Workspace) -> None:
    county = claimed(with_home_care(County())).interest("cty", "home")

    assert interest_row(workspace, county) == BILLED


def test_only_aides_whose_work_documents_the_claim_bring_their_interest(
    workspace: Workspace,
) -> None:
    county = with_home_care(second_aide(County())).interest("aide-2", "home")
    county.task("t-2", on=day(-1), aide="aide-2").task("t-1")
    county.claim("c-1", ["t-1", "t-2"])

    assert interest_row(workspace, county) == BILLED


def test_an_interest_held_by_an_agency_other_than_the_claims_provider_does_not_count(
    workspace: Workspace,
) -> None:
    county = claimed(with_home_care(County().provider("prov")))
    county.interest("prov", "home", "2025-01-01")

    assert interest_row(workspace, county) == BILLED


def second_aide(county: County, aide: str = "aide-2") -> County:
    return county.aide(aide).supervise(aide, "cm-1")


# CMA-SUPERVISION and CMA-QUALIFIED (facts recorded after the review)


SUPERVISION = (0, "not_billable", ["CMA-SUPERVISION"])
QUALIFIED = (0, "not_billable", ["CMA-QUALIFIED"])


@pytest.mark.parametrize(("end", "supervised"), [(DAY, True), (day(-1), False)])
def test_the_aide_must_be_supervised_through_the_service_date(
    workspace: Workspace, end: str, supervised: bool
) -> None:
    county = claimed().end_supervision("aide-1", "cm-1", end)

    assert verdict(bill(workspace, county)["c-1"]) == (
        BILLED if supervised else SUPERVISION
    )


@pytest.mark.parametrize(("separated", "supervised"), [(DAY, True), (day(-1), False)])
def test_the_supervisor_must_still_be_employed_on_the_service_date(
    workspace: Workspace, separated: str, supervised: bool
) -> None:
    county = claimed().separate("cm-1", separated)

    assert verdict(bill(workspace, county)["c-1"]) == (
        BILLED if supervised else SUPERVISION
    )


def test_the_supervisor_must_be_qualified_on_the_service_date(
    workspace: Workspace,
) -> None:
    county = County().case_manager("cm-2", qualified_on=day(30))
    county.supervise("aide-1", "cm-2", day(-2))
    county.assign("t-1", on=day(-1)).end_supervision("aide-1", "cm-1", day(-1))
    county.complete("t-1").review("t-1", cm="cm-2").claim("c-1", ["t-1"])

    assert verdict(bill(workspace, county)["c-1"]) == SUPERVISION


def test_another_qualified_supervisor_on_the_day_is_enough(
    workspace: Workspace,
) -> None:
    county = County().case_manager("cm-2").supervise("aide-1", "cm-2")
    county = claimed(county).separate("cm-1", day(-1))

    assert verdict(bill(workspace, county)["c-1"]) == BILLED


def test_a_supervision_ended_retroactively_changes_earlier_claims(
    workspace: Workspace,
) -> None:
    assert verdict(bill(workspace, claimed())["c-1"]) == BILLED

    late = County(baseline=False).end_supervision("aide-1", "cm-1", day(-1))
    days = bill(workspace, late)

    assert verdict(days["c-1"]) == SUPERVISION
    assert ("CMA-SUPERVISION", "task", "t-1") in workspace.findings()


@pytest.mark.parametrize(("separated", "qualified"), [(DAY, True), (day(-1), False)])
def test_the_aide_must_still_be_employed_on_the_service_date(
    workspace: Workspace, separated: str, qualified: bool
) -> None:
    county = claimed().separate("aide-1", separated)

    assert verdict(bill(workspace, county)["c-1"]) == (
        BILLED if qualified else QUALIFIED
    )


@pytest.mark.parametrize(("as_of", "qualified"), [(DAY, False), (day(1), True)])
def test_the_aide_must_be_qualified_on_the_service_date(
    workspace: Workspace, as_of: str, qualified: bool
) -> None:
    county = claimed().qualification("aide-1", as_of, experience=6)

    assert verdict(bill(workspace, county)["c-1"]) == (
        BILLED if qualified else QUALIFIED
    )


# Which tasks document a claim


def test_a_task_performed_on_another_day_documents_nothing(
    workspace: Workspace,
) -> None:
    county = County().task("t-1", on=day(-1)).claim("c-1", ["t-1"])

    row = bill(workspace, county)["c-1"]

    assert row["documented_units"] == 0
    assert verdict(row) == UNDOCUMENTED


def test_a_task_for_another_person_documents_nothing(workspace: Workspace) -> None:
    county = County().enroll("p-2").task("t-1", person="p-2").claim("c-1", ["t-1"])

    assert verdict(bill(workspace, county)["c-1"]) == UNDOCUMENTED


def test_work_by_an_aide_of_another_provider_documents_nothing(
    workspace: Workspace,
) -> None:
    county = County().provider("prov").task("t-1", aide="aide-prov", cm="cm-prov")
    county.claim("c-1", ["t-1"])

    assert verdict(bill(workspace, county)["c-1"]) == UNDOCUMENTED


def test_a_reassigned_task_documents_the_claim_of_the_aide_who_did_it(
    workspace: Workspace,
) -> None:
    county = County().provider("prov").assign("t-1", on=day(-1))
    county.reassign("t-1", "aide-prov", cm="cm-prov")
    county.complete("t-1", aide="aide-prov").review("t-1", cm="cm-prov")
    county.claim("c-1", ["t-1"])
    county.claim("c-2", ["t-1"], provider="prov", agreement="sa-prov")

    days = bill(workspace, county)

    assert days["c-1"]["documented_units"] == 0
    assert days["c-2"]["documented_units"] == 1
    assert days["c-2"]["reasons"] == ["CMA-SAME-DAY"]


def test_a_task_cancelled_before_it_was_done_documents_nothing_and_pends_nothing(
    workspace: Workspace,
) -> None:
    county = County().assign("t-1").cancel("t-1").claim("c-1", ["t-1"])

    assert verdict(bill(workspace, county)["c-1"]) == UNDOCUMENTED


@pytest.mark.parametrize("outcome", [None, "returned"])
def test_a_task_cancelled_after_unapproved_work_holds_its_claim_until_voided(
    workspace: Workspace, outcome: str | None
) -> None:
    county = County().task("t-1", outcome=outcome).cancel("t-1").claim("c-1", ["t-1"])

    assert verdict(bill(workspace, county)["c-1"]) == PENDING
    assert verdict(bill(workspace, County(baseline=False).void("c-1"))["c-1"]) == (
        0,
        "voided",
        [],
    )


def test_a_task_cancelled_after_approval_still_documents_its_work(
    workspace: Workspace,
) -> None:
    county = County().task("t-1").cancel("t-1").claim("c-1", ["t-1"])

    assert verdict(bill(workspace, county)["c-1"]) == BILLED


# Reviews: pending, returned, corrected


@pytest.mark.parametrize("outcome", [None, "returned"])
def test_a_claim_waits_while_its_work_is_unreviewed_or_returned(
    workspace: Workspace, outcome: str | None
) -> None:
    county = County().task("t-1", minutes=30, outcome=outcome)
    county.claim("c-1", ["t-1"], units=2)

    row = bill(workspace, county)["c-1"]

    assert verdict(row) == PENDING
    assert row["amount_cents"] == 0


def test_an_approval_then_a_return_puts_the_claim_back_to_pending(
    workspace: Workspace,
) -> None:
    county = claimed().review("t-1", "returned", on=day(1))

    assert verdict(bill(workspace, county)["c-1"]) == PENDING


def test_a_returned_task_corrected_and_approved_later_bills_the_new_minutes(
    workspace: Workspace,
) -> None:
    county = County().task("t-1", minutes=10, outcome="returned")
    county.claim("c-1", ["t-1"], units=2)
    assert verdict(bill(workspace, county)["c-1"]) == PENDING

    fixed = County(baseline=False).complete("t-1", minutes=30).review("t-1", on=day(1))
    row = bill(workspace, fixed)["c-1"]

    assert (row["documented_units"], row["billable_units"], row["status"]) == (
        2,
        2,
        "billable",
    )


def test_one_unreviewed_task_holds_the_whole_claim(workspace: Workspace) -> None:
    county = County().task("t-1", minutes=30).task("t-2", outcome=None)
    county.claim("c-1", ["t-1", "t-2"], units=2)

    row = bill(workspace, county)["c-1"]

    assert verdict(row) == PENDING
    assert row["documented_units"] == 2


def test_an_unreviewed_task_of_another_day_cited_by_the_claim_holds_it(
    workspace: Workspace,
) -> None:
    county = County().task("t-2", on=day(-1), outcome=None).task("t-1")
    county.claim("c-1", ["t-1", "t-2"])

    assert verdict(bill(workspace, county)["c-1"]) == PENDING


def test_a_task_never_completed_does_not_hold_the_claim(workspace: Workspace) -> None:
    county = County().task("t-1").assign("t-2").claim("c-1", ["t-1", "t-2"])

    assert verdict(bill(workspace, county)["c-1"]) == BILLED


@pytest.mark.parametrize("outcome", [None, "returned"])
def test_a_claim_with_a_no_units_rule_is_not_pending_nor_documented_by_that_work(
    workspace: Workspace, outcome: str | None
) -> None:
    county = County().task("t-1", outcome=outcome, minutes=30)
    county.claim("c-1", ["t-1"], units=2, code=CM_CODE)

    row = bill(workspace, county)["c-1"]

    assert verdict(row) == (0, "not_billable", ["CMA-NOT-CM", "CMA-UNITS-DOC"])
    assert row["documented_units"] == 0


# CMA-UNITS-DOC and CMA-UNITS-AUTH


def test_units_beyond_the_documented_are_cut(workspace: Workspace) -> None:
    row = bill(workspace, claimed(minutes=30, units=3))["c-1"]

    assert verdict(row) == (2, "partially_billable", ["CMA-UNITS-DOC"])
    assert row["amount_cents"] == 1024


def test_claiming_fewer_units_than_documented_is_fine(workspace: Workspace) -> None:
    row = bill(workspace, claimed(minutes=30, units=1))["c-1"]

    assert verdict(row) == BILLED
    assert row["documented_units"] == 2


def test_the_units_rules_are_listed_beside_a_no_units_rule(
    workspace: Workspace,
) -> None:
    county = County().agreement("sa-2", units=0)
    county = claimed(county, minutes=15, units=3, agreement="sa-2", code=CM_CODE)

    row = bill(workspace, county)["c-1"]

    assert verdict(row) == (
        0,
        "not_billable",
        ["CMA-NOT-CM", "CMA-UNITS-AUTH", "CMA-UNITS-DOC"],
    )


def small_agreement(units: int) -> County:
    return County().agreement("sa-2", units=units)


def test_units_beyond_what_is_left_on_the_agreement_are_cut(
    workspace: Workspace,
) -> None:
    county = claimed(small_agreement(3), minutes=30, units=2, agreement="sa-2")
    county = claimed(county, day(1), 30, 2, task="t-2", claim="c-2", agreement="sa-2")

    days = bill(workspace, county)

    assert verdict(days["c-1"]) == (2, "billable", [])
    assert verdict(days["c-2"]) == (1, "partially_billable", ["CMA-UNITS-AUTH"])
    assert days["c-2"]["amount_cents"] == 512


def test_the_agreement_is_used_in_service_date_order_not_arrival_order(
    workspace: Workspace,
) -> None:
    county = small_agreement(3)
    county = claimed(county, day(1), 30, 2, agreement="sa-2", claim="c-late")
    county = claimed(county, DAY, 30, 2, task="t-2", claim="c-early", agreement="sa-2")

    days = bill(workspace, county)

    assert verdict(days["c-early"]) == (2, "billable", [])
    assert verdict(days["c-late"]) == (1, "partially_billable", ["CMA-UNITS-AUTH"])


def test_on_one_service_date_the_agreement_is_used_in_arrival_order(
    workspace: Workspace,
) -> None:
    county = claimed(small_agreement(1), agreement="sa-2")
    county = claimed(county, task="t-2", claim="c-2", agreement="sa-2")

    days = bill(workspace, county)

    assert verdict(days["c-1"]) == BILLED
    assert verdict(days["c-2"]) == (0, "not_billable", ["CMA-DUP", "CMA-UNITS-AUTH"])


def test_units_auth_compares_the_documented_units_with_what_is_left(
    workspace: Workspace,
) -> None:
    county = claimed(small_agreement(2), minutes=30, units=5, agreement="sa-2")

    row = bill(workspace, county)["c-1"]

    assert verdict(row) == (2, "partially_billable", ["CMA-UNITS-DOC"])


def test_claims_that_bill_nothing_use_none_of_the_agreement(
    workspace: Workspace,
) -> None:
    county = small_agreement(2)
    county = claimed(county, minutes=30, units=2, agreement="sa-2", code=CM_CODE)
    county.task("t-2", on=day(1), outcome=None)
    county.claim("c-2", ["t-2"], units=1, on=day(1), agreement="sa-2")
    county = claimed(county, day(2), 30, 2, task="t-3", claim="c-3", agreement="sa-2")

    days = bill(workspace, county)

    assert days["c-1"]["status"] == "not_billable"
    assert days["c-2"]["status"] == "pending_review"
    assert verdict(days["c-3"]) == (2, "billable", [])


def test_a_pending_claim_takes_its_units_once_approved_and_later_claims_change(
    workspace: Workspace,
) -> None:
    county = small_agreement(2).task("t-1", minutes=30, outcome=None)
    county.claim("c-1", ["t-1"], units=2, agreement="sa-2")
    county = claimed(county, day(1), 30, 2, task="t-2", claim="c-2", agreement="sa-2")
    assert verdict(bill(workspace, county)["c-2"]) == (2, "billable", [])

    days = bill(workspace, County(baseline=False).review("t-1", on=day(5)))

    assert verdict(days["c-1"]) == (2, "billable", [])
    assert verdict(days["c-2"]) == (0, "not_billable", ["CMA-UNITS-AUTH"])


# Voided claims and findings


def test_a_voided_claim_bills_nothing_and_lists_no_reasons(
    workspace: Workspace,
) -> None:
    county = claimed(units=3, code=CM_CODE).void("c-1")

    row = bill(workspace, county)["c-1"]

    assert (row["billable_units"], row["amount_cents"]) == (0, 0)
    assert (row["status"], row["reasons"]) == ("voided", [])
    assert workspace.findings() == []


def test_every_reason_on_a_live_claim_is_a_claim_finding(workspace: Workspace) -> None:
    county = claimed(claimed(units=2, code=CM_CODE), task="t-2", claim="c-2")

    bill(workspace, county)

    assert workspace.findings() == [
        ("CMA-DUP", "claim", "c-2"),
        ("CMA-NOT-CM", "claim", "c-1"),
        ("CMA-UNITS-DOC", "claim", "c-1"),
    ]


def test_a_pending_claim_has_no_findings(workspace: Workspace) -> None:
    county = County().task("t-1", outcome=None).claim("c-1", ["t-1"], units=5)

    bill(workspace, county)

    assert workspace.findings() == []


@pytest.mark.parametrize(
    ("late", "rule"),
    [
        (lambda c: c.end_supervision("aide-1", "cm-1", day(-1)), "CMA-SUPERVISION"),
        (lambda c: c.separate("cm-1", day(-1)), "CMA-SUPERVISION"),
        (lambda c: c.separate("aide-1", day(-1)), "CMA-QUALIFIED"),
        (lambda c: c.qualification("aide-1", DAY, graduate=False), "CMA-QUALIFIED"),
    ],
)
def test_work_done_unsupervised_or_unqualified_is_a_task_finding_claimed_or_not(
    workspace: Workspace, late, rule: str
) -> None:
    county = late(County().task("t-1").task("t-2", outcome=None).assign("t-3"))

    bill(workspace, county)

    assert workspace.findings() == [(rule, "task", "t-1"), (rule, "task", "t-2")]


def test_only_the_newest_completion_of_a_task_is_judged_for_findings(
    workspace: Workspace,
) -> None:
    county = County().task("t-1", on=day(-2), outcome="returned")
    county.complete("t-1", on=day(1)).end_supervision("aide-1", "cm-1", day(-1))
    county.supervise("aide-1", "cm-1", day(1))

    bill(workspace, county)

    assert workspace.findings() == []


# Caseloads and the oversight queue


def test_caseloads_count_open_and_waiting_work_of_each_aide(
    workspace: Workspace,
) -> None:
    county = second_aide(County().enroll("p-2").enroll("p-3"))
    county.assign("t-open", person="p-1")
    county.task("t-returned", person="p-2", outcome="returned")
    county.task("t-waiting", person="p-2", outcome=None)
    county.task("t-approved", person="p-3")
    county.assign("t-cancelled", person="p-3").cancel("t-cancelled")
    county.assign("t-moved", person="p-3").reassign("t-moved", "aide-2")

    workspace.imported(county)
    loads = workspace.caseloads()

    counts = ("open_tasks", "awaiting_review", "persons")
    assert [loads["aide-1"][k] for k in counts] == [2, 1, 2]
    assert [loads["aide-2"][k] for k in counts] == [1, 0, 1]


def test_caseloads_name_the_open_supervision_or_none(workspace: Workspace) -> None:
    county = second_aide(County()).aide("aide-3").supervise("aide-3", "cm-1")
    county.end_supervision("aide-3", "cm-1", DAY).case_manager("cm-2")
    county.end_supervision("aide-2", "cm-1", DAY).supervise("aide-2", "cm-2", day(1))

    workspace.imported(county)
    loads = workspace.caseloads()

    assert loads["aide-1"]["case_manager_id"] == "cm-1"
    assert loads["aide-2"]["case_manager_id"] == "cm-2"
    assert loads["aide-3"]["case_manager_id"] is None
    assert (loads["aide-3"]["open_tasks"], loads["aide-3"]["awaiting_review"]) == (0, 0)


def test_the_oversight_queue_holds_work_awaiting_its_first_review(
    workspace: Workspace,
) -> None:
    county = County().task("t-waiting", outcome=None).task("t-approved")
    county.task("t-returned", outcome="returned").assign("t-open")
    county.task("t-redone", outcome="returned").complete("t-redone", on=day(1))
    county.task("t-gone", outcome=None).cancel("t-gone")

    workspace.imported(county)

    assert workspace.oversight_queue() == ["t-redone", "t-waiting"]


def test_the_oversight_queue_names_the_supervisor_of_the_day_of_the_work(
    workspace: Workspace,
) -> None:
    county = County().case_manager("cm-2").supervise("aide-1", "cm-2")
    county.assign("t-1", cm="cm-2").end_supervision("aide-1", "cm-2", DAY)
    county.complete("t-1", on=day(1))
    county.end_supervision("aide-1", "cm-1", day(1)).supervise("aide-1", "cm-2", day(2))

    workspace.imported(county)
    (row,) = workspace.rows("oversight_queue")

    assert (row["task_id"], row["case_manager_id"], row["performed_on"]) == (
        "t-1",
        "cm-1",
        day(1),
    )
