"""The visit report: one baby over a range of nights, on pages that stand alone (a clinician hands them on).

Page 1: who (the label or "Baby A"), the ages and dates covered, the trends of the main measures with the
age-typical ranges. Page 2: the actogram with its colour key, one row per night. Page 3: the per-night table,
the flags with their nights, the definitions in words, the model and algorithm, the app version and when it was
made. The same figure builders as the dashboard draw every page; the PNG is the pages one under the other, the
PDF one page each (pages merged with pypdf).
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from sleepmoves.comparison import compare_periods
from sleepmoves.flags import FLAG_WORDS, RULES, decode
from sleepmoves.lake import Lake
from sleepmoves.nights import night_bounds
from sleepmoves.schema import SleepmovesError
from sleepmoves.summarize import NIGHT_TABLE, metric_words, night_table
from sleepmoves.trends import TREND_METRICS, check_range

from .export import PAGE, anonymous_names, lake_model, plain_words, rendered, signed
from .figures import plain, trend_figure, weeks_figure
from .views import trend_panel
from .words import age_words

REPORT_METRICS = ("sleep_24h_min", "total_sleep_min", "pct_active", "wake_bouts")
TABLE_COLUMNS = (
    "night",
    "weekday",
    "fell asleep",
    "woke for the day",
    "total sleep (min)",
    "awake in the night (min)",
    "sleep efficiency (%)",
    "wakings",
    "longest stretch (min)",
    "active sleep (%)",
    "twitches / h active",
)
SHORT = {  # the per-night table's headers on a page 1200 px wide
    "night": "night",
    "weekday": "day",
    "fell asleep": "asleep",
    "woke for the day": "woke",
    "total sleep (min)": "sleep min",
    "awake in the night (min)": "awake min",
    "sleep efficiency (%)": "effic. %",
    "wakings": "wakings",
    "longest stretch (min)": "longest min",
    "active sleep (%)": "active %",
    "twitches / h active": "twitch/h act",
}
TABLE_ROWS_PER_PAGE = 40
WEEK = 7


def report_pages(lake: Lake, subject: str, first: str, last: str, anonymise: bool = False) -> list:
    """The report's pages as figures, each :data:`export.PAGE` wide."""
    first, last = check_range(first, last)
    info = lake.subject(subject)
    who = anonymous_names([subject])[subject] if anonymise else plain(info.get("label") or subject)
    nights = lake.nights_table([subject], first, last)
    if not len(nights):
        raise SleepmovesError(f"{who} has no processed night from {first} to {last}")
    born = info.get("born")
    ages = (
        f"{age_words(born, first) or 'not yet born'} to {age_words(born, last)}"
        if born
        else "age unknown (no birth date)"
    )
    head = f"{who} · {ages} · nights {first} to {last} ({len(nights)} with data)"
    panels = []
    for metric in REPORT_METRICS:
        panel = trend_panel(lake, subject, first, last, metric, TREND_METRICS[metric][0])
        panels.append(panel)
    trends = trend_figure(
        panels, f"Visit report · {head}", "each night, its 7-night median, each week's median"
    )
    trends.update_layout(width=PAGE[0], height=PAGE[1] + 250)

    tz = info["tz"]
    phases = lake.read("phases", [subject], list(nights["night"]), columns=["epoch_start", "phase"])
    phases = phases.assign(subject=subject)
    starts = {(subject, n): night_bounds(n, tz)[0] for n in nights["night"]}
    actogram = weeks_figure(
        nights,
        phases,
        starts,
        {},
        f"Phases by night · {head}",
        names={subject: who},
    )
    actogram.update_layout(width=PAGE[0], height=max(PAGE[1], int(actogram.layout.height)))

    table = night_table(nights)[list(TABLE_COLUMNS)]
    pages = [trends, actogram]
    for at in range(0, len(table), TABLE_ROWS_PER_PAGE):
        part = table.iloc[at : at + TABLE_ROWS_PER_PAGE]
        last_part = at + TABLE_ROWS_PER_PAGE >= len(table)
        pages.append(_table_page(part, nights, head, tz, lake, subject, with_notes=last_part))
    return pages


def _table_page(
    part: pd.DataFrame, nights: pd.DataFrame, head: str, tz: str, lake, subject, with_notes: bool
):
    """A page of the per-night table (monospace text), and on the last one the flags and the definitions."""
    import plotly.graph_objects as go

    widths = [max(len(SHORT[c]), *(len(_cell(v)) for v in part[c])) + 2 for c in part.columns]
    lines = ["".join(f"{SHORT[c]:>{w}}" for c, w in zip(part.columns, widths, strict=True))]
    lines += [
        "".join(f"{_cell(v):>{w}}" for v, w in zip(row, widths, strict=True)) for row in part.to_numpy()
    ]
    text = "<br>".join(line.replace(" ", "&nbsp;") for line in lines)
    notes = []
    if with_notes:
        notes += _first_and_last_week(nights, subject)
        flags = []
        for row in nights.itertuples():
            for flag in decode(row.flags):
                when = pd.Timestamp(flag["start"]).tz_convert(tz)
                flags.append(f"{row.night} {when:%H:%M}: {plain(flag['message'])}")
        notes.append("<b>Review flags</b>")
        notes += flags or ["No review flags in these nights."]
        notes.append("<br><b>What the columns mean</b>")
        notes += [f"{SHORT[c]}: {NIGHT_TABLE[c]}" for c in TABLE_COLUMNS if c not in ("night", "weekday")]
        notes.append(
            "A flag is a pattern worth showing the pediatrician, never a diagnosis: "
            + "; ".join(FLAG_WORDS[rule] for rule in RULES)
        )
        scorers = ", ".join(sorted({str(v) for v in nights.get("sleepwake", pd.Series(dtype=str)).dropna()}))
        notes.append(
            f"<br>Times in {tz}; a night is local noon to noon. Phases by {lake_model(lake, [subject])}; sleep and "
            f"wake scored by: {scorers or 'the phase model'}. {signed(tz)}"
        )
    if notes:  # right under the table, in the same block
        text += "<br><br>" + "<br>".join(plain_words(n, 150) if "<b>" not in n else n for n in notes)
    fig = go.Figure()
    fig.add_annotation(
        text=text, xref="paper", yref="paper", x=0, y=1, xanchor="left", yanchor="top", align="left",
        showarrow=False, font={"family": "DejaVu Sans Mono, monospace", "size": 11, "color": "#222"},
    )  # fmt: skip
    fig.update_layout(
        title={"text": f"Each night · {head}", "x": 0.01},
        width=PAGE[0],
        height=max(600, 130 + 15 * (text.count("<br>") + 1)),
        margin={"l": 40, "r": 30, "t": 70, "b": 40},
        xaxis={"visible": False},
        yaxis={"visible": False},
        plot_bgcolor="white",
    )
    return fig


def _first_and_last_week(nights: pd.DataFrame, subject: str) -> list[str]:
    """The range's last 7 nights against its first 7 (:func:`sleepmoves.comparison.compare_periods`: the baby
    against herself), when the range holds two such weeks apart."""
    days = sorted(str(n) for n in nights["night"])
    if len(days) < 2 * WEEK:
        return []
    first = (days[0], days[WEEK - 1])
    last = (days[-WEEK], days[-1])
    table = compare_periods(nights.assign(subject=subject), first, last)
    lines = [
        f"<b>The last {WEEK} nights against the first {WEEK}</b> ({first[0]}–{first[1]} and {last[0]}–{last[1]})"
    ]
    for row in table.itertuples():
        if not pd.notna(row.low):
            continue
        lines.append(
            f"{metric_words(row.metric)}: {row.mean_a:.1f} then {row.mean_b:.1f}, "
            f"{row.difference:+.1f} ({row.low:+.1f} to {row.high:+.1f}): {row.change}"
        )
    return [*lines, ""]


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return str(value)


def export_report(
    lake: Lake, subject: str, first: str, last: str, out: str | Path, anonymise: bool = False
) -> Path:
    """Write the report as ``.pdf`` (a page each) or ``.png`` (the pages one under the other)."""
    out = Path(out)
    if out.suffix.lower() not in (".pdf", ".png"):
        raise SleepmovesError(f"{out.name}: a report is written as .pdf or .png")
    pages = report_pages(lake, subject, first, last, anonymise)
    data = pdf_of(pages) if out.suffix.lower() == ".pdf" else png_of(pages)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(out)  # atomic: a reader never sees half a report
    return out


def png_of(pages: list) -> bytes:
    """The pages one under the other, as one PNG."""
    from PIL import Image

    images = [Image.open(io.BytesIO(_page(p))) for p in pages]
    sheet = Image.new("RGB", (max(i.width for i in images), sum(i.height for i in images)), "white")
    y = 0
    for image in images:
        sheet.paste(image, (0, y))
        y += image.height
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()


def _page(fig, fmt: str = "png") -> bytes:
    return rendered(fig, int(fig.layout.width), int(fig.layout.height), fmt)


def pdf_of(pages: list) -> bytes:
    """One PDF page per figure (each rendered by kaleido, merged with pypdf)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in pages:
        for one in PdfReader(io.BytesIO(_page(page, fmt="pdf"))).pages:
            writer.add_page(one)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
