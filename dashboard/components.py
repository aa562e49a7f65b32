"""Small Dash building blocks shared by the pages."""

from __future__ import annotations

from dash import html


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
