"""The Dash application: one app per process, pages registered from ``dashboard/pages`` (``sleepmoves.dashboard.pages``)."""

from __future__ import annotations

from pathlib import Path

import dash
from dash import Dash, Input, Output, dcc, html

from . import media, security, state, uploads

_app: Dash | None = None

DISCLAIMER = (
    "sleepmoves describes movement during sleep; it never diagnoses. "
    "Anything that worries you is worth showing your pediatrician."
)


def create_app(
    lake_path,
    users=None,
    max_upload_mb: int | None = None,
    max_upload_rows: int | None = None,
    allowed_hosts=None,
) -> Dash:
    """The dashboard for ``lake_path`` (Dash keeps callbacks process-wide, so the app is built once).

    Parameters
    ----------
    lake_path : str or Path
        The lake to show.
    users : sleepmoves.dashboard.auth.Users, optional
        Require a login from these users (each sees only their babies). None: no login (this computer only).
    max_upload_mb : int, optional
        Largest file the Data page accepts (default 200 MB).
    max_upload_rows : int, optional
        Most rows (lines, samples or epochs) in a file the Data page accepts (default 100 M).
    allowed_hosts : list of str, optional
        Host names besides the loopback ones that requests may name in ``Host`` and ``Origin`` (a proxy's).
    """
    global _app
    state.set_lake(lake_path)
    state.set_users(users)
    state.set_max_upload_bytes((max_upload_mb or state.DEFAULT_MAX_UPLOAD_MB) * 1024 * 1024)
    state.set_max_upload_rows(max_upload_rows)
    state.set_allowed_hosts(allowed_hosts)
    if _app is not None:
        return _app
    app = Dash(
        # the package's name: Dash then names each page module by its real import name
        # (sleepmoves.dashboard.pages.night), so importing a page elsewhere is the same module, not a second copy
        "sleepmoves.dashboard",
        use_pages=True,
        pages_folder=str(Path(__file__).parent / "pages"),
        title="sleepmoves",
        suppress_callback_exceptions=True,
    )
    app.layout = html.Div(
        [
            html.Header(
                [
                    html.Span("sleepmoves", className="brand"),
                    html.Nav(
                        [
                            dcc.Link(page["name"], href=page["relative_path"])
                            for page in dash.page_registry.values()
                        ]
                    ),
                    html.Span(id="whoami", className="whoami"),
                ],
                className="topbar",
            ),
            html.Main(dash.page_container),
            html.Footer(DISCLAIMER, className="disclaimer"),
        ]
    )

    @app.callback(Output("whoami", "children"), Input("_pages_location", "pathname"))
    def whoami(_path):
        # with logins on, say whose view this is (HTTP Basic has no log-out: closing the browser ends it)
        user = state.current_user()
        return f"signed in as {user.name}" if user is not None else ""

    security.install(app)
    uploads.install(app)
    media.install(app)
    _app = app
    return app
