"""Event state encrypted at rest, keys kept out of the ledger, notes kept private."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from small_county import SECRET_NOTE, small_county_feed

from ledger import keys
from ledger.cli import main
from ledger.store import Ledger

KEY_NAMES = ("CMA_CIPHER_KEY", "CIPHER_KEY", "CMA_KEY_FILE", "CMALEDGER_CIPHER_KEY")


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KEY_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "county.jsonl"
    path.write_bytes(small_county_feed())
    return path


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.key"
    keys.write_key_file(path)
    return path


def cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        main,
        [
            "--ledger",
            str(tmp_path / "ledger.db"),
            "--review",
            str(tmp_path / "review.db"),
            *args,
        ],
        env=env,
    )


def file_bytes(path: Path) -> bytes:
    """The database and its WAL and journal, where unflushed pages may sit."""
    return b"".join(
        p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file()
    )


def test_keygen_writes_a_key_only_its_owner_can_read(tmp_path: Path) -> None:
    out = tmp_path / "new.key"

    result = cli(tmp_path, "keygen", "--out", str(out))

    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert len(keys.decode_key(out.read_text())) == 32


def test_keygen_never_replaces_an_existing_key(key_file: Path, tmp_path: Path) -> None:
    before = key_file.read_text()

    result = cli(tmp_path, "keygen", "--out", str(key_file))

    assert result.exit_code != 0
    assert "never overwritten" in result.output
    assert key_file.read_text() == before


def test_an_encrypted_ledger_holds_neither_the_notes_nor_the_key(
    tmp_path: Path, feed: Path, key_file: Path
) -> None:
    result = cli(tmp_path, "--key-file", str(key_file), "import", str(feed))
    assert result.exit_code == 0, result.output

    stored = file_bytes(tmp_path / "ledger.db")
    key = key_file.read_text().strip()
    assert SECRET_NOTE.encode() not in stored
    assert key.encode() not in stored
    assert base64.b64decode(key) not in stored


def test_a_plain_ledger_does_hold_the_notes_so_the_check_above_means_something(
    tmp_path: Path, feed: Path
) -> None:
    cli(tmp_path, "import", str(feed))

    assert SECRET_NOTE.encode() in file_bytes(tmp_path / "ledger.db")


def test_the_ledger_records_that_it_is_encrypted_and_a_check_value_not_the_key(
    tmp_path: Path, feed: Path, key_file: Path
) -> None:
    cli(tmp_path, "--key-file", str(key_file), "import", str(feed))
    con = sqlite3.connect(tmp_path / "ledger.db")
    meta = dict(con.execute("SELECT name, value FROM ledger_meta"))
    con.close()
    raw = keys.decode_key(key_file.read_text())

    assert meta["encrypted"] == "1"
    assert (
        meta["key_check"] == hmac.new(raw, keys.CHECK_TEXT, hashlib.sha256).hexdigest()
    )
    assert set(meta) == {"encrypted", "cipher", "key_check"}


def test_the_key_reads_the_events_back(
    tmp_path: Path, feed: Path, key_file: Path
) -> None:
    cli(tmp_path, "--key-file", str(key_file), "import", str(feed))

    ledger = Ledger(tmp_path / "ledger.db", key_file.read_text().strip())
    notes = [getattr(e.record, "note", None) for e in ledger.read()]

    assert f"{SECRET_NOTE} (1)" in notes


def test_without_the_key_an_encrypted_ledger_refuses_to_open(
    tmp_path: Path, feed: Path, key_file: Path
) -> None:
    cli(tmp_path, "--key-file", str(key_file), "import", str(feed))

    for args in (
        ["import", str(feed)],
        ["project", "--rebuild"],
        ["replay", "--until-position", "3", "--out", str(tmp_path / "x.db")],
    ):
        result = cli(tmp_path, *args)
        assert result.exit_code != 0
        assert "is encrypted and no key was given" in result.output
        assert "--key-file" in result.output
        assert "Traceback" not in result.output


def test_a_wrong_key_is_refused_before_anything_is_decrypted(
    tmp_path: Path, feed: Path, key_file: Path
) -> None:
    cli(tmp_path, "--key-file", str(key_file), "import", str(feed))

    result = cli(
        tmp_path, "project", "--rebuild", env={"CMA_CIPHER_KEY": keys.new_key()}
    )

    assert result.exit_code != 0
    assert "the key given is not the key of the ledger" in result.output


def test_a_key_given_for_a_plain_ledger_is_refused(tmp_path: Path, feed: Path) -> None:
    cli(tmp_path, "import", str(feed))

    result = cli(tmp_path, "project", env={"CIPHER_KEY": keys.new_key()})

    assert result.exit_code != 0
    assert "written without encryption" in result.output


def test_a_malformed_key_is_refused_plainly(tmp_path: Path, feed: Path) -> None:
    result = cli(tmp_path, "import", str(feed), env={"CMA_CIPHER_KEY": "not a key!"})

    assert result.exit_code != 0
    assert "CMA_CIPHER_KEY is not base64" in result.output
    assert not (tmp_path / "ledger.db").exists()


@pytest.mark.parametrize("how", ["CMA_CIPHER_KEY", "CIPHER_KEY", "CMA_KEY_FILE"])
def test_the_key_can_come_from_the_environment(
    tmp_path: Path, feed: Path, key_file: Path, how: str
) -> None:
    value = str(key_file) if how == "CMA_KEY_FILE" else key_file.read_text().strip()

    imported = cli(tmp_path, "import", str(feed), env={how: value})
    rebuilt = cli(tmp_path, "project", "--rebuild", env={how: value})

    assert imported.exit_code == 0, imported.output
    assert rebuilt.exit_code == 0, rebuilt.output
    assert cli(tmp_path, "project").exit_code != 0  # and without it, refused


def test_verify_digest_and_prove_need_no_key(
    tmp_path: Path, feed: Path, key_file: Path
) -> None:
    cli(tmp_path, "--key-file", str(key_file), "import", str(feed))

    for args in (
        ["verify"],
        ["digest"],
        ["prove", "4"],
        ["prove", "--consistency", "2"],
    ):
        result = cli(tmp_path, *args)
        assert result.exit_code == 0, (args, result.output)


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_notes_stay_out_of_the_review_database_and_the_logs_by_default(
    tmp_path: Path,
    feed: Path,
    key_file: Path,
    encrypted: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = ["--key-file", str(key_file)] if encrypted else []
    caplog.set_level(logging.DEBUG)

    runs = [
        cli(tmp_path, *key, "-v", "import", str(feed)),
        cli(tmp_path, *key, "-v", "project", "--rebuild"),
        cli(
            tmp_path,
            *key,
            "-v",
            "replay",
            "--until-position",
            "12",
            "--out",
            str(tmp_path / "replay.db"),
        ),
    ]

    assert all(r.exit_code == 0 for r in runs), [r.output for r in runs]
    for path in (tmp_path / "review.db", tmp_path / "replay.db"):
        assert SECRET_NOTE.encode() not in file_bytes(path)
    assert all(SECRET_NOTE not in r.output for r in runs)
    assert SECRET_NOTE not in caplog.text


def test_notes_reach_the_review_database_only_when_asked_for(
    tmp_path: Path, feed: Path
) -> None:
    cli(tmp_path, "import", str(feed))

    result = cli(tmp_path, "project", "--rebuild", "--include-notes")

    assert result.exit_code == 0, result.output
    assert SECRET_NOTE.encode() in file_bytes(tmp_path / "review.db")


def test_a_verbose_import_in_a_real_process_logs_no_note(
    tmp_path: Path, feed: Path, key_file: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in KEY_NAMES}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ledger",
            "-v",
            "--ledger",
            str(tmp_path / "l.db"),
            "--review",
            str(tmp_path / "r.db"),
            "--key-file",
            str(key_file),
            "import",
            str(feed),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert "records accepted" in done.stderr  # the log is really on
    assert SECRET_NOTE not in done.stderr + done.stdout
    assert SECRET_NOTE.encode() not in file_bytes(tmp_path / "r.db")
