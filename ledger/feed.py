"""Importing a feed: validate every line, then append all of it or nothing.

Lines are checked in order against what the ledger already holds plus the
earlier lines of the same file. A refused line is reported and not applied, so
later lines are judged as if it had never been sent.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import msgspec

from ledger import records as r
from ledger import rules
from ledger.state import Event, State, stream_of

log = logging.getLogger(__name__)

BOM = b"\xef\xbb\xbf"
PROGRESS_STEP = 1000


@dataclass(frozen=True)
class Refusal:
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.rule}: {self.message}"


@dataclass
class Checked:
    """The outcome of validating a feed against the ledger."""

    accepted: list[Event] = field(default_factory=list)
    already_recorded: int = 0
    refusals: list[Refusal] = field(default_factory=list)
    lines: int = 0


# The keys that name a record, most specific first. Only these are ever quoted
# back in a message: free text (names, notes, comments, reasons) never is.
_NAMING_KEYS = (
    "task_id",
    "claim_id",
    "agreement_id",
    "staff_id",
    "aide_id",
    "agency_id",
    "holder_id",
    "person_id",
)
_SAFE_VALUE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# For a line that is not JSON: `"key": "value"` pairs outside any string.
_RAW_PAIR = re.compile(
    r'(?<!\\)"(type|record_id|[a-z_]+_id)"\s*:\s*"([A-Za-z0-9._:-]{1,64})"'
)


def _describe(line: str) -> str:
    """Which record a line held (its type and ids), never its free text."""
    try:
        data = msgspec.json.decode(line)
    except (msgspec.DecodeError, RecursionError):
        data = {}
        for key, value in _RAW_PAIR.findall(line):
            data.setdefault(key, value)
    if not isinstance(data, dict):
        return ""

    def safe(key: str) -> str | None:
        value = data.get(key)
        if isinstance(value, str) and _SAFE_VALUE.fullmatch(value):
            return value
        return None

    parts = [kind] if (kind := safe("type")) else []
    subject = next((k for k in _NAMING_KEYS if safe(k)), None)
    if subject:
        parts.append(f"{subject}={safe(subject)!r}")
    if safe("record_id"):
        parts.append(f"record_id={safe('record_id')!r}")
    return f" (record {' '.join(parts)})" if parts else ""


def _naming(message: str, record: r.Record, line: str) -> str:
    """The message, followed by the record it is about unless it names it."""
    subject = next(
        (getattr(record, key) for key in _NAMING_KEYS if hasattr(record, key)), None
    )
    if subject is not None and subject in message:
        return message
    return f"{message}{_describe(line)}"


def _pattern(alias: object) -> str:
    return repr(alias.__metadata__[0].pattern)  # type: ignore[attr-defined]


_MONEY = 'money as a decimal string of dollars such as "5.12" (at most 10 decimals)'
_FIELD_FORMS = {
    _pattern(r.Id): "an id of 1 to 64 characters from A-Z a-z 0-9 . _ : -",
    _pattern(r.Money): _MONEY,
    _pattern(r.Modifier): 'a modifier of two capitals or digits, e.g. "TF"',
    _pattern(r.ProcedureCode): 'a procedure code of five capitals or digits ("T1016")',
}
_CHOICES = {
    "roles": r.Role,
    "program": r.Program,
    "outcome": r.Outcome,
    "category": r.Category,
}
_LEDGER_FIELDS = frozenset({"position", "recorded_at"})


def _value_at(line: str, where: str) -> object:
    """The raw value at a path such as `task_ids[2]`, or None."""
    try:
        value: object = json.loads(line)
        for part in re.findall(r"[^.\[\]]+", where):
            if isinstance(value, list):
                value = value[int(part)]
            elif isinstance(value, dict):
                value = value[part]
            else:
                return None
    except (ValueError, KeyError, IndexError, RecursionError):
        return None
    return value


def _field_problem(where: str, text: str, line: str = "") -> str:
    """msgspec's complaint about one field, said as what the field must be."""
    name = where.split("[", 1)[0]
    if text.startswith("Expected `str` matching regex "):
        pattern = text.split("regex ", 1)[1]
        form = _FIELD_FORMS.get(pattern, f"text matching {pattern}")
        value = _value_at(line, where)
        got = ""
        if isinstance(value, str):
            shown = value if len(value) <= 70 else value[:70] + "..."
            got = f"; got {shown!r} ({len(value)} characters)"
        return f"field '{where}' must be {form}{got}"
    if name == "rate" and text.startswith("Expected `str`"):
        return f"field 'rate' must be {_MONEY}, not a JSON number"
    if "datetime" in text:
        return (
            f"field '{where}' must be an ISO 8601 timestamp with its offset, "
            "e.g. 2025-03-01T09:30:00-06:00"
        )
    if text.startswith("Invalid RFC3339 encoded date"):
        return f"field '{where}' must be a real calendar date written YYYY-MM-DD"
    if text.startswith("Invalid enum value") and name in _CHOICES:
        allowed = ", ".join(typing.get_args(_CHOICES[name]))
        return f"field '{where}': {text[0].lower()}{text[1:]}; allowed: {allowed}"
    return f"field '{where}': {text[0].lower()}{text[1:]}"


def format_error(error: msgspec.MsgspecError, line: str) -> str:
    """Turn msgspec's message into one that names the record, field and fix."""
    text = str(error)
    described = _describe(line)
    if not isinstance(error, msgspec.ValidationError):
        if line.startswith("\ufeff"):
            return (
                "the line starts with a byte-order mark; only the very start of "
                f"the file may carry one (were two files joined?){described}"
            )
        if "\r" in line:
            return (
                "the line holds a carriage return inside it; end lines with LF or "
                f"CRLF, not CR alone{described}"
            )
        if "truncated" in text:
            return f"the line is not complete JSON (truncated){described}"
        return f"the line is not valid JSON ({text}){described}"

    where = ""
    if " - at `$." in text:
        text, path = text.split(" - at `$.", 1)
        where = path.rstrip("`")
    elif " - at `$`" in text:
        text = text.split(" - at `$`", 1)[0]
    if where == "type":
        if text.startswith("Invalid value"):
            kind = text.split("Invalid value ", 1)[1]
            return f"unknown record type {kind}; see the contract's types{described}"
        return f"field 'type' must be the name of a record type{described}"
    if where:
        return f"{_field_problem(where, text, line)}{described}"
    if text.startswith("Expected `object`"):
        got = text.rsplit("`", 2)[-2]
        return f"each line must hold one JSON object, not {got}"
    if text == "Object missing required field `type`":
        return f"the record has no 'type'{described}"
    if text.startswith("Object missing required field"):
        missing = text.rsplit("`", 2)[-2]
        return f"field '{missing}' is missing; this record type requires it{described}"
    if text.startswith("Object contains unknown field"):
        unknown = text.rsplit("`", 2)[-2]
        if unknown in _LEDGER_FIELDS:
            return f"field '{unknown}' is set by the ledger, not by a feed{described}"
        return (
            f"field '{unknown}' is not a field of this record type (a typo?){described}"
        )
    return f"{text}{described}"


def duplicate_key(text: str) -> str | None:
    """A key given twice in the line's object: JSON decoders keep only the last."""
    twice: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> None:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                twice.append(key)
            seen.add(key)

    try:
        json.loads(text, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return None
    return twice[0] if twice else None


def split_lines(data: bytes) -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text, problem) for each line; a blank last line is dropped."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
    lines = data.split(b"\n")
    if lines and lines[-1].strip() == b"":
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        raw = raw.rstrip(b"\r")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            described = _describe(raw.decode("utf-8", "replace"))
            problem = f"the line is not UTF-8 text (byte {e.start + 1}){described}"
            yield number, None, problem
            continue
        if not text.strip():
            yield number, None, "the line is blank; each line must hold one JSON record"
            continue
        yield number, text, None


def check_feed(
    data: bytes,
    state: State,
    recorded_at: dt.datetime,
    first_position: int,
    progress: Callable[[int], None] | None = None,
) -> Checked:
    """Validate a whole feed; `state` is advanced by every accepted record."""
    checked = Checked()
    position = first_position
    for number, text, problem in split_lines(data):
        checked.lines += 1
        if progress is not None and checked.lines % PROGRESS_STEP == 0:
            progress(PROGRESS_STEP)
        if problem is not None or text is None:
            checked.refusals.append(Refusal(number, "FORMAT", problem or ""))
            continue
        try:
            record = r.decode_record(text)
        except msgspec.MsgspecError as e:
            checked.refusals.append(Refusal(number, "FORMAT", format_error(e, text)))
            continue
        twice = duplicate_key(text)
        if twice is not None:
            checked.refusals.append(
                Refusal(
                    number,
                    "FORMAT",
                    f"field '{twice}' is given twice; give each field once"
                    f"{_describe(text)}",
                )
            )
            continue

        if record.record_id is not None:
            content = r.encode_record(record)
            earlier = state.record_ids.get(record.record_id)
            if earlier == content:
                checked.already_recorded += 1
                continue
            if earlier is not None:
                checked.refusals.append(
                    Refusal(
                        number,
                        "IDEMPOTENCY",
                        f"record_id {record.record_id} was recorded before with "
                        "different content; send the same content again, or use a "
                        f"new record_id for a new record{_describe(text)}",
                    )
                )
                continue

        refused = rules.check(record, state)
        if refused is not None:
            rule, message = refused
            message = _naming(message, record, text)
            checked.refusals.append(Refusal(number, rule, message))
            continue

        stream = stream_of(record)
        event = Event(
            position=position,
            recorded_at=recorded_at,
            stream=stream,
            version=state.stream_versions.get(stream, 0) + 1,
            record=record,
        )
        state.apply(event)
        checked.accepted.append(event)
        position += 1
    if checked.lines == 0:
        checked.refusals.append(
            Refusal(1, "FORMAT", "the feed is empty; it must hold one record a line")
        )
    return checked


def fold(events: Iterable[Event]) -> State:
    state = State()
    for event in events:
        state.apply(event)
    return state
