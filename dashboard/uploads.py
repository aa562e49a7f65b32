"""Uploads: a file is streamed to disk, never held in memory, then ingested from there.

The browser sends the chosen file as the raw body of ``POST /upload?name=…`` (``assets/upload.js``: no base64,
no copy in the page's memory); the server writes it in 1 MB chunks to ``<lake>/.uploads/<token>/<safe name>``
(same disk as the lake, owner-only) and answers a random token. The Data page's callback then ingests the file
the token names, for the user who sent it, and removes it. A server start clears the folder (a killed server's
half-received uploads were never stored, so nothing there is kept).
"""

from __future__ import annotations

import re
import secrets
import shutil
import threading
import time
from pathlib import Path

import flask

from sleepmoves.ingest.limits import format_size
from sleepmoves.schema import SleepmovesError

from . import state

UPLOADS = ".uploads"
CHUNK = 1 << 20
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")
KEEP_S = 3600  # a received file its sender never ingests goes after an hour
LIMIT_HINT = "the limit is set with sleepmoves serve --max-upload-mb"

_senders: dict[str, tuple[str, float]] = {}  # token -> (user name, received at)
_analysed: dict[str, tuple[float, float]] = {}  # token -> (seconds of video analysed, seconds in it)
_lock = threading.Lock()


def uploads_folder(root: Path) -> Path:
    folder = Path(root) / UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def clear_uploads(root: Path) -> None:
    """Remove what a killed server left of the uploads it was receiving (call before serving)."""
    shutil.rmtree(Path(root) / UPLOADS, ignore_errors=True)


def safe_name(filename: str | None) -> str:
    """A file name fit to show and to keep the extension by: never used as a path outside our folder."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(filename or "upload").name).lstrip(".")
    return base[:100] or "upload"


def _sender() -> str:
    user = state.current_user()
    return user.name if user is not None else ""


def receive() -> flask.Response:
    """``POST /upload``: write the body to disk in chunks, refuse it past the upload limit, answer a token."""
    limit = state.max_upload_bytes()
    name = safe_name(flask.request.args.get("name"))
    length = flask.request.content_length
    if length is not None and length > limit:
        return _refuse(
            f"{name} is {format_size(length)}: files up to {format_size(limit)} can be added here ({LIMIT_HINT})",
            413,
        )
    _forget_stale(state.lake_path())
    token = secrets.token_urlsafe(16)
    folder = uploads_folder(state.lake_path()) / token
    folder.mkdir()
    written = 0
    try:
        with open(folder / name, "wb") as fh:
            while chunk := flask.request.stream.read(CHUNK):
                written += len(chunk)
                if written > limit:
                    shutil.rmtree(folder, ignore_errors=True)
                    return _refuse(
                        f"{name} is over {format_size(limit)}: files up to {format_size(limit)} can be added here ({LIMIT_HINT})",
                        413,
                    )
                fh.write(chunk)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        return _refuse(f"{name}: the upload was cut off; try again", 400)
    with _lock:
        _senders[token] = (_sender(), time.time())
    return flask.jsonify({"token": token, "filename": name})


def received(token, filename) -> Path:
    """The file an upload token names, if the current user sent it; else a clear error."""
    if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
        raise SleepmovesError("the upload arrived damaged; try again")
    with _lock:
        sender = _senders.get(token)
    folder = Path(state.lake_path()) / UPLOADS / token
    path = folder / safe_name(filename)
    if sender is None or sender[0] != _sender() or not path.is_file():
        raise SleepmovesError(
            "that upload is no longer here (or was sent by someone else); choose the file again"
        )
    return path


def progress_reporter(token):
    """A ``video_progress`` callback for :func:`sleepmoves.ingest.ingest_file` recording how far the video of
    ``token`` is analysed, for :func:`analysed` (the Data page polls it while the ingest runs)."""

    def report(done: float, total: float) -> None:
        with _lock:
            _analysed[token] = (float(done), float(total))

    return report


def analysed(token) -> tuple[float, float] | None:
    """``(seconds analysed, seconds in all)`` of the video the current user sent as ``token``, else None."""
    if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
        return None
    with _lock:
        sender = _senders.get(token)
        if sender is None or sender[0] != _sender():
            return None
        return _analysed.get(token)


def discard(token) -> None:
    """Remove a received file once it was ingested (or refused)."""
    if isinstance(token, str) and TOKEN_RE.fullmatch(token):
        with _lock:
            _senders.pop(token, None)
            _analysed.pop(token, None)
        shutil.rmtree(Path(state.lake_path()) / UPLOADS / token, ignore_errors=True)


def _forget_stale(root) -> None:
    now = time.time()
    with _lock:
        stale = [t for t, (_, at) in _senders.items() if now - at > KEEP_S]
        for token in stale:
            _senders.pop(token, None)
    for token in stale:
        shutil.rmtree(Path(root) / UPLOADS / token, ignore_errors=True)


def _refuse(message: str, status: int) -> flask.Response:
    response = flask.jsonify({"error": message})
    response.status_code = status
    return response


def install(app) -> None:
    """Add ``POST /upload`` to the app's server (behind the same host, login and header checks as every page)."""
    app.server.add_url_rule("/upload", "upload", receive, methods=["POST"])
