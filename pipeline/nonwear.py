"""Non-wear of activity-count recordings: Choi et al. (2011) with ActiLife's defaults.

A sensor that is not worn records exact zeros. Choi calls a stretch of at least 90 minutes of zero counts
non-wear, allowing up to 2 minutes of non-zero counts inside it when 30 minutes of zeros lie on both sides of
them (a bump of the table, a knock in the bag). ActiLife runs it on 60-s axis-1 counts with these defaults
("Choi Default": 90-min window, 2-min spike tolerance, 30-min up/downstream window); epochs shorter than a minute
are summed to clock minutes first. Actiwatch counts without the device's off-wrist column need a longer
window (:data:`ACTIWATCH_WINDOW_MIN`).

Not worn is no data: never sleep (design.md, "One time grid"). Raw acceleration has its own rule (van Hees,
:mod:`sleepmoves.detect`); a device's own off-wrist column is read with the file.

References: Choi L, Liu Z, Matthews CE, Buchowski MS. Validation of accelerometer wear and nonwear time
classification algorithm. Med Sci Sports Exerc 2011;43:357-364.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .nights import on_grid, regular_sums, utc_ns
from .runs import runs

CHOI_WINDOW_MIN = 90  # shortest non-wear period

# Actiware has no automatic non-wear for files without the device's off-wrist column (its user excludes
# intervals by hand), and Actiwatch counts of worn sleep hold long exact-zero runs: 131 and 140 minutes in the
# English Actiware sample, which Actiware scores as sleep. For those formats a non-wear period needs 4 hours of
# zeros (an assumption: far longer than any worn run seen, far shorter than a device left on a table overnight).
ACTIWATCH_WINDOW_MIN = 240
WINDOW_BY_FORMAT = {"awd": ACTIWATCH_WINDOW_MIN, "rpx": ACTIWATCH_WINDOW_MIN, "mtn": ACTIWATCH_WINDOW_MIN}
CHOI_SPIKE_MIN = 2  # longest run of non-zero minutes allowed inside it
CHOI_STREAM_MIN = 30  # zero minutes needed before and after such a run


def choi(counts_per_minute, window: int = CHOI_WINDOW_MIN, spike: int = CHOI_SPIKE_MIN,
         stream: int = CHOI_STREAM_MIN) -> np.ndarray:  # fmt: skip
    """Non-wear per minute (True = not worn) of consecutive 60-s counts.

    Parameters
    ----------
    counts_per_minute : array-like
        Counts of consecutive minutes (no data as 0).
    window, spike, stream : int
        Minutes: the shortest non-wear period, the longest non-zero run tolerated inside one, and the zero
        minutes needed on each side of that run.

    Examples
    --------
    >>> counts = [5] * 10 + [0] * 60 + [3] + [0] * 40 + [7] * 10
    >>> int(choi(counts).sum())  # 101 zero minutes around a 1-minute bump
    101
    >>> int(choi([5] * 10 + [0] * 89 + [5]).sum())  # 89 minutes of zeros: still worn
    0
    """
    c = np.asarray(counts_per_minute, dtype="float64")
    if len(c) == 0:
        return np.zeros(0, dtype=bool)
    # As ActiLife runs it (checked minute by minute against its output, actigraph.sleepr's reference files):
    # 1. a zero run shorter than the spike tolerance joins the non-zero runs around it;
    zero = ~(c > 0)
    _, lengths, values = runs(zero)
    zero = np.repeat(values & (lengths >= spike), lengths)
    # 2. a non-zero run no longer than the tolerance with `stream` zeros on both sides counts as zero (at the
    #    record's edges the missing side has no zeros, so an edge spike is never forgiven);
    _, lengths, values = runs(zero)
    before = np.r_[0, np.where(values[:-1], lengths[:-1], 0)]
    after = np.r_[np.where(values[1:], lengths[1:], 0), 0]
    forgiven = ~values & (lengths <= spike) & (before >= stream) & (after >= stream)
    zero = np.repeat(values | forgiven, lengths)
    # 3. zero runs of at least `window` minutes are non-wear.
    _, lengths, values = runs(zero)
    return np.repeat(values & (lengths >= window), lengths)


def counts_worn(starts, epoch_s, count, valid, window: int = CHOI_WINDOW_MIN) -> np.ndarray:
    """Whether each count epoch was worn, by Choi on the recording's clock minutes.

    Parameters
    ----------
    starts : array-like of UTC timestamps
        Epoch starts, ascending.
    epoch_s : int or array-like
        Epoch length(s) in seconds.
    count, valid : array-like
        Counts and whether each epoch holds data (missing data counts as zero for the window).
    window : int
        Shortest non-wear period in minutes (:data:`WINDOW_BY_FORMAT` gives it by file format).

    Returns
    -------
    ndarray of bool
        False for epochs in a non-wear period.
    """
    starts = pd.DatetimeIndex(pd.to_datetime(starts, utc=True))
    n = len(starts)
    if n == 0:
        return np.ones(0, dtype=bool)
    lengths = np.broadcast_to(np.asarray(epoch_s, dtype="int64"), (n,))
    first = starts[0].floor("60s")
    n_min = int(np.ceil((utc_ns(starts[-1:])[0] + lengths[-1] * 1e9 - utc_ns([first])[0]) / 60e9))
    per_minute, _ = regular_sums(starts, lengths, count, valid, first, 60, n_min)
    off = choi(per_minute, window=window)
    # an epoch is not worn when a minute it overlaps is in a non-wear period
    minutes = pd.DatetimeIndex(first + pd.to_timedelta(np.arange(n_min) * 60, unit="s"))
    row, minute, _ = on_grid(minutes, starts, starts + pd.to_timedelta(lengths, unit="s"), epoch_s=60)
    not_worn = np.zeros(n, dtype=bool)
    np.logical_or.at(not_worn, row, off[minute])
    return ~not_worn
