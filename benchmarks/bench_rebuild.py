"""How fast a full rebuild of the review database runs, against reading alone.

Not a test: run it by hand.

    python benchmarks/bench_rebuild.py --events 100000
    python benchmarks/bench_rebuild.py --ledger cma-ledger.db

It prints the events per second of `projections.runner.build` beside a baseline
measured in the same process: a plain SELECT of `stored_events` with every
state decoded by msgspec, the least any projection must do. Then the ratio of
the two, and the peak memory of the rebuild (traced Python allocations, and the
process's maximum resident set size). A generated county is loaded without the
entry checks (the generator's feeds pass them), in a child process so that its
memory does not count.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import multiprocessing
import resource
import sqlite3
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import msgspec

from ledger.generate import generate
from ledger.state import stream_of
from ledger.store import Ledger, _StoredState, new_event
from projections import runner

EVENTS_PER_PERSON = 85  # a 120-day county holds about 90 events per person
BATCH = 10_000


def load_county(path: Path, events: int, seed: int) -> None:
    """Append a generated county of at least `events` events, unchecked."""
    ledger = Ledger(path)
    recorded_at = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    versions: Counter[str] = Counter()
    batch = []
    for record in generate(max(1, events // EVENTS_PER_PERSON), 120, seed):
        stream = stream_of(record)
        versions[stream] += 1
        batch.append(new_event(record, versions[stream], recorded_at))
        if len(batch) == BATCH:
            ledger.append(batch)
            batch = []
    if batch:
        ledger.append(batch)


def read_and_decode(ledger: Ledger, path: Path) -> int:
    """The baseline: every stored state selected and decoded, nothing more (the
    ledger's cipher and compressor applied when it has them)."""
    decode = msgspec.json.Decoder(_StoredState).decode
    cipher, compressor = ledger.mapper.cipher, ledger.mapper.compressor
    conn = sqlite3.connect(path)
    count = 0
    for _, state in conn.execute(
        "SELECT rowid, state FROM stored_events ORDER BY rowid"
    ):
        if cipher:
            state = cipher.decrypt(state)
        if compressor:
            state = compressor.decompress(state)
        decode(state)
        count += 1
    conn.close()
    return count


def timed(work) -> tuple[float, object]:
    gc.collect()
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events",
        type=int,
        default=100_000,
        help="size of the generated county (at least this many)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--ledger",
        type=Path,
        help="rebuild from this ledger instead of a generated one",
    )
    parser.add_argument(
        "--no-trace",
        action="store_true",
        help="skip the tracemalloc run (slow for a million events)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        ledger_path = args.ledger
        if ledger_path is None:
            ledger_path = Path(folder) / "ledger.db"
            started = time.perf_counter()
            child = multiprocessing.Process(
                target=load_county, args=(ledger_path, args.events, args.seed)
            )
            child.start()
            child.join()
            if child.exitcode != 0:
                raise SystemExit("loading the generated county failed")
            print(f"loaded a generated county in {time.perf_counter() - started:.1f} s")
        review = Path(folder) / "review.db"
        ledger = Ledger(ledger_path)

        read_s, count = timed(lambda: read_and_decode(ledger, ledger_path))
        build_s, _ = timed(lambda: runner.build(ledger, review))
        maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        baseline = count / read_s
        rebuild = count / build_s
        show("events", f"{count:,}")
        show("baseline read + decode", f"{baseline:,.0f} events/s ({read_s:.2f} s)")
        show("full rebuild", f"{rebuild:,.0f} events/s ({build_s:.2f} s)")
        show("rebuild / baseline", f"{rebuild / baseline:.3f}")
        show("max resident set size", f"{maxrss_mb:,.0f} MB (whole process)")
        if not args.no_trace:
            tracemalloc.start()
            runner.build(ledger, review)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            show("peak traced memory", f"{peak / 2**20:,.0f} MB (rebuild only)")


def show(label: str, value: str) -> None:
    print(f"{label + ':':<24}{value}")


if __name__ == "__main__":
    main()
