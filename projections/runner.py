"""Bringing a review database up to date with the ledger, or rebuilding it."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from ledger.state import Event, State
from ledger.store import Ledger
from projections.billing import BillingCodes
from projections.review import ReviewDatabase

log = logging.getLogger(__name__)


def _with_hashes(ledger: Ledger, events: list[Event], after: int) -> list[tuple[Event, bytes | None]]:
    hashes = dict(ledger.chain_hashes(after=after))
    return [(e, hashes.get(e.position)) for e in events]


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
    tmp = out.with_name(f".{out.name}.{os.getpid()}.building")
    tmp.unlink(missing_ok=True)
    events = [e for e in ledger.read() if keep is None or keep(e)]
    state = State()
    for event in events:
        state.apply(event)
    review = ReviewDatabase(tmp)
    review.create(include_notes)
    review.write(state, _with_hashes(ledger, events, 0), include_notes, codes or BillingCodes())
    os.replace(tmp, out)
    log.info("review database %s built to position %d", out, state.position)
    return state.position


def update(
    ledger: Ledger,
    review_path: str | os.PathLike[str],
    include_notes: bool | None = None,
    state: State | None = None,
    codes: BillingCodes | None = None,
) -> int:
    """Catch the review database up with the ledger; build it if it is missing."""
    review = ReviewDatabase(review_path)
    tracking = review.tracking()
    if tracking is None:
        return build(ledger, review_path, bool(include_notes), codes=codes)
    reached, notes = tracking
    if include_notes is not None and include_notes != notes:
        return build(ledger, review_path, include_notes, codes=codes)
    if state is None or state.position != ledger.last_position:
        state = State()
        for event in ledger.read():
            state.apply(event)
    if state.position == reached:
        log.info("review database already at position %d", reached)
        return reached
    new = list(ledger.read(after=reached))
    review.write(state, _with_hashes(ledger, new, reached), notes, codes or BillingCodes())
    log.info("projection caught up to position %d", state.position)
    return state.position


def new_events(events: Iterable[Event], after: int) -> list[Event]:
    return [e for e in events if e.position > after]
