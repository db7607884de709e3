"""Bad feeds through the real command line.

Each is imported into a ledger that already holds a county. It must exit
non-zero, print `line N: RULE:` with the record it means, print no traceback,
and write nothing: the ledger keeps its events and the review database keeps
every row. Most run the command in this process (an exception escaping it
fails the test); a few run it as its own process, exactly as a user would.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import County, Workspace

SECRET = "Diagnosis-XYZZY"

# Two valid lines before each bad one: a partial write would show them.
BEFORE = County(baseline=False).assign("t-8").complete("t-8").lines()


DROP = object()


def line_of(make, **change: object) -> str:
    """The last record `make` adds to an empty county, changed, as a feed line;
    a field changed to DROP is left out."""
    record = make(County(baseline=False)).records[-1]
    record.update(change)
    return json.dumps({k: v for k, v in record.items() if v is not DROP})


def completion(**change: object) -> str:
    """Task t-9 completed by aide-1 on 2025-03-03 in 15 minutes, as changed."""
    return line_of(lambda c: c.complete("t-9"), **change)


def agreement(**change: object) -> str:
    return line_of(lambda c: c.agreement("sa-9"), **change)


@dataclass
class Bad:
    """A bad line, after the lines of BEFORE and its own `setup` lines."""

    name: str
    line: str | bytes
    rule: str = "FORMAT"
    names: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()

    @property
    def at(self) -> int:
        return len(BEFORE) + len(self.setup) + 1

    def feed(self) -> bytes:
        bad = self.line if isinstance(self.line, bytes) else self.line.encode()
        good = "".join(f"{line}\n" for line in (*BEFORE, *self.setup))
        return good.encode() + bad + b"\n"


INVALID_UTF8 = completion(note="x").encode().replace(b'"x"', b'"\xff"')
HOME = line_of(lambda c: c.agency("home", roles=["service_provider"]))
UNQUALIFIED = line_of(lambda c: c.qualification("aide-1", "2025-01-01", experience=0))

CASES = [
    Bad("not JSON at all", "this is not JSON", names=("not valid JSON",)),
    Bad("a JSON array", '["task_completed", "t-9"]', names=("one JSON object",)),
    Bad("a JSON string", '"task_completed"', names=("one JSON object",)),
    Bad("garbage after the object", completion() + " x", names=("t-9",)),
    Bad("a NaN", completion().replace("15", "NaN"), names=("t-9",)),
    Bad("a NUL byte", completion().replace(", ", ",\x00", 1), names=("t-9",)),
    Bad("invalid UTF-8", INVALID_UTF8, names=("UTF-8", "t-9")),
    Bad("a byte-order mark inside the file", "\ufeff" + completion()),
    Bad("a blank line", "   ", names=("blank",)),
    Bad("an unknown type", completion(type="task_finished"), names=("task_finished",)),
    Bad("no type", completion(type=DROP), names=("no 'type'", "t-9")),
    Bad("a type that is not text", completion(type=7), names=("'type'",)),
    Bad("an unknown key", completion(minuts=15), names=("minuts", "t-9")),
    Bad("a position set by the feed", completion(position=9), names=("position",)),
    Bad("a missing field", completion(minutes=DROP), names=("minutes", "t-9")),
    Bad("a key given twice", completion()[:-1] + ', "minutes": 30}', names=("twice",)),
    Bad("a number as text", completion(minutes="15"), names=("minutes", "t-9")),
    Bad("a null for a required field", completion(minutes=None), names=("minutes",)),
    Bad("a float for a count", completion(minutes=15.0), names=("minutes",)),
    Bad("an object for an id", completion(task_id={"id": "t-9"}), names=("task_id",)),
    Bad("deep nesting", completion(task_id=[[[[[[[["t-9"]]]]]]]]), names=("task_id",)),
    Bad("negative minutes", completion(minutes=-5), names=("minutes", "t-9")),
    Bad("zero minutes", completion(minutes=0), names=("minutes", "t-9")),
    Bad("more minutes than a day has", completion(minutes=1441), names=("1440",)),
    Bad("a huge number", completion(minutes=10**30), names=("minutes",)),
    Bad("an impossible date", completion(performed_on="2025-02-30"), names=("t-9",)),
    Bad("a thirteenth month", completion(performed_on="2025-13-01"), names=("t-9",)),
    Bad("a US date", completion(performed_on="03/03/2025"), names=("performed_on",)),
    Bad(
        "a timestamp without offset",
        completion(entered_at="2025-03-03T09:00:00"),
        names=("entered_at", "offset"),
    ),
    Bad("an id with a space", completion(task_id="t 9"), names=("task_id", "aide-1")),
    Bad("an id over 64 characters", completion(task_id="t" * 65), names=("task_id",)),
    Bad("an empty id", completion(task_id=""), names=("task_id",)),
    Bad("a float as money", agreement(rate=5.12), names=("rate", "sa-9")),
    Bad(
        "money with eleven decimals",
        agreement(rate="5.12345678901"),
        names=("rate", "sa-9"),
    ),
    Bad("negative money", agreement(rate="-5.00"), names=("rate", "sa-9")),
    Bad("negative authorized units", agreement(units=-1), names=("units", "sa-9")),
    Bad("lower-case modifiers", agreement(modifiers=["tf", "uc"]), names=("sa-9",)),
    Bad(
        "a boolean as text",
        line_of(lambda c: c.agency("a-9"), private="false"),
        names=("private", "a-9"),
    ),
    Bad(
        "an unknown program",
        line_of(lambda c: c.enroll("p-9"), program="XYZ"),
        names=("program", "EW"),
    ),
    Bad(
        "an unknown category",
        line_of(lambda c: c.assign("t-9"), category="filing"),
        names=("category", "t-9"),
    ),
    Bad("an unknown task", completion(), "REF", ("t-9", "never assigned")),
    Bad(
        "an aide named as case manager",
        line_of(lambda c: c.assign("t-9", cm="aide-1")),
        "REF",
        ("aide-1", "task_assigned task_id='t-9'"),
    ),
    Bad(
        "a record_id reused for other content",
        line_of(lambda c: c.agency("cty", private=True), record_id="base-1"),
        "IDEMPOTENCY",
        ("base-1",),
    ),
    Bad(
        "an agency registered twice",
        line_of(lambda c: c.agency("cty")),
        "DUPLICATE-ID",
        ("cty",),
    ),
    Bad(
        "an aide at an agency without case management",
        line_of(lambda c: c.aide("aide-9", "home")),
        "CMA-EMPLOYER",
        ("aide-9",),
        setup=(HOME,),
    ),
    Bad(
        "an assessment delegated",
        line_of(lambda c: c.assign("t-9", category="assessment")),
        "CMA-SCOPE",
        ("t-9",),
    ),
    Bad(
        "work before assignment",
        completion(task_id="t-8", performed_on="2025-03-02"),
        "LIFECYCLE",
        ("t-8",),
    ),
    Bad(
        "an unqualified aide",
        line_of(lambda c: c.assign("t-9")),
        "CMA-QUALIFIED",
        ("t-9", "aide-1"),
        setup=(UNQUALIFIED,),
    ),
    Bad(
        "an unsupervised assignment",
        line_of(lambda c: c.assign("t-9", cm="cm-9")),
        "CMA-SUPERVISION",
        ("t-9", "cm-9"),
        setup=(line_of(lambda c: c.case_manager("cm-9")),),
    ),
]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose ledger and review database hold the baseline county."""
    folder = tmp_path_factory.mktemp("seeded")
    workspace = Workspace(folder)
    done = workspace.real("import", str(workspace.write_feed(seed_county())))
    assert done.returncode == 0, done.stderr
    return folder


def seed_county() -> County:
    return County().task("t-1").with_record_ids("base")


@pytest.fixture
def ready(seeded: Path, tmp_path: Path) -> Workspace:
    """A fresh copy of the seeded ledger and review database."""
    for path in seeded.glob("*.db*"):
        shutil.copy(path, tmp_path / path.name)
    return Workspace(tmp_path)


def assert_refused_cleanly(
    workspace: Workspace,
    feed: bytes,
    at: int,
    rule: str,
    names: tuple[str, ...],
    own_process: bool = False,
) -> None:
    before = workspace.snapshot()
    path = str(workspace.write_feed(feed))

    if own_process:
        done = workspace.real("import", path)
        code = done.returncode
        stdout, stderr = done.stdout.decode(), done.stderr.decode()
    else:
        result = workspace.cli("import", path)
        code, stdout, stderr = result.exit_code, result.stdout, result.stderr

    assert code != 0
    assert f"line {at}: {rule}: " in stderr, stderr
    for name in names:
        assert name in stderr, stderr
    assert "Traceback" not in stderr + stdout
    assert "nothing was written" in stderr
    assert workspace.snapshot() == before


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_bad_feed_is_refused_by_line_and_rule_and_writes_nothing(
    ready: Workspace, case: Bad
) -> None:
    assert_refused_cleanly(ready, case.feed(), case.at, case.rule, case.names)


@pytest.mark.parametrize("case", CASES[:2], ids=[case.name for case in CASES[:2]])
def test_a_bad_feed_is_refused_the_same_way_by_the_installed_command(
    ready: Workspace, case: Bad
) -> None:
    assert_refused_cleanly(
        ready, case.feed(), case.at, case.rule, case.names, own_process=True
    )


def test_a_truncated_last_line_is_refused(ready: Workspace) -> None:
    feed = "".join(f"{line}\n" for line in BEFORE) + completion()[:-20]

    assert_refused_cleanly(
        ready, feed.encode(), 3, "FORMAT", ("truncated", "t-9"), own_process=True
    )


@pytest.mark.parametrize("content", [b"", b"\n", b"  \n\n", b"\xef\xbb\xbf"])
def test_an_empty_feed_is_refused(ready: Workspace, content: bytes) -> None:
    assert_refused_cleanly(ready, content, 1, "FORMAT", ())


def test_a_lone_carriage_return_does_not_end_a_line(ready: Workspace) -> None:
    feed = "\r".join(BEFORE).encode() + b"\r"

    assert_refused_cleanly(ready, feed, 1, "FORMAT", ("t-8",))


def test_a_bad_feed_on_standard_input_is_refused_the_same_way(ready: Workspace) -> None:
    before = ready.snapshot()

    result = ready.real("import", "-", input=CASES[0].feed())

    assert result.returncode != 0
    assert b"line 3: FORMAT: " in result.stderr
    assert b"Traceback" not in result.stderr
    assert ready.snapshot() == before


def test_a_refused_first_import_leaves_no_files_behind(workspace: Workspace) -> None:
    feed = County().assign("t-1", category="assessment")

    result = workspace.real("import", str(workspace.write_feed(feed)))

    assert result.returncode != 0
    assert b"line 7: CMA-SCOPE: " in result.stderr
    assert not workspace.ledger.exists()
    assert not workspace.review.exists()


def test_every_refused_line_is_listed_up_to_the_limit(ready: Workspace) -> None:
    feed = "".join(f"{completion(task_id=f't-{n}')}\n" for n in range(20, 25))

    result = ready.cli("import", "--max-errors", "3", str(ready.write_feed(feed)))

    stderr = result.stderr
    listed = [f"line {n}: REF:" in stderr for n in range(1, 6)]
    assert listed == [True, True, True, False, False]
    assert "and 2 more refusals" in stderr
    assert "5 of 5 lines refused" in stderr


def test_a_ledger_in_a_missing_folder_is_refused_without_a_traceback(
    tmp_path: Path,
) -> None:
    workspace = Workspace(tmp_path / "missing")
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(County().jsonl())

    result = workspace.real("import", str(feed))

    assert result.returncode != 0
    assert b"Traceback" not in result.stderr
    assert b"missing" in result.stderr


# Byte-order marks and CRLF line ends


def events_without_times(workspace: Workspace) -> list[tuple]:
    return [
        (row["position"], row["type"], row["payload"], row["record_id"])
        for row in workspace.rows("events")
    ]


def test_a_byte_order_mark_and_crlf_line_ends_are_read_as_plain_lines(
    tmp_path: Path,
) -> None:
    county = County().task("t-1").claim("c-1", ["t-1"])
    plain, windows = Workspace(tmp_path / "a"), Workspace(tmp_path / "b")
    plain.folder.mkdir()
    windows.folder.mkdir()
    crlf = b"\xef\xbb\xbf" + county.jsonl().replace(b"\n", b"\r\n")

    plain.imported(county)
    windows.imported(crlf)

    assert windows.event_count() == len(county)
    assert events_without_times(windows) == events_without_times(plain)
    assert windows.billable_days()["c-1"]["status"] == "billable"


def test_a_feed_may_mix_line_ends_and_omit_the_last_newline(
    workspace: Workspace,
) -> None:
    lines = County().lines()
    feed = "\r\n".join(lines[:3]) + "\n" + "\n".join(lines[3:])

    workspace.imported(feed)

    assert workspace.event_count() == len(lines)


# Importing the same feed again


def test_importing_the_same_feed_again_appends_nothing(ready: Workspace) -> None:
    before = ready.snapshot()

    result = ready.real("import", str(ready.write_feed(seed_county())))

    assert result.returncode == 0, result.stderr
    assert b"0 records appended, 9 already recorded" in result.stdout
    assert ready.snapshot() == before


def test_a_feed_repeating_old_records_appends_only_the_new(ready: Workspace) -> None:
    county = seed_county().task("t-2").with_record_ids("new")

    result = ready.cli("import", str(ready.write_feed(county)))

    assert result.exit_code == 0, result.output
    assert "3 records appended, 9 already recorded" in result.stdout
    assert ready.event_count() == 12


# Confidential notes never reach an error message


NOTE_CASES = {
    "unknown task": completion(note=SECRET),
    "work before assignment": completion(
        task_id="t-8", performed_on="2025-03-01", note=SECRET
    ),
    "completed twice": completion(task_id="t-8", note=SECRET),
    "unknown key": completion(note=SECRET, notes=SECRET),
    "key twice": completion(note=SECRET)[:-1] + f', "note": "{SECRET}"}}',
    "too long": completion(task_id="t-8", note=SECRET * 400),
    "wrong type in note": completion(task_id="t-8", note=[SECRET]),
    "truncated inside the note": completion(note=SECRET + "...")[:-30],
    "bad date beside the note": completion(note=SECRET, performed_on="2025-02-30"),
    "unknown type": completion(note=SECRET, type="task_noted"),
    "comment of a review": json.dumps(
        County(baseline=False).review("t-9", comment=SECRET).records[0]
    ),
}


def test_a_refusal_never_repeats_a_confidential_note(ready: Workspace) -> None:
    lines = list(NOTE_CASES.values())
    feed = "".join(f"{line}\n" for line in (*BEFORE, *lines))

    result = ready.real("-v", "import", str(ready.write_feed(feed)))

    assert result.returncode != 0
    for number in range(len(BEFORE) + 1, len(BEFORE) + len(lines) + 1):
        assert f"line {number}: ".encode() in result.stderr
    assert SECRET.encode() not in result.stderr + result.stdout


def test_an_accepted_note_stays_out_of_the_review_database(
    workspace: Workspace,
) -> None:
    county = County().assign("t-1").complete("t-1", note=SECRET)

    result = workspace.real("-v", "import", str(workspace.write_feed(county)))

    assert result.returncode == 0
    assert SECRET.encode() not in result.stderr + result.stdout
    assert SECRET not in "\n".join(workspace.snapshot()[1] or [])
