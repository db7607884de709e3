"""Importing a feed: validate every line, then append all of it or nothing.

Lines are checked in order against what the ledger already holds plus the
earlier lines of the same file. A refused line is reported and not applied, so
later lines are judged as if it had never been sent.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import msgspec

from ledger import records as r
from ledger import rules
from ledger.state import Event, State, stream_of

log = logging.getLogger(__name__)

BOM = b"\xef\xbb\xbf"


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


def _describe(line: str) -> str:
    """A short, non-confidential hint of which record a line held."""
    try:
        data = msgspec.json.decode(line)
    except msgspec.DecodeError:
        return ""
    if not isinstance(data, dict):
        return ""
    for key in ("record_id", "task_id", "claim_id", "agreement_id", "staff_id",
                "agency_id", "person_id"):
        value = data.get(key)
        if isinstance(value, str) and len(value) <= 64:
            return f" (record {key}={value!r})"
    return ""


def format_error(error: msgspec.MsgspecError, line: str) -> str:
    """Turn msgspec's message into one that names the field and the fix."""
    text = str(error)
    if isinstance(error, msgspec.DecodeError):
        if "truncated" in text:
            return "the line is not complete JSON (truncated)"
        return f"the line is not valid JSON ({text})"
    where = ""
    if " - at `$." in text:
        text, path = text.split(" - at `$.", 1)
        where = path.rstrip("`")
    elif " - at `$`" in text:
        text = text.split(" - at `$`", 1)[0]
    described = _describe(line)
    if where == "type" and text.startswith("Invalid value"):
        kind = text.split("Invalid value ", 1)[1]
        return f"unknown record type {kind}; see the contract's record types{described}"
    if where == "rate" and text.startswith("Expected `str`"):
        return f"field 'rate' must be money as a decimal string such as \"5.12\"{described}"
    if where:
        return f"field '{where}': {text}{described}"
    if text == "Object missing required field `type`":
        return "the record has no 'type'"
    return f"{text}{described}"


def split_lines(data: bytes) -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text, problem) for each line; a blank last line is dropped."""
    if data.startswith(BOM):
        data = data[len(BOM):]
    lines = data.split(b"\n")
    if lines and lines[-1].strip() == b"":
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        raw = raw.rstrip(b"\r")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield number, None, f"the line is not UTF-8 text (byte {e.start + 1})"
            continue
        if not text.strip():
            yield number, None, "the line is blank; each line must hold one JSON record"
            continue
        yield number, text, None


def check_feed(
    data: bytes, state: State, recorded_at: dt.datetime, first_position: int
) -> Checked:
    """Validate a whole feed; `state` is advanced by every accepted record."""
    checked = Checked()
    position = first_position
    for number, text, problem in split_lines(data):
        checked.lines += 1
        if problem is not None or text is None:
            checked.refusals.append(Refusal(number, "FORMAT", problem or ""))
            continue
        try:
            record = r.decode_record(text)
        except msgspec.MsgspecError as e:
            checked.refusals.append(Refusal(number, "FORMAT", format_error(e, text)))
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
                        "new record_id for a new record",
                    )
                )
                continue

        refused = rules.check(record, state)
        if refused is not None:
            checked.refusals.append(Refusal(number, *refused))
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
    return checked


def fold(events: Iterable[Event]) -> State:
    state = State()
    for event in events:
        state.apply(event)
    return state
