"""The entry rules of contract section 4, each at its edges.

Every test starts from the baseline county of `conftest`, adds the facts it
needs and one record to judge. When a record breaks several rules, the first
in the contract's table is the one reported.
"""

from __future__ import annotations

import pytest
from conftest import DAY, County, Workspace, check, day, first_refusal, folded

from ledger.feed import Refusal


def refusal_of_last_line(county: County) -> Refusal:
    """The feed's only refusal, which must be its last line."""
    refusals = check(county).refusals
    assert [r.line for r in refusals] == [len(county)], [str(r) for r in refusals]
    return refusals[0]


def assert_refused(county: County, rule: str, *words: str) -> Refusal:
    refusal = refusal_of_last_line(county)
    assert refusal.rule == rule, str(refusal)
    for word in words:
        assert word in refusal.message, str(refusal)
    return refusal


def assert_accepted(county: County) -> None:
    refusals = check(county).refusals
    assert not refusals, [str(r) for r in refusals]


def assigned_and_done(outcome: str | None = "approved") -> County:
    """Task t-1 assigned and performed on DAY, reviewed with `outcome`."""
    return County().task("t-1", outcome=outcome)


def second_aide(county: County, aide: str = "aide-2", **profile) -> County:
    return county.aide(aide, **profile).supervise(aide, "cm-1")


def _with(county: County, change) -> County:
    """A copy of the county with `change` made to it; the original is untouched."""
    copy = County(baseline=False)
    copy.records = [dict(record) for record in county.records]
    return change(copy)


# FORMAT


def test_an_unknown_category_is_a_format_error_not_a_scope_refusal() -> None:
    assert_refused(County().assign("t-1", category="assesment"), "FORMAT", "category")


def test_format_is_reported_before_every_other_rule() -> None:
    county = County().assign("t-1").assign("t-1", person="p-404", on="2025-02-30")

    assert_refused(county, "FORMAT", "assigned_on")


def test_a_key_given_twice_is_a_format_error() -> None:
    line = (
        '{"type": "task_cancelled", "task_id": "t-1", "case_manager_id": "cm-1", '
        '"cancelled_on": "2025-03-03", "cancelled_on": "2025-03-04"}'
    )
    feed = County().assign("t-1").jsonl() + line.encode() + b"\n"

    refusal = first_refusal(feed)

    assert refusal is not None
    assert (refusal.line, refusal.rule) == (8, "FORMAT")
    assert "'cancelled_on' is given twice" in refusal.message


@pytest.mark.parametrize("field", ["position", "recorded_at"])
def test_a_feed_cannot_set_what_only_the_ledger_sets(field: str) -> None:
    county = County()
    county.records[-1][field] = 3

    assert_refused(county, "FORMAT", field, "set by the ledger")


# IDEMPOTENCY


def test_the_same_record_id_and_content_again_is_counted_as_already_recorded() -> None:
    county = County().task("t-1").with_record_ids()
    state = folded(county)

    again = check(county, state)

    assert again.refusals == []
    assert again.accepted == []
    assert again.already_recorded == len(county)


def test_key_order_and_an_explicit_null_do_not_make_content_different() -> None:
    first = County().assign("t-1", record_id="r-1")
    state = folded(first)
    line = (
        '{"assigned_on": "2025-03-03", "due_on": null, "category": "phone_contact", '
        '"case_manager_id": "cm-1", "aide_id": "aide-1", "person_id": "p-1", '
        '"task_id": "t-1", "record_id": "r-1", "type": "task_assigned"}\n'
    )

    again = check(line, state)

    assert (again.refusals, again.already_recorded) == ([], 1)


@pytest.mark.parametrize(
    "change",
    [
        {"category": "mmis_entry"},
        {"entered_by": "someone-else"},
        {"entered_at": "2025-03-03T09:00:00+00:00"},
    ],
)
def test_the_same_record_id_with_different_content_is_refused(change: dict) -> None:
    county = County().assign("t-1", record_id="r-1")
    state = folded(county)
    changed = County(baseline=False).assign("t-1", record_id="r-1", **change)

    refusal = first_refusal(changed, state)

    assert refusal is not None
    assert (refusal.line, refusal.rule) == (1, "IDEMPOTENCY")
    assert "r-1" in refusal.message


def test_idempotency_is_reported_before_duplicate_id() -> None:
    county = County().assign("t-1", record_id="r-1")
    county.assign("t-1", category="mmis_entry", record_id="r-1")

    assert_refused(county, "IDEMPOTENCY", "r-1")


def test_a_record_id_repeated_within_one_feed_is_recorded_once() -> None:
    county = County().assign("t-1", record_id="r-1").assign("t-1", record_id="r-1")

    checked = check(county)

    assert checked.refusals == []
    assert (len(checked.accepted), checked.already_recorded) == (len(county) - 1, 1)


def test_a_refused_line_does_not_take_its_record_id() -> None:
    county = County().assign("t-1", person="p-404", record_id="r-1")
    county.assign("t-1", record_id="r-1")

    refusals = check(county).refusals

    assert [(r.line, r.rule) for r in refusals] == [(7, "REF")]


def test_records_without_a_record_id_are_judged_again_when_sent_again() -> None:
    county = County().assign("t-1")
    state = folded(county)

    refusal = first_refusal(County(baseline=False).assign("t-1"), state)

    assert refusal is not None and refusal.rule == "DUPLICATE-ID"


# DUPLICATE-ID


@pytest.mark.parametrize(
    ("again", "words"),
    [
        (lambda c: c.agency("cty"), "agency cty"),
        (lambda c: c.case_manager("cm-1"), "staff cm-1"),
        (lambda c: c.aide("cm-1"), "as case manager"),
        (lambda c: c.case_manager("aide-1"), "as aide"),
        (lambda c: c.agreement("sa-1", units=5), "agreement sa-1"),
        (lambda c: c.assign("t-1").assign("t-1"), "task t-1"),
        (lambda c: c.task("t-1").claim("c-1", ["t-1"]).claim("c-1", ["t-1"]), "c-1"),
        (lambda c: c.aide("cty"), "agency id"),
        (lambda c: c.agency("aide-1"), "staff id"),
    ],
)
def test_an_id_registered_twice_is_refused(again, words: str) -> None:
    assert_refused(again(County()), "DUPLICATE-ID", words)


def test_a_voided_claim_keeps_its_id() -> None:
    county = County().task("t-1").claim("c-1", ["t-1"]).void("c-1")

    assert_refused(county.claim("c-1", ["t-1"]), "DUPLICATE-ID", "c-1")


def test_enrolling_a_person_again_in_another_program_is_not_a_duplicate() -> None:
    assert_accepted(County().enroll("p-1", "EW"))


def test_duplicate_id_is_reported_before_ref() -> None:
    county = County().assign("t-1").assign("t-1", person="p-404", aide="nobody")

    assert_refused(county, "DUPLICATE-ID", "t-1")


# REF


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda c: c.aide("aide-9", agency_id="nowhere"), "nowhere"),
        (lambda c: c.case_manager("cm-9", agency_id="nowhere"), "nowhere"),
        (lambda c: c.qualification("cm-1", DAY), "cm-1 is a case manager"),
        (lambda c: c.qualification("aide-9", DAY), "aide-9"),
        (lambda c: c.separate("ghost", DAY), "ghost"),
        (lambda c: c.supervise("cm-1", "cm-1"), "cm-1 is a case manager"),
        (lambda c: c.supervise("aide-1", "aide-1"), "aide-1 is an aide"),
        (lambda c: c.end_supervision("aide-1", "cm-9", DAY), "cm-9"),
        (lambda c: c.enroll("p-2", lead="nowhere"), "nowhere"),
        (lambda c: c.end_enrollment("p-9", "CADI", DAY), "p-9"),
        (lambda c: c.cdcs("p-9", DAY), "p-9"),
        (lambda c: c.end_cdcs("p-9", DAY), "p-9"),
        (lambda c: c.interest("nobody", "cty"), "nobody"),
        (lambda c: c.interest("aide-1", "nowhere"), "nowhere"),
        (lambda c: c.agreement("sa-9", person="p-9"), "p-9"),
        (lambda c: c.agreement("sa-9", provider="nowhere"), "nowhere"),
        (lambda c: c.agreement("sa-9", lead="nowhere"), "nowhere"),
        (lambda c: c.end_agreement("sa-9", DAY), "sa-9"),
        (lambda c: c.assign("t-1", person="p-9"), "p-9"),
        (lambda c: c.assign("t-1", aide="cm-1"), "cm-1 is a case manager"),
        (lambda c: c.assign("t-1", cm="aide-1"), "aide-1 is an aide"),
        (lambda c: c.reassign("t-9", "aide-1"), "t-9"),
        (lambda c: c.cancel("t-9"), "t-9"),
        (lambda c: c.complete("t-9"), "t-9 was never assigned"),
        (lambda c: c.assign("t-1").complete("t-1", aide="cm-1"), "cm-1 is a case"),
        (lambda c: c.assign("t-1").complete("t-1").review("t-1", cm="aide-1"), "aide"),
        (lambda c: c.review("t-9"), "t-9"),
        (lambda c: c.task("t-1").claim("c-1", ["t-1"], provider="nowhere"), "nowhere"),
        (lambda c: c.task("t-1").claim("c-1", ["t-1"], person="p-9"), "p-9"),
        (lambda c: c.task("t-1").claim("c-1", ["t-1"], agreement="sa-9"), "sa-9"),
        (lambda c: c.task("t-1").claim("c-1", ["t-1", "t-9"]), "t-9"),
        (lambda c: c.void("c-9"), "c-9"),
    ],
)
def test_a_record_naming_what_does_not_exist_or_the_wrong_kind_is_refused(
    make, words: str
) -> None:
    assert_refused(make(County()), "REF", words)


@pytest.mark.parametrize(
    "name_as_lead",
    [
        lambda c: c.enroll("p-2", lead="prov"),
        lambda c: c.agreement("sa-9", lead="prov"),
    ],
)
def test_an_agency_without_the_lead_agency_role_cannot_be_named_lead_agency(
    name_as_lead,
) -> None:
    county = County().agency("prov", roles=["case_management_provider"])

    assert_refused(name_as_lead(county), "REF", "prov", "lead_agency")


def test_ref_is_reported_before_the_employer_and_scope_rules() -> None:
    assert_refused(County().aide("aide-9", agency_id="nowhere"), "REF")
    assert_refused(County().assign("t-1", person="p-9", category="assessment"), "REF")


def test_ref_is_reported_before_lifecycle() -> None:
    county = County().assign("t-1").cancel("t-1").complete("t-1", aide="aide-9")

    assert_refused(county, "REF", "aide-9")


# CMA-EMPLOYER


@pytest.mark.parametrize("roles", [["service_provider"], ["lead_agency"]])
@pytest.mark.parametrize("register", ["aide", "case_manager"])
def test_staff_of_an_agency_that_does_not_provide_case_management_are_refused(
    roles: list[str], register: str
) -> None:
    county = County().agency("other", roles=roles)
    getattr(county, register)("staff-9", agency_id="other")

    assert_refused(county, "CMA-EMPLOYER", "staff-9", "case_management_provider")


def test_staff_of_a_case_management_provider_with_other_roles_are_accepted() -> None:
    roles = ["service_provider", "case_management_provider"]
    county = County().agency("other", roles=roles)

    assert_accepted(county.aide("aide-9", agency_id="other"))


# CMA-SCOPE


@pytest.mark.parametrize(
    ("category", "why"),
    [
        ("assessment", "assessments cannot be delegated"),
        ("reassessment", "reassessments cannot be delegated"),
        ("support_plan_development", "support plans"),
        ("professional_judgement", "professional judgement"),
    ],
)
def test_a_task_that_is_not_a_covered_aide_service_is_refused(
    category: str, why: str
) -> None:
    assert_refused(County().assign("t-1", category=category), "CMA-SCOPE", "t-1", why)


@pytest.mark.parametrize(
    "category",
    [
        "case_preparation",
        "provider_contact",
        "phone_contact",
        "mmis_entry",
        "support_plan_update",
        "service_coordination",
    ],
)
def test_every_covered_aide_service_may_be_assigned(category: str) -> None:
    assert_accepted(County().assign("t-1", category=category))


def test_scope_is_reported_before_lifecycle_qualification_and_supervision() -> None:
    county = County().aide("aide-9", graduate=False).case_manager("cm-9")
    county.assign(
        "t-1", aide="aide-9", cm="cm-9", category="assessment", due_on=day(-1)
    )

    assert_refused(county, "CMA-SCOPE", "t-1")


def test_the_contract_example_message_is_printed_word_for_word(
    workspace: Workspace,
) -> None:
    county = County().assign("T-19", category="assessment")

    result = workspace.import_feed(county)

    assert result.exit_code != 0
    assert (
        "line 7: CMA-SCOPE: task T-19 category 'assessment' is not a case management "
        "aide service (assessments cannot be delegated)"
    ) in result.stderr


# LIFECYCLE: performed before assigned, reviewed before completed


@pytest.mark.parametrize(("offset", "refused"), [(-1, True), (0, False), (5, False)])
def test_work_cannot_be_performed_before_the_task_was_assigned(
    offset: int, refused: bool
) -> None:
    county = County().assign("t-1").complete("t-1", on=day(offset))

    if refused:
        assert_refused(county, "LIFECYCLE", "t-1", "before it was assigned")
    else:
        assert_accepted(county)


def test_after_a_reassignment_work_cannot_predate_the_reassignment() -> None:
    county = second_aide(County().assign("t-1")).reassign("t-1", "aide-2", on=day(2))

    assert_refused(county.complete("t-1", on=day(1), aide="aide-2"), "LIFECYCLE")


def test_a_task_cannot_be_reviewed_before_it_is_completed() -> None:
    county = County().assign("t-1").review("t-1")

    assert_refused(county, "LIFECYCLE", "not been completed")


@pytest.mark.parametrize(("offset", "refused"), [(-1, True), (0, False), (3, False)])
def test_a_review_cannot_be_dated_before_the_work(offset: int, refused: bool) -> None:
    county = assigned_and_done(None).review("t-1", on=day(offset))

    if refused:
        assert_refused(county, "LIFECYCLE", "t-1", "before it was performed")
    else:
        assert_accepted(county)


# LIFECYCLE: completed again only after a returned review


@pytest.mark.parametrize("outcome", [None, "approved"])
def test_a_task_cannot_be_completed_again_without_a_returned_review(
    outcome: str | None,
) -> None:
    county = assigned_and_done(outcome).complete("t-1", on=day(1))

    assert_refused(county, "LIFECYCLE", "t-1", "returned")


def test_a_returned_task_may_be_completed_and_reviewed_again() -> None:
    county = assigned_and_done("returned").complete("t-1", on=day(1), minutes=20)

    assert_accepted(county.review("t-1", on=day(1)))


def test_a_returned_then_approved_completion_cannot_be_completed_again() -> None:
    county = assigned_and_done("returned").review("t-1", "approved", on=day(1))

    assert_refused(county.complete("t-1", on=day(2)), "LIFECYCLE", "t-1")


def test_a_completion_may_be_reviewed_more_than_once() -> None:
    assert_accepted(assigned_and_done("approved").review("t-1", "returned", on=day(1)))


# LIFECYCLE: nothing after a cancel


@pytest.mark.parametrize(
    "after",
    [
        lambda c: c.complete("t-1"),
        lambda c: c.cancel("t-1"),
        lambda c: second_aide(c).reassign("t-1", "aide-2"),
    ],
)
def test_nothing_may_follow_a_cancelled_task(after) -> None:
    county = after(County().assign("t-1").cancel("t-1"))

    assert_refused(county, "LIFECYCLE", "cancelled")


def test_a_cancelled_task_cannot_be_reviewed() -> None:
    county = assigned_and_done(None).cancel("t-1").review("t-1")

    assert_refused(county, "LIFECYCLE", "cancelled")


# LIFECYCLE: an end before its start


@pytest.mark.parametrize(
    "end",
    [
        lambda c, d: c.end_supervision("aide-1", "cm-1", d),
        lambda c, d: c.end_enrollment("p-1", "CADI", d),
        lambda c, d: c.cdcs("p-1", "2024-01-01").end_cdcs("p-1", d),
        lambda c, d: c.separate("aide-1", d),
        lambda c, d: c.agreement("sa-9", start_on="2024-01-01", end_on=d),
        lambda c, d: c.agreement("sa-9", start_on="2024-01-01").end_agreement(
            "sa-9", d
        ),
        lambda c, d: c.assign("t-1", on="2024-01-01", due_on=d),
        lambda c, d: c.assign("t-1", on="2024-01-01").cancel("t-1", on=d),
        lambda c, d: second_aide(c.assign("t-1", on="2024-01-01")).reassign(
            "t-1", "aide-2", on=d
        ),
    ],
)
def test_an_end_the_day_before_its_start_is_refused_and_on_the_start_accepted(
    end,
) -> None:
    assert_refused(end(County(), "2023-12-31"), "LIFECYCLE", "2023-12-31")
    assert_accepted(end(County(), "2024-01-01"))


# LIFECYCLE: ending what is not open, starting what is open


@pytest.mark.parametrize(
    ("end", "words"),
    [
        (
            lambda c: c.case_manager("cm-2").end_supervision("aide-1", "cm-2", DAY),
            "cm-2",
        ),
        (
            lambda c: c.end_supervision("aide-1", "cm-1", DAY).end_supervision(
                "aide-1", "cm-1", DAY
            ),
            "not open",
        ),
        (lambda c: c.end_enrollment("p-1", "EW", DAY), "no open EW"),
        (
            lambda c: c.end_enrollment("p-1", "CADI", DAY).end_enrollment(
                "p-1", "CADI", DAY
            ),
            "CADI",
        ),
        (lambda c: c.end_cdcs("p-1", DAY), "no open CDCS"),
        (lambda c: c.end_agreement("sa-1", DAY).end_agreement("sa-1", DAY), "already"),
        (lambda c: c.separate("aide-1", DAY).separate("aide-1", DAY), "already"),
        (lambda c: c.task("t-1").claim("c-1", ["t-1"]).void("c-1").void("c-1"), "c-1"),
    ],
)
def test_ending_what_is_not_open_is_refused(end, words: str) -> None:
    assert_refused(end(County()), "LIFECYCLE", words)


@pytest.mark.parametrize(
    "start",
    [
        lambda c: c.supervise("aide-1", "cm-1", DAY),
        lambda c: c.enroll("p-1", "CADI", DAY),
        lambda c: c.cdcs("p-1", "2024-01-01").cdcs("p-1", DAY),
    ],
)
def test_starting_again_what_is_still_open_is_refused(start) -> None:
    assert_refused(start(County()), "LIFECYCLE", "already")


def test_a_period_may_start_again_once_it_has_ended() -> None:
    county = County().end_supervision("aide-1", "cm-1", day(-10))
    county.supervise("aide-1", "cm-1", day(-5))
    county.end_enrollment("p-1", "CADI", day(-10)).enroll("p-1", "CADI", day(-5))
    county.cdcs("p-1", day(-20)).end_cdcs("p-1", day(-10)).cdcs("p-1", day(-5))

    assert_accepted(county)


# LIFECYCLE: who completes, and what can be reassigned


def test_an_aide_cannot_complete_a_task_assigned_to_another_aide() -> None:
    county = second_aide(County()).assign("t-1").complete("t-1", aide="aide-2")

    assert_refused(county, "LIFECYCLE", "assigned to aide aide-1")


def test_after_a_reassignment_only_the_new_aide_may_complete_the_task() -> None:
    county = second_aide(County()).assign("t-1").reassign("t-1", "aide-2")

    assert_refused(county.complete("t-1", aide="aide-1"), "LIFECYCLE", "aide-2")
    county.records.pop()
    assert_accepted(county.complete("t-1", aide="aide-2"))


@pytest.mark.parametrize(
    ("outcome", "refused"), [(None, True), ("approved", True), ("returned", False)]
)
def test_only_an_open_or_returned_task_can_be_reassigned(
    outcome: str | None, refused: bool
) -> None:
    county = second_aide(assigned_and_done(outcome))
    county.reassign("t-1", "aide-2", on=day(1))

    if refused:
        assert_refused(county, "LIFECYCLE", "only an open or returned task")
    else:
        assert_accepted(county)


def test_lifecycle_is_reported_before_qualification_and_supervision() -> None:
    county = County().assign("t-1").cancel("t-1")
    county.aide("aide-9", graduate=False).case_manager("cm-9")
    county.reassign("t-1", "aide-9", cm="cm-9")

    assert_refused(county, "LIFECYCLE", "cancelled")


# CMA-QUALIFIED


@pytest.mark.parametrize(
    ("graduate", "experience", "post_secondary", "qualified"),
    [
        (True, 12, 0, True),
        (True, 0, 12, True),
        (True, 11, 0, False),
        (True, 0, 11, False),
        (True, 11, 11, False),
        (False, 24, 24, False),
    ],
)
def test_a_task_goes_only_to_an_aide_who_meets_the_standard(
    graduate: bool, experience: int, post_secondary: int, qualified: bool
) -> None:
    county = second_aide(
        County(),
        graduate=graduate,
        experience=experience,
        post_secondary=post_secondary,
    ).assign("t-1", aide="aide-2")

    if qualified:
        assert_accepted(county)
    else:
        assert_refused(county, "CMA-QUALIFIED", "aide-2", "not qualified")


@pytest.mark.parametrize(("offset", "qualified"), [(-1, False), (0, True)])
def test_a_qualification_update_counts_from_its_as_of_date(
    offset: int, qualified: bool
) -> None:
    county = second_aide(County(), experience=11).qualification("aide-2", DAY)
    county.assign("t-1", aide="aide-2", on=day(offset))

    if qualified:
        assert_accepted(county)
    else:
        assert_refused(county, "CMA-QUALIFIED", "aide-2")


def test_a_qualification_update_can_also_take_a_qualification_away() -> None:
    county = County().qualification("aide-1", day(-1), experience=6).assign("t-1")

    assert_refused(county, "CMA-QUALIFIED", "aide-1")


@pytest.mark.parametrize(("separated", "refused"), [(day(-1), True), (DAY, False)])
def test_a_task_cannot_go_to_an_aide_after_the_last_day_employed(
    separated: str, refused: bool
) -> None:
    county = County().separate("aide-1", separated).assign("t-1")

    if refused:
        assert_refused(county, "CMA-QUALIFIED", "aide-1", "separated")
    else:
        assert_accepted(county)


@pytest.mark.parametrize(("qualified_on", "refused"), [(day(1), True), (DAY, False)])
def test_a_task_cannot_be_assigned_by_a_case_manager_not_yet_qualified(
    qualified_on: str, refused: bool
) -> None:
    county = County().case_manager("cm-2", qualified_on=qualified_on)
    county.supervise("aide-1", "cm-2").assign("t-1", cm="cm-2")

    if refused:
        assert_refused(county, "CMA-QUALIFIED", "cm-2", "qualified only from")
    else:
        assert_accepted(county)


def test_a_task_cannot_be_assigned_by_a_separated_case_manager() -> None:
    county = County().separate("cm-1", day(-1)).assign("t-1")

    assert_refused(county, "CMA-QUALIFIED", "cm-1", "separated")


def test_a_task_cannot_be_reassigned_to_an_unqualified_aide() -> None:
    county = second_aide(County().assign("t-1"), graduate=False)

    assert_refused(county.reassign("t-1", "aide-2"), "CMA-QUALIFIED", "aide-2")


def test_qualification_is_reported_before_supervision() -> None:
    county = County().aide("aide-9", graduate=False).assign("t-1", aide="aide-9")

    assert_refused(county, "CMA-QUALIFIED", "aide-9")


# CMA-SUPERVISION


def test_a_task_is_assigned_only_by_a_case_manager_supervising_the_aide() -> None:
    county = County().case_manager("cm-2").assign("t-1", cm="cm-2")

    assert_refused(county, "CMA-SUPERVISION", "cm-2", "does not supervise aide aide-1")


@pytest.mark.parametrize(("start", "refused"), [(day(1), True), (DAY, False)])
def test_supervision_counts_from_its_first_day(start: str, refused: bool) -> None:
    county = County().aide("aide-2").supervise("aide-2", "cm-1", start)
    county.assign("t-1", aide="aide-2")

    if refused:
        assert_refused(county, "CMA-SUPERVISION", "aide-2")
    else:
        assert_accepted(county)


@pytest.mark.parametrize(("end", "refused"), [(day(-1), True), (DAY, False)])
def test_supervision_counts_through_its_last_day(end: str, refused: bool) -> None:
    county = County().end_supervision("aide-1", "cm-1", end).assign("t-1")

    if refused:
        assert_refused(county, "CMA-SUPERVISION", "aide-1")
    else:
        assert_accepted(county)


def test_a_task_is_reassigned_only_by_a_case_manager_supervising_the_new_aide() -> None:
    county = County().case_manager("cm-2").aide("aide-2").supervise("aide-2", "cm-2")
    county.assign("t-1").reassign("t-1", "aide-2", cm="cm-1")

    assert_refused(county, "CMA-SUPERVISION", "aide-2")


def test_a_review_comes_only_from_a_case_manager_supervising_the_aide() -> None:
    county = County().case_manager("cm-2")
    county.assign("t-1").complete("t-1").review("t-1", cm="cm-2")

    assert_refused(county, "CMA-SUPERVISION", "cm-2", "supervised by cm-1")


def test_the_reviewer_is_whoever_supervised_the_aide_on_the_day_of_the_work() -> None:
    county = County().case_manager("cm-2").assign("t-1").complete("t-1")
    county.end_supervision("aide-1", "cm-1", DAY).supervise("aide-1", "cm-2", day(1))

    assert_accepted(_with(county, lambda c: c.review("t-1", on=day(2), cm="cm-1")))
    assert_refused(
        _with(county, lambda c: c.review("t-1", on=day(2), cm="cm-2")),
        "CMA-SUPERVISION",
        "cm-2",
    )


def test_either_of_two_supervisors_of_the_day_may_review() -> None:
    county = County().case_manager("cm-2").supervise("aide-1", "cm-2")

    assert_accepted(county.task("t-1", cm="cm-2").review("t-1", on=day(1), cm="cm-1"))


def test_an_aide_cannot_be_supervised_by_a_case_manager_of_another_agency() -> None:
    county = County().agency("prov", roles=["case_management_provider"])
    county.case_manager("cm-prov", agency_id="prov").supervise("aide-1", "cm-prov")

    assert_refused(county, "CMA-SUPERVISION", "another agency")


# What the ledger knew when the record arrived


def test_a_task_assigned_before_its_supervision_is_recorded_is_refused() -> None:
    county = County().aide("aide-2").assign("t-1", aide="aide-2")
    county.supervise("aide-2", "cm-1")

    refusals = check(county).refusals

    assert [(r.line, r.rule) for r in refusals] == [(8, "CMA-SUPERVISION")]


def test_a_refused_line_is_not_applied_so_the_lines_needing_it_are_refused() -> None:
    county = County().assign("t-1", category="assessment").complete("t-1")

    refusals = check(county).refusals

    assert [(r.line, r.rule) for r in refusals] == [(7, "CMA-SCOPE"), (8, "REF")]


def test_a_fact_recorded_later_never_refuses_what_was_accepted(
    workspace: Workspace,
) -> None:
    workspace.imported(County().assign("t-1", on=day(5)).complete("t-1", on=day(5)))
    late = County(baseline=False).end_supervision("aide-1", "cm-1", DAY)
    late.qualification("aide-1", "2024-06-01", experience=3)

    result = workspace.import_feed(late)

    assert result.exit_code == 0, result.output
    assert workspace.event_count() == 10
    assert ("CMA-QUALIFIED", "task", "t-1") in workspace.findings()
    assert ("CMA-SUPERVISION", "task", "t-1") in workspace.findings()


def test_records_after_a_late_fact_are_judged_with_it(workspace: Workspace) -> None:
    workspace.imported(County())
    workspace.imported(County(baseline=False).end_supervision("aide-1", "cm-1", DAY))

    result = workspace.import_feed(County(baseline=False).assign("t-1", on=day(1)))

    assert result.exit_code != 0
    assert "line 1: CMA-SUPERVISION: task t-1" in result.stderr


def test_the_first_of_several_broken_rules_is_printed_by_the_cli(
    workspace: Workspace,
) -> None:
    county = County().aide("aide-9", graduate=False)
    county.assign("t-1", aide="aide-9", category="reassessment")

    result = workspace.import_feed(county)

    assert result.exit_code != 0
    assert "line 8: CMA-SCOPE: task t-1" in result.stderr
    assert "CMA-QUALIFIED" not in result.stderr
    assert "CMA-SUPERVISION" not in result.stderr
