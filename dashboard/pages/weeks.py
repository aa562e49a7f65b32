"""Weeks page (clinicians): several babies, two weeks or date ranges side by side."""

from __future__ import annotations

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboard import state
from dashboard.components import png_download, table, wants_anonymous
from dashboard.downloads import send_png
from dashboard.figures import comparison_table_rows
from dashboard.views import available_weeks, weeks_ages, weeks_view
from pipeline.schema import SleepmovesError

dash.register_page(__name__, path="/weeks", name="Compare weeks", title="sleepmoves · weeks", order=1)

COLUMNS = ["metric", "A mean ± SD", "B mean ± SD", "difference", "p (Mann-Whitney)", "effect size"]


def layout(**_query):
    lake = state.lake()
    subjects = list(lake.subjects()["subject"])
    weeks = available_weeks(lake, subjects)
    options = [{"label": w, "value": w} for w in weeks]
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
            dcc.Loading(dcc.Graph(id="weeks-figure", config={"displaylogo": False})),
            html.H3("A vs B (each night one value)"),
            html.Div(id="weeks-table"),
            html.H3("Phase transitions (probability of the next epoch's phase)"),
            html.Div(id="weeks-transitions", className="cards"),
        ]
    )


@callback(
    Output("weeks-figure", "figure"),
    Output("weeks-table", "children"),
    Output("weeks-transitions", "children"),
    Output("weeks-message", "children"),
    Input("weeks-subjects", "value"),
    Input("weeks-a", "value"),
    Input("weeks-b", "value"),
)
def show_weeks(subjects, week_a, week_b):
    if not subjects or not week_a or not week_b:
        return no_update, [], [], "Choose one or more babies and two weeks."
    try:
        figure, comparison, transitions, damaged = weeks_view(state.lake(), list(subjects), week_a, week_b)
        ages = weeks_ages(state.lake(), list(subjects), week_a, week_b)
    except SleepmovesError as exc:
        return no_update, [], [], str(exc)
    blocks = [
        html.Div(
            [html.H4(f"Week {name}"), table(probs.round(2).reset_index(names="from").to_dict("records"))],
            className="card",
        )
        for name, probs in transitions.items()
    ]
    return (
        figure,
        table(comparison_table_rows(comparison), COLUMNS),
        blocks,
        " ".join([f"Ages: {ages}.", *damaged]),
    )


@callback(
    Output("weeks-download", "data"),
    Input("weeks-png", "n_clicks"),
    State("weeks-subjects", "value"),
    State("weeks-a", "value"),
    State("weeks-b", "value"),
    State("weeks-anonymise", "value"),
    prevent_initial_call=True,
)
def download_weeks(_clicks, subjects, week_a, week_b, anonymise):
    if not subjects or not week_a or not week_b:
        return no_update
    from dashboard.export import PAGE, weeks_summary_figure

    fig = weeks_summary_figure(
        state.lake(), list(subjects), week_a, week_b, anonymise=wants_anonymous(anonymise)
    )
    return send_png(fig, PAGE[0], int(fig.layout.height), f"sleepmoves-weeks-{week_a}-{week_b}.png")
