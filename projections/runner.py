"""Keeping a review database in step with the ledger, or building one afresh.

A `Projector` remembers the folded state between catch-ups, so following the
ledger reads only the events appended since the last one. `build` writes a
complete database into a temporary file beside the target and renames it over
the target, so a reader sees either the old database or the new one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from ledger import records as r
from ledger.state import Event, State
from ledger.store import Ledger
from projections.billing import BillingCodes
from projections.review import LAYOUT, PositionMovedError, ReviewDatabase

log = logging.getLogger(__name__)

# How often a catch-up is retried when another process moves the database on.
ATTEMPTS = 5
HASH_CHUNK = 10_000


def folded(events: Iterable[Event], state: State) -> Iterator[Event]:
    """Pass the events through, applying each to `state` before it is handed on."""
    for event in events:
        state.apply(event)
        yield event


def with_hashes(
    ledger: Ledger, events: Iterable[Event]
) -> Iterator[tuple[Event, bytes | None]]:
    """Each event beside its chain hash, read a chunk of positions at a time."""
    chunk: list[Event] = []

    def hashed() -> Iterator[tuple[Event, bytes | None]]:
        hashes = dict(
            ledger.chain_hashes(after=chunk[0].position - 1, upto=chunk[-1].position)
        )
        for event in chunk:
            yield event, hashes.get(event.position)

    for event in events:
        chunk.append(event)
        if len(chunk) == HASH_CHUNK:
            yield from hashed()
            chunk = []
    if chunk:
        yield from hashed()


class Cut(NamedTuple):
    """The events a replay keeps, and how its `_projection` row names them."""

    name: str
    keep: Callable[[Event], bool]


def until_position(last: int) -> Cut:
    """The ledger as it stood once position `last` was appended."""
    return Cut(f"until-position {last}", lambda event: event.position <= last)


def known_at(moment: dt.datetime) -> Cut:
    """What the ledger held at `moment`: the events recorded by then.

    The cut is a prefix: the first event recorded after `moment` ends it, so a
    clock that stepped back between two imports cannot bring a later event in.
    """
    known = True

    def keep(event: Event) -> bool:
        nonlocal known
        known = known and event.recorded_at <= moment
        return known

    return Cut(f"known-at {moment.isoformat()}", keep)


def as_of(day: dt.date) -> Cut:
    """Events whose business date is on or before `day`, and undated ones."""

    def keep(event: Event) -> bool:
        occurred = r.occurred_on(event.record)
        return occurred is None or occurred <= day

    return Cut(f"as-of {day.isoformat()}", keep)


class ReplayDatabaseError(Exception):
    """A replay's database was named where a followed one was wanted."""


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a projection runs.

    Folding creates millions of long-lived objects and no cycles; left on, the
    collector rescans them all again and again (a fifth of a rebuild's time at
    100,000 events, more beyond). Reference counting still frees everything.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def building_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.{os.getpid()}.building")


def remove_abandoned_builds(out: Path) -> None:
    """Delete the temporary files of builds whose process no longer runs."""
    for leftover in out.parent.glob(f".{out.name}.*.building*"):
        pid = leftover.name[len(out.name) + 2 :].split(".", 1)[0]
        if not pid.isdigit() or _running(int(pid)):
            continue
        leftover.unlink(missing_ok=True)
        log.info("removed %s, left by an interrupted build", leftover)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def build(
    ledger: Ledger,
    out: str | os.PathLike[str],
    include_notes: bool = False,
    cut: Cut | None = None,
    codes: BillingCodes | None = None,
) -> int:
    """Write a fresh review database at `out`, swapped in only when complete.

    `cut` selects the events a replay wants; a rebuild keeps them all. Returns
    the last position it kept.
    """
    return built(ledger, out, include_notes, cut, codes).position


def built(
    ledger: Ledger,
    out: str | os.PathLike[str],
    include_notes: bool = False,
    cut: Cut | None = None,
    codes: BillingCodes | None = None,
) -> State:
    """`build`, returning the state it folded, for a follower to carry on from."""
    out = Path(out)
    started = time.perf_counter()
    remove_abandoned_builds(out)
    tmp = building_path(out)
    tmp.unlink(missing_ok=True)
    state = State(entry_checks=False)
    try:
        with cyclic_gc_paused():
            review = ReviewDatabase(tmp)
            review.create(include_notes, indexes=False, cut=cut.name if cut else None)
            events = ledger.read(upto=ledger.last_position)
            if cut is not None:
                events = filter(cut.keep, events)
            review.write(
                state,
                with_hashes(ledger, folded(events, state)),
                include_notes,
                codes or BillingCodes(),
                after=0,
                fresh=True,
            )
            review.create_indexes()
        _fsync(tmp)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync(out.parent)
    log.info(
        "review database %s built to position %d in %.1f s",
        out,
        state.position,
        time.perf_counter() - started,
    )
    return state


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Projector:
    """Brings one review database up to date with one ledger, as often as asked."""

    def __init__(
        self,
        ledger: Ledger,
        review_path: str | os.PathLike[str],
        include_notes: bool | None = None,
        codes: BillingCodes | None = None,
        state: State | None = None,
    ) -> None:
        self.ledger = ledger
        self.review = ReviewDatabase(review_path)
        self.include_notes = include_notes
        self.codes = codes or BillingCodes()
        self.state = state

    def catch_up(self) -> int:
        """Project what the review database has not seen; returns its position."""
        remove_abandoned_builds(self.review.path)
        for _ in range(ATTEMPTS):
            tracking = self.review.tracking()
            if tracking is not None and tracking.cut is not None:
                msg = (
                    f"{self.review.path} was written by 'replay --{tracking.cut}': "
                    "a replay is a snapshot and is never caught up; name another "
                    "review database"
                )
                raise ReplayDatabaseError(msg)
            if (
                tracking is None
                or tracking.layout != LAYOUT
                or self.include_notes not in (None, tracking.include_notes)
            ):
                self.state = built(
                    self.ledger,
                    self.review.path,
                    bool(self.include_notes),
                    codes=self.codes,
                )
                return self.state.position
            reached, notes = tracking.position, tracking.include_notes
            try:
                with cyclic_gc_paused():
                    return self._write_after(reached, notes)
            except PositionMovedError as moved:
                log.info("%s; catching up again", moved)
            except BaseException:
                self.state = None
                raise
        msg = f"{self.review.path} kept moving; gave up after {ATTEMPTS} attempts"
        raise RuntimeError(msg)

    def _write_after(self, reached: int, notes: bool) -> int:
        state = self.state if self.state is not None else State(entry_checks=False)
        self.state = state
        for event in self.ledger.read(after=state.position, upto=reached):
            state.apply(event)

        last = self.ledger.last_position
        if last <= reached:
            return reached

        # Events the state has seen but the database has not (the state came
        # from an import, or the database was replaced by an older one), then
        # the events neither has seen.
        seen = self.ledger.read(after=reached, upto=state.position)
        unseen = folded(self.ledger.read(after=state.position, upto=last), state)
        position = self.review.write(
            state,
            with_hashes(self.ledger, itertools.chain(seen, unseen)),
            notes,
            self.codes,
            after=reached,
        )
        log.info(
            "projection caught up to position %d (%d new events)",
            position,
            position - reached,
        )
        return position


def update(
    ledger: Ledger,
    review_path: str | os.PathLike[str],
    include_notes: bool | None = None,
    state: State | None = None,
    codes: BillingCodes | None = None,
) -> int:
    """Catch the review database up with the ledger; build it if it is missing.

    `state`, when given, is the ledger folded to some position (an import has
    one at hand); it saves folding the whole ledger again.
    """
    return Projector(ledger, review_path, include_notes, codes, state).catch_up()
