"""Sleep periods: when a night's sleep starts (bedtime) and ends (get-up), and the naps beside it.

A night's sleep is not its noon-to-noon window. Like a sleep lab's actigraphy software, sleepmoves finds rest
periods in the sleep/wake series and takes the night's main one; sleep outside it is a nap.

* With parent diary entries of sleep for the night, they are the periods (the parent saw the baby asleep).
* Otherwise the rule of Tudor-Locke et al. (2014) as ActiLife runs it: a period starts at the first of
  5 consecutive sleep minutes and ends where 10 consecutive wake minutes begin; shorter runs of either keep the
  state before them. It is the same rule for activity counts, event logs and raw acceleration, on the night's
  30-s grid (5 minutes = 10 epochs). A short stretch of no data neither starts nor ends a period (it is not
  sleep and not wake): it is left out of sleep and wake and reported beside them. No data longer than
  :data:`MAX_BRIDGE_MIN` (a sensor taken off, a monitor switched off for the night) ends the period: nothing
  says the baby slept through it.
* Infants wake and feed in the night: ActiLife would report two periods around a 20-minute feed. The night's
  period joins periods with less than :data:`JOIN_WAKE_MIN` of wake between them (as GGIR joins its sleep
  period time windows across gaps under an hour), and is the longest joined period that reaches into the middle
  of the night (00:00-05:00 local), else the longest. It must last :data:`MIN_NIGHT_MIN` (Tudor-Locke's
  160 minutes) to be a night; a shorter one is a nap like the others.
* A nap is any other period of at least :data:`MIN_NAP_MIN` minutes (an assumption: a few still minutes are
  not a nap).

Reference: Tudor-Locke C, et al. Fully automated waist-worn accelerometer algorithm for detecting children's
sleep-period time separate from 24-h physical activity or sedentary behaviors. Appl Physiol Nutr Metab
2014;39:53-57. ActiLife's defaults (5, 10, 160) were checked period by period against ActiLife's own output for
the GT3X+ ankle recording in ``../shared/data`` (tests/test_periods.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .nights import on_grid
from .runs import runs
from .schema import EPOCH_S

BEDTIME_MIN = 5
GETUP_MIN = 10
MIN_NIGHT_MIN = 160
JOIN_WAKE_MIN = 60
MIN_NAP_MIN = 15
MIDNIGHT_HOURS = (0, 5)
MAX_BRIDGE_MIN = 360


@dataclass
class SleepPeriods:
    """A night's main sleep period and its naps, as ``[start, end)`` epoch indices of the grid."""

    night: tuple[int, int] | None
    naps: list[tuple[int, int]] = field(default_factory=list)
    source: str = "rest-interval rule (Tudor-Locke: 5 min asleep to 10 min awake)"


def rest_periods(asleep, epoch_s: int = EPOCH_S, bedtime_min: float = BEDTIME_MIN,
                 getup_min: float = GETUP_MIN) -> list[tuple[int, int]]:  # fmt: skip
    """Tudor-Locke rest periods of a sleep/wake series, as ``[start, end)`` indices.

    Parameters
    ----------
    asleep : array-like of float
        1 = sleep, 0 = wake, NaN = no data (skipped: it neither starts nor ends a period).
    epoch_s : int
        Epoch length of the series.
    bedtime_min, getup_min : float
        Minutes of consecutive sleep that start a period, and of consecutive wake that end it.

    Examples
    --------
    >>> s = [0] * 20 + [1] * 12 + [0] * 4 + [1] * 30 + [0] * 25   # 30-s epochs
    >>> rest_periods(s)  # 2 min of wake inside does not end it; 12.5 min of wake does
    [(20, 66)]
    """
    a = np.asarray(asleep, dtype="float64")
    seen = np.flatnonzero(np.isfinite(a))
    if not len(seen):
        return []
    # a long stretch of no data splits the series: each part is searched on its own
    cuts = np.flatnonzero(np.diff(seen) > MAX_BRIDGE_MIN * 60 / epoch_s)
    if len(cuts):
        bounds = np.r_[0, seen[cuts + 1], len(a)]
        out = []
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            part = np.full(len(a), np.nan)
            part[lo:hi] = a[lo:hi]
            out += rest_periods(part, epoch_s, bedtime_min, getup_min)
        return out
    state = a[seen] > 0.5
    starts, lengths, values = runs(state)
    per_min = 60 / epoch_s
    short = np.where(values, lengths < bedtime_min * per_min, lengths < getup_min * per_min)
    # short runs keep the state before them (the first run, if short, counts as wake)
    kept = pd.Series(np.where(short, np.nan, values.astype(float)))
    kept.iloc[0] = kept.iloc[0] if not short[0] else 0.0
    held = kept.ffill().to_numpy() > 0.5
    block_starts, block_lengths, block_values = runs(np.repeat(held, lengths))
    out = []
    for b, n, v in zip(block_starts, block_lengths, block_values, strict=True):
        if v:
            out.append((int(seen[b]), int(seen[b + n - 1]) + 1))
    return out


def sleep_periods(
    grid: pd.DatetimeIndex,
    asleep,
    tz: str,
    diary: pd.DataFrame | None = None,
) -> SleepPeriods:
    """The night's main sleep period and naps on its 30-s grid (see the module text for the rules).

    Parameters
    ----------
    grid : DatetimeIndex
        The night's 30-s epochs (UTC).
    asleep : array-like of float
        Per epoch 1 = sleep, 0 = wake, NaN = no data.
    tz : str
        The baby's zone (the middle of the night is local).
    diary : DataFrame, optional
        The night's diary (``start``, ``end``, ``activity``): its ``sleep`` entries are the periods.
    """
    source = SleepPeriods(None).source
    sleeps = diary[diary["activity"] == "sleep"] if diary is not None and len(diary) else None
    if sleeps is not None and len(sleeps):
        row, epoch, _ = on_grid(grid, sleeps["start"], sleeps["end"])
        periods = sorted((int(epoch[row == r].min()), int(epoch[row == r].max()) + 1) for r in np.unique(row))
        source = "parent's diary"
    else:
        periods = rest_periods(asleep)
    if not periods:
        return SleepPeriods(None, [], source)
    joined = _join(periods, JOIN_WAKE_MIN * 60 // EPOCH_S)
    local_hours = grid.tz_convert(tz).hour
    middle = (local_hours >= MIDNIGHT_HOURS[0]) & (local_hours < MIDNIGHT_HOURS[1])
    length = [b - a for a, b in joined]
    reaching = [i for i, (a, b) in enumerate(joined) if middle[a:b].any()]
    pool = reaching or list(range(len(joined)))
    best = max(pool, key=lambda i: length[i])
    night = joined[best] if length[best] * EPOCH_S / 60 >= MIN_NIGHT_MIN else None
    naps = [
        p
        for p in periods
        if (night is None or p[1] <= night[0] or p[0] >= night[1])
        and (p[1] - p[0]) * EPOCH_S / 60 >= MIN_NAP_MIN
    ]
    return SleepPeriods(night, naps, source)


def _join(periods: list[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    """Join periods with fewer than ``gap`` epochs between them."""
    out = [list(periods[0])]
    for a, b in periods[1:]:
        if a - out[-1][1] < gap:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]
