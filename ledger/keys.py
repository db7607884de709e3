"""The key that encrypts event state at rest, and how a ledger tells it is right.

The key never enters the ledger. The ledger keeps, in `ledger_meta`, whether it
is encrypted and a key check value (an HMAC-SHA256 of a fixed text under the
key), which is enough to refuse a missing or wrong key with a clear message
before a single event is decrypted. docs/verification.md has the details.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path

CIPHER_TOPIC = "eventsourcing.cipher:AESCipher"
KEY_ENV = ("CMA_CIPHER_KEY", "CIPHER_KEY")
KEY_FILE_ENV = "CMA_KEY_FILE"
KEY_BYTES = 32
KEY_SIZES = (16, 24, 32)
CHECK_TEXT = b"cma-ledger key check v1"
HOW_TO_GIVE = "--key-file FILE, CMA_KEY_FILE, CMA_CIPHER_KEY or CIPHER_KEY"

log = logging.getLogger(__name__)


class CipherKeyError(Exception):
    """A missing, malformed or wrong cipher key, said so the user can fix it."""


def new_key() -> str:
    """A fresh AES-256 key, base64 as eventsourcing's AESCipher expects it."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def write_key_file(path: Path) -> None:
    """Write a new key readable by its owner only; never replace an existing key.

    Overwriting a key file would make every ledger written with it unreadable.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        msg = f"{path} already exists; a key file is never overwritten"
        raise CipherKeyError(msg) from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(new_key() + "\n")


def read_key_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="ascii").strip()
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as e:
        msg = f"cannot read the key file {path}: {e}"
        raise CipherKeyError(msg) from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("key file %s is readable by others; chmod 600 it", path)
    decode_key(text, f"the key file {path}")
    return text


def decode_key(key: str, source: str = "the cipher key") -> bytes:
    try:
        raw = base64.b64decode(key.strip(), validate=True)
    except (binascii.Error, ValueError):
        msg = f"{source} is not base64; make one with 'cma-ledger keygen --out FILE'"
        raise CipherKeyError(msg) from None
    if len(raw) not in KEY_SIZES:
        msg = f"{source} is {len(raw)} bytes; an AES key is 16, 24 or 32 bytes"
        raise CipherKeyError(msg)
    return raw


def resolve_key(
    key_file: Path | None = None, environ: Mapping[str, str] = os.environ
) -> str | None:
    """The key to use: --key-file, then CMA_KEY_FILE, CMA_CIPHER_KEY, CIPHER_KEY."""
    if key_file is None and environ.get(KEY_FILE_ENV):
        key_file = Path(environ[KEY_FILE_ENV])
    if key_file is not None:
        return read_key_file(key_file)
    for name in KEY_ENV:
        if environ.get(name):
            key = environ[name].strip()
            decode_key(key, name)
            return key
    return None


def key_check(key: str) -> str:
    """A value that identifies the key without revealing it."""
    return hmac.new(decode_key(key), CHECK_TEXT, hashlib.sha256).hexdigest()


def meta_for(key: str | None) -> dict[str, str]:
    """What a new ledger records about its encryption."""
    if key is None:
        return {"encrypted": "0"}
    return {"encrypted": "1", "cipher": CIPHER_TOPIC, "key_check": key_check(key)}


def check_key(meta: Mapping[str, str], key: str | None, where: str) -> None:
    """Refuse a key that cannot read the ledger, before anything is decrypted."""
    encrypted = meta.get("encrypted") == "1"
    if encrypted and key is None:
        msg = (
            f"the ledger at {where} is encrypted and no key was given; "
            f"give its key with {HOW_TO_GIVE}"
        )
        raise CipherKeyError(msg)
    if encrypted and key is not None:
        if not hmac.compare_digest(meta.get("key_check", ""), key_check(key)):
            msg = (
                f"the key given is not the key of the ledger at {where} (its key "
                "check value differs); find the key file it was written with"
            )
            raise CipherKeyError(msg)
    if not encrypted and key is not None:
        msg = (
            f"the ledger at {where} was written without encryption, but a key was "
            f"given ({HOW_TO_GIVE}); a ledger is encrypted from its first event "
            "or not at all"
        )
        raise CipherKeyError(msg)
