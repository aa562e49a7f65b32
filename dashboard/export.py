"""PNG export of a night summary, rendered on the server from the same figure builders (kaleido + system Chromium)."""

from __future__ import annotations

import os
from pathlib import Path

import plotly.io as pio

from pipeline.lake import Lake
from pipeline.nights import night_bounds
from pipeline.schema import SleepmovesError, check_night
from pipeline.summarize import DEFINITIONS

from .figures import night_figure, summary_items

# Offline machines: never let kaleido's page fetch MathJax from a CDN.
pio.defaults.mathjax = None


def night_summary_figure(lake: Lake, subject: str, night: str):
    """The one-page night figure: ribbon + raster, the summary in words and a footer with the definitions."""
    check_night(night)
    info = lake.subject(subject)
    metrics = lake.night_summary(subject, night)
    if metrics is None:
        raise SleepmovesError(
            f"night {night} of {subject} is not in the lake (processed nights: {', '.join(lake.nights(subject)[-5:]) or 'none'})"
        )
    tz = info["tz"]
    start, _ = night_bounds(night, tz)
    fig = night_figure(
        lake.phases(subject, night),
        lake.events(subject, night),
        tz,
        start,
        f"{info['label'] or subject} · night of {night}",
        lake.nodata_epochs(subject, night),
        lake.diary(subject, night),
    )
    summary = "   ·   ".join(f"{title}: {value}" for title, value, _ in summary_items(metrics, tz)[:5])
    footer = (
        f"{info['label'] or subject} · night of {night} · times in {tz} · model {metrics.get('model_version', '?')}"
        f"<br>sleep onset = {DEFINITIONS['sleep_onset']}. Not a diagnosis: worth showing your pediatrician if anything worries you."
    )
    fig.add_annotation(
        text=summary,
        xref="paper",
        yref="paper",
        x=0,
        y=1.08,
        showarrow=False,
        xanchor="left",
        font={"size": 13},
    )
    fig.add_annotation(
        text=footer,
        xref="paper",
        yref="paper",
        x=0,
        y=-0.2,
        showarrow=False,
        xanchor="left",
        align="left",
        font={"size": 10, "color": "#555"},
    )
    fig.update_layout(
        height=760,
        width=1200,
        margin={"t": 90, "b": 110, "r": 150},
        legend={"orientation": "v", "x": 1.01, "y": 1, "yanchor": "top"},
    )
    return fig


def export_night_png(lake: Lake, subject: str, night: str, out: str | Path) -> Path:
    """Write the night summary as PNG to ``out`` (atomically)."""
    return write_png(night_summary_figure(lake, subject, night), out, width=1200, height=760)


def write_png(fig, out: str | Path, width: int, height: int) -> Path:
    """Render a figure with kaleido (system Chromium) and write it atomically."""
    try:
        png = fig.to_image(format="png", width=width, height=height, scale=1)
    except Exception as exc:  # kaleido reports a missing browser with its own exception types
        raise SleepmovesError(f"PNG export failed: {exc} (is Debian's chromium installed?)") from None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(png)
    os.replace(tmp, out)
    return out
