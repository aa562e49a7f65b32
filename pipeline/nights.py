"""Night assignment: a night is local noon to noon in the subject's IANA time zone.

A night is named by the date of its evening. Assignment works on local wall-clock time
(shift back 12 h of *wall* time, take the date), so DST changes never move an event into
the wrong night; the night's length in real time is 23 or 25 h on DST nights.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from .schema import EPOCH_S, SleepmovesError

NIGHT_START_HOUR = 12  # local noon


def zone(tz: str) -> ZoneInfo:
    """Return the ``ZoneInfo`` for an IANA name, or raise a clear error."""
    try:
        return ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise SleepmovesError(f"unknown time zone {tz!r}: use an IANA name such as Europe/London") from exc


def night_of(times, tz: str) -> pd.Series:
    """Night (``YYYY-MM-DD`` string) of each UTC timestamp, for a subject living in ``tz``.

    Parameters
    ----------
    times : array-like of tz-aware timestamps
    tz : str
        IANA time zone name.
    """
    zone(tz)
    ts = pd.Series(pd.to_datetime(times, utc=True))
    wall = ts.dt.tz_convert(tz).dt.tz_localize(None)
    days = (wall - pd.Timedelta(hours=NIGHT_START_HOUR)).to_numpy().astype("datetime64[D]")
    # one string a night, shared by its rows (a string a row cost more than the rows themselves)
    nights, which = np.unique(days, return_inverse=True)
    names = np.array([None if np.isnat(d) else str(d) for d in nights], dtype=object)
    return pd.Series(names[which], index=ts.index, dtype=object)


def night_bounds(night: str | dt.date, tz: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """UTC start and end of a night (local noon of its date to local noon of the next day)."""
    day = pd.Timestamp(str(night))
    z = zone(tz)
    start = pd.Timestamp(dt.datetime.combine(day.date(), dt.time(NIGHT_START_HOUR), tzinfo=z))
    end = pd.Timestamp(
        dt.datetime.combine((day + pd.Timedelta(days=1)).date(), dt.time(NIGHT_START_HOUR), tzinfo=z)
    )
    return start.tz_convert("UTC"), end.tz_convert("UTC")


def night_hours(night: str | dt.date, tz: str) -> float:
    """Length of a night in hours: 24, or 23 / 25 on DST nights."""
    start, end = night_bounds(night, tz)
    return (end - start).total_seconds() / 3600


def epoch_grid(night: str | dt.date, tz: str) -> pd.DatetimeIndex:
    """Start of every 30-s epoch of a night, in UTC (2760, 2880 or 3000 epochs)."""
    start, end = night_bounds(night, tz)
    n = int((end - start).total_seconds() // EPOCH_S)
    return pd.DatetimeIndex(start + pd.to_timedelta(np.arange(n) * EPOCH_S, unit="s"))


def utc_ns(times) -> np.ndarray:
    """Nanoseconds since 1970 (UTC) of timestamps, whatever their stored resolution (s, ms, us, ns)."""
    return pd.DatetimeIndex(pd.to_datetime(times, utc=True)).as_unit("ns").asi8.copy()


def on_grid(
    grid: pd.DatetimeIndex, starts, ends, epoch_s: int = EPOCH_S
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which epochs of ``grid`` (regular, ``epoch_s`` apart) each interval ``[start, end)`` overlaps, by real time.

    The one place intervals of any length (count epochs of 10 to 120 s, recording spans, diary entries, a
    device's scored epochs) are put on the night's grid.

    Returns
    -------
    (interval, epoch, overlap_s) : arrays of equal length
        One entry per (interval, grid epoch) pair that overlap, with the overlap in seconds.
    """
    n = len(grid)
    empty = (np.array([], np.int64), np.array([], np.int64), np.array([], np.float64))
    if n == 0:
        return empty
    g0 = int(utc_ns(grid[:1])[0])
    step = int(epoch_s) * 1_000_000_000
    a = utc_ns(starts) - g0 if len(starts) else np.array([], np.int64)
    b = utc_ns(ends) - g0 if len(ends) else np.array([], np.int64)
    a, b = np.maximum(a, 0), np.minimum(b, n * step)
    keep = np.flatnonzero(b > a)
    if not len(keep):
        return empty
    a, b = a[keep], b[keep]
    first, last = a // step, (b - 1) // step
    k = last - first + 1
    interval = np.repeat(keep, k)
    epoch = np.repeat(first, k) + (np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k))
    lo = np.maximum(np.repeat(a, k), epoch * step)
    hi = np.minimum(np.repeat(b, k), (epoch + 1) * step)
    return interval, epoch, (hi - lo) / 1e9


def split_by_night(starts, ends, tz: str) -> pd.DataFrame:
    """Intervals ``[start, end)`` cut at the night boundaries (local noon): ``start``, ``end``, ``night``."""
    rows = []
    for a, b in zip(pd.to_datetime(starts, utc=True), pd.to_datetime(ends, utc=True), strict=True):
        night = pd.Timestamp(night_of([a], tz).iloc[0])
        while a < b:
            _, night_end = night_bounds(night.date(), tz)
            rows.append((a, min(b, night_end), str(night.date())))
            a, night = night_end, night + pd.Timedelta(days=1)
    frame = pd.DataFrame(rows, columns=["start", "end", "night"])
    frame["start"] = pd.to_datetime(frame["start"], utc=True)
    frame["end"] = pd.to_datetime(frame["end"], utc=True)
    return frame


def regular_sums(
    starts, epoch_s, values, valid, origin: pd.Timestamp, step_s: int, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Epoch values summed into ``n`` regular blocks of ``step_s`` seconds from ``origin``, by real time.

    An epoch that divides the block counts in the block its start falls in (as ActiLife sums 10-s epochs into
    the minute they start in, whatever second the recording started on); any other (a longer epoch, a 45-s one)
    is shared between the blocks it overlaps, by time. Epochs without data (``valid`` False) add nothing.

    Returns
    -------
    (sums, has_data) : ndarray of float, ndarray of bool
    """
    starts = pd.DatetimeIndex(pd.to_datetime(starts, utc=True))
    lengths = np.broadcast_to(np.asarray(epoch_s, dtype="int64"), (len(starts),))
    values = np.where(np.asarray(valid, dtype=bool), np.nan_to_num(np.asarray(values, dtype="float64")), 0.0)
    ok = np.asarray(valid, dtype=bool)
    sums, has_data = np.zeros(n), np.zeros(n, dtype=bool)
    offset = utc_ns(starts) - int(utc_ns([origin])[0])
    short = (lengths <= step_s) & (int(step_s) % np.maximum(lengths, 1) == 0)  # whole epochs per block
    block = offset[short] // (int(step_s) * 1_000_000_000)
    inside = (block >= 0) & (block < n)
    sums += np.bincount(block[inside], weights=values[short][inside], minlength=n)
    has_data[block[inside & ok[short]]] = True
    if (~short).any():
        blocks = pd.DatetimeIndex(origin + pd.to_timedelta(np.arange(n) * int(step_s), unit="s"))
        long = np.flatnonzero(~short)
        ends = starts[long] + pd.to_timedelta(lengths[long], unit="s")
        row, where, overlap = on_grid(blocks, starts[long], ends, epoch_s=int(step_s))
        sums += np.bincount(where, weights=values[long][row] * overlap / lengths[long][row], minlength=n)
        has_data[where[ok[long][row]]] = True
    return sums, has_data
