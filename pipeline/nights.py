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
    return (wall - pd.Timedelta(hours=NIGHT_START_HOUR)).dt.strftime("%Y-%m-%d")


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
