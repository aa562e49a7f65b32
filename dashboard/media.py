"""``GET /video/<subject>/<sha256>``: a baby's kept video for the night page's player, to the users allowed to see
that baby only (the same scoped lake handle as every page), with byte ranges so the player can seek.

The URL's parts are checked before any path is made (a subject id, 64 hex digits) and the file served is one the
manifest holds for that baby; anything else is the same 404, so a URL tells nobody whether another baby exists.
"""

from __future__ import annotations

import flask

from sleepmoves.schema import SleepmovesError
from sleepmoves.videos import video_file

from . import state


def serve(subject: str, sha256: str) -> flask.Response:
    try:
        path, mime = video_file(state.lake(), subject, sha256)
    except SleepmovesError:
        flask.abort(404)
    response = flask.send_file(path, mimetype=mime, conditional=True, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"  # a baby's video is never kept by a proxy
    return response


def install(app) -> None:
    """Add the video route to the app's server (behind the same host, login and header checks as every page)."""
    app.server.add_url_rule("/video/<subject>/<sha256>", "video", serve, methods=["GET"])
