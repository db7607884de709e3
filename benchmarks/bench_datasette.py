"""How fast the review site answers on a county of a million events or more.

Not a test: it prints the first, median and slowest time of every table page,
canned query, chart query and plugin page, asked through Datasette's in-process
test client as a signed-in auditor (so the sign-in gate is in every figure, the
network is not). The median and slowest leave the first request out; the first
is the cold one, which fills SQLite's page cache and, on a snapshot, counts the
facets of each whole table. Both ways of serving are measured: a snapshot (what
`serve` does by default: an immutable copy, rows counted when it is taken) and
the live file (`serve --live`: mode=ro, rows counted on every table page).

    python benchmarks/bench_datasette.py                   # builds bench-out/ once
    python benchmarks/bench_datasette.py --review r.db     # an existing review db
    python benchmarks/bench_datasette.py --repeat 9 --only snapshot

The first run generates and imports the county (`cma-ledger generate`, then
`import`), which takes several minutes; later runs reuse bench-out/.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from datasette_plugins import accounts as accounts_file
from datasette_plugins.access import SiteSettings
from datasette_plugins.metadata import DASHBOARDS, QUERIES, TABLES
from datasette_plugins.serve import make_datasette, snapshot

OUT = Path(__file__).resolve().parent.parent / "bench-out"
MIN_EVENTS = 1_000_000


def build(persons: int, days: int, seed: int) -> Path:
    """Generate and import a county into bench-out/, unless it is there already."""
    OUT.mkdir(exist_ok=True)
    review = OUT / f"review-{persons}x{days}-{seed}.db"
    if review.exists():
        return review
    ledger = review.with_name(review.name.replace("review-", "ledger-"))
    feed = review.with_suffix(".jsonl")
    cli = [sys.executable, "-m", "ledger"]
    started = time.perf_counter()
    subprocess.run(
        cli
        + [
            "generate",
            "--persons",
            str(persons),
            "--days",
            str(days),
            "--seed",
            str(seed),
            "--out",
            str(feed),
        ],
        check=True,
    )
    subprocess.run(
        cli + ["--ledger", str(ledger), "--review", str(review), "import", str(feed)],
        check=True,
    )
    print(f"built {review} in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return review


def pick(review: Path) -> dict[str, str | None]:
    conn = sqlite3.connect(f"file:{review}?mode=ro", uri=True)
    try:
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        person = conn.execute(
            "SELECT person_id FROM events WHERE person_id IS NOT NULL "
            "GROUP BY person_id ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()[0]
        claim = conn.execute(
            "SELECT claim_id FROM billable_days ORDER BY reasons = '[]' LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    return {"events": str(events), "person": person, "claim": claim and claim[0]}


def pages(sample: dict[str, str | None]) -> list[tuple[str, str]]:
    found = [(f"table {t}", f"/review/{t}") for t in TABLES]
    found += [
        (f"query {q}", f"/review/{q}?person_id={sample['person']}") for q in QUERIES
    ]
    for slug, dashboard in DASHBOARDS.items():
        for name, chart in dashboard["charts"].items():
            sql = re.sub(r"\[\[.*?\]\]", "", chart["query"])
            found.append(
                (f"chart {slug}/{name}", f"/review.json?_shape=array&sql={quote(sql)}")
            )
    found += [
        ("page person timeline", f"/-/cma/person/{sample['person']}"),
        ("facets findings by rule", "/review/findings?_facet=rule&_facet=subject_type"),
        ("filter events of a person", f"/review/events?person_id={sample['person']}"),
    ]
    if sample["claim"]:
        found.append(("page claim why", f"/-/cma/claim/{sample['claim']}"))
    return found


async def measure(
    ds, cookies: dict, path: str, repeat: int
) -> tuple[float, float, float, int]:
    """The first request's time, then the median and slowest of the rest."""
    timings = []
    status = 0
    for _ in range(repeat + 1):
        started = time.perf_counter()
        response = await ds.client.get(path, cookies=cookies)
        timings.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    first, rest = timings[0], timings[1:]
    return first, statistics.median(rest), max(rest), status


async def run(ds, label: str, sample: dict, repeat: int) -> None:
    await ds.invoke_startup()
    # The cookie the sign-in form gives: it names the account's password hash.
    live = SiteSettings.of(ds).live_accounts()
    assert live is not None
    bench = live.current()["bench"]
    cookies = {"ds_actor": ds.sign({"a": bench.actor}, "actor")}
    print(f"\n{label}: first request, then median and slowest of {repeat}, in ms")
    print(f"{'what':44} {'first':>9} {'median':>9} {'slowest':>9}  status")
    for name, path in pages(sample):
        first, median, slowest, status = await measure(ds, cookies, path, repeat)
        print(f"{name:44} {first:9.1f} {median:9.1f} {slowest:9.1f}  {status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--review", type=Path, help="an existing review database")
    parser.add_argument("--persons", type=int, default=3500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=["live", "snapshot"])
    args = parser.parse_args()

    review = args.review or build(args.persons, args.days, args.seed)
    sample = pick(review)
    events = int(sample["events"])
    print(f"{review}: {events:,} events")
    if events < MIN_EVENTS:
        print(
            f"note: fewer than {MIN_EVENTS:,} events; the figures understate a "
            "large county",
            file=sys.stderr,
        )

    with tempfile.TemporaryDirectory() as folder:
        accounts = Path(folder) / "accounts.json"
        accounts_file.add(accounts, "bench", "auditor", "benchmark-password")
        if args.only != "live":
            started = time.perf_counter()
            with snapshot(review) as (copy, inspect_data):
                took = time.perf_counter() - started
                print(f"\nsnapshot (VACUUM INTO and counting rows) took {took:.1f}s")
                ds = make_datasette(
                    copy, accounts=accounts, immutable=True, inspect_data=inspect_data
                )
                label = "snapshot (immutable; the default of serve)"
                asyncio.run(run(ds, label, sample, args.repeat))
        if args.only != "snapshot":
            ds = make_datasette(review, accounts=accounts)
            label = "live review database (mode=ro; serve --live)"
            asyncio.run(run(ds, label, sample, args.repeat))


if __name__ == "__main__":
    main()
