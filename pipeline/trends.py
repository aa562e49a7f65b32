"""A metric over weeks and months: each night's value, a 7-night rolling median and each week's median and
quartiles, for one baby (a clinician follows a baby across visits, up to a year at a time)."""

from __future__ import annotations

import pandas as pd

from .schema import SleepmovesError

ROLLING_NIGHTS = 7
ROLLING_AT_LEAST = 3  # fewer nights than this in the window: no rolling value
LONGEST_RANGE_DAYS = 366

# the metrics a trend shows: (words, scale from the nights table's unit, the age-typical range that fits it)
TREND_METRICS = {
    "sleep_24h_min": ("Sleep in 24 hours (h)", 1 / 60, "sleep_24h_h"),
    "total_sleep_min": ("Night sleep (h)", 1 / 60, None),
    "pct_active": ("Active sleep (% of sleep)", 1.0, "active_share"),
    "wake_bouts": ("Wakings in the night", 1.0, "night_wakings"),
    "longest_sleep_min": ("Longest stretch (h)", 1 / 60, None),
    "waso_min": ("Awake in the night (min)", 1.0, None),
    "twitches_per_h_active": ("Twitches per hour of active sleep", 1.0, None),
}


def check_range(first: str, last: str) -> tuple[str, str]:
    """A date range of nights, in order and at most :data:`LONGEST_RANGE_DAYS` long, or a clear error."""
    try:
        start, end = pd.Timestamp(str(first)), pd.Timestamp(str(last))
    except ValueError:
        raise SleepmovesError(f"not a date range: {first} to {last} (use YYYY-MM-DD)") from None
    if end < start:
        raise SleepmovesError(f"the range ends ({end.date()}) before it starts ({start.date()})")
    if (end - start).days + 1 > LONGEST_RANGE_DAYS:
        raise SleepmovesError(f"a trend covers at most {LONGEST_RANGE_DAYS} nights: choose a shorter range")
    return str(start.date()), str(end.date())


def nightly(nights: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``night`` (Timestamp), ``value`` (in the trend's unit) and ``rolling`` (median of the nights in the 7
    days ending that night, from :data:`ROLLING_AT_LEAST` of them) of one baby's nights table."""
    _, scale, _ = TREND_METRICS[metric]
    frame = pd.DataFrame(
        {
            "night": pd.to_datetime(nights["night"].astype(str)),
            "value": pd.to_numeric(nights.get(metric), errors="coerce") * scale,
        }
    ).sort_values("night")
    frame = frame.dropna(subset=["value"])
    rolling = frame.set_index("night")["value"].rolling(f"{ROLLING_NIGHTS}D", min_periods=ROLLING_AT_LEAST)
    frame["rolling"] = rolling.median().to_numpy()
    return frame.reset_index(drop=True)


def weekly(series: pd.DataFrame) -> pd.DataFrame:
    """Per ISO week (its Monday): nights, median and quartiles of :func:`nightly`'s values."""
    if not len(series):
        return pd.DataFrame(columns=["week", "nights", "median", "q1", "q3"])
    monday = series["night"] - pd.to_timedelta(series["night"].dt.day_of_week, unit="D")
    grouped = series.groupby(monday)["value"]
    out = pd.DataFrame(
        {
            "nights": grouped.size(),
            "median": grouped.median(),
            "q1": grouped.quantile(0.25),
            "q3": grouped.quantile(0.75),
        }
    )
    return out.rename_axis("week").reset_index()
