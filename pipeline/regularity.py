"""How regular a baby's sleep is over a range of nights: the clock times of falling asleep, waking for the day
and their midpoint with their night-to-night SD, and the Sleep Regularity Index.

The Sleep Regularity Index (Phillips et al. 2017, Sci Rep 7:3216) is the chance that the baby is in the same
state (asleep or awake) at two moments 24 hours apart, scaled to -100..100: 100 sleeps and wakes at exactly the
same times every day, 0 is no more alike than chance. Here the moments are the 30-s epochs of the nights' grids;
a pair counts only when both epochs have data (no data is never guessed as sleep or wake).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .schema import ASLEEP_PHASES, EPOCH_S

DAY_EPOCHS = 24 * 3600 // EPOCH_S
MIN_SRI_DAYS = 2.0  # pairs worth fewer days of epochs than this: no index


def sleep_wake(phases: pd.DataFrame) -> pd.Series:
    """Asleep (1) / awake (0) on a continuous 30-s UTC grid from the first to the last labelled epoch; NaN
    where no night labelled the epoch (a gap, no data)."""
    if not len(phases):
        return pd.Series(dtype="float64")
    times = pd.DatetimeIndex(pd.to_datetime(phases["epoch_start"], utc=True))
    state = np.where(
        phases["phase"].isin(ASLEEP_PHASES), 1.0, np.where(phases["phase"] == "awake", 0.0, np.nan)
    )
    series = pd.Series(state, index=times).groupby(level=0).first().sort_index()
    grid = pd.date_range(series.index[0], series.index[-1], freq=f"{EPOCH_S}s")
    return series.reindex(grid)


def sleep_regularity_index(series: pd.Series) -> float:
    """SRI of an asleep/awake series on the 30-s grid (:func:`sleep_wake`): ``200 * P(same state 24 h apart) -
    100`` over the pairs where both epochs have data; NaN with fewer than :data:`MIN_SRI_DAYS` days of pairs."""
    values = series.to_numpy(dtype="float64")
    if len(values) <= DAY_EPOCHS:
        return float("nan")
    now, later = values[:-DAY_EPOCHS], values[DAY_EPOCHS:]
    known = np.isfinite(now) & np.isfinite(later)
    if known.sum() < MIN_SRI_DAYS * DAY_EPOCHS:
        return float("nan")
    return float(200 * np.mean(now[known] == later[known]) - 100)


def timing(nights: pd.DataFrame) -> dict:
    """Mean and night-to-night SD (minutes) of the clock times of falling asleep, waking for the day and their
    midpoint, in the baby's zone; the means as ``HH:MM``. Clock times are counted from local noon, so a night
    that starts at 23:50 and one at 00:10 are 20 minutes apart, not 23 hours."""
    out = {}
    known = nights.dropna(subset=["sleep_onset", "sleep_offset"])
    for name, column in (
        ("fell asleep", "sleep_onset"),
        ("woke for the day", "sleep_offset"),
        ("midpoint", None),
    ):
        if not len(known):
            out[name] = {"mean": None, "sd_min": None, "nights": 0}
            continue
        minutes = []
        for row in known.itertuples():
            noon = pd.Timestamp(f"{row.night} 12:00").tz_localize(row.tz)
            onset, offset = pd.Timestamp(row.sleep_onset), pd.Timestamp(row.sleep_offset)
            at = onset + (offset - onset) / 2 if column is None else pd.Timestamp(getattr(row, column))
            minutes.append((at - noon).total_seconds() / 60)
        minutes = np.asarray(minutes)
        mean = minutes.mean()
        clock = (pd.Timestamp("2000-01-01 12:00") + pd.Timedelta(minutes=float(mean))).strftime("%H:%M")
        sd = float(minutes.std(ddof=1)) if len(minutes) > 1 else None
        out[name] = {"mean": clock, "sd_min": sd, "nights": len(minutes)}
    return out
