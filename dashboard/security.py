"""HTTP hardening of the dashboard's Flask server: login, security headers, no stack traces, request size cap.

Installed once on the app's server; each request consults :mod:`sleepmoves.dashboard.state`, so tests can switch the lake,
the users file and the limits without building another app.
"""

from __future__ import annotations

import collections
import logging
import secrets
import threading
import time

import flask

from . import state

log = logging.getLogger("sleepmoves.dashboard")

REALM = 'Basic realm="sleepmoves", charset="UTF-8"'
FAILED_LOGINS_PER_MINUTE = 10  # from one client address, before it must wait


class FailedLogins:
    """Failed login attempts per client address in the last minute (bounded memory).

    A flood of wrong passwords would make every request pay scrypt; past the limit a client gets 429 without
    any. Keyed on the address, not the user name, so nobody can lock a clinician out by naming them; a user
    already logged in (a remembered password) is never held back, even behind a proxy that shares one address.
    """

    def __init__(self, limit: int = FAILED_LOGINS_PER_MINUTE, window_s: float = 60.0):
        self.limit, self.window_s = limit, window_s
        self._times: dict[str, collections.deque] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float):
        times = self._times.setdefault(client, collections.deque())
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times

    def blocked(self, client: str) -> float:
        """Seconds ``client`` must wait (0 when it may try)."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            return self.window_s - (now - times[0]) if len(times) >= self.limit else 0.0

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._times) > 10_000:  # many addresses: forget the old ones
                self._times.clear()
            self._recent(client, now).append(now)


failed_logins = FailedLogins()

SESSION_COOKIE = "sleepmoves_session"
SESSION_HOURS = 12


class Sessions:
    """Sessions opened by a successful login: a random token in an HttpOnly, SameSite=Strict cookie.

    The password hash (scrypt) then runs once per session, not once per request. Kept in this process's memory
    only (a restart logs everyone out; the browser logs in again by itself with the password it holds). A
    session ends after 12 hours, or as soon as its user is removed or their password changes.
    """

    def __init__(self, hours: float = SESSION_HOURS, most: int = 10_000):
        self.seconds, self.most = hours * 3600, most
        self._open: dict[str, tuple[str, str, float]] = {}  # token -> (name, password hash, expiry)
        self._lock = threading.Lock()

    def open(self, user) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            if len(self._open) >= self.most:
                now = time.monotonic()
                self._open = {t: v for t, v in self._open.items() if v[2] > now}
                if len(self._open) >= self.most:
                    self._open.clear()
            self._open[token] = (user.name, user.password_hash, time.monotonic() + self.seconds)
        return token

    def user(self, token: str | None, users):
        """The user of a live session, else None."""
        if not token:
            return None
        with self._lock:
            found = self._open.get(token)
        if found is None:
            return None
        name, password_hash, expiry = found
        users.refresh()
        user = users.users.get(name)
        if time.monotonic() > expiry or user is None or user.password_hash != password_hash:
            with self._lock:
                self._open.pop(token, None)
            return None
        return user

    def clear(self) -> None:
        with self._lock:
            self._open.clear()


sessions = Sessions()
STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/", "/_favicon.ico")


def content_security_policy(script_hashes) -> str:
    """Scripts only from this server (plus Dash's own inline scripts, by hash); no framing; no other origins."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' " + " ".join(script_hashes),
            "style-src 'self' 'unsafe-inline'",  # Plotly and Dash components set inline styles
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def host_name(value: str | None) -> str | None:
    """The host name of a ``Host`` header or an ``Origin`` URL's authority, lower-case, without the port."""
    if not value:
        return None
    value = value.strip().lower()
    if "://" in value:
        value = value.split("://", 1)[1].split("/", 1)[0]
    if value.startswith("["):  # [::1]:8050
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def install(app) -> None:
    """Add the host check, login check, headers and error handling to ``app.server``."""
    server = app.server
    csp: list[str] = []  # computed on the first response, once every page's inline script is registered

    @server.before_request
    def _host():
        # DNS rebinding: a page elsewhere can point its own name at 127.0.0.1 and read a dashboard that has no
        # login; the browser then sends that name as Host (and as Origin on callbacks). Answer only to the names
        # this dashboard serves, as Jupyter Server does.
        allowed = state.allowed_hosts()
        origin = flask.request.headers.get("Origin")
        host_ok = host_name(flask.request.host) in allowed
        origin_ok = origin is None or host_name(origin) in allowed
        if host_ok and origin_ok:
            return None
        named = flask.request.host if not host_ok else origin
        return flask.Response(
            f"sleepmoves: this dashboard does not answer to {named!r}; behind a proxy, start it with "
            "`sleepmoves serve --allowed-host NAME`.\n",
            status=403,
            mimetype="text/plain",
        )

    @server.before_request
    def _login():
        flask.g.user = None
        users = state.users()
        if users is None:
            return None
        auth = flask.request.authorization
        tried = auth is not None and auth.type == "basic"
        # credentials sent with the request decide (a wrong password is wrong even with a session); a request
        # without them is let in by a live session
        user = None if tried else sessions.user(flask.request.cookies.get(SESSION_COOKIE), users)
        if user is not None:
            flask.g.user = user
            return None
        user = users.remembered(auth.username, auth.password) if tried else None
        if user is None and tried:
            client = flask.request.remote_addr or "?"
            wait = failed_logins.blocked(client)
            if wait:
                return flask.Response(
                    "sleepmoves: too many failed logins from this address; try again in a minute.\n",
                    status=429,
                    mimetype="text/plain",
                    headers={"Retry-After": str(int(wait) + 1)},
                )
            user = users.authenticate(auth.username, auth.password)
            if user is None:
                failed_logins.failed(client)
        if user is None:
            return flask.Response(
                "sleepmoves: please log in (ask whoever runs this dashboard for an account).\n",
                status=401,
                mimetype="text/plain",
                headers={"WWW-Authenticate": REALM},
            )
        flask.g.user = user
        held = sessions.user(flask.request.cookies.get(SESSION_COOKIE), users)
        if held is None or held.name != user.name:  # a login as someone else replaces the session
            flask.g.new_session = sessions.open(user)
        return None

    @server.before_request
    def _size_cap():
        # an upload arrives base64-encoded inside a JSON callback body: 4/3 of the file, plus the rest
        cap = state.max_upload_bytes() * 4 // 3 + 1024 * 1024
        length = flask.request.content_length
        if length is not None and length > cap:
            return flask.Response(
                f"request too large: files up to {state.max_upload_bytes() // (1024 * 1024)} MB\n",
                status=413,
                mimetype="text/plain",
            )
        return None

    @server.after_request
    def _headers(response):
        if not csp:
            csp.append(content_security_policy(app.csp_hashes()))
        headers = response.headers
        headers["Content-Security-Policy"] = csp[0]
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "no-referrer"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Cross-Origin-Resource-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if not flask.request.path.startswith(STATIC_PREFIXES):
            headers["Cache-Control"] = "no-store"  # a baby's nights are not kept in shared caches
        headers.pop("Server", None)
        token = flask.g.get("new_session")
        if token:
            secure = flask.request.is_secure or flask.request.headers.get("X-Forwarded-Proto") == "https"
            response.set_cookie(
                SESSION_COOKIE,
                token,
                max_age=int(SESSION_HOURS * 3600),
                httponly=True,
                samesite="Strict",
                secure=secure,  # behind a TLS proxy the cookie never travels in clear
                path="/",
            )
        return response

    @server.errorhandler(500)
    def _internal_error(error):
        # the details go to the server's log, never to the browser
        original = getattr(error, "original_exception", None)
        log.error("request %s failed", flask.request.path, exc_info=original)
        return flask.Response(
            "sleepmoves: something went wrong; the details are in the server's log.\n",
            status=500,
            mimetype="text/plain",
        )
