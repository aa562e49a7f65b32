"""Small Dash building blocks shared by the pages."""

from __future__ import annotations

from dash import dcc, html

from sleepmoves.ingest.video import length_words


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


def video_player(films, tz):
    """The night's (first) kept video, or nothing. Its ``data-offset-hours`` places it on the chart's clock."""
    if not films:
        return []
    film = films[0]
    begun = film["start"].tz_convert(tz)
    said = f"Video from {begun:%H:%M} ({length_words(film['duration_s'])}, {film['name']})"
    if len(films) > 1:
        said += f"; {len(films) - 1} more this night (the first is shown)"
    if not film.get("playable"):
        return [
            html.P(
                f"{said}: its format ({film['codec']}) does not play in a browser; its movements are in the chart.",
                className="hint",
            )
        ]
    return [
        html.Video(
            src=film["url"],
            controls=True,
            preload="metadata",
            id="night-player",
            className="player",
            **{"data-offset-hours": f"{film['offset_h']:.6f}"},
        ),
        html.P(said + ". Click the chart to see that moment.", className="hint"),
    ]


def baby_and_night(options: list[dict], first: str, subject_id: str, night_id: str) -> list[html.Div]:
    """The baby and night pickers a page opens with (the night's choices come from the page's callback)."""
    return [
        html.Div(
            [
                html.Label("Baby", htmlFor=subject_id),
                dcc.Dropdown(options, first, id=subject_id, clearable=False),
            ]
        ),
        html.Div(
            [
                html.Label("Night", htmlFor=night_id),
                dcc.Dropdown([], None, id=night_id, clearable=False),
            ]
        ),
    ]


def asked_for(subject, night, known: list[str]) -> tuple[str, str | None]:
    """``(baby, night)`` a link (``?subject=…&night=…``) asks for, used only when it names one of this user's
    babies and a real night: else the first baby, and no night."""
    from sleepmoves.schema import SleepmovesError, check_night

    first = subject if subject in known else known[0]
    try:
        wanted = check_night(str(night)) if subject in known and night is not None else None
    except SleepmovesError:
        wanted = None
    return first, wanted
