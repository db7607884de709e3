"""Refusals say what was wrong in the words of the record at hand, and how to
put it right.
"""

from __future__ import annotations

from conftest import County, first_refusal


def refusal(feed: County | str) -> str:
    found = first_refusal(feed)
    assert found is not None
    return str(found)


def test_a_bad_id_is_quoted_with_its_length():
    feed = County(baseline=False).agency("a b")
    assert "got 'a b' (3 characters)" in refusal(feed)


def test_a_timestamp_that_is_no_timestamp_is_called_one():
    feed = County(baseline=False).add(
        "agency_registered",
        agency_id="a",
        name="A",
        roles=["lead_agency"],
        private=False,
        entered_at="yesterday",
    )
    assert "ISO 8601 timestamp" in refusal(feed)


def test_a_byte_order_mark_inside_the_file_is_named():
    lines = County(baseline=False).agency("a").agency("b").lines()
    text = lines[0] + "\n\ufeff" + lines[1] + "\n"
    found = first_refusal(text)
    assert found is not None and found.line == 2
    assert "byte-order mark" in found.message


def test_old_mac_line_ends_are_named():
    lines = County(baseline=False).agency("a").agency("b").lines()
    assert "carriage return" in refusal(lines[0] + "\r" + lines[1] + "\n")


def test_a_deeply_nested_line_is_a_format_refusal_not_a_crash():
    line = '{"type":"agency_registered","agency_id":"a","roles":' + "[" * 5000
    line += "]" * 5000 + "}\n"
    assert "FORMAT" in refusal(line)


def test_a_reassignment_is_called_a_reassignment():
    feed = County().aide("aide-2").assign("t-1").reassign("t-1", "aide-2")
    message = refusal(feed)
    assert "CMA-SUPERVISION" in message and "reassigned on" in message


def test_a_due_date_before_assignment_says_due():
    feed = County().assign("t-1", due_on="2025-01-01")
    message = refusal(feed)
    assert "LIFECYCLE" in message and "would be due on 2025-01-01" in message


def test_a_case_manager_at_the_wrong_employer_is_not_called_an_aide():
    feed = County(baseline=False).agency("hh", roles=["service_provider"])
    feed.case_manager("cm-9", agency_id="hh")
    message = refusal(feed)
    assert "CMA-EMPLOYER" in message and "the case manager must be employed" in message
