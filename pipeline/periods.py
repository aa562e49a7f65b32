"""Sleep periods: when a night's sleep starts (bedtime) and ends (get-up), and the naps beside it.

A night's sleep is not its noon-to-noon window. Like a sleep lab's actigraphy software, sleepmoves finds rest
periods in the sleep/wake series and takes the night's main one; sleep outside it is a nap.

* With parent diary entries of sleep that hold a night, they are the periods (the parent saw the baby asleep);
  a diary of naps only leaves the night to the data.
* Otherwise the rule of Tudor-Locke et al. (2014) as ActiLife runs it: a period starts at the first of
  5 consecutive sleep minutes and ends where 10 consecutive wake minutes begin; shorter runs of either keep the
  state before them. It is the same rule for activity counts, event logs and raw acceleration, on the night's
  30-s grid (5 minutes = 10 epochs). A short stretch of no data neither starts nor ends a period (it is not
  sleep and not wake): it is left out of sleep and wake and reported beside them. No data longer than
  :data:`MAX_BRIDGE_MIN` (a monitor switched off for the night), or the sensor not worn for longer than
  :data:`NOT_WORN_BRIDGE_MIN`, ends the period: nothing says the baby slept through it.
* Infants wake and feed in the night: ActiLife would report two periods around a 20-minute feed. Periods with
  less than :data:`JOIN_WAKE_MIN` of wake between them are joined when that waking lies in the night's hours
  (:data:`NIGHT_WINDOW`, 18:00-06:00 local; as GGIR joins its sleep windows across gaps under an hour) and
  neither is a doze of under :data:`JOIN_SHORTEST_MIN`, so evening dozes and a morning doze after getting up
  stay apart, as in ActiLife. The night is the longest joined period that reaches
  into the heart of the night (:data:`NIGHT_CORE`, 22:00-05:00 local) and lasts :data:`MIN_NIGHT_MIN`
  (Tudor-Locke's 160 minutes); an afternoon sleep is never the night, and a recording without such a period
  has no night, only naps.
* A nap is any other (joined) period of at least :data:`MIN_NAP_MIN` minutes (an assumption: a few still
  minutes are not a nap).

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
from .schema import ASLEEP_PHASES, EPOCH_S

BEDTIME_MIN = 5
GETUP_MIN = 10
MIN_NIGHT_MIN = 160
JOIN_WAKE_MIN = 60
JOIN_SHORTEST_MIN = 30  # a doze shorter than this is not joined to the night (it stays a nap)
NOT_WORN_BRIDGE_MIN = 60
RULE_SOURCE = "rest-interval rule (Tudor-Locke: 5 min asleep to 10 min awake)"  # a sensor off longer than this ends a period
MIN_NAP_MIN = 15
NIGHT_WINDOW = (18, 6)  # local hours in which a waking between two periods is a night waking, not a get-up
NIGHT_CORE = (22, 5)  # a night's sleep period reaches into these local hours
MAX_BRIDGE_MIN = 360


@dataclass
class SleepPeriods:
    """A night's main sleep period and its naps, as ``[start, end)`` epoch indices of the grid."""

    night: tuple[int, int] | None
    naps: list[tuple[int, int]] = field(default_factory=list)
    source: str = RULE_SOURCE


def rest_periods(asleep, epoch_s: int = EPOCH_S, bedtime_min: float = BEDTIME_MIN,
                 getup_min: float = GETUP_MIN, ends=None) -> list[tuple[int, int]]:  # fmt: skip
    """Tudor-Locke rest periods of a sleep/wake series, as ``[start, end)`` indices.

    Parameters
    ----------
    asleep : array-like of float
        1 = sleep, 0 = wake, NaN = no data (skipped: it neither starts nor ends a period).
    epoch_s : int
        Epoch length of the series.
    bedtime_min, getup_min : float
        Minutes of consecutive sleep that start a period, and of consecutive wake that end it.
    ends : array-like of bool, optional
        Epochs no period runs across (a sensor not worn).

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
    # a long stretch of no data, or any time not worn, splits the series: each part is searched on its own
    stops = np.cumsum(np.asarray(ends, dtype=bool)) if ends is not None else np.zeros(len(a), dtype=np.int64)
    cuts = np.flatnonzero((np.diff(seen) > MAX_BRIDGE_MIN * 60 / epoch_s) | (np.diff(stops[seen]) > 0))
    if len(cuts):
        bounds = np.r_[0, seen[cuts + 1], len(a)]
        out = []
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            part = np.full(len(a), np.nan)
            part[lo:hi] = a[lo:hi]
            out += rest_periods(part, epoch_s, bedtime_min, getup_min)  # no cut left inside a part
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
    ends=None,
) -> SleepPeriods:
    """The night's main sleep period and naps on its 30-s grid (see the module text for the rules).

    Parameters
    ----------
    grid : DatetimeIndex
        The night's 30-s epochs (UTC).
    asleep : array-like of float
        Per epoch 1 = sleep, 0 = wake, NaN = no data.
    tz : str
        The baby's zone (the night's hours are local).
    diary : DataFrame, optional
        The night's diary (``start``, ``end``, ``activity``): when its ``sleep`` entries hold a night, they are
        the periods; a diary of naps only leaves the night to the data.
    ends : array-like of bool, optional
        Epochs the sensor was not worn: a stretch longer than :data:`NOT_WORN_BRIDGE_MIN` ends a period (a
        shorter one is bridged, as no data).
    """
    if ends is not None:
        starts, lengths, values = runs(np.asarray(ends, dtype=bool))
        ends = np.repeat(values & (lengths > NOT_WORN_BRIDGE_MIN * 60 // EPOCH_S), lengths)
    hours = grid.tz_convert(tz).hour
    window = (hours >= NIGHT_WINDOW[0]) | (hours < NIGHT_WINDOW[1])
    core = (hours >= NIGHT_CORE[0]) | (hours < NIGHT_CORE[1])
    sleeps = diary[diary["activity"] == "sleep"] if diary is not None and len(diary) else None
    if sleeps is not None and len(sleeps):
        row, epoch, _ = on_grid(grid, sleeps["start"], sleeps["end"])
        written = sorted((int(epoch[row == r].min()), int(epoch[row == r].max()) + 1) for r in np.unique(row))
        found = _night_and_naps(written, window, core, "parent's diary")
        if found.night is not None:
            return found
    return _night_and_naps(rest_periods(asleep, ends=ends), window, core, RULE_SOURCE)


def _night_and_naps(periods, window: np.ndarray, core: np.ndarray, source: str) -> SleepPeriods:
    """Join night-time periods across short wakings, take the night, call the rest naps."""
    if not periods:
        return SleepPeriods(None, [], source)
    joined = _join(periods, JOIN_WAKE_MIN * 60 // EPOCH_S, window)
    reaching = [p for p in joined if core[p[0] : p[1]].any()]
    night = max(reaching, key=lambda p: p[1] - p[0]) if reaching else None
    if night is not None and (night[1] - night[0]) * EPOCH_S / 60 < MIN_NIGHT_MIN:
        night = None
    naps = [p for p in joined if p != night and (p[1] - p[0]) * EPOCH_S / 60 >= MIN_NAP_MIN]
    return SleepPeriods(night, naps, source)


def _join(periods: list[tuple[int, int]], gap: int, window: np.ndarray) -> list[tuple[int, int]]:
    """Join periods fewer than ``gap`` epochs apart when both sides of the waking lie in the night's hours and
    neither is a doze (shorter than :data:`JOIN_SHORTEST_MIN`). Periods that overlap or touch are always one (two
    diary entries, or two parents' entries, of the same sleep)."""
    shortest = JOIN_SHORTEST_MIN * 60 // EPOCH_S
    out = [list(periods[0])]
    for a, b in periods[1:]:
        last = out[-1]
        if a <= last[1] or (
            a - last[1] < gap
            and window[a]
            and window[last[1] - 1]
            and min(b - a, last[1] - last[0]) >= shortest
        ):
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


DIARY_METHOD = "the parent's diary (sleeps as written; no sleep phases)"
DIARY_SOURCE = "diary"  # the phases' model_version of a night labelled from the diary alone


def diary_sleep_on_grid(grid: pd.DatetimeIndex, diary: pd.DataFrame | None) -> np.ndarray:
    """Sleep/wake of a night's grid from a parent's diary alone: 1 inside a written sleep, 0 between the first and
    the last thing written that night (a parent who logs sleeps logs all of them: the rest is awake), NaN outside
    (nothing written: no data). All NaN when the diary holds no sleep."""
    out = np.full(len(grid), np.nan)
    if diary is None or not len(diary) or not (diary["activity"] == "sleep").any():
        return out
    ends = diary["end"].where(diary["end"].notna(), diary["start"] + pd.Timedelta(seconds=EPOCH_S))
    _, span, _ = on_grid(grid, pd.Series([diary["start"].min()]), pd.Series([ends.max()]))
    out[span] = 0.0
    sleeps = diary[(diary["activity"] == "sleep") & diary["end"].notna()]
    _, epoch, _ = on_grid(grid, sleeps["start"], sleeps["end"])
    out[epoch] = 1.0
    return out


DISAGREE_MIN = 10  # shorter differences are a parent's rounding of clock times, not a disagreement


def diary_disagreements(phases: pd.DataFrame, diary: pd.DataFrame | None) -> pd.DataFrame:
    """Where a parent's diary and the movement data tell different stories: one row per stretch of at least
    :data:`DISAGREE_MIN` minutes, ``start``, ``end`` (UTC), ``diary_says`` and ``movement_says``
    (``asleep`` / ``awake``).

    Only epochs both know count: the diary between its first and last entry (:func:`diary_sleep_on_grid`), the
    movement where it labelled the epoch. A night labelled from the diary itself has nothing to compare.
    """
    columns = ["start", "end", "diary_says", "movement_says"]
    if diary is None or not len(diary) or not len(phases):
        return pd.DataFrame(columns=columns)
    sensed = phases[phases["model_version"] != DIARY_SOURCE] if "model_version" in phases else phases
    if not len(sensed):
        return pd.DataFrame(columns=columns)
    grid = pd.DatetimeIndex(sensed["epoch_start"])
    written = diary_sleep_on_grid(grid, diary)
    moving = np.where(
        sensed["phase"].isin(ASLEEP_PHASES), 1.0, np.where(sensed["phase"] == "awake", 0.0, np.nan)
    )
    differ = np.isfinite(written) & np.isfinite(moving) & (written != moving)
    # 1: the diary says asleep and the movement awake; 2: the other way round; 0: agree or unknown
    code = np.where(differ, np.where(written == 1, 1, 2), 0)
    # a stretch runs over consecutive epochs only: a gap in the grid ends it
    step = np.r_[True, (grid[1:] - grid[:-1]) != pd.Timedelta(seconds=EPOCH_S)]
    code_runs = np.cumsum(step | np.r_[True, code[1:] != code[:-1]])
    starts, lengths, values = runs(code_runs)
    rows = []
    for start, length in zip(starts, lengths, strict=True):
        if code[start] == 0 or length * EPOCH_S < DISAGREE_MIN * 60:
            continue
        diary_asleep = code[start] == 1
        rows.append(
            {
                "start": grid[start],
                "end": grid[start + length - 1] + pd.Timedelta(seconds=EPOCH_S),
                "diary_says": "asleep" if diary_asleep else "awake",
                "movement_says": "awake" if diary_asleep else "asleep",
            }
        )
    return pd.DataFrame(rows, columns=columns)
