"""Who may sign in to the review site: names, roles and password hashes.

The accounts file lives beside the ledger and holds no password, only the
PBKDF2 hash that datasette-auth-passwords makes and checks. The server reads
it again whenever it changes, so a new account, a new password, a new role or
a removal takes effect on the next request. A sign-in cookie names the hash it
was signed in with, so a new password or a removal ends it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from datasette_auth_passwords.utils import hash_password, verify_password

log = logging.getLogger(__name__)

ROLES = ("auditor", "reviewer")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.@-]{0,63}")
RESERVED_NAMES = frozenset({"root"})  # Datasette gives `root` extra permissions
MIN_PASSWORD_LENGTH = 12


class AccountError(ValueError):
    """A name, role or password the accounts file cannot take."""


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    password_hash: str

    @property
    def fingerprint(self) -> str:
        """Names the password hash without showing it; each new hash has its own."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]

    @property
    def actor(self) -> dict[str, str]:
        return {
            "id": self.name,
            "role": self.role,
            "password_fingerprint": self.fingerprint,
        }

    def verifies(self, password: str) -> bool:
        try:
            return verify_password(password, self.password_hash)
        except (AssertionError, ValueError):  # not a hash this package makes
            return False


def default_path(ledger: Path) -> Path:
    """`cma-ledger.db` keeps its accounts in `cma-ledger.accounts.json`."""
    return ledger.with_suffix(".accounts.json")


def load(path: Path) -> dict[str, Account]:
    if not path.exists():
        return {}
    try:
        entries = json.loads(path.read_text())["accounts"]
        found = {
            name: Account(name, entry["role"], entry["password_hash"])
            for name, entry in entries.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        msg = (
            f"{path} is not a readable accounts file ({type(e).__name__}: {e}); "
            "restore it from a backup, or move it away and add the accounts again "
            "with 'cma-ledger user add'"
        )
        raise AccountError(msg) from e
    for account in found.values():
        if not isinstance(account.password_hash, str):
            msg = f"account {account.name!r} in {path} has no password hash"
            raise AccountError(msg)
        if account.role not in ROLES:
            msg = (
                f"account {account.name!r} in {path} has the unknown role "
                f"{account.role!r}; the roles are {', '.join(ROLES)}"
            )
            raise AccountError(msg)
    return found


def check_name(name: str) -> None:
    if not NAME.fullmatch(name) or name in RESERVED_NAMES:
        msg = (
            f"{name!r} cannot be an account name: use 1 to 64 ASCII letters, digits, "
            "'.', '@' or '-', starting with a letter or digit (and not 'root')"
        )
        raise AccountError(msg)


def add(path: Path, name: str, role: str, password: str) -> Account:
    """Add an account, or give an existing one a new role and password.

    The same password again keeps its hash, so a role change alone does not end
    the account's sign-in.
    """
    check_name(name)
    if role not in ROLES:
        msg = f"role {role!r} is not one of {', '.join(ROLES)}"
        raise AccountError(msg)
    if len(password) < MIN_PASSWORD_LENGTH:
        msg = f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
        raise AccountError(msg)
    accounts = load(path)
    old = accounts.get(name)
    kept = old.password_hash if old and old.verifies(password) else None
    accounts[name] = Account(name, role, kept or hash_password(password))
    save(path, accounts)
    return accounts[name]


def remove(path: Path, name: str) -> None:
    accounts = load(path)
    if name not in accounts:
        msg = f"there is no account {name!r} in {path}"
        raise AccountError(msg)
    del accounts[name]
    save(path, accounts)


def save(path: Path, accounts: dict[str, Account]) -> None:
    """Write the whole file anew, readable by its owner only, then swap it in."""
    data = {
        "accounts": {
            a.name: {"role": a.role, "password_hash": a.password_hash}
            for a in sorted(accounts.values(), key=lambda a: a.name)
        }
    }
    folder = path.absolute().parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2)
            out.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LiveAccounts:
    """The accounts file as it is now, read again only when it has changed.

    A file that cannot be read while the server runs admits nobody until it is
    mended: better than admitting an account someone meant to remove.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._accounts: dict[str, Account] = {}

    def current(self) -> dict[str, Account]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            try:
                self._accounts = load(self.path)
            except AccountError as e:
                log.error("%s; nobody may sign in until it is mended", e)
                self._accounts = {}
            self._stamp = stamp
        return self._accounts

    def now(self, actor: dict | None) -> dict[str, str] | None:
        """The actor signed in earlier as its account is now, or None if it ended.

        A sign-in lasts while the account keeps the password it was made with;
        the role is the account's current one.
        """
        if not actor:
            return None
        account = self.current().get(actor.get("id", ""))
        if account is None or actor.get("password_fingerprint") != account.fingerprint:
            return None
        return account.actor

    def still_valid(self, actor: dict | None) -> bool:
        """The actor is its account as it stands now, role included."""
        return actor is not None and self.now(actor) == actor

    def signed_in(self, name: str, password: str) -> dict[str, str] | None:
        """The actor for a name and password, if they match an account now."""
        account = self.current().get(name)
        if account is None or not account.verifies(password):
            return None
        return account.actor
