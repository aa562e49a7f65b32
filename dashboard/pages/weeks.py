"""Weeks page (clinicians): several babies, two weeks or date ranges side by side."""

from __future__ import annotations

from urllib.parse import urlencode

import dash
import pandas as pd
from dash import Input, Output, State, callback, ctx, dash_table, dcc, html, no_update

from sleepmoves.comparison import MIN_BABIES, cohort_difference
from sleepmoves.dashboard import state
from sleepmoves.dashboard.components import png_download, table, wants_anonymous
from sleepmoves.dashboard.downloads import send_png
from sleepmoves.dashboard.figures import COMPARISON_COLUMNS, comparison_table_rows
from sleepmoves.dashboard.views import (
    REGULARITY_COLUMNS,
    available_weeks,
    nights_of_weeks,
    regularity_rows,
    trend_view,
    weeks_ages,
    weeks_view,
)
from sleepmoves.schema import SleepmovesError
from sleepmoves.summarize import week_words
from sleepmoves.trends import TREND_METRICS

dash.register_page(__name__, path="/weeks", name="Compare weeks", title="sleepmoves · weeks", order=1)


# the babies and the two weeks chosen: what most of this page's callbacks read
CHOSEN = ("weeks-subjects", "weeks-a", "weeks-b")
CHOSEN_INPUTS = [Input(i, "value") for i in CHOSEN]
CHOSEN_STATES = [State(i, "value") for i in CHOSEN]


def _section(title: str, hint: str, *content) -> list:
    """A heading, a line saying how to read what follows, and what follows."""
    return [html.H3(title), html.P(hint, className="hint"), *content]


def layout(**_query):
    lake = state.lake()
    subjects = list(lake.subjects()["subject"])
    weeks = available_weeks(lake, subjects)
    # the trend opens on the nights held, at most the 12 weeks up to the latest
    held = sorted(n for s in subjects for n in lake.nights(s))
    end = held[-1] if held else str(pd.Timestamp.now().date())
    twelve_weeks = str((pd.Timestamp(end) - pd.Timedelta(weeks=12) + pd.Timedelta(days=1)).date())
    start = max(twelve_weeks, held[0]) if held else twelve_weeks
    options = [{"label": week_words(w), "value": w} for w in weeks]
    return html.Div(
        [
            html.Div(
                [
                    html.Div(
                        [
                            html.Label("Babies", htmlFor="weeks-subjects"),
                            dcc.Dropdown(subjects, subjects[:2], id="weeks-subjects", multi=True),
                        ]
                    ),
                    html.Div(
                        [
                            html.Label("Week A", htmlFor="weeks-a"),
                            dcc.Dropdown(options, weeks[0] if weeks else None, id="weeks-a", clearable=False),
                        ]
                    ),
                    html.Div(
                        [
                            html.Label("Week B", htmlFor="weeks-b"),
                            dcc.Dropdown(
                                options, weeks[-1] if weeks else None, id="weeks-b", clearable=False
                            ),
                        ]
                    ),
                    html.Div(
                        [
                            *png_download("weeks", "the babies' names"),
                        ],
                        className="buttons",
                    ),
                ],
                className="controls",
            ),
            html.P(id="weeks-message", className="hint"),
            # three panels side by side need ~760 px: on a phone the chart scrolls inside its box, not the page
            html.Div(
                dcc.Loading(dcc.Graph(id="weeks-figure", config={"displaylogo": False})),
                className="wide-figure",
            ),
            html.H3("Trend"),
            html.Div(
                [
                    html.Div(
                        [
                            html.Label("Trend of", htmlFor="trend-metric"),
                            dcc.Dropdown(
                                [
                                    {"label": words, "value": key}
                                    for key, (words, _, _) in TREND_METRICS.items()
                                ],
                                "sleep_24h_min",
                                id="trend-metric",
                                clearable=False,
                            ),
                        ]
                    ),
                    html.Div(
                        [
                            html.Label("From", htmlFor="trend-from"),
                            dcc.Input(id="trend-from", type="date", value=start),
                        ]
                    ),
                    html.Div(
                        [
                            html.Label("To", htmlFor="trend-to"),
                            dcc.Input(id="trend-to", type="date", value=end),
                        ]
                    ),
                    html.Div(
                        [
                            *png_download("trend", "the babies' names"),
                            html.Button("Visit report (PDF)", id="report-pdf", n_clicks=0),
                            dcc.Download(id="report-download"),
                        ],
                        className="buttons",
                    ),
                ],
                className="controls",
            ),
            html.P(id="trend-message", className="hint"),
            html.P(id="report-message", className="hint"),
            dcc.Loading(dcc.Graph(id="trend-figure", config={"displaylogo": False})),
            *_section(
                "Each baby, week B against week A",
                "Mean of the nights in each week, the difference and the range it likely lies in (95 %, from "
                'resampling runs of nights). "Higher" or "lower" only when that range leaves out zero. Each '
                "baby is compared with herself; babies are never pooled (the About page says why).",
                html.Div(id="weeks-table"),
            ),
            *_section(
                "Regularity",
                "Clock times are the mean ± their night-to-night SD. The regularity index (Phillips et al. 2017) is "
                "the chance of the same state, asleep or awake, 24 hours apart, from -100 to 100 (100: the same "
                "times every day); it needs two days of recording 24 hours apart.",
                html.Div(id="weeks-regularity"),
            ),
            *_section(
                "Each night",
                "One row per night of both weeks; click a column's arrows to sort, a night to open it. "
                "The numbers are the night page's.",
            ),
            html.Div(
                [
                    html.Button("Download CSV", id="nights-csv", n_clicks=0),
                    html.Button("Download Parquet", id="nights-parquet", n_clicks=0),
                    dcc.Download(id="nights-download"),
                ],
                className="buttons",
            ),
            html.Div(
                dash_table.DataTable(
                    id="weeks-nights",
                    columns=[],
                    data=[],
                    sort_action="native",
                    markdown_options={"link_target": "_self"},
                    style_table={"overflowX": "auto"},
                    style_cell={"fontFamily": "inherit", "fontSize": "0.85rem", "padding": "0.2rem 0.4rem"},
                    style_header={"fontWeight": "bold", "whiteSpace": "normal"},
                ),
                className="night-table",
            ),
            *_section(
                "Sleep cycles",
                "Bouts are episodes of active or quiet sleep of 1.5 min or more; a cycle runs from the start of one "
                "active-then-quiet pair to the next; phase changes count moves between sleep phases.",
                html.Div(id="weeks-cycles"),
            ),
        ]
    )


@callback(
    Output("weeks-figure", "figure"),
    Output("weeks-table", "children"),
    Output("weeks-cycles", "children"),
    Output("weeks-message", "children"),
    *CHOSEN_INPUTS,
)
def show_weeks(subjects, week_a, week_b):
    if not subjects or not week_a or not week_b:
        return no_update, [], [], "Choose one or more babies and two weeks."
    try:
        figure, comparison, cycles, damaged = weeks_view(state.lake(), list(subjects), week_a, week_b)
        ages = weeks_ages(state.lake(), list(subjects), week_a, week_b)
    except SleepmovesError as exc:
        return no_update, [], [], str(exc)
    bouts = table(cycles.to_dict("records"), id="weeks-bouts") if len(cycles) else []
    return figure, comparison_blocks(comparison, subjects), bouts, " ".join([f"Ages: {ages}.", *damaged])


def comparison_blocks(comparison, subjects) -> list:
    """One table per baby, side by side in reading order; with enough babies, the cohort's (baby as the unit)."""
    lake = state.lake()
    blocks = []
    for subject in subjects:
        label = lake.subject(subject).get("label") or subject
        rows = comparison_table_rows(comparison[comparison["subject"] == subject])
        blocks += [html.H4(label), table(rows, COMPARISON_COLUMNS, id=f"weeks-table-{subject}")]
    cohort = cohort_difference(comparison)
    if (cohort["babies"] >= MIN_BABIES).any():
        blocks += [
            html.H4(f"All {len(subjects)} babies (each baby one value)"),
            table(comparison_table_rows(cohort), ["metric", "B − A (95 % interval)", "reading"]),
        ]
    return blocks


@callback(
    Output("weeks-nights", "columns"),
    Output("weeks-nights", "data"),
    *CHOSEN_INPUTS,
)
def show_nights(subjects, week_a, week_b):
    if not subjects or not week_a or not week_b:
        return [], []
    try:
        table = nights_of_weeks(state.lake(), list(subjects), week_a, week_b)
    except SleepmovesError:
        return [], []
    # each night opens its night page; flags stand in their night's row
    table["night"] = [
        f"[{night}]({dash.get_relative_path('/')}?{urlencode({'subject': subject, 'night': night})})"
        for night, subject in zip(table["night"], table["subject"], strict=True)
    ]
    table = table.drop(columns="subject")
    columns = [
        {"name": c, "id": c, **({"presentation": "markdown"} if c == "night" else {})} for c in table.columns
    ]
    return columns, table.to_dict("records")


@callback(
    Output("trend-figure", "figure"),
    Output("trend-message", "children"),
    Input("weeks-subjects", "value"),
    Input("trend-metric", "value"),
    Input("trend-from", "value"),
    Input("trend-to", "value"),
)
def show_trend(subjects, metric, first, last):
    if not subjects or not first or not last:
        return no_update, "Choose one or more babies and a range of dates."
    try:
        return trend_view(state.lake(), list(subjects), first, last, metric), ""
    except SleepmovesError as exc:
        return no_update, str(exc)


@callback(
    Output("trend-download", "data"),
    Input("trend-png", "n_clicks"),
    State("weeks-subjects", "value"),
    State("trend-metric", "value"),
    State("trend-from", "value"),
    State("trend-to", "value"),
    State("trend-anonymise", "value"),
    prevent_initial_call=True,
)
def download_trend(_clicks, subjects, metric, first, last, anonymise):
    if not subjects or not first or not last:
        return no_update
    from sleepmoves.dashboard.export import PAGE, trend_summary_figure

    fig = trend_summary_figure(
        state.lake(), list(subjects), first, last, metric, anonymise=wants_anonymous(anonymise)
    )
    return send_png(fig, PAGE[0], int(fig.layout.height), f"sleepmoves-trend-{metric}-{first}-{last}.png")


@callback(
    Output("report-download", "data"),
    Output("report-message", "children"),
    Input("report-pdf", "n_clicks"),
    State("weeks-subjects", "value"),
    State("trend-from", "value"),
    State("trend-to", "value"),
    State("trend-anonymise", "value"),
    prevent_initial_call=True,
)
def download_report(_clicks, subjects, first, last, anonymise):
    """The visit report of the one baby chosen, over the trend's dates."""
    if not subjects or len(subjects) != 1 or not first or not last:
        return no_update, "A visit report is one baby's: choose one baby, and the dates above."
    from sleepmoves.dashboard.report import pdf_of, report_pages

    subject = subjects[0]
    try:
        pages = report_pages(state.lake(), subject, first, last, anonymise=wants_anonymous(anonymise))
    except SleepmovesError as exc:
        return no_update, str(exc)
    name = "baby-a" if wants_anonymous(anonymise) else subject
    return dcc.send_bytes(pdf_of(pages), f"sleepmoves-visit-{name}-{first}-{last}.pdf"), ""


@callback(
    Output("weeks-regularity", "children"),
    *CHOSEN_INPUTS,
)
def show_regularity(subjects, week_a, week_b):
    if not subjects or not week_a or not week_b:
        return []
    try:
        rows = regularity_rows(state.lake(), list(subjects), week_a, week_b)
    except SleepmovesError:
        return []
    return table(rows, REGULARITY_COLUMNS, id="weeks-regularity-table")


@callback(
    Output("nights-download", "data"),
    Input("nights-csv", "n_clicks"),
    Input("nights-parquet", "n_clicks"),
    *CHOSEN_STATES,
    prevent_initial_call=True,
)
def download_nights(_csv, _parquet, subjects, week_a, week_b):
    if not subjects or not week_a or not week_b:
        return no_update
    table = nights_of_weeks(state.lake(), list(subjects), week_a, week_b).drop(columns="subject")
    name = f"sleepmoves-nights-{week_a}-{week_b}"
    if ctx.triggered_id == "nights-parquet":
        return dcc.send_bytes(lambda out: table.to_parquet(out, index=False), f"{name}.parquet")
    return dcc.send_data_frame(table.to_csv, f"{name}.csv", index=False)


@callback(
    Output("weeks-download", "data"),
    Input("weeks-png", "n_clicks"),
    *CHOSEN_STATES,
    State("weeks-anonymise", "value"),
    prevent_initial_call=True,
)
def download_weeks(_clicks, subjects, week_a, week_b, anonymise):
    if not subjects or not week_a or not week_b:
        return no_update
    from sleepmoves.dashboard.export import PAGE, weeks_summary_figure

    fig = weeks_summary_figure(
        state.lake(), list(subjects), week_a, week_b, anonymise=wants_anonymous(anonymise)
    )
    return send_png(fig, PAGE[0], int(fig.layout.height), f"sleepmoves-weeks-{week_a}-{week_b}.png")
