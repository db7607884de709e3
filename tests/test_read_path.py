"""The direct read path gives exactly what the library's own reading gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from review_rows import append_unchecked

from ledger import keys
from ledger.generate import generate
from ledger.store import Ledger


@pytest.mark.parametrize("stored", ["plain", "compressed", "encrypted"])
def test_the_direct_read_equals_reading_through_notifications_and_the_mapper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stored: str
) -> None:
    key = None
    if stored == "compressed":
        monkeypatch.setenv(
            "COMPRESSOR_TOPIC", "eventsourcing.compressor:ZlibCompressor"
        )
    if stored == "encrypted":
        key = keys.new_key()
    ledger = Ledger(tmp_path / "ledger.db", key)
    assert bool(ledger.mapper.compressor) == (stored == "compressed")
    assert bool(ledger.mapper.cipher) == (stored == "encrypted")
    append_unchecked(ledger, list(generate(3, 20, 6)))

    direct = list(ledger.read(batch=7))
    assert [e.position for e in direct] == list(range(1, ledger.last_position + 1))
    assert direct == list(ledger._read_notifications(0, None, 7))
    assert list(ledger.read(after=5, upto=40, batch=4)) == direct[5:40]
