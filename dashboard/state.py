"""What the running dashboard serves: which lake, to whom, with which limits (set by :func:`sleepmoves.dashboard.app.create_app`)."""

from __future__ import annotations

from pathlib import Path

from sleepmoves.lake import Lake

from .auth import Users

DEFAULT_MAX_UPLOAD_MB = 200

_lake_path: Path | None = None
_users: Users | None = None
_max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 1024 * 1024
DEFAULT_MAX_UPLOAD_ROWS = 100_000_000
_max_upload_rows: int = DEFAULT_MAX_UPLOAD_ROWS


def set_lake(path) -> None:
    global _lake_path
    _lake_path = Path(path)


def set_users(users: Users | None) -> None:
    """Require a login from ``users`` (None: no login, for a dashboard on this computer only)."""
    global _users
    _users = users


def users() -> Users | None:
    return _users


def set_max_upload_bytes(limit: int) -> None:
    global _max_upload_bytes
    _max_upload_bytes = int(limit)


def max_upload_bytes() -> int:
    return _max_upload_bytes


def set_max_upload_rows(limit: int | None) -> None:
    global _max_upload_rows
    _max_upload_rows = int(limit) if limit else DEFAULT_MAX_UPLOAD_ROWS


def max_upload_rows() -> int:
    return _max_upload_rows


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
_allowed_hosts: tuple[str, ...] = LOOPBACK_NAMES


def set_allowed_hosts(names=None) -> None:
    """The host names this dashboard answers to: loopback names, plus ``names`` (a proxy's public name)."""
    global _allowed_hosts
    _allowed_hosts = (*LOOPBACK_NAMES, *(str(n).strip().lower().strip("[]") for n in names or ()))


def allowed_hosts() -> tuple[str, ...]:
    return _allowed_hosts


def current_user():
    """The logged-in user of this request, or None (no login configured, or outside a request)."""
    import flask

    return flask.g.get("user") if flask.has_request_context() else None


def may_score() -> bool:
    """Whether this request's user may score nights: a clinician, or anyone when there are no logins (the person
    running sleepmoves on their own computer)."""
    if _users is None:
        return True
    user = current_user()
    return user is not None and user.clinician


def scorer_name() -> str | None:
    """The name labels are saved under: the logged-in user's (None without logins: the page asks for one)."""
    user = current_user()
    return user.name if user is not None else None


def lake_path() -> Path:
    """The lake folder (for the server's own files in it, such as uploads being received)."""
    return _lake_path


def lake() -> Lake:
    """The dashboard's lake as the current user may see it (a fresh handle: it holds no open files).

    With a users file, a request without a logged-in user sees no baby at all; a user with a list of babies
    gets a handle that refuses every other subject. Every page callback and export reads through here.
    """
    if _users is None:
        return Lake(_lake_path)
    user = current_user()
    if user is None:
        return Lake(_lake_path, only=())
    return Lake(_lake_path, only=user.subjects)
