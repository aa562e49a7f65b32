"""Who may use the dashboard: a users file of salted password hashes, and per user the babies they may see.

The users file is JSON, written by ``sleepmoves user add`` (never by hand-copying hashes)::

    {"users": [{"name": "dr-lee", "password": "scrypt$16384$8$1$<salt>$<hash>", "subjects": ["ada", "bo"],
                "role": "clinician"},
               {"name": "mum", "password": "scrypt$...", "subjects": "*", "role": "parent"}]}

Passwords are stored only as scrypt hashes (a random 16-byte salt per user, n=2**14, r=8, p=1). ``subjects`` is
the list of baby ids the user sees, or ``"*"`` for all of them (and only such users may add new babies). ``role`` is
``"parent"`` (the default) or ``"clinician"``: only clinicians score nights on the Score page.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sleepmoves.schema import SCORER_RE, SleepmovesError, check_subject_id

log = logging.getLogger("sleepmoves.auth")

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
USER_NAME = SCORER_RE  # a user scores under their name
MIN_PASSWORD_LENGTH = 10
ROLES = ("parent", "clinician")  # a clinician also scores nights (the Score page)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A salted scrypt hash of ``password`` in the users-file format."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the stored hash (compared in constant time)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=256 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True)
class User:
    """A dashboard user: ``subjects`` is None when they may see every baby; a clinician may also score nights."""

    name: str
    password_hash: str
    subjects: frozenset[str] | None
    clinician: bool = False

    def as_json(self) -> dict:
        subjects = "*" if self.subjects is None else sorted(self.subjects)
        role = "clinician" if self.clinician else "parent"
        return {"name": self.name, "password": self.password_hash, "subjects": subjects, "role": role}


class Users:
    """The users file: load, change, save (atomically, readable by its owner only) and check passwords."""

    def __init__(self, path: str | os.PathLike, users: dict[str, User] | None = None):
        self.path = Path(path)
        self.users = users or {}
        self._verified: dict[tuple[str, bytes], User] = {}
        self._lock = threading.Lock()
        self._secret = os.urandom(32)  # keys the cache of verified passwords (kept in memory only)
        self._stamp = self._file_stamp()
        self._checked = time.monotonic()

    def _file_stamp(self):
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def refresh(self, every_s: float = 1.0) -> None:
        """Re-read the file if it changed (at most every ``every_s``): a removed user is out at once.

        A file that has become unreadable or invalid lets no one in until it is fixed (and says so in the log).
        """
        now = time.monotonic()
        if now - self._checked < every_s:
            return
        self._checked = now
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return
        try:
            fresh = Users.load(self.path).users
        except SleepmovesError as exc:
            log.error("users file not usable, refusing every login: %s", exc)
            fresh = {}
        with self._lock:
            self.users = fresh
            self._verified.clear()
            self._stamp = stamp

    @classmethod
    def load(cls, path: str | os.PathLike, missing_ok: bool = False) -> Users:
        """Read and validate a users file; a clear error names what is wrong."""
        path = Path(path)
        if not path.exists():
            if missing_ok:
                return cls(path)
            raise SleepmovesError(
                f"no users file at {path}: create it with `sleepmoves user add NAME --users {path}`"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = data["users"]
            if not isinstance(entries, list):
                raise TypeError
        except (OSError, ValueError, KeyError, TypeError):
            raise SleepmovesError(
                f'{path}: not a sleepmoves users file (expected {{"users": [...]}})'
            ) from None
        users = {}
        for i, entry in enumerate(entries, start=1):
            where = f"{path}: user {i}"
            if not isinstance(entry, dict):
                raise SleepmovesError(f"{where}: expected an object with name, password, subjects")
            name, stored, subjects = entry.get("name"), entry.get("password"), entry.get("subjects")
            if not isinstance(name, str) or not USER_NAME.fullmatch(name):
                raise SleepmovesError(f"{where}: invalid name {name!r}")
            if not isinstance(stored, str) or not stored.startswith("scrypt$") or stored.count("$") != 5:
                raise SleepmovesError(
                    f"{where} ({name}): password must be a scrypt hash made by `sleepmoves user add`"
                )
            if subjects == "*":
                allowed = None
            elif isinstance(subjects, list) and all(isinstance(s, str) for s in subjects):
                try:
                    allowed = frozenset(check_subject_id(s) for s in subjects)
                except SleepmovesError as exc:
                    raise SleepmovesError(f"{where} ({name}): {exc}") from None
            else:
                raise SleepmovesError(f'{where} ({name}): subjects must be a list of baby ids or "*"')
            role = entry.get(
                "role", "parent"
            )  # a file from before roles: nobody scores until made a clinician
            if role not in ROLES:
                raise SleepmovesError(f"{where} ({name}): role must be one of {', '.join(ROLES)}")
            if name in users:
                raise SleepmovesError(f"{where}: {name} appears twice")
            users[name] = User(name, stored, allowed, role == "clinician")
        return cls(path, users)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        text = json.dumps({"users": [u.as_json() for u in self.users.values()]}, indent=2) + "\n"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def set(self, name: str, password: str, subjects: list[str] | None, clinician: bool = False) -> None:
        """Add a user or change their password, babies and role."""
        if not USER_NAME.fullmatch(name or ""):
            raise SleepmovesError(f"invalid user name {name!r}: letters, digits and . _ @ - (up to 64)")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise SleepmovesError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
        allowed = None if subjects is None else frozenset(check_subject_id(s) for s in subjects)
        self.users[name] = User(name, hash_password(password), allowed, clinician)
        self._verified.clear()

    def remove(self, name: str) -> None:
        if name not in self.users:
            raise SleepmovesError(f"no user {name!r} in {self.path}")
        del self.users[name]
        self._verified.clear()

    def remembered(self, name: str | None, password: str | None) -> User | None:
        """The user when this name and password were verified before (no scrypt), else None."""
        if not name or password is None:
            return None
        self.refresh()
        key = (name, hmac.new(self._secret, password.encode("utf-8"), "sha256").digest())
        with self._lock:
            return self._verified.get(key)

    def authenticate(self, name: str | None, password: str | None) -> User | None:
        """The user when the name and password match, else None.

        A successful check is remembered (keyed by an HMAC of the password with a per-process secret), so the
        dashboard's many requests do not each pay scrypt's cost.
        """
        if not name or password is None:
            return None
        known = self.remembered(name, password)
        if known is not None:
            return known
        key = (name, hmac.new(self._secret, password.encode("utf-8"), "sha256").digest())
        user = self.users.get(name)
        # an unknown name still costs one scrypt, so timing does not tell which names exist
        ok = verify_password(password, user.password_hash if user else _dummy_hash())
        if not (ok and user):
            return None
        with self._lock:
            if len(self._verified) > 1000:
                self._verified.clear()
            self._verified[key] = user
        return user


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to check unknown names against (made on first use: scrypt is not free at import)."""
    return hash_password("not a password", salt=b"\0" * 16)
