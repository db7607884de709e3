"""How fast `cma-ledger verify` runs, against hashing the same bytes alone.

Not a test: run it by hand.

    python benchmarks/bench_verify.py --events 100000
    python benchmarks/bench_verify.py --ledger cma-ledger.db

It builds a ledger of generated county events (ledger.generate, appended in
batches without the entry checks, which the generator's feeds pass), or reads
the one given, then prints the events per second of `verify_chain` beside a
baseline measured in the same process: SHA-256 over the very same
previous-hash-plus-entry bytes, already in memory, with nothing else to do.
The ratio is the price of reading SQLite, rebuilding the entry bytes and
comparing links. The Merkle tree head (`digest`) is timed too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from ledger import chain, merkle
from ledger.state import stream_of
from ledger.store import Ledger, new_event, open_history
from ledger.verify import verify_chain

BATCH = 10_000
EVENTS_PER_PERSON = 85  # a generated 120-day county holds about 90 per person


def build_ledger(path: Path, events: int, seed: int) -> int:
    """Append exactly `events` generated events, in batches, unchecked.

    Another seed is generated while the county is too small; its events extend
    the same streams, which is fine for timing and is never checked.
    """
    from ledger.generate import generate

    ledger = Ledger(path)
    recorded_at = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    versions: Counter[str] = Counter()
    batch = []
    appended = 0
    persons = max(1, events // EVENTS_PER_PERSON)
    while True:
        for record in generate(persons, 120, seed):
            stream = stream_of(record)
            versions[stream] += 1
            batch.append(new_event(record, versions[stream], recorded_at))
            if len(batch) == BATCH or appended + len(batch) == events:
                appended += len(ledger.append(batch))
                batch = []
            if appended == events:
                return ledger.last_position
        seed += 1


def stored_entries(path: Path) -> list[bytes]:
    """The exact entry bytes `verify` hashes, read once, outside the timing."""
    with open_history(path).stored_history() as (events, _):
        return [
            chain.entry_bytes(p, uuid.UUID(s), v, t, st) for p, s, v, t, st in events
        ]


def hash_only(entries: list[bytes]) -> bytes:
    """The baseline: the chain's SHA-256 calls and nothing else."""
    previous = chain.GENESIS
    sha256 = hashlib.sha256
    for entry in entries:
        previous = sha256(previous + entry).digest()
    return previous


def best_of(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    parser.add_argument("--ledger", type=Path, help="measure this ledger instead")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.ledger
        if path is None:
            path = Path(tmp) / "ledger.db"
            started = time.perf_counter()
            count = build_ledger(path, args.events, args.seed)
            built = time.perf_counter() - started
            print(f"built a ledger of {count:,} events in {built:.1f} s")

        result = verify_chain(open_history(path))
        assert result.ok, result
        entries = stored_entries(path)
        count = len(entries)
        size = os.path.getsize(path) / 1e6
        hashed = sum(len(e) + 32 for e in entries) / 1e6

        verify = best_of(args.repeat, lambda: verify_chain(open_history(path)))
        baseline = best_of(args.repeat, lambda: hash_only(entries))
        hashes: list[bytes] = []
        verify_chain(open_history(path), keep=hashes)
        tree = best_of(args.repeat, lambda: merkle.MerkleTree(hashes).root())

    print(f"ledger: {count:,} events, {size:.1f} MB file, {hashed:.1f} MB hashed")
    print(f"verify:            {verify:7.3f} s  {count / verify:12,.0f} events/s")
    print(f"baseline (hashlib): {baseline:6.3f} s  {count / baseline:12,.0f} events/s")
    print(f"ratio verify/baseline: {verify / baseline:.1f}x the time")
    print(f"merkle root:       {tree:7.3f} s  {count / tree:12,.0f} leaves/s")


if __name__ == "__main__":
    main()
