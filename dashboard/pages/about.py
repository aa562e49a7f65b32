"""About page: what sleepmoves is and is not, the metric definitions, the flags and the model card summary."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import dash
import pandas as pd
from dash import html

from sleepmoves.dashboard.components import table
from sleepmoves.dashboard.words import TYPICAL
from sleepmoves.flags import FLAG_WORDS, RULES
from sleepmoves.labels import scorer_agreement
from sleepmoves.lake import DamagedData
from sleepmoves.schema import UNSURE_BELOW
from sleepmoves.summarize import DEFINITIONS, METRIC_NAMES

dash.register_page(__name__, path="/about", name="About", title="sleepmoves · about", order=3)

# the shipped model's evaluation travels with it (package data of sleepmoves.models)
EVALUATION = Path(str(importlib.resources.files("sleepmoves.models").joinpath("evaluation", "summary.csv")))


def layout(**_query):
    model_rows = _model_rows(pd.read_csv(EVALUATION)) if EVALUATION.exists() else []
    return html.Div(
        [
            html.H2("Not a diagnosis"),
            html.P(
                "sleepmoves describes how a baby moved during the night and estimates, from movement alone, when the "
                "baby was in active (REM-like) or quiet (NREM-like) sleep. It never diagnoses. A flag means a pattern "
                "worth showing your pediatrician, with the time so you can find it on your video."
            ),
            html.H2("Metrics"),
            table(
                [
                    {"metric": METRIC_NAMES[k], "what it means": v, "column in exported files": k}
                    for k, v in DEFINITIONS.items()
                ]
            ),
            html.H2("Review flags"),
            table(
                [
                    {
                        "a flag when we see": FLAG_WORDS[name],
                        "where the rule comes from": _source_words(rule["source"]),
                    }
                    for name, rule in RULES.items()
                ]
            ),
            html.H2("How good are the phase labels?"),
            html.P(
                "Measured on simulated babies the model never saw. Real infants are harder: published agreement for "
                "active vs quiet sleep from limb movement alone is a kappa of about 0.2-0.4. Pale colours on the chart "
                f"mark epochs where the model gives its phase less than {UNSURE_BELOW:.0%}: it is then right about half "
                "the time or less. Phase minutes come with the range they are likely to lie in."
            ),
            table(model_rows) if model_rows else html.P("No evaluation found."),
            html.Div(_people_section(), id="about-people"),
            html.H2("Comparing weeks"),
            html.P(
                "Each baby is compared with herself: the mean of her nights in week A against week B, the difference, "
                "and the range it likely lies in (a 95 % interval). The interval comes from resampling runs of "
                "consecutive nights (a moving-block bootstrap), because a baby's nights are not independent: a poor "
                "night tends to follow a poor night. With a week's 7 nights the interval is widened to a t "
                "interval's width (Hesterberg's expanded percentile interval). A change is called higher or lower "
                "only when its interval leaves out zero."
            ),
            html.P(
                "There are no p-values: a dozen metrics for each baby would call for a correction for multiple "
                "tests that leaves each test almost no power, and a p-value over nights would overstate its "
                "certainty. Babies are never pooled: several babies are shown side by side, and with three or more "
                "the cohort row takes each baby as one value (the mean of the babies' own differences)."
            ),
            html.H2("What is typical by age"),
            html.P(
                "The night's sentence compares the baby with its own usual night (the median of its previous 14 "
                "nights) and with these published figures. Babies differ a lot: a night outside them is not a "
                "problem by itself."
            ),
            table(_typical_rows()),
        ]
    )


# the evaluation's columns a reader needs, in words (the full table is data/models/evaluation/summary.csv)
SHOWN = {
    "method": "method",
    "kappa": "kappa",
    "active_vs_quiet_kappa": "active vs quiet kappa",
    "awake_vs_asleep_accuracy": "awake vs asleep",
    "ece": "calibration error",
}


def _model_rows(summary: pd.DataFrame) -> list[dict]:
    shown = summary[[c for c in SHOWN if c in summary]].rename(columns=SHOWN).round(3)
    return shown.to_dict("records")


def _people_section() -> list:
    """How far the clinic's scorers agree with each other (the human ceiling) and with the model, on the nights
    they scored on the Score page (only the babies this user may see)."""
    from sleepmoves.dashboard import state
    from sleepmoves.learn import active_model_path
    from sleepmoves.model import model_version

    lake = state.lake()
    said = [
        html.H2("People's scoring"),
        html.P(f"The model labelling this lake's nights: {model_version(active_model_path(lake))}."),
    ]
    try:
        result = scorer_agreement(lake)
    except DamagedData as exc:  # the rest of the page still serves
        return said + [html.P(f"The scoring cannot be read: {exc}", className="flag damaged")]
    if result["model"].empty and result["pairs"].empty:
        return said + [html.P("No night has been scored by hand yet (clinicians score on the Score page).")]
    if len(result["pairs"]):
        said += [
            html.P(
                "Where two people scored the same epochs, how often they agree (Cohen's kappa: 1 is always, 0 is "
                "no better than chance). No model can be expected to agree with a person better than two people "
                "agree with each other."
            ),
            table(_rounded(result["pairs"]).to_dict("records"), id="about-pairs"),
        ]
        for (a, b), matrix in result["confusion"].items():
            rows = [{f"{a} \\ {b}": phase, **matrix.loc[phase].to_dict()} for phase in matrix.index]
            said += [html.H4(f"{a} (rows) against {b} (columns), epochs"), table(rows)]
    if len(result["model"]):
        said += [
            html.P("The model's phases against each scorer's, on the epochs both labelled:"),
            table(_rounded(result["model"]).to_dict("records"), id="about-model-agreement"),
        ]
    return said


AGREEMENT_WORDS = {
    "scorer_a": "scorer",
    "scorer_b": "with",
    "scorer": "scorer",
    "nights": "nights",
    "epochs": "epochs both scored",
    "accuracy": "same phase",
    "kappa": "kappa",
    "model_versions": "model",
}


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.round({"accuracy": 3, "kappa": 3}).rename(columns=AGREEMENT_WORDS)


def _source_words(source: str) -> str:
    """A rule's source, naming the project's sleep-science notes in words rather than by file name."""
    return source.replace("science.md", "published infant sleep research (sleepmoves' science notes)")


def _typical_rows() -> list[dict]:
    rows = []
    for entry in TYPICAL.values():
        points = []
        for months in entry["low"]:
            low, high = entry["low"][months], entry["high"][months]
            value = f"{low:g}" if low == high else f"{low:g}–{high:g}"
            points.append(f"{value} at {months:g} mo")
        rows.append({"what": entry["what"], "by age": "; ".join(points), "source": entry["source"]})
    return rows
