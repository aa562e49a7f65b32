"""The Dash application: one app per process, pages registered from ``dashboard/pages``."""

from __future__ import annotations

from pathlib import Path

import dash
from dash import Dash, dcc, html

from . import state

_app: Dash | None = None

DISCLAIMER = (
    "sleepmoves describes movement during sleep; it never diagnoses. "
    "Anything that worries you is worth showing your pediatrician."
)


def create_app(lake_path) -> Dash:
    """The dashboard for ``lake_path`` (Dash keeps callbacks process-wide, so the app is built once)."""
    global _app
    state.set_lake(lake_path)
    if _app is not None:
        return _app
    app = Dash(
        __name__,
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
                ],
                className="topbar",
            ),
            html.Main(dash.page_container),
            html.Footer(DISCLAIMER, className="disclaimer"),
        ]
    )
    _app = app
    return app
