"""The `cma-ledger` command line (contract section 7)."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import socket
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from ledger import feed, keys, locations, paths
from ledger.locations import PostgresLocation
from ledger.state import State
from ledger.store import Ledger, StoredHistory, new_event, open_history

if TYPE_CHECKING:
    from projections.runner import Projector

log = logging.getLogger("cma_ledger")


class LedgerError(click.ClickException):
    """A failure the user can act on: printed without a traceback."""


class LedgerCommands(click.Group):
    """No traceback reaches the user: unexpected failures become one plain line.

    The message names the kind of failure only; a record's content (a task note
    say) could sit in an exception's text, so details go to the log with -v.
    """

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        from eventsourcing.persistence import PersistenceError

        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (sqlite3.DatabaseError, PersistenceError) as e:
            log.debug("database failure", exc_info=True)
            msg = (
                f"a database could not be read or written ({e}); if the ledger is "
                "damaged, 'cma-ledger verify' names where"
            )
            raise LedgerError(msg) from e
        except OSError as e:
            log.debug("file failure", exc_info=True)
            raise LedgerError(
                f"{e.strerror or e}: {e.filename or ''}".rstrip(": ")
            ) from e
        except Exception as e:
            log.info("unexpected failure", exc_info=True)
            msg = (
                f"unexpected failure ({type(e).__name__}); the command stopped. "
                "Run with -v to log the details."
            )
            raise LedgerError(msg) from e


class LedgerLocation(click.Path):
    """A ledger file, or a `postgresql://` URL (which a Path would mangle)."""

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        if locations.is_postgres(value):
            try:
                return locations.parse(value)
            except locations.LocationError as e:
                self.fail(str(e), param, ctx)
        return super().convert(value, param, ctx)


@contextmanager
def writer_lock(ledger_path: Path | PostgresLocation) -> Iterator[None]:
    """One writer at a time: validation and append must see the same history.

    A file ledger locks its folder (flock); a PostgreSQL ledger takes a
    session-level advisory lock, which holds across machines.
    """
    if isinstance(ledger_path, PostgresLocation):
        with ledger_path.writer_lock():
            yield
        return
    folder = os.open(ledger_path.absolute().parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        yield
    finally:
        os.close(folder)


def open_ledger(
    path: Path | PostgresLocation, create: bool = False, read_only: bool = False
) -> Ledger:
    """Open the ledger; `read_only` also opens a copy in a read-only folder."""
    if not create and not path.exists():
        raise LedgerError(f"no ledger at {path}; import a feed first")
    try:
        paths.check_ledger(path)
    except paths.PathError as e:
        raise LedgerError(str(e)) from e
    context = click.get_current_context(silent=True)
    key_file = (context.find_root().obj or {}).get("key_file") if context else None
    where: str | Path | PostgresLocation = paths.read_uri(path) if read_only else path
    try:
        ledger = Ledger(where, keys.resolve_key(key_file))
    except keys.CipherKeyError as e:
        raise LedgerError(str(e)) from e
    except Exception as e:  # the store's own errors carry no advice
        raise LedgerError(f"cannot open the ledger at {path}: {e}") from e
    if context is not None and isinstance(path, PostgresLocation):
        context.call_on_close(ledger.close)  # its connection pool, at once
    return ledger


def load_state(ledger: Ledger) -> State:
    state = State()
    for event in ledger.read():
        state.apply(event)
    return state


@click.group(cls=LedgerCommands)
@click.option(
    "--ledger",
    "ledger_path",
    type=LedgerLocation(dir_okay=False, path_type=Path),
    envvar="CMA_LEDGER",
    default="cma-ledger.db",
    show_default=True,
    help="The event store: a SQLite file, or a PostgreSQL database as "
    "postgresql://USER@HOST:PORT/DBNAME (see docs/postgres.md).",
)
@click.option(
    "--review",
    "review_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CMA_REVIEW",
    default="cma-review.db",
    show_default=True,
    help="The review database that Datasette serves.",
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CMA_KEY_FILE",
    help="The key that encrypts event state (from 'cma-ledger keygen'); "
    "or give the key itself in CMA_CIPHER_KEY.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log each step to stderr.")
@click.pass_context
def main(
    ctx: click.Context,
    ledger_path: Path | PostgresLocation,
    review_path: Path,
    key_file: Path | None,
    verbose: bool,
) -> None:
    """An event-sourced audit ledger for supervised case management aide work."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for path in (ledger_path, review_path):
        if isinstance(path, PostgresLocation):
            continue
        if not path.absolute().parent.is_dir():
            folder = path.absolute().parent
            raise LedgerError(f"no folder {folder} for {path}; create it first")
    ctx.obj = {"ledger": ledger_path, "review": review_path, "key_file": key_file}


include_notes_option = click.option(
    "--include-notes",
    is_flag=True,
    default=None,
    help="Copy confidential task notes into the review database.",
)


@main.command("import")
@click.argument("file", type=click.File("rb"))
@include_notes_option
@click.option(
    "--max-errors",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many refusals to print before summarising the rest.",
)
@click.pass_obj
def import_command(
    obj: dict, file, include_notes: bool | None, max_errors: int
) -> None:
    """Validate FILE (JSON Lines, '-' for stdin) and append it, all or nothing."""
    from projections import runner

    data = file.read()
    name = getattr(file, "name", "-")
    if not data.strip():
        click.echo(
            "line 1: FORMAT: the feed is empty; it must hold one record a line",
            err=True,
        )
        raise LedgerError(f"{name}: the feed is empty; nothing was written")

    ledger_path: Path | PostgresLocation = obj["ledger"]
    try:
        paths.check_ledger(ledger_path)
        paths.writable(ledger_path)
        paths.check_review_target(obj["review"], ledger_path)
    except paths.PathError as e:
        raise LedgerError(str(e)) from e
    with writer_lock(ledger_path):
        ledger = open_ledger(ledger_path) if ledger_path.exists() else None
        state = load_state(ledger) if ledger else State()
        first = (ledger.last_position if ledger else 0) + 1
        recorded_at = dt.datetime.now(dt.UTC)
        log.info("import of %s started at position %d", name, first)
        lines = data.count(b"\n") + 1
        with click.progressbar(
            length=lines,
            label="checking",
            file=sys.stderr,
            hidden=lines < 20_000 or not sys.stderr.isatty(),
        ) as bar:
            checked = feed.check_feed(data, state, recorded_at, first, bar.update)

        if checked.refusals:
            for refusal in checked.refusals[:max_errors]:
                click.echo(str(refusal), err=True)
            hidden = len(checked.refusals) - max_errors
            if hidden > 0:
                click.echo(f"... and {hidden} more refusals", err=True)
            raise LedgerError(
                f"{name}: {len(checked.refusals)} of {checked.lines} lines refused; "
                "nothing was written"
            )

        if checked.accepted:
            ledger = ledger or open_ledger(ledger_path, create=True)
            positions = ledger.append(
                [new_event(e.record, e.version, recorded_at) for e in checked.accepted]
            )
            if positions != [e.position for e in checked.accepted]:
                state = load_state(ledger)
            log.info("%d records accepted", len(positions))

    review = "review database at position 0"
    if ledger is not None:
        try:
            reached = runner.update(ledger, obj["review"], include_notes, state=state)
            review = f"review database at position {reached}"
        except runner.ReplayDatabaseError as e:
            click.echo(f"warning: {e}", err=True)
            review = "review database not updated"
    click.echo(
        f"{len(checked.accepted)} records appended, {checked.already_recorded} already "
        f"recorded; {review}"
    )


@main.command("project")
@click.option("--rebuild", is_flag=True, help="Build the review database from scratch.")
@include_notes_option
@click.option(
    "--follow",
    is_flag=True,
    help="Keep following new events until stopped (Ctrl-C or SIGTERM).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.01),
    default=2.0,
    show_default=True,
    help="Seconds between looks at the ledger when following.",
)
@click.pass_obj
def project_command(
    obj: dict, rebuild: bool, include_notes: bool | None, follow: bool, interval: float
) -> None:
    """Bring the review database up to date with the ledger."""
    from projections import runner

    ledger = open_ledger(obj["ledger"], read_only=True)
    try:
        paths.check_review_target(obj["review"], obj["ledger"])
    except paths.PathError as e:
        raise LedgerError(str(e)) from e
    tracking = runner.ReviewDatabase(obj["review"]).tracking()
    if rebuild and tracking is not None and tracking.cut is not None:
        msg = (
            f"{obj['review']} was written by 'replay --{tracking.cut}'; a rebuild "
            "would replace that snapshot. Name another review database, or remove "
            "the replay first"
        )
        raise LedgerError(msg)
    state = None
    try:
        if rebuild:
            state = runner.built(ledger, obj["review"], bool(include_notes))
            reached, include_notes = state.position, None
        if follow:
            projector = runner.Projector(
                ledger, obj["review"], include_notes, state=state
            )
            reached = follow_ledger(projector, interval)
        elif not rebuild:
            reached = runner.update(ledger, obj["review"], include_notes)
    except runner.ReplayDatabaseError as e:
        raise LedgerError(str(e)) from e
    click.echo(f"review database at position {reached}")


def follow_ledger(projector: Projector, interval: float) -> int:
    """Catch up, then look again every `interval` seconds, until a signal stops it.

    SQLite offers no notification of new events, so the ledger is polled. The
    first SIGINT or SIGTERM lets the catch-up under way finish (it is one
    transaction either way) and returns; a second one stops at once.
    """
    import signal
    import threading

    stop = threading.Event()

    def stop_following(signum: int, frame: object) -> None:
        log.info(
            "%s received; stopping after this catch-up", signal.Signals(signum).name
        )
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    previous = {
        sig: signal.signal(sig, stop_following)
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    for name in ("projections", log.name):
        logging.getLogger(name).setLevel(logging.INFO)
    reached = 0
    try:
        log.info("following %s every %g s", projector.review.path, interval)
        while not stop.is_set():
            try:
                reached = projector.catch_up()
            except sqlite3.OperationalError as e:  # a busy database: try again later
                log.warning("catch-up failed (%s); trying again in %g s", e, interval)
            stop.wait(interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return reached


def _parse_known_at(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 timestamp") from e
    if moment.tzinfo is None:
        raise click.BadParameter(
            "give the timestamp with its offset, e.g. 2025-06-30T23:59:59Z"
        )
    return moment.astimezone(dt.UTC)


@main.command("replay")
@click.option(
    "--until-position", type=click.IntRange(min=0), help="Last position to keep."
)
@click.option(
    "--known-at", help="Keep what had been recorded by this moment (ISO 8601)."
)
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Keep events whose business date is on or before this day.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the replayed review database.",
)
@click.option("--include-notes", is_flag=True, help="Copy confidential task notes.")
@click.pass_obj
def replay_command(
    obj: dict,
    until_position: int | None,
    known_at: str | None,
    as_of: dt.datetime | None,
    out: Path,
    include_notes: bool,
) -> None:
    """Build a review database as the ledger stood at a past moment."""
    from projections import runner

    chosen = [x is not None for x in (until_position, known_at, as_of)]
    if sum(chosen) != 1:
        raise click.UsageError(
            "give exactly one of --until-position, --known-at, --as-of"
        )
    try:
        paths.check_review_target(out, obj["ledger"])
        if out.exists() and out.resolve() == obj["review"].resolve():
            raise paths.PathError(
                f"{out} is the live review database; write the replay elsewhere"
            )
    except paths.PathError as e:
        raise LedgerError(str(e)) from e
    ledger = open_ledger(obj["ledger"], read_only=True)
    if until_position is not None and until_position > ledger.last_position:
        click.echo(
            f"note: the ledger ends at position {ledger.last_position}; "
            "the replay holds all of it",
            err=True,
        )
    if until_position is not None:
        cut = runner.until_position(until_position)
    elif known_at is not None:
        cut = runner.known_at(_parse_known_at(known_at))
    else:
        assert as_of is not None
        cut = runner.as_of(as_of.date())
    replaced = out.exists()
    reached = runner.build(ledger, out, include_notes, cut=cut)
    if replaced:
        click.echo(f"note: the earlier review database at {out} was replaced", err=True)
    if reached == 0:
        click.echo(
            "note: no event falls inside that cut; the replay is empty", err=True
        )
    click.echo(f"replayed review database written to {out} (last position {reached})")


def open_stored_history(path: Path | PostgresLocation) -> StoredHistory:
    """The raw history, for commands that check it: they never need the key."""
    if not path.exists():
        raise LedgerError(f"no ledger at {path}; import a feed first")
    try:
        paths.check_ledger(path)
    except paths.PathError as e:
        raise LedgerError(str(e)) from e
    history = open_history(paths.read_uri(path))
    context = click.get_current_context(silent=True)
    if context is not None and isinstance(path, PostgresLocation):
        context.call_on_close(history.datastore.close)  # type: ignore[attr-defined]
    return history


@contextmanager
def history_errors(path: Path | PostgresLocation) -> Iterator[None]:
    """Turn a file that is not a ledger, or a broken chain, into a plain message."""
    from eventsourcing.persistence import PersistenceError

    from ledger.verify import BrokenHistory

    try:
        yield
    except BrokenHistory as e:
        raise LedgerError(f"{e}; no digest or proof is given for it") from e
    except (PersistenceError, sqlite3.Error) as e:
        raise LedgerError(f"{path} is not a readable ledger: {e}") from e


@main.command("diff")
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def diff_command(old: Path, new: Path, as_json: bool) -> None:
    """List billable days and findings that appeared, disappeared or changed
    between two review databases (e.g. two replays)."""
    from projections import diff

    try:
        changes = diff.compare(old, new)
    except diff.NotAReviewDatabaseError as e:
        raise LedgerError(str(e)) from e
    if as_json:
        click.echo(json.dumps(diff.as_json(changes, str(old), str(new)), indent=2))
        return
    for change in changes:
        click.echo(diff.describe(change))
    click.echo(diff.summary(changes))


@main.command("verify")
@click.option(
    "--against",
    type=click.File("r"),
    help="A digest published earlier ('cma-ledger digest' JSON); the "
    "ledger must still begin with the history it covers.",
)
@click.pass_obj
def verify_command(obj: dict, against) -> None:
    """Check the stored history against its hash chain (no key needed)."""
    from ledger.verify import Digest, diverges_from, verify_chain

    published = None
    if against is not None:
        try:
            published = Digest.from_json(json.load(against))
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--against") from e
    hashes: list[bytes] = []
    with history_errors(obj["ledger"]):
        result = verify_chain(open_stored_history(obj["ledger"]), keep=hashes)
    if not result.ok:
        raise LedgerError(
            f"verification failed at position {result.bad_position}: {result.problem}"
        )
    if published is not None:
        reason = diverges_from(hashes, published)
        if reason:
            raise LedgerError(f"verification against the digest failed: {reason}")
        click.echo(
            f"ok: {result.count} events verified; the digest of the first "
            f"{published.size} still holds"
        )
        return
    click.echo(f"ok: {result.count} events verified")


@main.command("digest")
@click.option(
    "--size",
    type=click.IntRange(min=0),
    help="The tree head of the first N events (default: all of them).",
)
@click.pass_obj
def digest_command(obj: dict, size: int | None) -> None:
    """Print the Merkle tree head of the verified history, as JSON to publish."""
    from ledger.verify import digest

    with history_errors(obj["ledger"]):
        try:
            head = digest(open_stored_history(obj["ledger"]), size)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--size") from e
    click.echo(json.dumps(head.as_json()))


@main.command("prove")
@click.argument("position", type=click.IntRange(min=1), required=False)
@click.option(
    "--consistency",
    "old_size",
    type=click.IntRange(min=0),
    metavar="OLD_SIZE",
    help="Prove that the tree of the first OLD_SIZE events is a prefix of today's.",
)
@click.option(
    "--size",
    type=click.IntRange(min=0),
    help="Prove against the tree of the first N events (default: all).",
)
@click.option(
    "--with-entry",
    is_flag=True,
    help="Add the event's entry bytes and the previous chain hash.",
)
@click.pass_obj
def prove_command(
    obj: dict,
    position: int | None,
    old_size: int | None,
    size: int | None,
    with_entry: bool,
) -> None:
    """Print an inclusion proof for POSITION, or a consistency proof, as JSON."""
    from ledger.verify import consistency_proof, inclusion_proof

    if (position is None) == (old_size is None):
        raise click.UsageError("give either POSITION or --consistency OLD_SIZE")
    with history_errors(obj["ledger"]):
        history = open_stored_history(obj["ledger"])
        try:
            if position is not None:
                proof = inclusion_proof(history, position, size, with_entry)
            else:
                assert old_size is not None
                proof = consistency_proof(history, old_size, size)
        except ValueError as e:
            raise LedgerError(str(e)) from e
    click.echo(json.dumps(proof))


@main.command("keygen")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the key; an existing file is never replaced.",
)
def keygen_command(out: Path) -> None:
    """Write a new AES-256 key file, readable by its owner only (mode 0600)."""
    try:
        keys.write_key_file(out)
    except keys.CipherKeyError as e:
        raise LedgerError(str(e)) from e
    click.echo(
        f"key written to {out}; keep a copy apart from the ledger: "
        "without it the ledger's events cannot be read",
        err=True,
    )


def accounts_path(obj: dict, given: Path | None) -> Path:
    from datasette_plugins.accounts import default_path

    ledger = obj["ledger"]
    if isinstance(ledger, PostgresLocation):  # no ledger file to sit beside
        return given or default_path(obj["review"])
    return given or default_path(ledger)


ACCOUNTS_OPTION = click.option(
    "--accounts",
    "accounts",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CMA_ACCOUNTS",
    help="The accounts file [default: beside the ledger, NAME.accounts.json].",
)


PORT = click.IntRange(1, 65535)


def review_to_serve(obj: dict) -> Path:
    """The review database, checked as other commands check the paths they use."""
    review: Path = obj["review"]
    ledger = obj["ledger"]
    swapped = "did you swap --ledger and --review?"
    if (
        isinstance(ledger, Path)
        and review.exists()
        and ledger.exists()
        and os.path.samefile(review, ledger)
    ):
        msg = f"{review} is the ledger itself, not a review database; {swapped}"
        raise LedgerError(msg)
    kind = paths.kind_of(review)
    if kind == "missing":
        raise LedgerError(f"no review database at {review}; run 'cma-ledger project'")
    if kind == "ledger":
        raise LedgerError(f"{review} is a ledger, not a review database; {swapped}")
    if kind != "review":
        raise LedgerError(
            f"{review} is not a cma-ledger review database; give the one "
            "'cma-ledger project' writes with --review"
        )
    return review


def listening(host: str, port: int) -> socket.socket:
    """The server's socket, bound before anything says it is serving."""
    from datasette_plugins.serve import ServeError, listen

    try:
        return listen(host, port)
    except ServeError as e:
        raise LedgerError(str(e)) from e


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=PORT)
@ACCOUNTS_OPTION
@click.option(
    "--snapshot",
    is_flag=True,
    help="Serve one snapshot taken now and never refreshed (a frozen view).",
)
@click.option(
    "--live",
    is_flag=True,
    help="Serve the review database file itself: changes show at once, "
    "but every table page counts its rows.",
)
@click.pass_obj
def serve_command(
    obj: dict, host: str, port: int, accounts: Path | None, snapshot: bool, live: bool
) -> None:
    """Serve the review database read-only in Datasette, to signed-in accounts.

    By default the site reads a snapshot of the review database (a checkpointed,
    immutable copy with its rows counted once), and takes a new one a few seconds
    after the projection moves on.
    """
    from datasette_plugins import accounts as accounts_file
    from datasette_plugins.serve import ServeError, serve

    review = review_to_serve(obj)
    accounts = accounts_path(obj, accounts)
    try:
        found = accounts_file.load(accounts)
    except accounts_file.AccountError as e:
        raise LedgerError(str(e)) from e
    if not found:
        raise LedgerError(
            f"no accounts in {accounts}: the review site shows case records to "
            "signed-in accounts only; add one with "
            "'cma-ledger user add NAME --role auditor'"
        )
    if snapshot and live:
        raise click.UsageError("--snapshot and --live exclude each other")
    mode: Literal["snapshot", "frozen", "live"] = (
        "frozen" if snapshot else "live" if live else "snapshot"
    )
    how = {"frozen": "a frozen snapshot of ", "live": "", "snapshot": "snapshots of "}
    sock = listening(host, port)
    click.echo(
        f"serving {how[mode]}{review} read-only at "
        f"http://{host}:{port}/ to signed-in accounts of {accounts} (Ctrl-C stops)"
    )
    try:
        serve(review, host, port, accounts=accounts, mode=mode, sock=sock)
    except ServeError as e:
        raise LedgerError(str(e)) from e


@main.group("user")
def user_group() -> None:
    """Accounts that may sign in to the review site (auditor or reviewer)."""


@user_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["auditor", "reviewer"]),
    required=True,
    help="auditor: may also run SQL and read task notes when included; "
    "reviewer: pages and canned queries only.",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of a prompt.",
)
@ACCOUNTS_OPTION
@click.pass_obj
def user_add_command(
    obj: dict, name: str, role: str, password_stdin: bool, accounts: Path | None
) -> None:
    """Add account NAME, or give it a new role and password. Only a hash is kept."""
    from datasette_plugins import accounts as accounts_file

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not sys.stdin.isatty():
        raise LedgerError("no terminal to ask for the password; use --password-stdin")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    path = accounts_path(obj, accounts)
    try:
        accounts_file.add(path, name, role, password)
    except accounts_file.AccountError as e:
        raise LedgerError(str(e)) from e
    click.echo(f"account {name} ({role}) saved in {path}")


@user_group.command("remove")
@click.argument("name")
@ACCOUNTS_OPTION
@click.pass_obj
def user_remove_command(obj: dict, name: str, accounts: Path | None) -> None:
    """Remove account NAME; a running server refuses it from its next request."""
    from datasette_plugins import accounts as accounts_file

    path = accounts_path(obj, accounts)
    try:
        accounts_file.remove(path, name)
    except accounts_file.AccountError as e:
        raise LedgerError(str(e)) from e
    click.echo(f"account {name} removed from {path}")


@user_group.command("list")
@ACCOUNTS_OPTION
@click.pass_obj
def user_list_command(obj: dict, accounts: Path | None) -> None:
    """List the accounts and their roles (never their hashes)."""
    from datasette_plugins import accounts as accounts_file

    path = accounts_path(obj, accounts)
    try:
        found = accounts_file.load(path)
    except accounts_file.AccountError as e:
        raise LedgerError(str(e)) from e
    if not found:
        click.echo(
            f"no accounts in {path}; add one with "
            "'cma-ledger user add NAME --role auditor'",
            err=True,
        )
    for account in found.values():
        click.echo(f"{account.name}\t{account.role}")


@main.command("generate")
@click.option("--persons", type=click.IntRange(min=1), default=300, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=120, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--out",
    type=click.File("wb"),
    required=True,
    help="Feed to write ('-' for stdout).",
)
def generate_command(persons: int, days: int, seed: int, out) -> None:
    """Write a realistic synthetic county history as a feed."""
    from ledger.generate import generate, write_feed

    count = write_feed(generate(persons, days, seed), out)
    click.echo(f"{count} records written", err=True)


@main.command("demo")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default="cma-demo",
    show_default=True,
    help="Where the demo's files go.",
)
@click.option("--persons", type=click.IntRange(min=1), default=300, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=120, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=PORT)
@click.option("--no-serve", is_flag=True, help="Stop after projecting.")
@click.pass_context
def demo_command(
    ctx: click.Context,
    folder: Path,
    persons: int,
    days: int,
    seed: int,
    host: str,
    port: int,
    no_serve: bool,
) -> None:
    """Generate a synthetic county, import it, project it and serve it."""
    folder.mkdir(parents=True, exist_ok=True)
    feed_path = folder / "county.jsonl"
    settings = folder / "demo.json"
    wanted = {"persons": persons, "days": days, "seed": seed}
    if settings.exists() and json.loads(settings.read_text()) != wanted:
        held = json.loads(settings.read_text())
        msg = (
            f"{folder} holds another demo ({held}); give another --dir, or remove "
            f"{folder} to start afresh"
        )
        raise LedgerError(msg)
    if not settings.exists() and (folder / "ledger.db").exists():
        msg = f"{folder} holds a ledger that no demo wrote; give another --dir"
        raise LedgerError(msg)
    settings.write_text(json.dumps(wanted))
    ctx.obj = {
        **(ctx.obj or {}),
        "ledger": folder / "ledger.db",
        "review": folder / "review.db",
    }
    sock = None if no_serve else listening(host, port)
    with open(feed_path, "wb") as out:
        ctx.invoke(generate_command, persons=persons, days=days, seed=seed, out=out)
    with open(feed_path, "rb") as source:
        ctx.invoke(import_command, file=source, include_notes=None, max_errors=50)
    if sock is not None:
        from datasette_plugins.serve import serve

        click.echo(
            f"serving SYNTHETIC {ctx.obj['review']} without sign-in at "
            f"http://{host}:{port}/ (Ctrl-C stops)"
        )
        serve(ctx.obj["review"], host, port, synthetic=True, sock=sock)


if __name__ == "__main__":
    sys.exit(main())
