"""Pure Plotly figure builders: data frames in, figures out (no files, no server).

Times are drawn on a numeric axis of real hours since the night's start (local noon), labelled with the
baby's local clock time, so a 23- or 25-hour DST night is drawn at its true length with no folded hour.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sleepmoves.nights import utc_ns
from sleepmoves.schema import EPOCH_S, KINDS, LIMBS, SCORED_PHASES, UNSURE_BELOW
from sleepmoves.summarize import metric_words
from sleepmoves.wording import counted

# Okabe-Ito colour-blind-safe palette.
PALE_OPACITY = 0.35  # an unsure epoch's colour strength (see sleepmoves.schema.UNSURE_BELOW)
PHASE_COLOURS = {
    "awake": "#E69F00",
    "active": "#CC79A7",
    "quiet": "#0072B2",
    "transition": "#F0E442",
    "asleep": "#332288",  # sleep whose phase the data cannot tell (activity counts)
}
# Every colour means one thing: no movement or diary mark wears a phase's colour (Paul Tol's palette beside
# Okabe-Ito's for the few more needed), and each kind has its own shape too.
KIND_COLOURS = {
    "twitch": "#009E73",
    "kick": "#D55E00",
    "startle": "#000000",
    "shake": "#882255",
    "stretch": "#56B4E9",
    "other": "#999999",
}
KIND_SYMBOLS = {
    "twitch": "line-ns-open",
    "kick": "triangle-up",
    "startle": "star",
    "shake": "diamond",
    "stretch": "square",
    "other": "circle-open",
}
NODATA_COLOUR = "#BBBBBB"
PHASE_NAMES = {
    "awake": "Awake",
    "active": "Active sleep",
    "quiet": "Quiet sleep",
    "transition": "Transition",
    "asleep": "Asleep (phase not known)",  # from activity counts or a diary: asleep, not which phase
}
COUNTS_COLOUR = "#555555"
# Height of each phase on the ribbon, as a sleep-lab hypnogram places stages: the phase reads without its colour.
PHASE_LEVEL = {"awake": 1.0, "active": 0.75, "transition": 0.5, "quiet": 0.25, "asleep": 0.6}
PHASE_TICKS = {"awake": "awake", "active": "active", "transition": "transition", "quiet": "quiet"}
LIMB_WORDS = {limb: limb.replace("_", " ") for limb in LIMBS}  # "left leg", not left_leg
FLAG_COLOUR = "#CC3311"
FLAG_LEVEL = 1.1  # flag marks sit just over the ribbon's top (awake, 1.0)
DISAGREE_COLOUR = "#44AA99"  # where the diary and the movement tell different stories (Tol's teal)
DISAGREE_WORDS = "diary and movement disagree"


def plain(text) -> str:
    """User text (a baby's label, a diary note) as plain text in a figure.

    Plotly reads a subset of HTML in titles, hover texts and labels (links, styles); the export browser would
    follow a URL in them. Escaped, ``<a href=…>`` or ``fill:url(…)`` is shown as the characters typed.
    """
    return html.escape(str(text), quote=False)


def _hours(times, origin: pd.Timestamp) -> np.ndarray:
    delta = pd.DatetimeIndex(pd.to_datetime(times, utc=True)) - origin
    return np.asarray(delta.total_seconds(), dtype="float64") / 3600


CLOCK_STEPS_MIN = (10, 15, 30, 60, 120, 180, 240, 360)
MOST_CLOCK_LABELS = 7  # level "00:00" labels a phone's 300-px plot holds apart


def clock_step_h(lo_h: float, hi_h: float) -> float:
    """The shortest of :data:`CLOCK_STEPS_MIN` (in hours) that puts at most :data:`MOST_CLOCK_LABELS` labels on
    the span: 2 h on a night, 4 h on a whole day, 15 min on a short recording."""
    span_min = (hi_h - lo_h) * 60
    step = next((m for m in CLOCK_STEPS_MIN if span_min / m < MOST_CLOCK_LABELS), CLOCK_STEPS_MIN[-1])
    return step / 60


def clock_ticks(origin: pd.Timestamp, lo_h: float, hi_h: float, tz: str, step_h: float = 1):
    """Tick positions (hours since ``origin``, local noon) on multiples of ``step_h`` of real time, labelled
    with local clock time (on a DST night the clock repeats or skips an hour; the positions do not)."""
    step_min = round(step_h * 60)  # whole minutes: a tenth of an hour in floating point is not 6 minutes
    first, last = math.ceil(lo_h * 60 / step_min - 1e-9), math.floor(hi_h * 60 / step_min + 1e-9)
    minutes = [k * step_min for k in range(first, last + 1)]
    labels = [(origin + pd.Timedelta(minutes=m)).tz_convert(tz).strftime("%H:%M") for m in minutes]
    return [m / 60 for m in minutes], labels


def night_figure(
    phases: pd.DataFrame,
    events: pd.DataFrame,
    tz: str,
    night_start: pd.Timestamp,
    title: str | None = None,
    nodata_starts=None,
    diary: pd.DataFrame | None = None,
    movement: pd.DataFrame | None = None,
    counts: pd.DataFrame | None = None,
    period: tuple | None = None,
    flags: list[dict] | None = None,
    disagreements: pd.DataFrame | None = None,
) -> go.Figure:
    """Phase ribbon over movement and an event raster by limb, on one shared clock axis in the baby's zone.

    Parameters
    ----------
    phases : DataFrame
        ``epoch_start`` (UTC), ``phase`` and ``p_<phase>`` probabilities.
    events : DataFrame
        ``start`` (UTC), ``duration_s``, ``limb``, ``kind``, ``intensity``.
    tz : str
        The baby's IANA zone (clock labels).
    night_start : Timestamp
        UTC start of the night (local noon); x is hours since then.
    nodata_starts : array-like of timestamps, optional
        Epochs without usable sensor data, drawn as grey "No data" (never as a sleep phase).
    diary : DataFrame, optional
        Parent diary entries (``start``, ``end``, ``activity``, ``note``): sleeps as bars, feeds and visits as
        marks on a "diary" row below the limbs.
    movement : DataFrame, optional
        ``epoch_start`` and ``move_s`` (seconds of movement per epoch), drawn as bars under the ribbon.
    counts : DataFrame, optional
        Activity counts (``start``, ``epoch_s``, ``count``, ``valid``), drawn per epoch at their own length
        under the ribbon instead of ``movement`` (a night known from an actigraph).
    period : (Timestamp, Timestamp), optional
        The night's sleep period (onset, offset), shaded across the chart.
    flags : list of dict, optional
        The night's review flags (``start``, ``message``): a mark above the ribbon at each one's time, its sentence
        on hover.
    disagreements : DataFrame, optional
        Stretches where the diary and the movement disagree (``start``, ``end``, ``diary_says``,
        ``movement_says``; :func:`sleepmoves.periods.diary_disagreements`): a bar under the ribbon, words on hover.
    """
    has_counts = counts is not None and len(counts) > 0 and counts["valid"].any()
    has_raster = len(events) > 0 or (diary is not None and len(diary) > 0)
    rows = 3 if has_raster else 2
    raster_rows = len(set(events["limb"])) + (diary is not None and len(diary) > 0) if has_raster else 0
    raster_share = min(0.65, 0.12 + 0.08 * raster_rows)
    fig = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        # the raster grows with its rows (a diary alone is one row): the ribbon keeps the rest
        row_heights=[0.91 - raster_share, 0.09, raster_share] if has_raster else [0.5, 0.5],
        vertical_spacing=0.03,
    )
    if has_counts:
        shown = counts[counts["valid"].astype(bool)]
        width = shown["epoch_s"].to_numpy(dtype="float64") / 3600
        fig.add_trace(
            go.Bar(
                x=_hours(shown["start"], night_start) + width / 2,
                y=shown["count"].to_numpy(dtype="float64"),
                width=width,
                marker={"color": COUNTS_COLOUR, "line": {"width": 0}},
                name="activity counts",
                showlegend=False,
                hovertemplate="%{y:.0f} counts<extra></extra>",
            ),
            row=2,
            col=1,
        )
    elif movement is not None and len(movement):
        x_move = _hours(movement["epoch_start"], night_start) + EPOCH_S / 3600 / 2
        fig.add_trace(
            go.Bar(
                x=x_move,
                y=movement["move_s"].to_numpy(dtype="float64"),
                width=EPOCH_S / 3600,
                marker={"color": "#555555", "line": {"width": 0}},
                name="movement (s per 30 s)",
                showlegend=False,
                hovertemplate="%{y:.0f} s of movement<extra></extra>",
            ),
            row=2,
            col=1,
        )
    epoch_h = EPOCH_S / 3600
    if len(phases):
        x = _hours(phases["epoch_start"], night_start) + epoch_h / 2
        local = pd.to_datetime(phases["epoch_start"], utc=True).dt.tz_convert(tz).dt.strftime("%H:%M:%S")
        for phase in SCORED_PHASES:
            mask = (phases["phase"] == phase).to_numpy()
            if not mask.any():
                continue
            prob = (
                phases[f"p_{phase}"].to_numpy(dtype="float64")[mask]
                if f"p_{phase}" in phases
                else np.ones(mask.sum())
            )
            fig.add_trace(
                go.Bar(
                    x=x[mask],
                    y=np.full(mask.sum(), PHASE_LEVEL[phase]),
                    width=epoch_h,
                    name=PHASE_NAMES[phase],
                    legendgroup="phases",
                    legendgrouptitle_text="Phase",
                    marker={
                        "color": PHASE_COLOURS[phase],
                        # pale where the model gives its phase less than UNSURE_BELOW: a stated level, not a
                        # shade per percent (calibrated probabilities make the level mean what it says)
                        "opacity": np.where(prob < UNSURE_BELOW, PALE_OPACITY, 1.0),
                        "line": {"width": 0},
                    },
                    customdata=np.column_stack([local.to_numpy()[mask], np.round(100 * prob)]),
                    hovertemplate=f"%{{customdata[0]}} {PHASE_NAMES[phase]} (%{{customdata[1]:.0f}} % sure)<extra></extra>",
                ),
                row=1,
                col=1,
            )
    if nodata_starts is not None and len(nodata_starts):
        x = _hours(nodata_starts, night_start) + epoch_h / 2
        fig.add_trace(
            go.Bar(
                x=x,
                y=np.ones(len(x)),
                width=epoch_h,
                name="No data",
                legendgroup="phases",
                legendgrouptitle_text="Phase",
                marker={"color": NODATA_COLOUR, "pattern": {"shape": "/"}, "line": {"width": 0}},
                hovertemplate="no data (not recorded or not worn)<extra></extra>",
            ),
            row=1,
            col=1,
        )
    if len(events):
        ev = events.copy()
        ev["x"] = _hours(ev["start"], night_start)
        ev["local"] = pd.to_datetime(ev["start"], utc=True).dt.tz_convert(tz).dt.strftime("%H:%M:%S")
        for kind in KINDS:
            part = ev[ev["kind"] == kind]
            if part.empty:
                continue
            fig.add_trace(
                go.Scatter(
                    x=part["x"],
                    y=part["limb"].map(LIMB_WORDS).fillna(part["limb"]),
                    mode="markers",
                    name=kind,
                    legendgroup="kinds",
                    legendgrouptitle_text="Movement",
                    marker={
                        "color": KIND_COLOURS[kind],
                        "symbol": KIND_SYMBOLS[kind],
                        "size": 9 if kind == "twitch" else 8,
                        "line": {"width": 1.5, "color": KIND_COLOURS[kind]},
                    },
                    customdata=np.column_stack([part["local"], part["duration_s"].map(_lasting)]),
                    hovertemplate=f"%{{customdata[0]}} {kind}, %{{y}}%{{customdata[1]}}<extra></extra>",
                ),
                row=3,
                col=1,
            )
    has_diary = diary is not None and len(diary) > 0
    if has_diary:
        _add_diary(fig, diary, night_start, tz)
    if flags:
        when = pd.to_datetime([f["start"] for f in flags], utc=True)
        fig.add_trace(
            go.Scatter(
                x=_hours(when, night_start),
                y=np.full(len(flags), FLAG_LEVEL),
                mode="markers",
                name="review flag",
                marker={"symbol": "triangle-down", "size": 13, "color": FLAG_COLOUR},
                customdata=np.column_stack(
                    [when.tz_convert(tz).strftime("%H:%M"), [plain(f["message"]) for f in flags]]
                ),
                hovertemplate="%{customdata[0]} %{customdata[1]}<extra></extra>",
                cliponaxis=False,
            ),
            row=1,
            col=1,
        )
    if disagreements is not None and len(disagreements):
        _add_disagreements(fig, disagreements, night_start, tz)
    if period is not None and all(pd.notna(t) for t in period):
        x0, x1 = _hours(list(period), night_start)
        fig.add_vrect(x0=x0, x1=x1, fillcolor="#332288", opacity=0.07, line_width=0, layer="below")
        fig.add_annotation(
            x=x0, y=1, yref="y domain", xanchor="left", yanchor="bottom", showarrow=False,
            text=f"sleep period {_clock(period[0], tz)}–{_clock(period[1], tz)}", font={"size": 11},
        )  # fmt: skip
    spans = []
    if len(phases):
        spans += [_hours(phases["epoch_start"].iloc[[0, -1]], night_start)]
    if len(events):
        spans += [_hours(events["start"].iloc[[0, -1]], night_start)]
    if spans:
        lo, hi = min(s.min() for s in spans) - 0.25, max(s.max() for s in spans) + 0.25
    else:
        lo, hi = 6.0, 20.0  # 18:00 to 08:00 on an empty night
    # level labels a phone can show without turning them: every 2 h on a night, closer on a short recording
    ticks, labels = clock_ticks(night_start, lo, hi, tz, step_h=clock_step_h(lo, hi))
    # the clock axis is drawn on the bottom row whatever the night holds
    fig.update_xaxes(
        range=[lo, hi], tickvals=ticks, ticktext=labels, tickangle=0, showgrid=True, gridcolor="#e5e5e5"
    )
    fig.update_xaxes(
        title_text=f"clock time ({tz})", title_font={"size": 11}, showticklabels=True, row=rows, col=1
    )
    shown_levels = [p for p in PHASE_TICKS if len(phases) and (phases["phase"] == p).any()]
    fig.update_yaxes(
        # a strip under the ribbon holds the diary-disagreement bars
        # a strip over the ribbon holds the flag marks (a mark outside the range is not drawn)
        range=[-0.14 if disagreements is not None and len(disagreements) else 0, 1.2 if flags else 1],
        tickvals=[PHASE_LEVEL[p] for p in shown_levels],
        ticktext=[PHASE_TICKS[p] for p in shown_levels],
        tickfont={"size": 10},
        showgrid=False,
        automargin=True,
        row=1,
        col=1,
    )
    if has_counts:
        fig.update_yaxes(
            title_text="counts", rangemode="tozero", row=2, col=1, showgrid=False, automargin=True
        )
    else:
        fig.update_yaxes(
            range=[0, EPOCH_S],
            tickvals=[0, EPOCH_S],
            ticktext=["still", "moving"],
            tickfont={"size": 10},
            row=2,
            col=1,
            showgrid=False,
            automargin=True,
        )
    if has_raster:
        limbs_present = [LIMB_WORDS[limb] for limb in LIMBS if len(events) and (events["limb"] == limb).any()]
        if has_diary:
            limbs_present.append("diary")
        fig.update_yaxes(
            categoryorder="array",
            categoryarray=list(reversed(limbs_present or [LIMB_WORDS[limb] for limb in LIMBS])),
            row=3,
            col=1,
            automargin=True,
        )
    fig.update_layout(
        title={"text": title or "Night", "x": 0.01},
        barmode="overlay",
        bargap=0,
        height=520,
        margin={"l": 10, "r": 10, "t": 60, "b": 50},
        plot_bgcolor="white",
        legend={"orientation": "h", "y": -0.18, "x": 0, "groupclick": "toggleitem"},
        hovermode="closest",
        font={"family": "DejaVu Sans, Arial, sans-serif", "size": 13},
    )
    return fig


def _add_disagreements(fig: go.Figure, spans: pd.DataFrame, night_start: pd.Timestamp, tz: str) -> None:
    """One bar per stretch, just under the phase ribbon; a gap (None) between stretches."""
    xs, ys, words = [], [], []
    for row in spans.itertuples():
        x0, x1 = _hours([row.start, row.end], night_start)
        said = (
            f"{_clock(row.start, tz)}–{_clock(row.end, tz)}: the diary says {row.diary_says}, "
            f"the movement says {row.movement_says}"
        )
        xs += [x0, x1, None]
        ys += [-0.07, -0.07, None]
        words += [said, said, ""]
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            name=DISAGREE_WORDS,
            line={"color": DISAGREE_COLOUR, "width": 7},
            customdata=words,
            hovertemplate="%{customdata}<extra></extra>",
            cliponaxis=False,
        ),
        row=1,
        col=1,
    )


DIARY_SLEEP_COLOUR = "#999933"  # the diary's sleeps: not a phase's blue (Tol's olive)
DIARY_STYLE = {
    "feed": ("#CC6677", "circle", "feed"),
    "visit": ("#000000", "x", "parent visit"),
    "diaper": ("#999999", "square-open", "nappy"),
    "other": ("#999999", "circle-open", "diary note"),
}


def _add_diary(fig: go.Figure, diary: pd.DataFrame, night_start: pd.Timestamp, tz: str) -> None:
    sleeps = diary[(diary["activity"] == "sleep") & diary["end"].notna()]
    if len(sleeps):
        x0, x1 = _hours(sleeps["start"], night_start), _hours(sleeps["end"], night_start)
        xs = np.column_stack([x0, x1, np.full(len(x0), np.nan)]).ravel()
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=["diary"] * len(xs),
                mode="lines",
                line={"color": DIARY_SLEEP_COLOUR, "width": 6},
                name="diary: asleep",
                legendgroup="diary",
                legendgrouptitle_text="Diary",
                hoverinfo="skip",
            ),
            row=3,
            col=1,
        )
    for activity, (colour, symbol, label) in DIARY_STYLE.items():
        part = diary[diary["activity"] == activity]
        if part.empty:
            continue
        local = pd.to_datetime(part["start"], utc=True).dt.tz_convert(tz).dt.strftime("%H:%M")
        fig.add_trace(
            go.Scatter(
                x=_hours(part["start"], night_start),
                y=["diary"] * len(part),
                mode="markers",
                marker={"color": colour, "symbol": symbol, "size": 11},
                name=f"diary: {label}",
                legendgroup="diary",
                legendgrouptitle_text="Diary",
                customdata=np.column_stack([local, part["note"].fillna("").map(plain)]),
                hovertemplate="%{customdata[0]} %{customdata[1]}<extra></extra>",
            ),
            row=3,
            col=1,
        )


def _lasting(seconds) -> str:
    """``, 1.5 s`` of a movement; nothing when its length is not known (a log without durations)."""
    return "" if pd.isna(seconds) else f", {seconds:.1f} s"


def _clock(value, tz: str) -> str:
    if value is None or pd.isna(value):
        return "—"
    return pd.Timestamp(value).tz_convert(tz).strftime("%H:%M")


def _duration(minutes) -> str:
    if minutes is None or pd.isna(minutes):
        return "—"
    total = int(round(float(minutes)))
    return f"{total // 60} h {total % 60:02d} min"


def _likely(metrics: dict, phase: str) -> str:
    """ " · likely 2 h 40 – 3 h 25": the phase's 95 % interval, when the night has one."""
    low, high = metrics.get(f"min_{phase}_low"), metrics.get(f"min_{phase}_high")
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return ""
    return f" · likely {_duration(low).replace(' min', '')} – {_duration(high)}"


def _rate(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{float(value):.0f} / h"


def summary_items(metrics: dict | None, tz: str) -> list[tuple[str, str, str]]:
    """Plain-words summary cards of a night: ``(title, value, explanation)``.

    A night known only from activity counts has no phase cards: counts tell asleep from awake, not which
    phase of sleep.
    """
    if not metrics:
        return [("No data", "—", "This night has not been processed yet.")]
    if pd.isna(metrics.get("sleep_onset")):
        items = [("Night's sleep", "not found", "no sleep of 160 min or more reaching into 22:00–05:00")]
    else:
        items = [
            ("Fell asleep", _clock(metrics.get("sleep_onset"), tz), _period_words(metrics)),
            ("Woke for the day", _clock(metrics.get("sleep_offset"), tz), "end of the night's sleep period"),
            (
                "Total sleep",
                _duration(metrics.get("total_sleep_min")),
                "in the sleep period, recorded time only",
            ),
            ("Awake in the night", _duration(metrics.get("waso_min")), "after first falling asleep"),
        ]
    if pd.notna(metrics.get("min_active")):
        items += [
            (
                "Active sleep",
                _duration(metrics.get("min_active")),
                "REM-like: twitches are normal here" + _likely(metrics, "active"),
            ),
            (
                "Quiet sleep",
                _duration(metrics.get("min_quiet")),
                "deep, still sleep" + _likely(metrics, "quiet"),
            ),
            (
                "Twitches in active sleep",
                _rate(metrics.get("twitches_per_h_active")),
                "per hour of active sleep",
            ),
            (
                "Twitches in quiet sleep",
                _rate(metrics.get("twitches_per_h_quiet")),
                "per hour of quiet sleep",
            ),
        ]
    elif metrics.get("scored_from_diary"):
        items.append(
            ("Sleep phases", "not known", "from your diary: the sleeps as written, no movement recorded")
        )
    else:
        items.append(("Sleep phases", "not known", "activity counts tell asleep from awake, not the phase"))
    naps = metrics.get("naps")
    if naps is not None and pd.notna(naps) and int(naps):
        items.append(
            ("Naps", f"{int(naps)} · {_duration(metrics.get('nap_min'))}", "sleep outside the night")
        )
    gap = metrics.get("nodata_in_period_min")
    if gap is not None and pd.notna(gap) and float(gap) >= 1:
        items.append(("No data in the night", _duration(gap), "not counted as sleep or as wake"))
    return items


def _period_words(metrics: dict) -> str:
    source = str(metrics.get("sleep_period_source") or "")
    return "from the parent's diary" if "diary" in source else "5 minutes asleep in a row"


def scoring_words(metrics: dict | None) -> str:
    """One line saying what scored sleep and wake this night (the model or the device's algorithm)."""
    if not metrics:
        return ""
    method = metrics.get("sleepwake") or f"phase model {metrics.get('model_version', '?')}"
    return f"Sleep and wake scored by: {method}"


def evaluation_figure(tables: dict, version: str) -> go.Figure:
    """Confusion matrix (row-normalised) and reliability curve of a model evaluation."""
    confusion = tables["confusion"]
    share = confusion.div(confusion.sum(axis=1).replace(0, 1), axis=0)
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("confusion (share of each true phase)", "reliability")
    )
    fig.add_trace(
        go.Heatmap(
            z=share.to_numpy(),
            x=list(share.columns),
            y=list(share.index),
            colorscale="Blues",
            zmin=0,
            zmax=1,
            text=confusion.to_numpy(),
            texttemplate="%{z:.2f}<br>(%{text})",
            showscale=False,
        ),
        row=1,
        col=1,
    )
    rel = tables["reliability"]
    fig.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#999"}, name="perfect"),
        row=1,
        col=2,
    )
    fig.add_trace(
        go.Scatter(
            x=rel["confidence"],
            y=rel["accuracy"],
            mode="lines+markers",
            name="model",
            marker={"color": "#0072B2"},
        ),
        row=1,
        col=2,
    )
    fig.update_yaxes(autorange="reversed", title_text="true", row=1, col=1)
    fig.update_xaxes(title_text="predicted", row=1, col=1)
    fig.update_xaxes(title_text="confidence", range=[0, 1], row=1, col=2)
    fig.update_yaxes(title_text="observed accuracy", range=[0, 1], row=1, col=2)
    summary = tables["summary"]
    line = "   ".join(f"{r.method}: kappa {r.kappa:.2f}" for r in summary.itertuples())
    fig.update_layout(
        title={"text": f"{version} · {line}", "x": 0.01, "font": {"size": 14}},
        plot_bgcolor="white",
        showlegend=False,
    )
    return fig


PHASE_CODES = {p: i for i, p in enumerate(SCORED_PHASES)}  # awake, active, quiet, transition, asleep
_PHASE_SCALE = [
    [edge, PHASE_COLOURS[p]]
    for i, p in enumerate(SCORED_PHASES)
    for edge in (i / len(SCORED_PHASES), (i + 1) / len(SCORED_PHASES))
]


def _heatmap_words(z: np.ndarray, x) -> np.ndarray:
    """Hover words of the weeks heatmap: ``02:30 quiet sleep`` (x is hours after noon), or no data."""
    if not z.size:
        return z
    clocks = [
        f"{int((12 + h) % 24):02d}:{int(round(h % 1 * 60)) % 60:02d}" for h in np.asarray(x, dtype=float)
    ]
    words = [PHASE_NAMES[p].split(" (")[0].lower() for p in SCORED_PHASES] + ["no data"]
    # every (clock, word) once, then picked by index: a few weeks of nights are 10^4-10^5 cells
    table = np.array([[f"{clock} {word}" for word in words] for clock in clocks])
    codes = np.where(np.isnan(z), len(words) - 1, np.nan_to_num(z)).astype(int)
    return table[np.arange(z.shape[1])[None, :], codes]


def actogram_matrix(
    phases: pd.DataFrame, night_starts: dict, step_min: int = 5
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """Phase codes on a (nights x time) grid of ``step_min`` bins from local noon; NaN where nothing is known.

    ``phases`` has ``subject``, ``night``, ``epoch_start``, ``phase``; ``night_starts`` maps (subject, night) to
    the UTC start of that night. Each bin shows the most frequent phase of its epochs. Rows are the sorted
    ``(subject, night)`` keys, returned third.
    """
    keys = sorted(night_starts)
    bins = int(25 * 60 / step_min)
    z = np.full((len(keys), bins), np.nan)
    row_of = {k: i for i, k in enumerate(keys)}
    if len(phases):
        # one lookup per (subject, night), not per epoch: a few weeks of several babies are 10^5-10^6 epochs
        subject_code, subjects = pd.factorize(phases["subject"])
        night_code, nights = pd.factorize(phases["night"])
        pair, firsts = pd.factorize(subject_code.astype(np.int64) * len(nights) + night_code)
        keys_of = [(subjects[p // len(nights)], nights[p % len(nights)]) for p in firsts]
        start_ns = np.array([pd.Timestamp(night_starts[k]).value for k in keys_of], dtype=np.int64)[pair]
        minutes = (utc_ns(phases["epoch_start"]) - start_ns) / 60e9
        col = np.clip((minutes // step_min).astype(int), 0, bins - 1)
        row = np.array([row_of[k] for k in keys_of], dtype=np.int64)[pair]
        code = phases["phase"].map(PHASE_CODES).to_numpy()
        counts = np.zeros((len(keys), bins, len(PHASE_CODES)))
        np.add.at(counts, (row, col, code), 1)
        seen = counts.sum(axis=2) > 0
        z[seen] = counts.argmax(axis=2)[seen]
    x = np.arange(bins) * step_min / 60 + step_min / 120
    return z, x, keys


def weeks_figure(
    nights: pd.DataFrame,
    phases: pd.DataFrame,
    night_starts: dict,
    period_of: dict,
    title: str = "",
    names: dict | None = None,
) -> go.Figure:
    """Clinician view: one actogram row per night, twitch density per night, and total sleep per night.

    ``nights`` is the night-metrics table of the chosen subjects and periods; ``period_of`` maps (subject, night) to
    "A" or "B"; ``names`` maps subject ids to what the rows show (default the ids).
    """
    names = names or {}

    def row_label(subject: str, night: str) -> str:
        period = period_of.get((subject, night), "")
        return f"{period + ' · ' if period else ''}{names.get(subject, subject)} {night}"

    z, x, keys = actogram_matrix(phases, night_starts)
    labels = [row_label(s, n) for s, n in keys]
    fig = make_subplots(
        rows=1,
        cols=3,
        shared_yaxes=True,
        column_widths=[0.62, 0.19, 0.19],
        horizontal_spacing=0.02,
        subplot_titles=(
            "phases by night (local time)",
            "twitches per hour<br>of active sleep",
            "total sleep<br>(hours)",
        ),
    )
    fig.add_trace(
        go.Heatmap(
            z=z,
            x=x,
            y=labels,
            zmin=-0.5,
            zmax=len(SCORED_PHASES) - 0.5,
            colorscale=_PHASE_SCALE,
            showscale=False,
            hovertemplate="%{y}<br>%{customdata}<extra></extra>",
            customdata=_heatmap_words(z, x),
        ),
        row=1,
        col=1,
    )
    ordered = nights.assign(
        label=[row_label(s, n) for s, n in zip(nights["subject"], nights["night"], strict=True)]
    )
    fig.add_trace(
        go.Bar(
            x=ordered.get("twitches_per_h_active", pd.Series(dtype=float)),
            y=ordered["label"],
            orientation="h",
            marker={"color": KIND_COLOURS["twitch"]},
            name="twitches / h active",
            showlegend=False,
        ),
        row=1,
        col=2,
    )
    fig.add_trace(
        go.Bar(
            x=ordered.get("total_sleep_min", pd.Series(dtype=float)) / 60,
            y=ordered["label"],
            orientation="h",
            marker={"color": PHASE_COLOURS["quiet"]},
            name="total sleep",
            showlegend=False,
        ),
        row=1,
        col=3,
    )
    # the actogram's colour key: one legend entry per phase (and white: no data)
    for phase in SCORED_PHASES:
        fig.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="markers", name=PHASE_NAMES[phase],
                marker={"symbol": "square", "size": 11, "color": PHASE_COLOURS[phase]},
            ),
            row=1, col=1,
        )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=[None], y=[None], mode="markers", name="No data (white)",
            marker={"symbol": "square-open", "size": 11, "color": "#999999"},
        ),
        row=1, col=1,
    )  # fmt: skip
    ticks = list(range(0, 25, 3))
    fig.update_xaxes(
        tickvals=ticks, ticktext=[f"{(12 + t) % 24:02d}:00" for t in ticks], range=[4, 22], row=1, col=1
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(
        title={"text": title, "x": 0.01},
        height=max(360, 130 + 22 * len(labels)),
        margin={"l": 170, "r": 20, "t": 95, "b": 70},
        showlegend=True,
        legend={"orientation": "h", "x": 0, "y": 0, "yanchor": "bottom", "yref": "container"},
        plot_bgcolor="white",
        font={"family": "DejaVu Sans, Arial, sans-serif", "size": 12},
    )
    return fig


COMPARISON_COLUMNS = ["metric", "A", "B", "B − A (95 % interval)", "reading"]


def _number(value, signed: bool = False) -> str:
    if value is None or not np.isfinite(value):
        return "—"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def comparison_table_rows(table: pd.DataFrame) -> list[dict]:
    """One baby's rows of :func:`sleepmoves.comparison.compare_periods` (or the cohort's), rounded for people."""
    out = []
    for row in table.itertuples():
        count = getattr(row, "nights_a", None)
        interval = (
            f"{_number(row.difference, True)} ({_number(row.low, True)} to {_number(row.high, True)})"
            if np.isfinite(row.low)
            else _number(row.difference, True)
        )
        out.append(
            {
                "metric": metric_words(row.metric),
                "A": f"{_number(row.mean_a)} ({counted(count, 'night')})" if count is not None else "",
                "B": f"{_number(row.mean_b)} ({counted(row.nights_b, 'night')})" if count is not None else "",
                "B − A (95 % interval)": interval,
                "reading": row.change,
            }
        )
    return out


def trend_figure(babies: list[dict], title: str, subtitle: str = "") -> go.Figure:
    """Panels on a shared date axis (one per baby, or one per metric of one baby): each night's value (dots),
    the 7-night rolling median (line), each week's median and quartiles (bars), and the age-typical range
    (band, or a dashed line for a published average) where one fits the metric.

    ``babies``: dicts with ``label`` (the panel's title), ``nightly`` and ``weekly`` (:mod:`sleepmoves.trends`),
    ``typical`` (``(night dates, low, high)`` or None), ``ages`` (date -> "3 wk" words for the axis) and
    optionally ``y_title``.
    """
    rows = max(len(babies), 1)
    fig = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.16 / rows**0.5,
        subplot_titles=[b["label"] for b in babies],
    )
    for i, baby in enumerate(babies, start=1):
        first = i == 1
        if baby.get("typical") is not None:
            dates, low, high = baby["typical"]
            # a published range is a band; a published average (low = high) is a dashed line
            band = not np.allclose(low, high)
            fig.add_trace(
                go.Scatter(
                    x=list(dates) + list(dates)[::-1] if band else list(dates),
                    y=list(high) + list(low)[::-1] if band else list(low),
                    fill="toself" if band else None,
                    fillcolor="rgba(68, 170, 153, 0.15)",
                    line={"width": 0} if band else {"color": "#44AA99", "dash": "dash", "width": 2},
                    mode="lines",
                    name="typical at this age",
                    legendgroup="typical",
                    showlegend=first,
                    hoverinfo="skip",
                ),
                row=i,
                col=1,
            )
        night = baby["nightly"]
        fig.add_trace(
            go.Scatter(
                x=night["night"],
                y=night["value"],
                mode="markers",
                marker={"size": 5, "color": "#999999"},
                name="each night",
                legendgroup="night",
                showlegend=first,
                hovertemplate="%{x|%a %d %b}: %{y:.1f}<extra></extra>",
            ),
            row=i,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=night["night"],
                y=night["rolling"],
                mode="lines",
                line={"color": "#332288", "width": 2},
                name="7-night median",
                legendgroup="rolling",
                showlegend=first,
                hovertemplate="%{x|%d %b} 7-night median %{y:.1f}<extra></extra>",
            ),
            row=i,
            col=1,
        )
        week = baby["weekly"]
        if len(week):
            fig.add_trace(
                go.Scatter(
                    x=week["week"] + pd.Timedelta(days=3),
                    y=week["median"],
                    mode="markers",
                    marker={"symbol": "diamond", "size": 9, "color": "#CC6677"},
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": week["q3"] - week["median"],
                        "arrayminus": week["median"] - week["q1"],
                        "color": "#CC6677",
                    },
                    name="week: median and quartiles",
                    legendgroup="week",
                    showlegend=first,
                    customdata=week["nights"],
                    hovertemplate="week of %{x|%d %b}: median %{y:.1f} (%{customdata} nights)<extra></extra>",
                ),
                row=i,
                col=1,
            )
        ages = baby.get("ages") or {}
        if ages:
            fig.update_xaxes(
                tickvals=list(ages), ticktext=[f"{d:%d %b}<br>{a}" for d, a in ages.items()], row=i, col=1
            )
        fig.update_yaxes(title_text=baby.get("y_title"), row=i, col=1, automargin=True)
    fig.update_layout(
        title={"text": f"{title}<br><sup>{subtitle}</sup>" if subtitle else title, "x": 0.01},
        height=170 + 230 * rows,
        margin={"l": 50, "r": 10, "t": 90, "b": 40},
        plot_bgcolor="white",
        legend={"orientation": "h", "y": -0.12 / rows, "x": 0},
        font={"family": "DejaVu Sans, Arial, sans-serif", "size": 12},
        hovermode="closest",
    )
    fig.update_xaxes(showgrid=True, gridcolor="#eeeeee", showticklabels=True)
    return fig


# minutes either side of the cursor the Score page shows (20 epochs: a sleep scorer's screen)
SCORE_WINDOW_MIN = 5
SCORE_ROWS = {"you": 3.0, "model": 2.0}  # the scorer's labels above the model's suggestion; limbs below


def score_figure(
    phases: pd.DataFrame,
    events: pd.DataFrame,
    scored: pd.DataFrame,
    cursor: pd.Timestamp | None,
    tz: str,
    night_start: pd.Timestamp,
    window_min: float = SCORE_WINDOW_MIN,
) -> go.Figure:
    """The Score page's chart of the epochs around the cursor: the scorer's labels (full colour), the model's
    suggestion (faint, never taken as a label), each movement on its limb's row, and the epoch under the cursor
    framed; ``window_min`` either side of it (:func:`score_overview` draws the whole night).

    Only what falls in the window is drawn: a night's thousands of bars and marks made every key a redraw of most
    of a second in the browser.

    Parameters
    ----------
    phases : DataFrame
        The model's ``epoch_start`` and ``phase`` (the epochs to score).
    events : DataFrame
        ``start``, ``duration_s``, ``limb``, ``kind``.
    scored : DataFrame
        The scorer's ``epoch_start`` and ``phase``.
    cursor : Timestamp or None
        The epoch being scored (default: the first).
    """
    fig = go.Figure()
    width_h = EPOCH_S / 3600
    cursor = cursor if cursor is not None else (phases["epoch_start"].iloc[0] if len(phases) else night_start)
    at_h = float(_hours([cursor], night_start)[0])
    span = window_min / 60
    lo = cursor - pd.Timedelta(minutes=window_min + 0.5)
    hi = cursor + pd.Timedelta(minutes=window_min + 0.5)

    def near(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        return frame[(frame[column] >= lo) & (frame[column] < hi)] if len(frame) else frame

    limbs = [limb for limb in LIMBS if limb in set(events["limb"])] if len(events) else []
    levels = {limb: 1.0 - i * 0.5 for i, limb in enumerate(limbs)}
    rows = (("model", near(phases, "epoch_start"), 0.3), ("you", near(scored, "epoch_start"), 1.0))
    for row, frame, opacity in rows:
        for phase in PHASE_TICKS:
            part = frame[frame["phase"] == phase] if len(frame) else frame
            fig.add_bar(
                x=_hours(part["epoch_start"], night_start) + width_h / 2,
                y=np.full(len(part), 0.8),
                base=SCORE_ROWS[row] - 0.4,
                width=width_h,
                marker={"color": PHASE_COLOURS[phase], "line": {"width": 0}},
                opacity=opacity,
                name=PHASE_NAMES[phase] if row == "you" else f"{PHASE_NAMES[phase]} (model)",
                legendgroup=phase,
                showlegend=False,
                hovertemplate=f"{row}: {PHASE_NAMES[phase]}<extra></extra>",
            )
    for phase in PHASE_TICKS:  # the key to the colours, whichever phases are scored yet
        fig.add_scatter(
            x=[None],
            y=[None],
            mode="markers",
            marker={"color": PHASE_COLOURS[phase], "symbol": "square", "size": 12},
            name=PHASE_NAMES[phase],
            legendgroup=phase,
        )
    shown = near(events, "start")
    for kind in KINDS:
        part = shown[shown["kind"] == kind] if len(shown) else shown
        if len(part):
            fig.add_scatter(
                x=_hours(part["start"], night_start),
                y=[levels[limb] for limb in part["limb"]],
                mode="markers",
                marker={"color": KIND_COLOURS[kind], "symbol": KIND_SYMBOLS[kind], "size": 9},
                name=kind,
                hovertemplate=f"{kind}<extra></extra>",
            )
    fig.add_shape(
        type="rect",
        name="score-cursor",
        x0=at_h,
        x1=at_h + width_h,
        y0=min(levels.values(), default=1.0) - 0.4,
        y1=SCORE_ROWS["you"] + 0.5,
        line={"color": "#222", "width": 2},
        fillcolor="rgba(0,0,0,0)",
    )
    ticks, labels = clock_ticks(night_start, at_h - span, at_h + span, tz, step_h=2 / 60)
    levels_shown = {"you": SCORE_ROWS["you"], "model": SCORE_ROWS["model"], **levels}
    fig.update_layout(
        barmode="overlay",
        bargap=0,
        height=240 + 26 * len(limbs),
        margin={"l": 80, "r": 10, "t": 30, "b": 30},
        legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        xaxis={
            "range": [at_h - span, at_h + span],
            "tickvals": ticks,
            "ticktext": labels,
            "fixedrange": True,
        },
        yaxis={
            "tickvals": list(levels_shown.values()),
            "ticktext": ["you", "model"] + [LIMB_WORDS[limb] for limb in levels],
            "range": [min(levels_shown.values()) - 0.6, SCORE_ROWS["you"] + 0.6],
            "fixedrange": True,
        },
    )
    return fig


def score_overview(
    phases: pd.DataFrame,
    scored: pd.DataFrame,
    cursor: pd.Timestamp | None,
    tz: str,
    night_start: pd.Timestamp,
) -> go.Figure:
    """The whole night on two rows, the scorer's labels over the model's (faint), a line at the cursor: where
    the scoring has got to. One heatmap trace a row, so it draws at once however long the night."""
    fig = go.Figure()
    # every 30 s from the first epoch to the last: a gap without data stays blank, never stretched over
    grid = (
        pd.date_range(phases["epoch_start"].iloc[0], phases["epoch_start"].iloc[-1], freq=f"{EPOCH_S}s")
        if len(phases)
        else pd.DatetimeIndex([], tz="UTC")
    )
    x = _hours(grid, night_start) + EPOCH_S / 3600 / 2
    model = dict(zip(phases["epoch_start"], phases["phase"], strict=True))
    mine = dict(zip(scored["epoch_start"], scored["phase"], strict=True)) if len(scored) else {}
    rows = (
        (0, [PHASE_CODES.get(model.get(t), np.nan) for t in grid], 0.35),  # the model's, faint, below
        (1, [PHASE_CODES.get(mine.get(t), np.nan) for t in grid], 1.0),  # the scorer's
    )
    for level, codes, opacity in rows:
        fig.add_heatmap(
            x=x,
            y=[level],
            z=[np.asarray(codes, dtype=float)],
            zmin=-0.5,
            zmax=len(SCORED_PHASES) - 0.5,
            colorscale=_PHASE_SCALE,
            showscale=False,
            opacity=opacity,
            hoverinfo="none",  # no hover box, but a click still says where (a skipped trace is not clickable)
        )
    lo_h = float(x[0]) if len(x) else 0.0
    hi_h = float(x[-1]) if len(x) else 24.0
    if cursor is not None:
        at = float(_hours([cursor], night_start)[0])
        fig.add_shape(
            type="line",
            name="score-cursor",
            x0=at,
            x1=at,
            y0=-0.5,
            y1=1.5,
            line={"color": "#222", "width": 2},
        )
    ticks, labels = clock_ticks(night_start, lo_h, hi_h, tz, step_h=clock_step_h(lo_h, hi_h))
    fig.update_layout(
        height=110,
        margin={"l": 80, "r": 10, "t": 5, "b": 25},
        xaxis={"range": [lo_h, hi_h], "tickvals": ticks, "ticktext": labels, "fixedrange": True},
        yaxis={"range": [-0.5, 1.5], "tickvals": [0, 1], "ticktext": ["model", "you"], "fixedrange": True},
    )
    return fig
