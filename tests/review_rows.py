"""Reading review databases and ledgers for the projection tests."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ledger import records as r
from ledger.state import stream_of
from ledger.store import Ledger, new_event

RECORDED_AT = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


def all_rows(path: Path, tracking: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, ordered by all of their columns: equal dumps mean equal
    databases, row for row and value for value (types included).

    `tracking=False` leaves out `_projection`, which names a replay's cut.
    """
    conn = sqlite3.connect(path)
    try:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"
            )
        ]
        dump = {}
        for table in tables:
            if table == "_projection" and not tracking:
                continue
            columns = [c[1] for c in conn.execute(f"PRAGMA table_info([{table}])")]
            order = ", ".join(f"[{c}]" for c in columns)
            dump[table] = [
                tuple((type(v).__name__, v) for v in row)
                for row in conn.execute(f"SELECT * FROM [{table}] ORDER BY {order}")
            ]
        return dump
    finally:
        conn.close()


def append_unchecked(
    ledger: Ledger, records: Iterable[r.Record], recorded_at: dt.datetime = RECORDED_AT
) -> list[int]:
    """Append records that are known to be valid (a generated county), as one import
    would, without projecting them."""
    versions: Counter[str] = Counter()
    for event in ledger.read():
        versions[event.stream] = event.version
    events = []
    for record in records:
        stream = stream_of(record)
        versions[stream] += 1
        events.append(new_event(record, versions[stream], recorded_at))
    return ledger.append(events) if events else []
