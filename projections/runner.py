"""Keeping a review database in step with the ledger, or building one afresh.

A `Projector` remembers the folded state between catch-ups, so following the
ledger reads only the events appended since the last one. `build` writes a
complete database into a temporary file beside the target and renames it over
the target, so a reader sees either the old database or the new one.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ledger.state import Event, State
from ledger.store import Ledger
from projections.billing import BillingCodes
from projections.review import PositionMovedError, ReviewDatabase

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
    keep: Callable[[Event], bool] | None = None,
    codes: BillingCodes | None = None,
) -> int:
    """Write a fresh review database at `out`, swapped in only when complete.

    `keep` selects the events a replay wants; a rebuild keeps them all.
    """
    out = Path(out)
    started = time.perf_counter()
    remove_abandoned_builds(out)
    tmp = building_path(out)
    tmp.unlink(missing_ok=True)
    try:
        state = State(entry_checks=False)
        review = ReviewDatabase(tmp)
        review.create(include_notes, indexes=False)
        events = ledger.read(upto=ledger.last_position)
        if keep is not None:
            events = (e for e in events if keep(e))
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
        out, state.position, time.perf_counter() - started,
    )
    return state.position


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
        for _ in range(ATTEMPTS):
            tracking = self.review.tracking()
            if tracking is None or self.include_notes not in (None, tracking[1]):
                self.state = None
                return build(
                    self.ledger, self.review.path, bool(self.include_notes),
                    codes=self.codes,
                )
            reached, notes = tracking
            try:
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
            position, position - reached,
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
