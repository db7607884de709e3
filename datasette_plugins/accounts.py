"""Who may sign in to the review site: names, roles and password hashes.

The accounts file lives beside the ledger and holds no password, only the
PBKDF2 hash that datasette-auth-passwords makes and checks. The server reads
it again whenever it changes, so removing an account or changing its role
takes effect on that account's next request.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from datasette_auth_passwords.utils import hash_password

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
    def actor(self) -> dict[str, str]:
        return {"id": self.name, "role": self.role}


def default_path(ledger: Path) -> Path:
    """`cma-ledger.db` keeps its accounts in `cma-ledger.accounts.json`."""
    return ledger.with_suffix(".accounts.json")


def load(path: Path) -> dict[str, Account]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {
        name: Account(name, entry["role"], entry["password_hash"])
        for name, entry in data.get("accounts", {}).items()
    }


def check_name(name: str) -> None:
    if not NAME.fullmatch(name) or name in RESERVED_NAMES:
        msg = (
            f"{name!r} cannot be an account name: use 1 to 64 letters, digits, '.', "
            "'@' or '-', starting with a letter or digit (and not 'root')"
        )
        raise AccountError(msg)


def add(path: Path, name: str, role: str, password: str) -> Account:
    """Add an account, or give an existing one a new role and password."""
    check_name(name)
    if role not in ROLES:
        msg = f"role {role!r} is not one of {', '.join(ROLES)}"
        raise AccountError(msg)
    if len(password) < MIN_PASSWORD_LENGTH:
        msg = f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
        raise AccountError(msg)
    accounts = load(path)
    accounts[name] = Account(name, role, hash_password(password))
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


def auth_passwords_config(accounts: dict[str, Account]) -> dict:
    """The configuration datasette-auth-passwords reads: hashes and actors."""
    config: dict = {
        f"{a.name}_password_hash": a.password_hash for a in accounts.values()
    }
    config["actors"] = {a.name: a.actor for a in accounts.values()}
    return config


class LiveAccounts:
    """The accounts file as it is now, read again only when it has changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._accounts: dict[str, Account] = {}

    def current(self) -> dict[str, Account]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._accounts = load(self.path)
            self._stamp = stamp
        return self._accounts

    def still_valid(self, actor: dict | None) -> bool:
        """An actor signed in earlier still has that account, with that role."""
        if not actor:
            return False
        account = self.current().get(actor.get("id", ""))
        return account is not None and account.role == actor.get("role")
