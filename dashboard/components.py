"""Small Dash building blocks shared by the pages."""

from __future__ import annotations

from dash import dcc, html


def table(records: list[dict], columns: list[str] | None = None, **props) -> html.Table:
    """A plain HTML table of records (first row's keys as columns unless given)."""
    columns = columns or (list(records[0]) if records else [])
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(c) for c in columns])),
            html.Tbody(
                [
                    html.Tr([html.Td("" if r.get(c) is None else str(r.get(c))) for c in columns])
                    for r in records
                ]
            ),
        ],
        className="table",
        **props,
    )


def png_download(prefix: str, whose: str) -> list:
    """The PNG button, its "hide the name" box and the download target: ids ``<prefix>-png``,
    ``<prefix>-anonymise`` (read it with :func:`wants_anonymous`) and ``<prefix>-download``."""
    return [
        html.Button("Download PNG", id=f"{prefix}-png", n_clicks=0),
        dcc.Checklist(
            [{"label": f" hide {whose} in the PNG", "value": "anonymise"}],
            [],
            id=f"{prefix}-anonymise",
            className="anonymise",
        ),
        dcc.Download(id=f"{prefix}-download"),
    ]


def wants_anonymous(checked) -> bool:
    """Whether a :func:`png_download` box is ticked."""
    return "anonymise" in (checked or [])
