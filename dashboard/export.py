"""PNG export of a night summary, rendered on the server from the same figure builders (kaleido + system Chromium)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import plotly.io as pio

from sleepmoves.flags import decode as decode_flags
from sleepmoves.lake import Lake
from sleepmoves.schema import UNSURE_BELOW, SleepmovesError, check_night
from sleepmoves.summarize import DEFINITIONS, METRIC_NAMES, metric_words, week_nights, week_words

from .figures import plain, scoring_words
from .views import anonymous_names, night_view, night_words

PAGE = (1200, 1000)  # pixels of a one-page PNG summary
MAX_FLAGS_SHOWN = 5  # more are counted ("and 3 more"), never dropped silently


def app_version() -> str:
    """This sleepmoves's version (as installed), stamped on every export."""
    import sleepmoves

    return sleepmoves.__version__


def signed(tz: str) -> str:
    """Every export's last line: the app version, that it never diagnoses, and when it was made (in ``tz``)."""
    return (
        f"sleepmoves {app_version()} describes movement; it never diagnoses. "
        f"Made {pd.Timestamp.now(tz=tz):%Y-%m-%d %H:%M} ({tz})."
    )


def plain_words(text: str, width: int) -> str:
    """Text for a figure annotation, broken into lines of about ``width`` characters (Plotly does not wrap)."""
    import textwrap

    return "<br>".join(textwrap.wrap(text, width))


# Offline machines: never let kaleido's page fetch MathJax from a CDN.
pio.defaults.mathjax = None


def night_summary_figure(lake: Lake, subject: str, night: str, anonymise: bool = False):
    """The one-page night figure: ribbon + raster, the summary in words and a footer with the definitions.

    ``anonymise`` shows "Baby A" instead of the baby's name or id.
    """
    check_night(night)
    lake.subject(subject)  # a clear error when unknown
    stand_in = anonymous_names([subject])[subject] if anonymise else None
    fig, metrics, tz, label = night_view(lake, subject, night, name=stand_in)
    if metrics is None:
        raise SleepmovesError(
            f"night {night} of {subject} is not in the lake (processed nights: {', '.join(lake.nights(subject)[-5:]) or 'none'})"
        )
    when = pd.Timestamp(night)
    day = f"{when:%A} {when.day} {when:%B %Y}"
    sentence = plain_words(night_words(lake, subject, night, metrics, name=stand_in), width=150)
    summary = f"<b>night of {day}</b><br>" + sentence
    flags = decode_flags(metrics.get("flags"))
    shown = flags[:MAX_FLAGS_SHOWN]
    flag_lines = "".join(f"<br>⚑ {f['message']}" for f in shown) or "<br>No review flags this night."
    if len(flags) > len(shown):
        flag_lines += f"<br>⚑ and {len(flags) - len(shown)} more: see this night in sleepmoves"
    defined = ("sleep_onset", "total_sleep_min", "waso_min", "wake_bouts", "cycles", "<kind>_per_h_<phase>")
    footer = (
        f"{label} · night of {night} · times in {tz} · {scoring_words(metrics)}"
        + f"<br>sleep period: {metrics.get('sleep_period_source') or '?'}"
        + flag_lines
        + f"<br>On the ribbon: each phase at its own height; pale = the model gives the phase less than "
        f"{UNSURE_BELOW:.0%}; grey stripes = no data. ▼ = a review flag."
        + "".join(f"<br>{METRIC_NAMES[term]}: {DEFINITIONS[term]}" for term in defined)
        + f"<br>{signed(tz)}"
    )
    # the page's head: the date and the sentence (the chart's own title would repeat them), over the chart
    summary_lines = summary.count("<br>") + 1
    fig.update_layout(title_text="")
    fig.add_annotation(
        text=summary,
        xref="paper",
        yref="paper",
        x=0,
        y=1,
        yshift=24,
        yanchor="bottom",
        showarrow=False,
        xanchor="left",
        align="left",
        font={"size": 13},
    )
    fig.add_annotation(
        text=footer,
        xref="paper",
        yref="paper",
        x=0,
        y=-0.14,
        yanchor="top",
        showarrow=False,
        xanchor="left",
        align="left",
        font={"size": 11, "color": "#444"},
    )
    fig.update_layout(
        height=PAGE[1],
        width=PAGE[0],
        margin={"t": 50 + 19 * summary_lines, "b": 290, "r": 250},
        legend={"orientation": "v", "x": 1.01, "y": 1, "yanchor": "top"},
    )
    return fig


def export_night_png(lake: Lake, subject: str, night: str, out: str | Path, anonymise: bool = False) -> Path:
    """Write the night summary as PNG to ``out`` (atomically)."""
    fig = night_summary_figure(lake, subject, night, anonymise)
    return write_png(fig, out, width=PAGE[0], height=PAGE[1])


def rendered(fig, width: int, height: int, fmt: str = "png") -> bytes:
    """A figure rendered by kaleido (system Chromium) as ``png`` or ``pdf`` bytes, or a clear error."""
    from .downloads import png_bytes

    try:
        return png_bytes(fig, width, height, fmt=fmt)
    except SleepmovesError:
        raise
    except Exception as exc:  # kaleido reports a missing browser with its own exception types
        raise SleepmovesError(
            f"{fmt.upper()} export failed: {exc} (is Debian's chromium installed?)"
        ) from None


def write_png(fig, out: str | Path, width: int, height: int) -> Path:
    """Render a figure with kaleido (system Chromium) and write it atomically."""
    png = rendered(fig, width, height)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(png)
    os.replace(tmp, out)
    return out


def weeks_summary_figure(lake: Lake, subjects: list[str], week_a: str, week_b: str, anonymise: bool = False):
    """The one-page weeks comparison: actogram, twitch density, total sleep, and the comparison table.

    ``anonymise`` shows "Baby A", "Baby B", ... instead of the babies' ids.
    """
    from sleepmoves.summarize import COMPARED_METRICS

    from .figures import comparison_table_rows
    from .views import weeks_ages, weeks_view

    names = anonymous_names(subjects) if anonymise else None
    fig, comparison, _, _ = weeks_view(lake, subjects, week_a, week_b, names)
    title = fig.layout.title.text or ""
    fig.update_layout(title_text=f"{title}<br><sup>{weeks_ages(lake, subjects, week_a, week_b, names)}</sup>")
    names = names or {}
    lines = []
    for subject in subjects:
        who = names.get(subject) or plain(lake.subject(subject).get("label") or subject)
        lines += [f"<b>{who}</b>", f"{'metric':<36}{'A':>22}{'B':>22}{'B − A (95 % interval)':>30}  reading"]
        part = comparison[(comparison["subject"] == subject) & comparison["metric"].isin(COMPARED_METRICS)]
        if not (part["nights_a"] + part["nights_b"]).any():
            lines[-1] = "no nights in these weeks"  # instead of the table's header
        lines += [
            f"{r['metric']:<36}{r['A']:>22}{r['B']:>22}{r['B − A (95 % interval)']:>30}  {r['reading']}"
            for r in comparison_table_rows(part)
        ]
        lines.append("")
    # the flags of both weeks, with their nights, and the compared measures in words: the page stands alone
    first = min(week_nights(week_a)[0], week_nights(week_b)[0])
    last = max(week_nights(week_a)[1], week_nights(week_b)[1])
    flags = lake.flags(subjects, first, last)
    lines.append("<b>Review flags</b> (a pattern worth showing the pediatrician, never a diagnosis)")
    for row in flags.itertuples():
        who = names.get(row.subject) or plain(lake.subject(row.subject).get("label") or row.subject)
        lines += plain_words(f"{who} {row.night}: {plain(row.message)}", 150).split("<br>")
    if not len(flags):
        lines.append("No review flags in these weeks.")
    lines += ["", "<b>What the measures mean</b>"]
    for metric in COMPARED_METRICS:
        lines += plain_words(f"{metric_words(metric)}: {_definition(metric)}", 150).split("<br>")
    lines.append("")
    zones = sorted({lake.subject(s)["tz"] for s in subjects})
    footer = (
        f"A = {week_words(week_a)}, B = {week_words(week_b)} · nights are local noon to noon ({', '.join(zones)})"
        f" · model {lake_model(lake, subjects)}"
        "<br>Each baby against herself: mean of the nights in each week; the difference and its 95 % interval from a"
        "<br>moving-block bootstrap over nights; higher / lower only when the interval leaves out zero. Babies are never"
        f" pooled.<br>{signed(zones[0])}"
    )
    table_lines = len(lines) + 4
    height = max(int(fig.layout.height or 400), 420)
    fig.add_annotation(
        text="<br>".join(lines).replace(" ", "&nbsp;") + "<br>" + footer,
        xref="paper",
        yref="paper",
        x=0,
        y=-0.06,
        yanchor="top",
        xanchor="left",
        align="left",
        showarrow=False,
        font={"family": "DejaVu Sans Mono, monospace", "size": 11, "color": "#333"},
    )
    below = 40 + 15 * table_lines
    fig.update_layout(height=height + below, width=PAGE[0], margin={"b": below, "l": 170, "r": 20, "t": 125})
    return fig


def trend_summary_figure(
    lake: Lake, subjects: list[str], first: str, last: str, metric: str, anonymise: bool = False
):
    """The trend PNG: the trend panels with a footer that explains them, the app version and when it was made."""
    from sleepmoves.trends import ROLLING_NIGHTS

    from .views import trend_view

    names = anonymous_names(subjects) if anonymise else None
    fig = trend_view(lake, subjects, first, last, metric, names)
    zones = sorted({lake.subject(s)["tz"] for s in subjects})
    footer = (
        f"Dots: each night (local noon to noon, {', '.join(zones)}). Line: the median of the nights in the "
        f"{ROLLING_NIGHTS} days up to each night. Diamonds: each week's median, bars to its quartiles."
        "<br>Band: the range typical at the baby's age (sources on the About page of sleepmoves: Galland 2012, "
        "Dereymaeker 2017, Stern 1969), where one is published for this measure."
        f"<br>{signed(zones[0])}"
    )
    fig.add_annotation(
        text=footer, xref="paper", yref="paper", x=0, y=0, yshift=-70, yanchor="top", xanchor="left",
        align="left", showarrow=False, font={"size": 11, "color": "#444"},
    )  # fmt: skip
    fig.update_layout(height=int(fig.layout.height) + 110, width=PAGE[0], margin={"b": 170})
    return fig


def _definition(metric: str) -> str:
    """A metric column's definition (the generic ``<kind>_per_h_<phase>`` ones stand for their family)."""
    if metric in DEFINITIONS:
        return DEFINITIONS[metric]
    family = next(
        (
            k
            for k in DEFINITIONS
            if k.startswith("<kind>_per_h") and ("_per_h_" in metric) == ("<phase>" in k)
        ),
        None,
    )
    if metric.startswith("pct_"):
        family = "min_<phase>, pct_<phase>"
    return DEFINITIONS.get(family, "")


def lake_model(lake: Lake, subjects) -> str:
    versions = lake.nights_table(subjects).get("model_version", pd.Series(dtype=str)).dropna().unique()
    return ", ".join(sorted(map(str, versions))) or "?"


def export_trend_png(
    lake: Lake,
    subjects: list[str],
    first: str,
    last: str,
    metric: str,
    out: str | Path,
    anonymise: bool = False,
) -> Path:
    fig = trend_summary_figure(lake, subjects, first, last, metric, anonymise)
    return write_png(fig, out, width=PAGE[0], height=int(fig.layout.height))


def export_weeks_png(
    lake: Lake, subjects: list[str], week_a: str, week_b: str, out: str | Path, anonymise: bool = False
) -> Path:
    fig = weeks_summary_figure(lake, subjects, week_a, week_b, anonymise)
    return write_png(fig, out, width=PAGE[0], height=int(fig.layout.height))
