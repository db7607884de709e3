"""The `events` table: every stored event, readable, in position order."""

from __future__ import annotations

import msgspec

from ledger import records as r
from ledger.state import Event, State

_encode = msgspec.json.Encoder(order="sorted").encode


def subject_person(record: r.Record, state: State) -> str | None:
    """The person an event is about, when it is about one."""
    person = getattr(record, "person_id", None)
    if person is not None:
        return person
    task_id = getattr(record, "task_id", None)
    if task_id is not None and task_id in state.tasks:
        return state.tasks[task_id].person_id
    claim_id = getattr(record, "claim_id", None)
    if claim_id is not None and claim_id in state.claims:
        return state.claims[claim_id].record.person_id
    agreement_id = getattr(record, "agreement_id", None)
    if agreement_id is not None and agreement_id in state.agreements:
        return state.agreements[agreement_id].record.person_id
    return None


def payload(record: r.Record, include_notes: bool) -> str:
    data = msgspec.to_builtins(record)
    data.pop("type", None)
    for key in ("record_id", "entered_by", "entered_at"):
        data.pop(key, None)
    if not include_notes:
        for key in r.CONFIDENTIAL_FIELDS:
            data.pop(key, None)
    return _encode(data).decode()


def event_row(
    event: Event, chain_hash: bytes | None, state: State, include_notes: bool
) -> dict:
    record = event.record
    occurred = r.occurred_on(record)
    return {
        "position": event.position,
        "recorded_at": event.recorded_at.isoformat(),
        "type": record.type,
        "stream_id": event.stream,
        "stream_version": event.version,
        "occurred_on": occurred.isoformat() if occurred else None,
        "entered_by": record.entered_by,
        "record_id": record.record_id,
        "payload": payload(record, include_notes),
        "chain_hash": chain_hash.hex() if chain_hash else None,
        "entered_at": record.entered_at.isoformat() if record.entered_at else None,
        "person_id": subject_person(record, state),
    }
