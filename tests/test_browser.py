"""The review site in a real browser: sign in, open a timeline, follow a finding.

Runs `cma-ledger serve` in a subprocess on a free localhost port and drives
Debian's Chromium through Playwright. Its screenshots are the ones
docs/auditor-guide.md shows, when refreshed with CMA_SCREENSHOTS. Skipped, with
the reason, when Chromium or the playwright package is not installed (see the
guide for the install lines).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.cli import main

CHROMIUM = Path(os.environ.get("CMA_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Screenshots go to a scratch folder; to refresh the ones docs/ shows, run
# `CMA_SCREENSHOTS=docs/screenshots pytest tests/test_browser.py`.
SCREENSHOTS = Path(
    os.environ.get("CMA_SCREENSHOTS")
    or Path(tempfile.gettempdir()) / f"cma-screenshots-{os.getpid()}"
)
AUDITOR, PASSWORD = "ann", "auditor-password-1"

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="the playwright package is not installed (pip install playwright)",
)
if not CHROMIUM.exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"cma-ledger serve exited: {server.stderr.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {seconds}s")


@pytest.fixture(scope="module")
def county(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("browser")
    ledger, review = folder / "ledger.db", folder / "review.db"
    accounts, feed = folder / "accounts.json", folder / "county.jsonl"
    runner = CliRunner()
    for args, stdin in (
        (
            [
                "generate",
                "--persons",
                "40",
                "--days",
                "60",
                "--seed",
                "5",
                "--out",
                str(feed),
            ],
            None,
        ),
        (["--ledger", str(ledger), "--review", str(review), "import", str(feed)], None),
        (
            [
                "--ledger",
                str(ledger),
                "user",
                "add",
                AUDITOR,
                "--role",
                "auditor",
                "--password-stdin",
                "--accounts",
                str(accounts),
            ],
            PASSWORD + "\n",
        ),
    ):
        result = runner.invoke(main, args, input=stdin, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return {"ledger": ledger, "review": review, "accounts": accounts}


@pytest.fixture(scope="module")
def server(county) -> Iterator[str]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "ledger",
        "--ledger",
        str(county["ledger"]),
        "--review",
        str(county["review"]),
        "serve",
        "--port",
        str(port),
        "--accounts",
        str(county["accounts"]),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/-/login", process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def page(server):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.set_default_timeout(20_000)
        yield page
        browser.close()


def busiest_person(review: Path) -> str:
    conn = sqlite3.connect(review)
    try:
        return conn.execute(
            "SELECT person_id FROM findings WHERE subject_type = 'claim' "
            "GROUP BY person_id ORDER BY count(*) DESC, person_id LIMIT 1"
        ).fetchone()[0]
    finally:
        conn.close()


def shoot(page, name: str, full_page: bool = False) -> None:
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


def test_an_auditor_signs_in_and_follows_a_finding_to_its_events(page, server, county):
    page.goto(f"{server}/review/findings")
    assert "Sign in required" in page.content()
    page.click("a:has-text('Sign in')")
    page.wait_for_url(f"{server}/-/login")
    page.fill("#id_username", AUDITOR)
    page.fill("#id_password", PASSWORD)
    shoot(page, "01-sign-in.png")
    page.click("input[type=submit]")
    page.wait_for_url(f"{server}/")
    assert AUDITOR in page.inner_text("header")

    page.goto(f"{server}/review/findings")
    shoot(page, "02-findings.png")

    person = busiest_person(county["review"])
    page.click(f"table.rows-and-columns a[href='/-/cma/person/{person}'] >> nth=0")
    page.wait_for_url(f"**/-/cma/person/{person}")
    assert page.inner_text("h1") == f"Person {person}"
    timeline = page.locator("table.cma-timeline tbody tr")
    assert timeline.count() > 0
    shoot(page, "03-person-timeline.png")
    page.evaluate("document.getElementById('timeline').scrollIntoView()")
    shoot(page, "03b-timeline-events.png")

    finding = page.locator("h2:has-text('Findings') + div table tbody tr").first
    positions_cell = finding.locator("td").last
    positions = [
        int(a) for a in positions_cell.locator("a").all_inner_texts() if a.isdigit()
    ]
    positions_cell.locator("a:has-text('(all)')").click()
    page.wait_for_url("**/review/events?position__in=*")
    shown = [
        int(p)
        for p in page.locator(
            "table.rows-and-columns tbody td.col-position"
        ).all_inner_texts()
    ]
    assert shown == positions
    shoot(page, "04-finding-events.png")


def test_an_auditor_opens_why_a_claim_was_cut(page, server, county):
    conn = sqlite3.connect(county["review"])
    claim, reasons = conn.execute(
        "SELECT claim_id, reasons FROM billable_days WHERE reasons != '[]' "
        "AND status = 'not_billable' ORDER BY claim_id LIMIT 1"
    ).fetchone()
    conn.close()
    page.goto(f"{server}/review/billable_days?claim_id={claim}")
    page.click(f"a[href='/-/cma/claim/{claim}'] >> nth=0")
    page.wait_for_url(f"**/-/cma/claim/{claim}")
    applied = page.locator("section.cma-step.applies h3").all_inner_texts()
    assert applied == json.loads(reasons)
    shoot(page, "05-claim-why.png", full_page=True)


def test_an_auditor_sees_the_charts(page, server):
    page.goto(f"{server}/-/dashboards/billing")
    page.wait_for_selector(".vega-embed svg, .vega-embed canvas")
    shoot(page, "06-charts-billing.png")
    page.goto(f"{server}/-/dashboards/oversight")
    page.wait_for_selector(".vega-embed svg, .vega-embed canvas")
    shoot(page, "07-charts-oversight.png")
