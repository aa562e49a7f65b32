"""What each page shows, gathered from the lake through its query functions; shared by pages and PNG export."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sleepmoves.comparison import compare_periods
from sleepmoves.flags import decode as decode_flags
from sleepmoves.lake import DamagedData, Lake
from sleepmoves.nights import night_bounds, utc_ns
from sleepmoves.periods import diary_disagreements
from sleepmoves.regularity import sleep_regularity_index, sleep_wake, timing
from sleepmoves.schema import EPOCH_S, NO_DATA, SleepmovesError
from sleepmoves.summarize import (
    NIGHT_TABLE,
    bout_statistics,
    night_table,
    week_nights,
    week_words,
)
from sleepmoves.trends import TREND_METRICS, check_range, nightly, weekly

from .figures import night_figure, plain, trend_figure, weeks_figure


def anonymous_names(subjects) -> dict[str, str]:
    """Stand-in labels for exports that must not name the babies: ``Baby A``, ``Baby B``, ... in the given order."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return {s: f"Baby {letters[i] if i < len(letters) else i + 1}" for i, s in enumerate(subjects)}


def night_view(lake: Lake, subject: str, night: str, name: str | None = None):
    """``(figure, metrics, tz, label)`` of one night; ``name`` replaces the baby's label (anonymous export)."""
    info = lake.subject(subject)
    tz, label = (
        info["tz"],
        plain(name or info["label"] or subject),
    )  # a label is shown as typed, never as markup
    start, _ = night_bounds(night, tz)
    metrics = lake.night_summary(subject, night)
    phases = lake.phases(subject, night)
    # a night scored from activity counts draws its counts; one labelled from movements, its movement seconds
    from_counts = bool(metrics and metrics.get("scored_from_counts"))
    period = (metrics.get("sleep_onset"), metrics.get("sleep_offset")) if metrics else None
    diary = lake.diary(subject, night)
    figure = night_figure(
        phases,
        lake.events(subject, night),
        tz,
        start,
        f"{label} · night of {night}",
        lake.nodata_epochs(subject, night),
        diary,
        lake.read("epochs", [subject], [night], columns=["epoch_start", "move_s"]),
        counts=lake.counts(subject, night) if from_counts else None,
        period=period,
        flags=decode_flags(metrics.get("flags")) if metrics else None,
        disagreements=diary_disagreements(phases, diary),
    )
    return figure, metrics, tz, label


def night_videos(lake: Lake, subject: str, night: str) -> list[dict]:
    """The kept videos overlapping the night (:func:`sleepmoves.videos.videos`), each with the ``url`` the
    player loads and its start in hours on the night chart's clock (``offset_h``)."""
    from urllib.parse import quote

    import dash

    from sleepmoves.videos import videos

    start, end = night_bounds(night, lake.subject(subject)["tz"])
    found = videos(lake, subject, start, end)
    for film in found:
        film["url"] = dash.get_relative_path(f"/video/{quote(subject)}/{film['sha256']}")
        film["offset_h"] = (film["start"] - start).total_seconds() / 3600
    return found


def night_words(lake: Lake, subject: str, night: str, metrics: dict | None, name: str | None = None) -> str:
    """The night in one sentence (:func:`sleepmoves.dashboard.words.night_sentence`), with the baby's age and its usual
    night (the median of its previous nights, from the nights table only); ``name`` replaces the baby's label
    (an anonymous export)."""
    from .words import USUAL_NIGHTS, age_words, disagreement_sentence, night_sentence, usual_sleep

    info = lake.subject(subject)
    earlier = lake.nights_near(subject, [night], before=USUAL_NIGHTS)
    earlier = earlier[earlier["night"] < night] if len(earlier) else earlier
    sentence = night_sentence(metrics, info["tz"], info.get("born"), night, usual_sleep(earlier))
    age = age_words(info.get("born"), night)
    who = plain(name or info["label"] or subject)
    disagree = disagreement_sentence(
        diary_disagreements(lake.phases(subject, night), lake.diary(subject, night)), info["tz"]
    )
    sentence = f"{sentence} {disagree}" if disagree else sentence
    return f"{who}, {age}. {sentence}" if age else f"{who}. {sentence}"


PICKER_NIGHTS = 120  # the night picker lists the latest nights (about four months); the buttons step further


def night_options(lake: Lake, subject: str, around: str | None = None) -> list[dict]:
    """The night picker's choices, newest first: the latest :data:`PICKER_NIGHTS` nights, and ``around`` when it
    is older (a night reached with the previous / next buttons). Bounded however many nights the baby has."""
    nights = lake.nights(subject)
    shown = nights[-PICKER_NIGHTS:]
    if around in nights and around not in shown:
        shown = [around, *shown]
    return [{"label": n, "value": n} for n in reversed(shown)]


def step_night(lake: Lake, subject: str, night: str, step: int) -> str | None:
    """The night ``step`` nights from ``night`` among the baby's nights (clamped to the first and last)."""
    nights = lake.nights(subject)
    if night not in nights:
        return None
    return nights[min(max(nights.index(night) + step, 0), len(nights) - 1)]


def available_weeks(lake: Lake, subjects) -> list[str]:
    """ISO weeks (``YYYY-Www``) with processed nights, oldest first."""
    weeks = set()
    for subject in subjects:
        for night in lake.nights(subject):
            year, week, _ = pd.Timestamp(night).isocalendar()
            weeks.add(f"{year}-W{week:02d}")
    return sorted(weeks)


def weeks_view(lake: Lake, subjects: list[str], week_a: str, week_b: str, names: dict | None = None):
    """``(figure, comparison per baby (:func:`sleepmoves.comparison.compare_periods`), bout statistics per baby
    and period, damaged nights named)`` for subjects and two periods.

    ``names`` replaces subject ids in the figure (anonymous export)."""
    if not subjects:
        raise SleepmovesError("choose at least one baby")
    periods = {"A": week_nights(week_a), "B": week_nights(week_b)}
    zones = {subject: lake.subject(subject)["tz"] for subject in subjects}  # one read, not one per night
    frames, phases, starts, period_of = {}, [], {}, {}
    damaged: list[str] = []  # a damaged night or baby is left out and named; the rest is shown
    for name, (first, last) in periods.items():
        table = _nights_skipping_damage(lake, subjects, first, last, damaged)
        frames[name] = table
        for subject, night in zip(table["subject"], table["night"], strict=True):
            starts[(subject, night)] = night_bounds(night, zones[subject])[0]
            period_of[(subject, night)] = name
        for subject in subjects:
            phases.append(_phases_skipping_damage(lake, subject, first, last, damaged))
    nights = (
        pd.concat([f for f in frames.values() if len(f)], ignore_index=True)
        if any(len(f) for f in frames.values())
        else pd.DataFrame(columns=["subject", "night"])
    )
    all_phases = (
        pd.concat([p for p in phases if len(p)], ignore_index=True)
        if any(len(p) for p in phases)
        else pd.DataFrame(columns=["subject", "night", "epoch_start", "phase"])
    )
    names = names or {}
    # the weeks' dates on a line of their own: the title stays clear of the panels' titles on a narrow screen
    title = (
        f"{', '.join(names.get(s, s) for s in subjects)}"
        f"<br><sup>A = {week_words(week_a)} · B = {week_words(week_b)}</sup>"
    )
    nights = nights.drop_duplicates(["subject", "night"]) if len(nights) else nights  # A may overlap B
    figure = weeks_figure(nights, all_phases, starts, period_of, title, names)
    # each baby against herself (sleepmoves.comparison): never one test over several babies' nights
    comparison = (
        compare_periods(nights, periods["A"], periods["B"])
        if len(nights)
        else compare_periods(pd.DataFrame(columns=["subject", "night"]), periods["A"], periods["B"])
    )
    return figure, comparison, _bouts(all_phases, periods, zones, names), damaged


BOUT_ROWS = {
    "active bouts a night": "{:.1f}",
    "active bout, median min": "{:.0f} min",
    "quiet bouts a night": "{:.1f}",
    "quiet bout, median min": "{:.0f} min",
    "cycle, median min": "{:.0f} min",
    "phase changes per hour of sleep": "{:.1f}",
}


def _night_grids(phases: pd.DataFrame, tz: str) -> list[np.ndarray]:
    """One baby's phases as one array per night on its 30-s grid (:data:`NO_DATA` where none), placed by
    arithmetic on the epochs' times: building each night's grid index and matching it cost 2 ms a night."""
    grids = []
    ns = utc_ns(phases["epoch_start"])
    words = phases["phase"].to_numpy(dtype="U16")  # fixed-width text: bout_statistics compares it in C
    for night, rows in phases.groupby("night").indices.items():
        start, end = night_bounds(night, tz)
        grid = np.full(int((end - start).total_seconds() // EPOCH_S), NO_DATA, dtype="U16")
        at = (ns[rows] - start.value) // (EPOCH_S * 10**9)
        inside = (at >= 0) & (at < len(grid))
        grid[at[inside]] = words[rows][inside]
        grids.append(grid)
    return grids


def _bouts(phases: pd.DataFrame, periods: dict, zones: dict, names: dict) -> pd.DataFrame:
    """Bout statistics (:func:`sleepmoves.summarize.bout_statistics`) per baby and period, as rows to show."""
    rows = []
    for (subject, name), part in (
        phases.assign(period=np.where(phases["night"].between(*periods["A"]), "A", "B")).groupby(
            ["subject", "period"]
        )
        if len(phases)
        else []
    ):
        stats = bout_statistics(_night_grids(part, zones[subject]))
        low, high = stats["cycle, quartiles min"]
        rows.append(
            {
                "baby": plain(names.get(subject) or subject),
                "week": name,
                **{
                    k: ("—" if not np.isfinite(stats[k]) else f.format(stats[k]))
                    for k, f in BOUT_ROWS.items()
                },
                "cycle, quartiles": "—" if not np.isfinite(low) else f"{low:.0f}–{high:.0f} min",
            }
        )
    return pd.DataFrame(rows)


def nights_of_weeks(
    lake: Lake, subjects: list[str], week_a: str, week_b: str, names: dict | None = None
) -> pd.DataFrame:
    """The per-night table (:func:`sleepmoves.summarize.night_table`) of each baby over weeks A and B, with
    ``baby`` and ``week`` first; ``names`` replaces the babies' labels (anonymous export)."""
    periods = {"A": week_nights(week_a), "B": week_nights(week_b)}
    first, last = min(p[0] for p in periods.values()), max(p[1] for p in periods.values())
    frames = []
    for subject in subjects:
        nights = lake.nights_table([subject], first, last)
        if not len(nights):
            continue
        table = night_table(nights)
        week = np.where(
            table["night"].between(*periods["A"]),
            "A",
            np.where(table["night"].between(*periods["B"]), "B", ""),
        )
        label = (names or {}).get(subject) or lake.subject(subject).get("label") or subject
        frames.append(table[week != ""].assign(baby=plain(label), week=week[week != ""], subject=subject))
    if not frames:
        return pd.DataFrame(columns=["baby", "week", *NIGHT_TABLE, "subject"])
    out = pd.concat(frames, ignore_index=True)
    return out[["baby", "week", *NIGHT_TABLE, "subject"]]


REGULARITY_COLUMNS = [
    "baby",
    "week",
    "nights",
    "fell asleep",
    "woke for the day",
    "midpoint",
    "regularity index",
]


def regularity_rows(
    lake: Lake, subjects: list[str], week_a: str, week_b: str, names: dict | None = None
) -> list[dict]:
    """Per baby and week: mean clock times ± their night-to-night SD, and the Sleep Regularity Index
    (:mod:`sleepmoves.regularity`)."""
    rows = []
    for subject in subjects:
        label = plain((names or {}).get(subject) or lake.subject(subject).get("label") or subject)
        for name, week in (("A", week_a), ("B", week_b)):
            first, last = week_nights(week)
            nights = lake.nights_table([subject], first, last)
            if not len(nights):
                continue
            said = timing(nights)
            phases = lake.read("phases", [subject], list(nights["night"]), columns=["epoch_start", "phase"])
            index = sleep_regularity_index(sleep_wake(phases))

            rows.append(
                {
                    "baby": label,
                    "week": f"{name} ({week})",
                    "nights": len(nights),
                    "fell asleep": _mean_and_spread(said["fell asleep"]),
                    "woke for the day": _mean_and_spread(said["woke for the day"]),
                    "midpoint": _mean_and_spread(said["midpoint"]),
                    "regularity index": "—" if np.isnan(index) else f"{index:.0f}",
                }
            )
    return rows


def _mean_and_spread(entry: dict) -> str:
    """``19:42 ± 23 min`` (mean clock time ± night-to-night SD)."""
    if not entry["mean"]:
        return "—"
    return entry["mean"] + (f" ± {entry['sd_min']:.0f} min" if entry["sd_min"] is not None else "")


def trend_panel(lake: Lake, subject: str, first: str, last: str, metric: str, label: str) -> dict:
    """One panel of :func:`sleepmoves.dashboard.figures.trend_figure`: a baby's ``metric`` from ``first`` to ``last``, the
    age-typical range where one fits, her age on the date axis."""
    from .words import age_months, age_short, typical

    info = lake.subject(subject)
    days = pd.date_range(first, last, freq="D")
    # the axis: Mondays over three months or less, else the 1st of each month; each with the baby's age
    ticks = days[days.day_of_week == 0] if len(days) <= 92 else days[days.day == 1]
    series = nightly(lake.nights_table([subject], first, last), metric)
    band_of = TREND_METRICS[metric][2]
    band = None
    born_days = days[days >= pd.Timestamp(str(info["born"]))] if info.get("born") else days[:0]
    if band_of and len(born_days):  # from birth on: no typical range before the baby was born
        ranges = [typical(band_of, age_months(info["born"], str(d.date()))) for d in born_days]
        if all(r is not None for r in ranges):
            low, high = zip(*ranges, strict=True)
            band = (born_days, low, high)
    born = info.get("born")
    return {
        "label": label,
        "nightly": series,
        "weekly": weekly(series),
        "typical": band,
        "ages": {d: age_short(born, str(d.date())) for d in ticks} if born else {},
    }


def trend_view(
    lake: Lake, subjects: list[str], first: str, last: str, metric: str, names: dict | None = None
):
    """The trend figure (:func:`sleepmoves.dashboard.figures.trend_figure`) of ``metric`` for each baby over ``first`` to
    ``last`` (at most a year); ``names`` replaces the babies' labels (anonymous export)."""
    if not subjects:
        raise SleepmovesError("choose at least one baby")
    if metric not in TREND_METRICS:
        raise SleepmovesError(f"no trend of {metric!r}: choose one of {', '.join(TREND_METRICS)}")
    first, last = check_range(first, last)
    babies = [
        trend_panel(
            lake, s, first, last, metric, plain((names or {}).get(s) or lake.subject(s).get("label") or s)
        )
        for s in subjects
    ]
    title = f"{', '.join(b['label'] for b in babies)} · {first} to {last}"
    return trend_figure(babies, title, TREND_METRICS[metric][0])


def weeks_ages(lake: Lake, subjects: list[str], week_a: str, week_b: str, names: dict | None = None) -> str:
    """Each baby's age on the first night of week A and of week B: ``ada: 6 weeks old in A, 8 weeks old in B``."""
    from .words import age_words

    names = names or {}
    said = []
    for subject in subjects:
        born = lake.subject(subject).get("born")
        who = plain(names.get(subject) or lake.subject(subject).get("label") or subject)
        if not born:
            said.append(f"{who}: no birth date given")
            continue
        ages = [age_words(born, week_nights(week)[0]) for week in (week_a, week_b)]
        said.append(f"{who}: {ages[0]} in A" + (f", {ages[1]} in B" if ages[1] != ages[0] else " and in B"))
    return "; ".join(said)


def _nights_skipping_damage(lake: Lake, subjects, first, last, damaged: list[str]) -> pd.DataFrame:
    frames = []
    for subject in subjects:
        try:
            frames.append(lake.nights_table([subject], first, last))
        except DamagedData as exc:
            damaged.append(str(exc))
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["subject", "night"])


WEEK_PHASE_COLUMNS = ["epoch_start", "phase"]  # all the weeks page draws and counts


def _phases_skipping_damage(lake: Lake, subject, first, last, damaged: list[str]) -> pd.DataFrame:
    try:
        return lake.week_phases(subject, first, last, WEEK_PHASE_COLUMNS)
    except DamagedData:
        pass
    nights = []
    for night in (n for n in lake.nights(subject, "phases") if first <= n <= last):
        try:
            nights.append(lake.read("phases", [subject], [night], WEEK_PHASE_COLUMNS))
        except DamagedData as exc:
            damaged.append(str(exc))
    nights = [n for n in nights if len(n)]
    return (
        pd.concat(nights, ignore_index=True)
        if nights
        else lake.read("phases", [subject], [], WEEK_PHASE_COLUMNS)
    )
