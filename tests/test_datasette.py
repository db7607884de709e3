"""The review site: sign-in, roles, read-only access, every page and canned query.

Each test talks to an in-process Datasette through its own test client, built
exactly as `cma-ledger serve` builds it, over a generated county.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import itertools
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from datasette.utils.asgi import Request

from datasette_plugins import accounts as accounts_file
from datasette_plugins import cells, paging
from datasette_plugins.metadata import A_PAGE, DASHBOARDS, PAGE_ROWS, QUERIES, TABLES
from datasette_plugins.paging import PAGED_QUERIES
from datasette_plugins.serve import (
    ServeError,
    SnapshotWatcher,
    make_datasette,
    remove_stale_snapshots,
    snapshot,
    snapshot_folder,
    take_snapshot,
)
from ledger.cli import main

PASSWORDS = {"ann": "auditor-password-1", "rex": "reviewer-password-1"}
ROLES = {"ann": "auditor", "rex": "reviewer"}
NOTE_MARK = "confidential-note-"


def cli(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def with_notes(feed: Path, out: Path) -> Path:
    """The same feed, with a recognisable note on every completed task."""
    lines = []
    for n, line in enumerate(feed.read_text().splitlines()):
        record = json.loads(line)
        if record["type"] == "task_completed":
            record["note"] = f"{NOTE_MARK}{n}"
        lines.append(json.dumps(record))
    out.write_text("\n".join(lines) + "\n")
    return out


@pytest.fixture(scope="module")
def county(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("county")
    feed = folder / "county.jsonl"
    cli(
        "generate", "--persons", "40", "--days", "60", "--seed", "5", "--out", str(feed)
    )
    ledger, review = folder / "ledger.db", folder / "review.db"
    cli("--ledger", str(ledger), "--review", str(review), "import", str(feed))

    noted = with_notes(feed, folder / "noted.jsonl")
    notes_review = folder / "notes-review.db"
    cli(
        "--ledger",
        str(folder / "notes-ledger.db"),
        "--review",
        str(notes_review),
        "import",
        "--include-notes",
        str(noted),
    )

    accounts = folder / "accounts.json"
    for name, password in PASSWORDS.items():
        cli(
            "--ledger",
            str(ledger),
            "user",
            "add",
            name,
            "--role",
            ROLES[name],
            "--password-stdin",
            "--accounts",
            str(accounts),
            input=password + "\n",
        )
    return {
        "review": review,
        "notes_review": notes_review,
        "accounts": accounts,
        "ledger": ledger,
        "folder": folder,
    }


class Site:
    """One Datasette as `serve` makes it, and requests as each account."""

    def __init__(
        self, review: Path, accounts: Path | None, synthetic: bool = False, **kwargs
    ) -> None:
        self.ds = make_datasette(
            review, accounts=accounts, synthetic=synthetic, **kwargs
        )
        self.accounts = accounts
        asyncio.run(self.ds.invoke_startup())

    def cookies(self, who: str | None) -> dict | None:
        """The cookie the sign-in form gives `who`, as their account is now."""
        if who is None:
            return None
        actor = accounts_file.load(self.accounts)[who].actor if self.accounts else {}
        return {"ds_actor": self.ds.sign({"a": actor}, "actor")}

    def get(self, path: str, who: str | None = None, **kwargs):
        return asyncio.run(
            self.ds.client.get(path, cookies=self.cookies(who), **kwargs)
        )

    def post(self, path: str, who: str | None = None, **kwargs):
        return asyncio.run(
            self.ds.client.post(path, cookies=self.cookies(who), **kwargs)
        )

    def rows(self, sql: str, params: tuple = ()) -> list[dict]:
        db = self.ds.get_database("review")
        return [dict(r) for r in asyncio.run(db.execute(sql, params)).rows]


@pytest.fixture(scope="module")
def site(county) -> Site:
    return Site(county["review"], county["accounts"])


@pytest.fixture(scope="module")
def notes_site(county) -> Site:
    return Site(county["notes_review"], county["accounts"])


@pytest.fixture(scope="module")
def sample(site) -> dict[str, str]:
    """A person with claims and findings, and claims of several outcomes."""
    person = site.rows(
        "SELECT person_id FROM findings WHERE subject_type = 'claim' "
        "GROUP BY person_id ORDER BY count(*) DESC, person_id LIMIT 1"
    )[0]["person_id"]
    cut = site.rows(
        "SELECT claim_id FROM billable_days WHERE reasons != '[]' "
        "ORDER BY claim_id LIMIT 1"
    )[0]["claim_id"]
    paid = site.rows(
        "SELECT claim_id FROM billable_days WHERE status = 'billable' "
        "ORDER BY claim_id LIMIT 1"
    )[0]["claim_id"]
    return {"person": person, "cut_claim": cut, "paid_claim": paid}


def every_page(sample: dict[str, str]) -> list[str]:
    pages = [
        "/",
        "/review",
        "/review.json",
        "/-/cma/person/" + sample["person"],
        "/-/cma/claim/" + sample["cut_claim"],
        "/-/dashboards",
    ]
    for table in TABLES:
        pages += [f"/review/{table}", f"/review/{table}.json"]
    for query in QUERIES:
        pages += [f"/review/{query}", f"/review/{query}.json"]
    pages += [f"/-/dashboards/{slug}" for slug in DASHBOARDS]
    return pages


ADMIN_ROUTES = [
    "/-/metadata",
    "/-/metadata.json",
    "/-/versions",
    "/-/plugins.json",
    "/-/settings.json",
    "/-/config",
    "/-/threads",
    "/-/databases.json",
    "/-/actor.json",
    "/-/permissions",
    "/-/messages",
    "/-/allow-debug",
    "/-/patterns",
    "/-/password-tool",
    "/-/auth-token",
    "/-/logout",
    "/review.db",
    "/review/events/1",
    "/review/events/1.json",
    "/-/static/../review.json",
]


# Signing in


def test_anonymous_requests_get_401_or_403_and_no_data(site, sample):
    person = sample["person"]
    for path in every_page(sample) + ADMIN_ROUTES:
        response = site.get(path)
        assert response.status_code in (401, 403), path
        assert person not in response.text, path
        assert "CMA-" not in response.text, path


def test_programs_are_challenged_for_basic_auth_and_browsers_shown_a_sign_in_link(site):
    program = site.get("/review/findings.json")
    assert program.status_code == 401
    assert program.headers["www-authenticate"].startswith("Basic ")

    browser = site.get("/review/findings", headers={"accept": "text/html"})
    assert browser.status_code == 403
    assert 'href="/-/login"' in browser.text


def test_only_the_sign_in_page_and_static_files_are_public(site):
    assert site.get("/-/login").status_code == 200
    assert site.get("/-/static/app.css").status_code == 200
    assert site.get("/-/static-plugins/cma-ledger/cma.css").status_code == 200


def csrf(site: Site) -> tuple[str, dict[str, str]]:
    """A CSRF token and its cookie, as a browser gets them from the sign-in form."""
    form = asyncio.run(site.ds.client.get("/-/login"))
    token = re.search(r'name="csrftoken" value="([^"]+)"', form.text).group(1)
    return token, {"ds_csrftoken": form.cookies["ds_csrftoken"]}


def sign_in(site: Site, name: str, password: str):
    token, cookies = csrf(site)
    return asyncio.run(
        site.ds.client.post(
            "/-/login",
            data={"username": name, "password": password, "csrftoken": token},
            cookies=cookies,
        )
    )


def test_the_sign_in_form_gives_a_cookie_that_opens_the_site(site, sample):
    response = sign_in(site, "ann", PASSWORDS["ann"])
    assert response.status_code == 302
    cookie = response.cookies["ds_actor"]

    page = asyncio.run(
        site.ds.client.get("/review/findings", cookies={"ds_actor": cookie})
    )
    assert page.status_code == 200
    assert sample["person"] in page.text


def test_a_wrong_password_is_refused_at_the_sign_in_form(site):
    response = sign_in(site, "ann", "not-the-password")
    assert response.status_code == 200
    assert "Invalid username or password" in response.text
    assert "ds_actor" not in response.cookies


def basic(name: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{name}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


def test_http_basic_auth_opens_the_site(site):
    response = site.get(
        "/review/findings.json?_shape=array", headers=basic("ann", PASSWORDS["ann"])
    )
    assert response.status_code == 200
    assert isinstance(response.json(), list)


def test_http_basic_auth_with_a_wrong_password_gets_401(site):
    response = site.get("/review/findings.json", headers=basic("ann", "wrong-password"))
    assert response.status_code == 401


def test_a_forged_actor_cookie_is_refused(site):
    forged = {
        "ds_actor": site.ds.sign({"a": {"id": "mallory", "role": "auditor"}}, "actor")
    }
    response = asyncio.run(site.ds.client.get("/review/findings", cookies=forged))
    assert response.status_code == 401


def test_a_malformed_basic_header_gets_a_401_challenge_not_an_error(site):
    for token in ("!!!notbase64", "//46eA==", "", "Zm9v"):
        response = site.get(
            "/review/findings.json", headers={"authorization": f"Basic {token}"}
        )
        assert response.status_code == 401, token
        assert response.headers["www-authenticate"].startswith("Basic "), token
    form = site.get("/-/login", headers={"authorization": "Basic //46eA=="})
    assert form.status_code == 200


def test_a_non_ascii_password_works_over_basic_and_the_form(county):
    accounts = county["folder"] / "non-ascii.json"
    password = "pässwörd-ünïcode-€"
    accounts_file.add(accounts, "zoe", "reviewer", password)
    temporary = Site(county["review"], accounts)
    page = temporary.get("/review/findings.json", headers=basic("zoe", password))
    assert page.status_code == 200
    assert sign_in(temporary, "zoe", password).status_code == 302


def same_accounts(county, name: str) -> tuple[Path, Site]:
    """A copy of the accounts file, and a site that reads it while it changes."""
    accounts = county["folder"] / name
    accounts.write_bytes(county["accounts"].read_bytes())
    return accounts, Site(county["review"], accounts)


def get_with(site: Site, path: str, cookies: dict | None = None, **kwargs):
    return asyncio.run(site.ds.client.get(path, cookies=cookies, **kwargs))


def test_a_removed_account_is_refused_on_its_next_request(county):
    accounts, temporary = same_accounts(county, "short-lived.json")
    cookie = temporary.cookies("rex")
    assert get_with(temporary, "/review/findings", cookie).status_code == 200

    accounts_file.remove(accounts, "rex")
    assert get_with(temporary, "/review/findings", cookie).status_code == 401
    basic_rex = basic("rex", PASSWORDS["rex"])
    assert temporary.get("/review/findings", headers=basic_rex).status_code == 401
    assert temporary.get("/review/findings", who="ann").status_code == 200


def test_a_new_password_works_at_once_and_ends_the_old_sign_ins(county):
    accounts, temporary = same_accounts(county, "new-password.json")
    cookie = temporary.cookies("rex")
    old, new = basic("rex", PASSWORDS["rex"]), basic("rex", "a-new-password-1")
    assert temporary.get("/review/findings.json", headers=old).status_code == 200

    accounts_file.add(accounts, "rex", "reviewer", "a-new-password-1")
    assert temporary.get("/review/findings.json", headers=old).status_code == 401
    assert temporary.get("/review/findings.json", headers=new).status_code == 200
    assert get_with(temporary, "/review/findings", cookie).status_code == 401
    assert sign_in(temporary, "rex", PASSWORDS["rex"]).status_code == 200
    assert sign_in(temporary, "rex", "a-new-password-1").status_code == 302


def test_a_changed_role_takes_effect_on_the_next_request(county):
    accounts, temporary = same_accounts(county, "demoted.json")
    cookie = temporary.cookies("ann")
    sql = "/review.json?sql=select+1"
    assert get_with(temporary, sql, cookie).status_code == 200

    accounts_file.add(accounts, "ann", "reviewer", PASSWORDS["ann"])
    assert get_with(temporary, "/review/findings", cookie).status_code == 200
    assert get_with(temporary, sql, cookie).status_code == 403
    ann = basic("ann", PASSWORDS["ann"])
    assert temporary.get("/review/findings.json", headers=ann).status_code == 200
    assert temporary.get(sql, headers=ann).status_code == 403


def test_an_account_added_while_serving_signs_in_at_once(county):
    accounts, temporary = same_accounts(county, "grown.json")
    accounts_file.add(accounts, "sam", "reviewer", "sams-password-1")
    sam = basic("sam", "sams-password-1")
    assert temporary.get("/review/findings.json", headers=sam).status_code == 200


def test_an_accounts_file_spoiled_while_serving_admits_nobody(county):
    accounts, temporary = same_accounts(county, "spoiled.json")
    cookie = temporary.cookies("ann")
    accounts.write_text("{broken")
    assert get_with(temporary, "/review/findings", cookie).status_code == 401
    ann = basic("ann", PASSWORDS["ann"])
    assert temporary.get("/review/findings.json", headers=ann).status_code == 401


def test_no_page_shows_a_password_hash(site, sample):
    for path in every_page(sample) + ["/-/metadata.json", "/-/metadata"]:
        response = site.get(path, who="ann")
        assert "pbkdf2" not in response.text, path
        assert "password_hash" not in response.text, path


# Roles


def test_auditors_may_run_sql_of_their_own(site):
    response = site.get(
        "/review.json?sql=select+count(*)+as+n+from+events&_shape=array", who="ann"
    )
    assert response.status_code == 200
    assert response.json()[0]["n"] > 0


def test_reviewers_may_not_run_sql_of_their_own(site):
    for path in ("/review.json?sql=select+1", "/review?sql=select+1"):
        assert site.get(path, who="rex").status_code == 403
    database_page = site.get("/review", who="rex")
    assert "Custom SQL query" not in database_page.text


def test_reviewers_may_run_every_canned_query(site, sample):
    for name in QUERIES:
        response = site.get(
            f"/review/{name}.json?person_id={sample['person']}", who="rex"
        )
        assert response.status_code == 200, name


def test_the_events_table_is_for_auditors_when_notes_are_included(notes_site):
    assert notes_site.get("/review/events", who="rex").status_code == 403
    assert notes_site.get("/review/events/1.json", who="rex").status_code == 403
    audited = notes_site.get(
        "/review/events.json?type=task_completed&_shape=array", who="ann"
    )
    assert NOTE_MARK in audited.text


def test_reviewers_never_see_note_text(notes_site):
    person = notes_site.rows(
        "SELECT person_id FROM events WHERE payload LIKE ? LIMIT 1", (f"%{NOTE_MARK}%",)
    )[0]["person_id"]
    claim = notes_site.rows("SELECT claim_id FROM claims LIMIT 1")[0]["claim_id"]
    pages = [
        f"/-/cma/person/{person}",
        f"/-/cma/claim/{claim}",
        f"/review/person_history?person_id={person}",
        f"/review/person_history.json?person_id={person}",
    ]
    pages += [f"/review/{table}.json" for table in TABLES if table != "events"]
    for path in pages:
        response = notes_site.get(path, who="rex")
        assert response.status_code == 200, path
        assert NOTE_MARK not in response.text, path


def test_only_auditors_are_shown_links_to_the_charts(site):
    assert 'href="/-/dashboards"' in site.get("/review/findings", who="ann").text
    assert "/-/dashboards" not in site.get("/review/findings", who="rex").text


def test_positions_are_plain_numbers_for_those_who_may_not_open_events(
    notes_site, sample
):
    claim = "/-/cma/claim/" + sample["cut_claim"]
    for path in (claim, "/review/findings", "/review/billable_days"):
        assert "/review/events" in notes_site.get(path, who="ann").text, path
        page = notes_site.get(path, who="rex")
        assert page.status_code == 200, path
        assert "/review/events" not in page.text, path


def test_the_charts_are_for_auditors(site):
    for slug, dashboard in DASHBOARDS.items():
        page = site.get(f"/-/dashboards/{slug}", who="ann")
        assert page.status_code == 200
        for chart in dashboard["charts"].values():
            assert chart["title"] in page.text
        assert site.get(f"/-/dashboards/{slug}", who="rex").status_code == 403


def test_every_chart_query_runs(site):
    for dashboard in DASHBOARDS.values():
        for chart in dashboard["charts"].values():
            sql = re.sub(r"\[\[.*?\]\]", "", chart["query"])
            assert isinstance(site.rows(sql), list)


# Read-only


WRITES = [
    "INSERT INTO findings (rule) VALUES ('X')",
    "UPDATE billable_days SET amount_cents = 0",
    "DELETE FROM events",
    "REPLACE INTO claims (claim_id) VALUES ('X')",
    "DROP TABLE events",
    "CREATE TABLE x (a)",
    "ALTER TABLE events ADD COLUMN x",
    "ATTACH DATABASE '/tmp/cma-attack.db' AS attack",
    "PRAGMA writable_schema = 1",
    "PRAGMA query_only = 0",
    "VACUUM",
    "WITH x AS (SELECT 1) INSERT INTO findings (rule) SELECT * FROM x",
    "SELECT 1; DELETE FROM events",
]


def fingerprint(path: Path) -> tuple[str, dict[str, int]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    tables = [
        r[0]
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    ]
    counts = {
        t: conn.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in tables
    }
    conn.close()
    return hashlib.sha256(path.read_bytes()).hexdigest(), counts


def test_no_route_writes_to_the_review_database(site, county, sample):
    before = fingerprint(county["review"])
    for sql in WRITES:
        for path in ("/review.json", "/review"):
            response = site.get(path, who="ann", params={"sql": sql})
            assert response.status_code in (400, 403), (sql, path)

    token, cookies = csrf(site)
    cookies |= site.cookies("ann")
    targets = every_page(sample) + ADMIN_ROUTES + [f"/review/{q}" for q in QUERIES]
    for path in targets:
        for sql in WRITES[:4]:
            response = asyncio.run(
                site.ds.client.post(
                    path, data={"sql": sql, "csrftoken": token}, cookies=cookies
                )
            )
            expected = {"/-/login": 200, "/-/logout": 302}.get(path, 405)
            assert response.status_code == expected, path
    for method in ("put", "patch", "delete"):
        response = asyncio.run(
            getattr(site.ds.client, method)("/review/events", cookies=cookies)
        )
        assert response.status_code == 405, method
    assert fingerprint(county["review"]) == before


def test_no_canned_query_is_writable(site):
    for name, query in QUERIES.items():
        assert "write" not in query, name
    canned = asyncio.run(site.ds.get_canned_queries("review", None))
    assert not any(q.get("write") for q in canned.values())


def test_every_connection_to_the_review_database_is_read_only(site):
    db = site.ds.get_database("review")
    assert db.is_mutable

    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        asyncio.run(db.execute_write("DELETE FROM events"))

    def sneak(conn):
        conn.execute("PRAGMA query_only = 0")
        conn.execute("DELETE FROM events")

    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        asyncio.run(db.execute_fn(sneak))


def test_a_snapshot_is_a_complete_immutable_copy(county):
    live = fingerprint(county["review"])[1]
    with snapshot(county["review"]) as (copy, inspect_data):
        assert fingerprint(copy)[1] == live
        counts = {t: v["count"] for t, v in inspect_data["review"]["tables"].items()}
        assert counts == live

        frozen = Site(
            copy, county["accounts"], immutable=True, inspect_data=inspect_data
        )
        db = frozen.ds.get_database("review")
        assert not db.is_mutable
        assert asyncio.run(db.table_counts()) == live
        page = frozen.get("/review/events", who="ann")
        assert page.status_code == 200
        assert "(snapshot)" in page.text
        with pytest.raises(AssertionError):
            asyncio.run(db.execute_write("DELETE FROM events"))
    assert not copy.exists()


def copied(review: Path, to: Path) -> Path:
    source, target = sqlite3.connect(review), sqlite3.connect(to)
    source.backup(target)
    source.close()
    target.close()
    return to


def append_by_hand(review: Path) -> int:
    """An event of a new type, written with its position as a projection writes."""
    conn = sqlite3.connect(review)
    with conn:
        (top,) = conn.execute("SELECT max(position) FROM events").fetchone()
        conn.execute(
            "INSERT INTO events (position, type, payload) VALUES (?, 'by_hand', '{}')",
            (top + 1,),
        )
        conn.execute(
            "UPDATE _projection SET position = ? WHERE name = 'review'", (top + 1,)
        )
    conn.close()
    return top + 1


def event_types(site: Site) -> tuple[int, dict[str, int]]:
    data = site.get("/review/events.json?_facet=type", who="ann").json()
    found = data["facet_results"]["type"]["results"]
    return data["filtered_table_rows_count"], {r["value"]: r["count"] for r in found}


def test_a_live_site_counts_a_table_afresh_once_the_projection_moves(county, tmp_path):
    review = copied(county["review"], tmp_path / "review.db")
    live = Site(review, county["accounts"])
    rows, types = event_types(live)
    assert event_types(live) == (rows, types)

    append_by_hand(review)

    assert event_types(live) == (rows + 1, types | {"by_hand": 1})


def test_a_snapshot_is_taken_again_once_the_projection_moves(county, tmp_path):
    review = copied(county["review"], tmp_path / "review.db")
    folder = tmp_path / "snapshots"
    folder.mkdir()
    first = take_snapshot(review, folder)
    site = Site(
        first.path, county["accounts"], immutable=True, inspect_data=first.inspect_data
    )
    watcher = SnapshotWatcher(site.ds, review, folder, first)
    rows, types = event_types(site)
    assert not asyncio.run(watcher.refresh())

    position = append_by_hand(review)
    watcher.taken_at -= 3600  # rather than wait out the time between snapshots
    assert asyncio.run(watcher.refresh())

    assert event_types(site) == (rows + 1, types | {"by_hand": 1})
    assert f"at ledger position {position}" in site.get("/review", who="ann").text
    watcher.retire(0.0, everything=True)
    assert not first.path.exists()

    rebuilt = copied(county["review"], tmp_path / "rebuilt.db")
    rebuilt.replace(review)
    watcher.taken_at -= 3600
    assert asyncio.run(watcher.refresh())
    assert event_types(site) == (rows, types)


def test_a_review_site_of_real_records_needs_accounts(county):
    with pytest.raises(ServeError, match="accounts"):
        make_datasette(county["review"], accounts=None)


# Explained


def test_every_table_view_and_column_has_a_title_and_description(site):
    schema = site.rows(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
        "AND name NOT LIKE 'sqlite_%'"
    )
    for name in (r["name"] for r in schema):
        spec = TABLES.get(name)
        assert spec, f"{name} has no metadata"
        assert spec["title"] and spec["description"], name
        columns = [r["name"] for r in site.rows(f"PRAGMA table_info([{name}])")]
        assert set(spec["columns"]) == set(columns), name


def indexed_columns(site: Site, table: str) -> set[str]:
    """Columns that lead an index, or the primary key."""
    found = {
        r["name"] for r in site.rows(f"PRAGMA table_info([{table}])") if r["pk"] == 1
    }
    for index in site.rows(f"PRAGMA index_list([{table}])"):
        first = site.rows(f"PRAGMA index_info([{index['name']}])")[0]
        found.add(first["name"])
    return found


def test_every_facet_and_default_sort_is_backed_by_an_index(site):
    views = {
        r["name"]
        for r in site.rows("SELECT name FROM sqlite_master WHERE type = 'view'")
    }
    for table, spec in TABLES.items():
        if table in views:
            continue
        wanted = set(spec.get("facets", []))
        wanted |= {spec[k] for k in ("sort", "sort_desc") if k in spec}
        missing = wanted - indexed_columns(site, table)
        assert not missing, f"{table}: {missing} not indexed"


def test_facets_count_rule_status_program_and_provider(site):
    checks = {
        "/review/findings.json?_facet=rule": "rule",
        "/review/billable_days.json?_facet=status": "status",
        "/review/enrollments.json?_facet=program": "program",
        "/review/billable_days.json?_facet=provider_id": "provider_id",
    }
    for path, facet in checks.items():
        data = site.get(path, who="rex").json()
        assert data["facet_results"][facet]["results"], path


def test_every_table_page_shows_its_title_and_description(site):
    for table, spec in TABLES.items():
        for who in ("ann", "rex"):
            page = site.get(f"/review/{table}", who=who)
            assert page.status_code == 200, (table, who)
            text = html.unescape(page.text)
            assert spec["title"] in text, table
            assert spec["description"] in text, table


def test_every_canned_query_returns_rows(site, sample):
    for name in QUERIES:
        data = site.get(
            f"/review/{name}.json?_shape=objects&person_id={sample['person']}",
            who="ann",
        ).json()
        assert data["rows"], name


def all_pages_of(site: Site, query: str, args: str = "") -> list[dict]:
    """A paged canned query's rows, asked for a page at a time until one is short."""
    rows: list[dict] = []
    for page in itertools.count(1):
        found = site.get(
            f"/review/{query}.json?_shape=array&_page={page}{args}", who="rex"
        ).json()
        rows += found
        if len(found) < PAGE_ROWS:
            return rows
    raise AssertionError("unreachable")


def test_same_day_conflicts_are_every_live_claim_sharing_a_day(site):
    listed = all_pages_of(site, "same_day_conflicts")
    shared = site.rows(
        "SELECT claim_id FROM claims c WHERE voided_on IS NULL AND EXISTS ("
        "SELECT 1 FROM claims o WHERE o.person_id = c.person_id "
        "AND o.service_date = c.service_date AND o.claim_id != c.claim_id "
        "AND o.voided_on IS NULL)"
    )
    assert listed
    assert sorted(r["claim_id"] for r in listed) == sorted(
        r["claim_id"] for r in shared
    )


def test_long_canned_queries_answer_a_page_at_a_time(site, sample):
    assert PAGED_QUERIES == {
        "oversight_queue_waiting",
        "same_day_conflicts",
        "person_history",
    }
    args = f"&person_id={sample['person']}"
    for name in PAGED_QUERIES:
        whole = QUERIES[name]["sql"].replace(f" {A_PAGE}", "")
        expected = site.rows(whole, {"person_id": sample["person"]})
        assert all_pages_of(site, name, args) == expected, name


def test_a_page_links_to_the_pages_around_it(site):
    page = site.get("/review/same_day_conflicts?_page=3", who="rex")
    assert 'href="/review/same_day_conflicts?_page=2">previous 100</a>' in page.text
    assert paging.page_parameter("offset", Request.fake("/?_page=3")) == 200
    assert paging.page_parameter("offset", Request.fake("/?_page=x")) == 0
    assert paging.page_parameter("offset", Request.fake("/?_page=-4")) == 0


def test_the_summary_tables_add_up_the_billable_days(site):
    by_month = site.rows(
        "SELECT substr(service_date, 1, 7) AS month, provider_id, count(*) AS claims, "
        "sum(status IN ('billable', 'partially_billable')) AS billable_days, "
        "sum(claimed_units) AS claimed_units, sum(billable_units) AS billable_units, "
        "sum(amount_cents) AS amount_cents FROM billable_days "
        "WHERE status != 'voided' GROUP BY month, provider_id "
        "ORDER BY month, provider_id"
    )
    assert by_month
    assert site.rows("SELECT * FROM billing_by_month ORDER BY month, provider_id") == (
        by_month
    )
    answered = site.get(
        "/review/amounts_by_month_and_provider.json?_shape=array", who="rex"
    ).json()
    assert answered == by_month


def test_amounts_are_shown_in_dollars(site):
    page = site.get("/review/billable_days?status=billable", who="rex")
    assert re.search(r"\$\d+\.\d\d", page.text)


def test_rates_are_shown_exactly_as_stored(site):
    day = site.rows("SELECT claim_id FROM billable_days WHERE rate = '9.665'")[0]
    for path in (
        "/review/billable_days?rate=9.665",
        "/review/service_agreements?rate=9.665",
        f"/-/cma/claim/{day['claim_id']}",
    ):
        page = site.get(path, who="rex")
        assert "$9.665" in page.text, path
        assert "$9.66<" not in page.text, path
        shown = re.findall(r'class="col-rate[^"]*">([^<]*)<', page.text)
        assert set(shown) <= {"$9.665"}, path
    assert cells.dollars("8.0125") == "$8.0125"
    assert cells.dollars("9.5") == "$9.50"
    assert cells.dollars("1234") == "$1,234.00"
    assert cells.dollars_from_cents(96650) == "$966.50"


def test_billable_days_and_findings_link_to_their_events_and_explanations(site):
    for table in ("billable_days", "findings"):
        page = site.get(f"/review/{table}", who="rex")
        assert re.search(r'href="/review/events\?position__in=[\d,]+"', page.text), (
            table
        )
        assert 'href="/-/cma/claim/' in page.text, table
        assert 'href="/-/cma/person/' in page.text, table


def test_the_position_links_open_exactly_those_events(site):
    row = site.rows("SELECT positions FROM findings LIMIT 1")[0]
    positions = json.loads(row["positions"])
    chosen = ",".join(map(str, positions))
    events = site.get(
        f"/review/events.json?_shape=array&position__in={chosen}", who="rex"
    ).json()
    assert [e["position"] for e in events] == positions


# The plugin's own pages


def test_a_persons_timeline_lists_every_event_about_them_in_order(site, sample):
    person = sample["person"]
    page = site.get(f"/-/cma/person/{person}", who="rex")
    assert page.status_code == 200
    expected = [
        r["position"]
        for r in site.rows(
            "SELECT position FROM events WHERE person_id = ? ORDER BY position",
            (person,),
        )
    ]
    shown = [int(p) for p in re.findall(r'<tr id="event-(\d+)"', page.text)]
    assert shown == expected


def test_a_persons_timeline_puts_the_billing_outcome_beside_the_days(site, sample):
    person = sample["person"]
    page = site.get(f"/-/cma/person/{person}", who="rex")
    claims = site.rows(
        "SELECT claim_id, status FROM billable_days WHERE person_id = ?", (person,)
    )
    for claim in claims:
        assert f'/-/cma/claim/{claim["claim_id"]}"' in page.text
    assert re.search(
        r'class="status-(billable|not_billable|partially_billable)"', page.text
    )


def test_the_claim_page_walks_every_rule_with_its_verdict(site, sample):
    claim = sample["cut_claim"]
    reasons = json.loads(
        site.rows("SELECT reasons FROM billable_days WHERE claim_id = ?", (claim,))[0][
            "reasons"
        ]
    )
    page = site.get(f"/-/cma/claim/{claim}", who="rex")
    assert page.status_code == 200
    sections = re.findall(
        r'<section class="cma-step (applies|clear)" id="([A-Z-]+)"', page.text
    )
    assert [rule for _, rule in sections] == [
        "CMA-AUTH",
        "CMA-NOT-CM",
        "CMA-DUP",
        "CMA-SAME-DAY",
        "CMA-ENROLLED",
        "CMA-CDCS",
        "CMA-INTEREST",
        "CMA-SUPERVISION",
        "CMA-QUALIFIED",
        "CMA-UNITS-DOC",
        "CMA-UNITS-AUTH",
    ]
    assert {rule for verdict, rule in sections if verdict == "applies"} == set(reasons)


def test_the_claim_page_of_a_billable_claim_finds_nothing_against_it(site, sample):
    page = site.get(f"/-/cma/claim/{sample['paid_claim']}", who="rex")
    assert "cma-step applies" not in page.text
    assert "Billable:" in page.text


def test_every_claim_page_renders(site):
    for row in site.rows("SELECT claim_id FROM claims"):
        assert site.get(f"/-/cma/claim/{row['claim_id']}", who="rex").status_code == 200


def test_an_unknown_person_or_claim_is_404(site):
    assert site.get("/-/cma/person/nobody", who="ann").status_code == 404
    assert site.get("/-/cma/claim/nothing", who="ann").status_code == 404


def test_the_footer_shows_the_ledger_position(site):
    position = site.rows("SELECT position FROM _projection")[0]["position"]
    page = site.get("/review/findings", who="rex")
    assert f"at ledger position {position}" in page.text


def test_a_replay_says_so_on_every_page(county):
    replay = county["folder"] / "replay.db"
    cli(
        "--ledger",
        str(county["ledger"]),
        "replay",
        "--until-position",
        "50",
        "--out",
        str(replay),
    )
    page = Site(replay, county["accounts"]).get("/review/findings", who="rex")
    assert "at ledger position 50, <strong>a replay: until-position 50" in page.text


# The demo


def test_the_demo_site_is_open_and_marked_synthetic_on_every_page(county, sample):
    demo = Site(county["review"], accounts=None, synthetic=True)
    for path in every_page(sample):
        page = demo.get(path)
        assert page.status_code == 200, path
        if "json" not in path:
            assert "synthetic.css" in page.text, path
            assert "SYNTHETIC DATA" in page.text, path


# The command line


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`cma-ledger ARGS --port P` in a subprocess, until it answers /-/login."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ledger", *args, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | (env or {}),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stderr.read()
            try:
                urllib.request.urlopen(f"{base}/-/login", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def fetch(url: str, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_serve_snapshot_serves_a_frozen_copy_to_signed_in_accounts(county):
    paths = ["--ledger", str(county["ledger"]), "--review", str(county["review"])]
    with serving(
        *paths, "serve", "--snapshot", "--accounts", str(county["accounts"])
    ) as base:
        assert fetch(f"{base}/review/findings")[0] == 401
        status, text = fetch(f"{base}/review/findings", basic("ann", PASSWORDS["ann"]))
        assert status == 200
        assert "(snapshot)" in text


def test_serve_reads_snapshots_by_default_and_leaves_none_behind(county, tmp_path):
    paths = ["--ledger", str(county["ledger"]), "--review", str(county["review"])]
    signed_in = basic("ann", PASSWORDS["ann"])
    with serving(
        *paths,
        "serve",
        "--accounts",
        str(county["accounts"]),
        env={"TMPDIR": str(tmp_path)},
    ) as base:
        status, text = fetch(f"{base}/review/findings", signed_in)
        assert status == 200
        assert "(snapshot)" in text
        assert list(tmp_path.glob("cma-snapshot-*/review-*.db"))
    assert not list(tmp_path.iterdir())


def test_serve_live_reads_the_review_database_itself(county):
    paths = ["--ledger", str(county["ledger"]), "--review", str(county["review"])]
    with serving(
        *paths, "serve", "--live", "--accounts", str(county["accounts"])
    ) as base:
        status, text = fetch(f"{base}/review/findings", basic("ann", PASSWORDS["ann"]))
        assert status == 200
        assert "(snapshot)" not in text


def test_demo_serves_a_generated_county_without_sign_in(tmp_path):
    with serving(
        "demo", "--dir", str(tmp_path), "--persons", "5", "--days", "10"
    ) as base:
        status, text = fetch(f"{base}/review/billable_days")
        assert status == 200
        assert "SYNTHETIC DATA" in text


def test_serve_refuses_to_start_without_an_account(county):
    result = CliRunner().invoke(
        main,
        [
            "--ledger",
            str(county["ledger"]),
            "--review",
            str(county["review"]),
            "serve",
            "--accounts",
            str(county["folder"] / "none.json"),
        ],
    )
    assert result.exit_code != 0
    assert "user add" in result.output


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


def serve_args(county, *more: str) -> list[str]:
    return [
        "--ledger",
        str(county["ledger"]),
        "--review",
        str(county["review"]),
        "serve",
        "--accounts",
        str(county["accounts"]),
        *more,
    ]


def test_serve_and_demo_refuse_a_port_out_of_range():
    for port in ("99999", "0", "-1"):
        for command in (["serve"], ["demo", "--no-serve"]):
            result = invoke(*command, "--port", port)
            assert result.exit_code == 2, (command, port)
            assert "1<=x<=65535" in result.output, (command, port)


def test_serve_says_a_port_in_use_is_in_use_before_announcing_anything(county):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = invoke(*serve_args(county, "--port", port))
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is in use; choose another with --port" in (
        result.output
    )
    assert "serving" not in result.output


def test_serve_says_a_host_cannot_be_found(county):
    result = invoke(*serve_args(county, "--host", "no-such-host.invalid"))
    assert result.exit_code == 1
    assert "cannot find the host 'no-such-host.invalid'" in result.output
    assert "serving" not in result.output


def test_serve_refuses_a_ledger_given_as_the_review_database(county):
    ledger = str(county["ledger"])
    for review in (ledger, str(county["folder"] / "notes-ledger.db")):
        result = invoke("--ledger", ledger, "--review", review, "serve")
        assert result.exit_code == 1
        assert "not a review database; did you swap --ledger and --review?" in (
            result.output
        )
    result = invoke("--ledger", ledger, "--review", ledger, "serve")
    assert "is the ledger itself" in result.output


def test_serve_names_a_spoiled_accounts_file_and_how_to_mend_it(county):
    spoiled = county["folder"] / "spoiled-at-start.json"
    spoiled.write_text("{broken")
    result = invoke(*serve_args(county)[:-1], str(spoiled))
    assert result.exit_code == 1
    assert str(spoiled) in result.output
    assert "restore it" in result.output and "user add" in result.output
    assert "unexpected failure" not in result.output

    listed = invoke(
        "--ledger", str(county["ledger"]), "user", "list", "--accounts", str(spoiled)
    )
    assert listed.exit_code == 1 and str(spoiled) in listed.output


def test_serve_refuses_an_account_of_unknown_role(county):
    odd = county["folder"] / "odd-role.json"
    data = json.loads(county["accounts"].read_text())
    data["accounts"]["rex"]["role"] = "admin"
    odd.write_text(json.dumps(data))
    result = invoke(*serve_args(county)[:-1], str(odd))
    assert result.exit_code == 1
    assert "'rex'" in result.output and "'admin'" in result.output
    assert "auditor, reviewer" in result.output
    with pytest.raises(ServeError, match="unknown role"):
        make_datasette(county["review"], accounts=odd)


def test_serve_removes_the_snapshots_of_killed_servers(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = tmp_path / f"cma-snapshot-{gone.pid}-abc"
    running = tmp_path / f"cma-snapshot-{os.getpid()}-def"
    for folder in (stale, running):
        folder.mkdir()
        (folder / "review-1.db").write_bytes(b"case records")
    assert remove_stale_snapshots(tmp_path) == [stale]
    assert not stale.exists() and running.exists()


def test_snapshot_folders_are_private_and_named_for_their_process():
    with snapshot_folder() as folder:
        assert Path(folder).stat().st_mode & 0o777 == 0o700
        assert Path(folder).name.startswith(f"cma-snapshot-{os.getpid()}-")


def test_user_add_without_a_terminal_says_to_use_password_stdin(county):
    result = invoke(
        "--ledger", str(county["ledger"]), "user", "add", "sam", "--role", "auditor"
    )
    assert result.exit_code == 1
    assert "no terminal to ask for the password; use --password-stdin" in (
        result.output
    )
    assert "Aborted" not in result.output


def test_user_list_says_when_there_are_no_accounts(county):
    empty = county["folder"] / "no-accounts.json"
    result = invoke(
        "--ledger", str(county["ledger"]), "user", "list", "--accounts", str(empty)
    )
    assert result.exit_code == 0
    assert f"no accounts in {empty}; add one with" in result.output


def test_user_add_names_the_letters_an_account_name_may_use(county):
    result = invoke(
        "--ledger",
        str(county["ledger"]),
        "user",
        "add",
        "zoë",
        "--role",
        "auditor",
        "--password-stdin",
        input="long-enough-pw\n",
    )
    assert result.exit_code == 1
    assert "ASCII letters" in result.output


def test_user_add_keeps_only_a_hash_readable_by_its_owner(county):
    text = county["accounts"].read_text()
    for password in PASSWORDS.values():
        assert password not in text
    assert "pbkdf2_sha256$" in text
    assert county["accounts"].stat().st_mode & 0o777 == 0o600


def test_user_add_refuses_short_passwords_and_unknown_roles(county):
    base = ["--ledger", str(county["ledger"]), "user", "add"]
    short = CliRunner().invoke(
        main, [*base, "sam", "--role", "auditor", "--password-stdin"], input="short\n"
    )
    assert short.exit_code != 0 and "at least" in short.output
    role = CliRunner().invoke(
        main,
        [*base, "sam", "--role", "admin", "--password-stdin"],
        input="long-enough-pw\n",
    )
    assert role.exit_code != 0
    root = CliRunner().invoke(
        main,
        [*base, "root", "--role", "auditor", "--password-stdin"],
        input="long-enough-pw\n",
    )
    assert root.exit_code != 0
