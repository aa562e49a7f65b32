"""Score page (clinicians): score a night's 30-s epochs by hand, from the keyboard, as sleep-scoring software does.

The movements of the night and, where the lake keeps one, its video go with the epoch under the cursor; the model's
phase is shown faintly beside the scorer's and is never taken as a label. Every key is saved at once
(:func:`sleepmoves.labels.set_label`) under the scorer's name with the time. The page also suggests the nights
where the model is least sure (active learning, simply: those are the nights a person's scoring teaches it most).
"""

from __future__ import annotations

import dash
import numpy as np
import pandas as pd
from dash import Input, Output, Patch, State, callback, clientside_callback, ctx, dcc, html, no_update

from sleepmoves.dashboard import state
from sleepmoves.dashboard.components import asked_for, baby_and_night, video_player
from sleepmoves.dashboard.figures import PHASE_NAMES, score_figure, score_overview
from sleepmoves.dashboard.scoring import MOVES, least_sure_nights, moved, unsure_epochs
from sleepmoves.dashboard.views import night_videos
from sleepmoves.labels import night_labels, set_label
from sleepmoves.lake import DamagedData
from sleepmoves.nights import night_bounds
from sleepmoves.schema import PHASES, PROBA_COLUMNS, UNSURE_BELOW, SleepmovesError, check_scorer

dash.register_page(__name__, path="/score", name="Score", title="sleepmoves · score", order=4)

KEY_HELP = (
    "Keys: W awake · A active · Q quiet · T transition (each scores the framed epoch and moves on) · ← → move · "
    "N next unscored · U next the model is unsure of · Delete clears. Saved at every key."
)


def layout(subject=None, night=None, **_query):
    if not state.may_score():
        return html.Div(
            [
                html.H2("Scoring is for clinicians"),
                html.P(
                    "This page lets a clinician score a night epoch by epoch. Ask whoever runs sleepmoves to make "
                    "your account a clinician's (sleepmoves user add NAME --clinician)."
                ),
            ],
            id="score-refused",
        )
    lake = state.lake()
    subjects = lake.subjects()
    options = [{"label": r.label or r.subject, "value": r.subject} for r in subjects.itertuples()]
    if not options:
        return html.Div([html.H2("Nothing to score yet"), html.P("Add a baby and a file on the Data page.")])
    known = [o["value"] for o in options]
    first, wanted = asked_for(subject, night, known)
    scorer = state.scorer_name()
    keys = [("W", "awake"), ("A", "active"), ("Q", "quiet"), ("T", "transition")]
    return html.Div(
        [
            html.Div(
                [
                    *baby_and_night(options, first, "score-subject", "score-night"),
                    html.Div(
                        [
                            html.Label("Scorer", htmlFor="score-scorer"),
                            dcc.Input(
                                id="score-scorer",
                                value=scorer or "",
                                disabled=scorer is not None,  # with logins, the user's own name
                                placeholder="your name",
                                debounce=True,
                                persistence=scorer is None,  # remembered on this computer
                            ),
                        ]
                    ),
                ],
                className="controls",
            ),
            dcc.Store(id="score-wanted", data=wanted),
            dcc.Store(id="score-key"),
            dcc.Store(id="score-done"),
            dcc.Store(id="score-cursor"),
            html.P(id="score-status", className="sentence"),
            html.Div(
                [
                    *[
                        html.Button(
                            f"{letter} {PHASE_NAMES[phase]}",
                            **{"data-score-key": phase},
                            className=f"key {phase}",
                        )
                        for letter, phase in keys
                    ],
                    html.Button("◀", **{"data-score-key": "previous"}, title="previous epoch (←)"),
                    html.Button("▶", **{"data-score-key": "next"}, title="next epoch (→)"),
                    html.Button("N next unscored", **{"data-score-key": "unscored"}),
                    html.Button("U next unsure", **{"data-score-key": "unsure"}),
                ],
                className="buttons score-keys",
            ),
            html.P(KEY_HELP, className="hint"),
            dcc.Graph(id="score-figure", config={"displaylogo": False, "responsive": True}),
            dcc.Graph(id="score-overview", config={"displayModeBar": False, "responsive": True}),
            html.Div(id="score-video", className="night-video"),
            html.H3("Nights the model is least sure of"),
            html.P(
                "Scoring these first teaches the model most. Unsure: its phase has less than "
                f"{UNSURE_BELOW:.0%} probability.",
                className="hint",
            ),
            html.Div(id="score-suggestions"),
        ],
        id="score-page",
        className="score-page",
    )


# ---------------------------------------------------------------------- callbacks
@callback(
    Output("score-night", "options"),
    Output("score-night", "value"),
    Output("score-suggestions", "children"),
    Input("score-subject", "value"),
    Input("score-scorer", "value"),
    State("score-wanted", "data"),
    State("score-night", "value"),
)
def choose_subject(subject, scorer, wanted, current):
    if not subject or not state.may_score():
        return [], None, []
    lake = state.lake()
    try:
        nights = lake.nights(subject, "phases")
    except SleepmovesError:  # another user's baby reads as one that does not exist
        return [], None, []
    options = [{"label": n, "value": n} for n in reversed(nights)]
    if ctx.triggered_id == "score-scorer" and current in nights:
        chosen = current
    else:
        chosen = wanted if wanted in nights else (nights[-1] if nights else None)
    name = _scorer(scorer)
    suggestions = [
        html.Li(
            dcc.Link(
                f"{row.subject}, night of {row.night}: unsure of {row.unsure:.0%} of its epochs",
                href=dash.get_relative_path(f"/score?subject={row.subject}&night={row.night}"),
            )
        )
        for row in least_sure_nights(lake, name).itertuples()
    ]
    return options, chosen, html.Ul(suggestions) if suggestions else html.P("Every recent night is scored.")


@callback(
    Output("score-video", "children"),
    Input("score-subject", "value"),
    Input("score-night", "value"),
)
def show_video(subject, night):
    if not subject or not night or not state.may_score():
        return []
    lake = state.lake()
    try:
        films = night_videos(lake, subject, night)
        tz = lake.subject(subject)["tz"]
    except SleepmovesError:
        return []
    if not films:
        return [html.P("No video of this night is kept: score from the movements.", className="hint")]
    return video_player(films, tz)


@callback(
    Output("score-figure", "figure"),
    Output("score-overview", "figure"),
    Output("score-cursor", "data"),
    Output("score-status", "children"),
    Output("score-done", "data"),
    Input("score-night", "value"),
    Input("score-key", "data"),
    Input("score-figure", "clickData"),
    Input("score-overview", "clickData"),
    State("score-subject", "value"),
    State("score-cursor", "data"),
    State("score-scorer", "value"),
)
def score(night, key, click, overview_click, subject, cursor, scorer):
    done = (key or {}).get("seq")
    if not subject or not night or not state.may_score():
        return no_update, no_update, no_update, "", done
    lake = state.lake()
    try:
        tz = lake.subject(subject)["tz"]
        phases = lake.phases(subject, night)
        start = night_bounds(night, tz)[0]
        name = _scorer(scorer)
        scored = (
            night_labels(lake, subject, night, scorer=name)
            if name
            else night_labels(lake, subject, night).iloc[:0]
        )
    except DamagedData:
        return no_update, no_update, no_update, "This night's data is damaged: run `sleepmoves check`.", done
    except SleepmovesError as exc:  # another user's baby reads as one that does not exist
        return no_update, no_update, no_update, str(exc), done
    grid = phases["epoch_start"]
    if grid.empty:
        said = "This night has no epochs the model labelled: nothing to score."
        return no_update, no_update, None, said, done
    unsure = unsure_epochs(phases)
    at = (
        _index(grid, cursor)
        if cursor and cursor.get("night") == night and cursor.get("subject") == subject
        else None
    )
    said, changed = "", False
    if ctx.triggered_id == "score-night" or at is None:
        at = moved(grid, set(scored["epoch_start"]), unsure, len(grid) - 1, "unscored")  # the first unscored
    elif ctx.triggered_id in ("score-figure", "score-overview") and (click or overview_click):
        hours = float((click if ctx.triggered_id == "score-figure" else overview_click)["points"][0]["x"])
        found = grid.searchsorted(start + pd.Timedelta(hours=hours), side="right") - 1
        at = int(np.clip(found, 0, len(grid) - 1))
    elif ctx.triggered_id == "score-key" and key:
        move = key.get("key")
        if move in MOVES:
            at = moved(grid, set(scored["epoch_start"]), unsure, at, move)
        elif move in PHASES or move == "clear":
            if not name:
                said = "Type your name as scorer first: labels are saved under it."
            else:
                phase = move if move in PHASES else None
                version = phases["model_version"].iloc[at] if "model_version" in phases else None
                try:
                    scored = set_label(
                        lake, subject, night, name, grid.iloc[at], phase, model_version=version
                    )
                except SleepmovesError as exc:  # a read-only lake, a damaged file: said, and the keys go on
                    said = f"Not saved: {exc}"
                else:
                    changed = True
                    said = f"Saved {pd.Timestamp.now(tz=tz):%H:%M:%S} as {name}."
                    if phase is not None:
                        at = moved(grid, set(), unsure, at, "next")
    epoch = grid.iloc[at]
    try:
        events = lake.events(subject, night)
    except SleepmovesError:  # damaged: the epochs can still be scored from the video
        events = pd.DataFrame(columns=["start", "duration_s", "limb", "kind"])
        said = f"{said} This night's movements cannot be read: run `sleepmoves check`.".strip()
    figure = score_figure(phases, events, scored, epoch, tz, start)
    figure.update_layout(height=None, autosize=True)
    hours = (epoch - start).total_seconds() / 3600
    if ctx.triggered_id in ("score-key", "score-figure", "score-overview") and not changed:
        overview = Patch()  # the night's labels did not change: only the line at the cursor moves
        overview["layout"]["shapes"][0]["x0"] = hours
        overview["layout"]["shapes"][0]["x1"] = hours
    else:
        overview = score_overview(phases, scored, epoch, tz, start)
        overview.update_layout(height=None, autosize=True)
    status = _status(phases, scored, at, tz, said)
    cursor = {"subject": subject, "night": night, "at": epoch.isoformat(), "hours": hours}
    return figure, overview, cursor, status, done


clientside_callback(  # the answer to a key arrived (and with it the cursor it moved): send the next key
    "function(done) { if (window.sleepmovesScore) { window.sleepmovesScore.done(); }"
    " return window.dash_clientside.no_update; }",
    Output("score-status", "title"),
    Input("score-done", "data"),
    prevent_initial_call=True,
)


clientside_callback(  # the video follows the cursor
    "function(cursor) { if (cursor && window.sleepmovesVideo) { window.sleepmovesVideo.seekHours(cursor.hours); }"
    " return window.dash_clientside.no_update; }",
    Output("score-video", "title"),
    Input("score-cursor", "data"),
    prevent_initial_call=True,
)


def _scorer(value) -> str | None:
    """The scorer: the logged-in user, else the name typed (None when none, or not a valid name)."""
    name = state.scorer_name() or (value or "").strip()
    try:
        return check_scorer(name) if name else None
    except SleepmovesError:
        return None


def _index(grid: pd.Series, cursor: dict) -> int | None:
    try:
        at = pd.Timestamp(cursor["at"])
    except (KeyError, TypeError, ValueError):
        return None
    hits = np.flatnonzero((grid == at).to_numpy())
    return int(hits[0]) if len(hits) else None


def _status(phases: pd.DataFrame, scored: pd.DataFrame, at: int, tz: str, said: str) -> str:
    epoch = phases["epoch_start"].iloc[at]
    model = phases["phase"].iloc[at]
    sure = phases[list(PROBA_COLUMNS)].iloc[at].max()
    mine = scored.loc[scored["epoch_start"] == epoch, "phase"]
    yours = PHASE_NAMES[mine.iloc[0]] if len(mine) else "not scored"
    count = int(scored["epoch_start"].isin(phases["epoch_start"]).sum())
    return (
        f"Epoch {epoch.tz_convert(tz):%H:%M:%S} · yours: {yours} · the model suggests {PHASE_NAMES.get(model, model)} "
        f"({sure:.0%}) · {count} of {len(phases)} epochs scored. {said}"
    ).strip()
