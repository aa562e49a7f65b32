"""Night page (parents): one night's phases and movements, with plain-words summary cards."""

from __future__ import annotations

import dash
import pandas as pd
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from sleepmoves.dashboard import state
from sleepmoves.dashboard.components import (
    asked_for,
    baby_and_night,
    png_download,
    video_player,
    wants_anonymous,
)
from sleepmoves.dashboard.downloads import send_png
from sleepmoves.dashboard.figures import night_figure, scoring_words, summary_items
from sleepmoves.dashboard.views import night_options, night_videos, night_view, night_words, step_night
from sleepmoves.flags import decode as decode_flags
from sleepmoves.lake import DamagedData
from sleepmoves.nights import night_bounds
from sleepmoves.schema import UNSURE_BELOW, SleepmovesError, check_night

dash.register_page(__name__, path="/", name="Last night", title="sleepmoves · night", order=0)
PHONE_WIDTH = 600  # px: the phone layout of assets/style.css starts at this width and below


def _subject_options(lake):
    subjects = lake.subjects()
    return [{"label": row.label or row.subject, "value": row.subject} for row in subjects.itertuples()]


def welcome() -> html.Div:
    """What a first visit to an empty lake shows instead of a blank chart: where to start, and what files work."""
    return html.Div(
        [
            html.H2("Welcome to sleepmoves"),
            html.P(
                "There is no baby here yet. Add your baby and a first file on the Data page: give a name, the "
                "birth date and the time zone, then drop a file."
            ),
            dcc.Link("Add your baby and a file →", href=dash.get_relative_path("/data"), className="button"),
            html.H3("Files that work"),
            html.Ul(
                [
                    html.Li(
                        "a movement log you keep or an app writes: a CSV with start, kind, limb (one row a movement)"
                    ),
                    html.Li(
                        "a sleep diary or a baby app's export: Baby Connect, Huckleberry, Baby Tracker, Glow, "
                        "Baby Buddy, Feed Baby, or any CSV with a start and an end or a length"
                    ),
                    html.Li(
                        "an ankle sensor's recording: ActiGraph (.gt3x, .agd, CSV), Axivity (.cwa), GENEActiv (.bin), "
                        "Actiwatch, MotionWatch, Actiware and ActTrust exports, raw acceleration CSV"
                    ),
                ]
            ),
            html.P(
                [
                    "Not sure? ",
                    html.Button("Download a sample movement log", id="sample-download", n_clicks=0),
                    " and add it to see what a night looks like.",
                ]
            ),
            dcc.Download(id="sample-file"),
        ],
        id="welcome",
        className="welcome",
    )


def layout(subject=None, night=None, **_query):
    """The night page; ``?subject=ada&night=2026-03-08`` opens that night (a link from the weeks page's table)."""
    lake = state.lake()
    options = _subject_options(lake)
    if not options:  # a first visit: no baby yet
        return welcome()
    # what a link asks for is used only when it names one of this user's babies and a real night
    known = [o["value"] for o in options]
    first, wanted = asked_for(subject, night, known)
    return html.Div(
        [
            html.Div(
                [
                    *baby_and_night(options, first, "subject", "night"),
                    html.Div(
                        [
                            html.Button("◀ Previous night", id="prev-night", n_clicks=0),
                            html.Button("Next night ▶", id="next-night", n_clicks=0),
                            *png_download("night", "the baby's name"),
                        ],
                        className="buttons",
                    ),
                ],
                className="controls",
            ),
            dcc.Store(id="night-wanted", data=wanted),
            html.P(id="night-sentence", className="sentence"),
            # on a phone the numbers fold behind their summary line (the sentence above says the night);
            # a wide screen shows them open
            html.Details(
                [html.Summary("All the night's numbers"), html.Div(id="summary-cards", className="cards")],
                id="night-numbers",
                className="numbers",
                open=True,
            ),
            html.P(id="scoring", className="hint"),
            html.Div(id="flags", className="flags"),
            # the night's video, when the lake keeps one: assets/video_sync.js seeks it from a click on the chart
            # or a flag's button and moves a cursor along the chart as it plays
            html.Div(id="night-video", className="night-video"),
            dcc.Graph(id="night-figure", config={"displaylogo": False, "responsive": True}),
            html.P(id="night-hint", className="hint"),
        ],
        className="night-page",
    )


clientside_callback(  # a click on the chart: the video (when there is one) goes to that moment
    "function(click) { if (window.sleepmovesVideo && click) { window.sleepmovesVideo.seekHours(click.points[0].x); }"
    " return window.dash_clientside.no_update; }",
    Output("night-video", "title"),
    Input("night-figure", "clickData"),
    prevent_initial_call=True,
)


clientside_callback(
    f"function(_) {{ return window.innerWidth > {PHONE_WIDTH}; }}",
    Output("night-numbers", "open"),
    Input("night-numbers", "id"),
)


@callback(
    Output("night", "options"),
    Output("night", "value"),
    Input("subject", "value"),
    State("night-wanted", "data"),
)
def choose_subject(subject, wanted):
    if not subject:
        return [], None
    lake = state.lake()
    held = _is_night(wanted) and wanted in lake.nights(subject)
    options = night_options(lake, subject, around=wanted if held else None)
    if held and ctx.triggered_id is None:  # the page's first call: the night a link asked for
        return options, wanted
    return options, (options[0]["value"] if options else None)


def _is_night(value) -> bool:
    try:
        check_night(str(value))
    except (SleepmovesError, ValueError):
        return False
    return value is not None


@callback(
    Output("night-figure", "figure"),
    Output("summary-cards", "children"),
    Output("flags", "children"),
    Output("scoring", "children"),
    Output("night-hint", "children"),
    Output("night-sentence", "children"),
    Output("night-video", "children"),
    Input("subject", "value"),
    Input("night", "value"),
)
def show_night(subject, night):
    if not subject or not night:
        empty = night_figure(_empty_phases(), _empty_events(), "UTC", _noon_utc())
        return empty, _cards(None, "UTC"), [], "", "", "", []
    try:
        figure, metrics, tz, _ = night_view(state.lake(), subject, night)
        sentence = night_words(state.lake(), subject, night, metrics)
        films = night_videos(state.lake(), subject, night)
    except DamagedData:
        empty = night_figure(_empty_phases(), _empty_events(), "UTC", _noon_utc())
        damaged = html.P(
            "This night's data is damaged: run `sleepmoves check` (and `sleepmoves repair`) on the computer "
            "that keeps the data. Other nights are not affected.",
            className="flag damaged",
        )
        return empty, [], [damaged], "", "", "", []
    # the page's stylesheet sets the chart's height: taller on a phone, where the legend wraps under the chart
    figure.update_layout(height=None, autosize=True)
    return (
        figure,
        _cards(metrics, tz),
        _flags(metrics, films, subject, night, tz),
        scoring_words(metrics),
        _hint(metrics),
        sentence,
        video_player(films, tz),
    )


@callback(
    Output("night", "options", allow_duplicate=True),
    Output("night", "value", allow_duplicate=True),
    Input("prev-night", "n_clicks"),
    Input("next-night", "n_clicks"),
    State("subject", "value"),
    State("night", "value"),
    prevent_initial_call=True,
)
def step(_prev, _next, subject, night):
    if not subject or not night:
        return no_update, no_update
    lake = state.lake()
    chosen = step_night(lake, subject, night, 1 if ctx.triggered_id == "next-night" else -1)
    if chosen is None:
        return no_update, no_update
    return night_options(lake, subject, around=chosen), chosen


@callback(
    Output("night-download", "data"),
    Input("night-png", "n_clicks"),
    State("subject", "value"),
    State("night", "value"),
    State("night-anonymise", "value"),
    prevent_initial_call=True,
)
def download_night(_clicks, subject, night, anonymise):
    if not subject or not night:
        return no_update
    from sleepmoves.dashboard.export import PAGE, night_summary_figure

    hide = wants_anonymous(anonymise)
    figure = night_summary_figure(state.lake(), subject, night, anonymise=hide)
    return send_png(figure, *PAGE, f"sleepmoves-{'baby' if hide else subject}-{night}.png")


def _hint(metrics):
    if metrics and metrics.get("scored_from_diary"):
        return "The ribbon shows the sleeps you wrote in your diary. No movement was recorded this night, so no phases."
    if metrics and metrics.get("scored_from_counts"):
        return "Each bar below is the activity the device counted in one epoch. Grey stripes: no data."
    return (
        f"Pale colour = the model gives the phase less than {UNSURE_BELOW:.0%}. Each mark below is one movement, "
        "on the limb that made it. Grey stripes: no data."
    )


def _flags(metrics, films, subject, night, tz):
    flags = decode_flags(metrics.get("flags")) if metrics else []
    if not flags:
        return [html.P("No review flags this night.", className="no-flags")]
    start = night_bounds(night, tz)[0]
    shown = [html.H3("Worth a look")]
    for flag in flags:
        at = pd.Timestamp(flag["start"])
        seen = films and any(f["start"] <= at < f["end"] for f in films[:1])
        button = (
            html.Button(
                f"▶ See the video at {at.tz_convert(tz):%H:%M:%S}",
                className="seek",
                **{"data-hours": f"{(at - start).total_seconds() / 3600:.6f}"},
            )
            if seen
            else None
        )
        shown.append(html.P([flag["message"], " ", button] if button else flag["message"], className="flag"))
    return shown


def _cards(metrics, tz):
    return [
        html.Div([html.H4(title), html.Div(value, className="value"), html.Small(why)], className="card")
        for title, value, why in summary_items(metrics, tz)
    ]


def _empty_phases():
    import pandas as pd

    return pd.DataFrame({"epoch_start": pd.to_datetime([], utc=True), "phase": []})


def _empty_events():
    import pandas as pd

    return pd.DataFrame(
        {"start": pd.to_datetime([], utc=True), "duration_s": [], "limb": [], "kind": [], "intensity": []}
    )


def _noon_utc():
    import pandas as pd

    return pd.Timestamp("2000-01-01T12:00:00Z")


@callback(Output("sample-file", "data"), Input("sample-download", "n_clicks"), prevent_initial_call=True)
def sample_file(_clicks):
    """One simulated night as a movement log, with the monitor's on and off times: a file to try."""
    import datetime as dt

    from sleepmoves.simulate import _local_iso, make_babies, simulate_night

    baby = make_babies(1, seed=7)[0]
    events, labels = simulate_night(baby, dt.date(2026, 3, 2))
    log = events.copy()
    log.insert(0, "time", _local_iso(log.pop("start"), baby.tz))
    first, last = labels["epoch_start"].iloc[0], labels["epoch_start"].iloc[-1] + pd.Timedelta(seconds=30)
    marks = f"{_local_iso(pd.Series([first]), baby.tz)[0]},,,recording_start,\n"
    text = "time,duration_s,limb,kind,intensity\n" + marks + log.to_csv(index=False, header=False)
    text += f"{_local_iso(pd.Series([last]), baby.tz)[0]},,,recording_stop,\n"
    return dcc.send_string(text, f"sample-night-{baby.tz.replace('/', '-')}.csv")
