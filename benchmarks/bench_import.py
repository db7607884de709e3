"""How fast `cma-ledger import` takes a generated county, step by step.

Not a test: run it by hand.

    python benchmarks/bench_import.py --persons 300 --days 120 --seed 1

It generates the feed in memory, then times, in one process: decoding every
line with msgspec alone (the baseline: the least an import must do), the full
validation against the entry rules, the append (one transaction), and the
projection of the review database. It prints events per second for each and the
ratio of the whole import to the baseline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import tempfile
import time
from pathlib import Path

from ledger import feed
from ledger import records as r
from ledger.generate import generate, write_feed
from ledger.state import State
from ledger.store import Ledger, new_event
from projections import runner


def timed(label: str, count: int, work):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - start
    print(f"{label:<28} {seconds:8.2f} s {count / seconds:12,.0f} events/s")
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=300)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    out = io.BytesIO()
    count = write_feed(generate(args.persons, args.days, args.seed), out)
    data = out.getvalue()
    print(f"feed: {count:,} records, {len(data) / 1e6:.1f} MB")

    lines = data.splitlines()
    _, baseline = timed(
        "baseline: msgspec decode",
        count,
        lambda: [r.decode_record(line) for line in lines],
    )

    with tempfile.TemporaryDirectory() as folder:
        ledger_path = Path(folder) / "ledger.db"
        review_path = Path(folder) / "review.db"
        recorded_at = dt.datetime.now(dt.UTC)
        state = State()
        checked, check_s = timed(
            "validate (entry rules)",
            count,
            lambda: feed.check_feed(data, state, recorded_at, 1),
        )
        assert not checked.refusals, checked.refusals[:3]
        ledger = Ledger(ledger_path)
        _, append_s = timed(
            "append (one transaction)",
            count,
            lambda: ledger.append(
                [new_event(e.record, e.version, recorded_at) for e in checked.accepted]
            ),
        )
        _, project_s = timed(
            "project review database",
            count,
            lambda: runner.update(ledger, review_path, None, state=state),
        )
    total = check_s + append_s + project_s
    print(f"{'whole import':<28} {total:8.2f} s {count / total:12,.0f} events/s")
    print(f"ratio whole import / baseline: {total / baseline:.1f}x the decode time")


if __name__ == "__main__":
    main()
