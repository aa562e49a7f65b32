"""Events -> one row of features per 30-s epoch.

Features describe the epoch itself (counts by kind, twitches of legs and of arms, movement seconds,
intensity, limbs), the time since the baby settled (a movement-only proxy for sleep onset), its
neighbourhood at several time scales (centred rolling means over +-1, +-2.5, +-5 and +-10 min),
the distance to the nearest large movement, the time of night and the baby's age: after about
3 months twitches also occur in quiet sleep (science.md), so the model must know the age.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .nights import on_grid, utc_ns
from .schema import EPOCH_S, KINDS, NO_DATA, NOT_WORN, RECORDED

# Centred windows in epochs: +-1 min, +-2.5 min, +-5 min, +-10 min.
WINDOWS = {"1m": 5, "2m5": 11, "5m": 21, "10m": 41}
ROLLED = (
    "n_twitch",
    "n_kick",
    "n_startle",
    "n_events",
    "move_s",
    "max_intensity",
    "n_twitch_legs",
    "n_twitch_arms",
)
SETTLED_MIN = (
    10  # "settled" = the first 10 minutes without a large movement (a movement-only sleep-onset proxy)
)
BIG_MOVES = ("kick", "stretch", "other", "shake")
GAP_CAP_MIN = 30.0  # distances to the nearest large movement are capped here


# A silence no infant night can hold: active sleep, with its twitches, recurs in every sleep cycle (47-50 min,
# neonatal range 30-70 min; science.md), so an event log with no movement at all for longer than the longest
# cycle plus a margin was not watching (a monitor off, an app asleep): no data, never quiet sleep.
MAX_SILENCE_MIN = 90


def grid_coverage(
    grid: pd.DatetimeIndex,
    counts: pd.DataFrame | None = None,
    recording: pd.DataFrame | None = None,
    log_events: pd.DataFrame | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Coverage state and sensor activity of every 30-s epoch of a night's grid.

    Parameters
    ----------
    grid : DatetimeIndex
        The night's 30-s epochs (UTC).
    counts : DataFrame, optional
        Sensor epochs (``start``, ``epoch_s``, ``count``, ``valid``, optionally ``worn``) of any length: each
        covers every grid epoch it overlaps.
    recording : DataFrame, optional
        When an event log was recording (``start``, ``end``).
    log_events : DataFrame, optional
        The event log's movements (``start``): silences longer than :data:`MAX_SILENCE_MIN` are no data. With a
        log but no ``recording`` rows (a lake written before they existed), the log records from its first to
        its last event of the night.

    Returns
    -------
    (coverage, activity) : arrays
        ``coverage`` holds ``recorded``, ``no_data`` or ``not_worn`` (:data:`pipeline.schema.COVERAGE_STATES`);
        ``activity`` is the sensor count per 30 s (a count spread over the grid epochs it overlaps by time),
        NaN where no sensor recorded. With no input at all, every epoch counts as recorded (a caller that
        vouches for the span, as training on labelled epochs does).
    """
    n = len(grid)
    has_counts = counts is not None and len(counts)
    has_log = log_events is not None and len(log_events)
    has_spans = recording is not None and len(recording)
    if not (has_counts or has_log or has_spans):
        return np.full(n, RECORDED, dtype=object), np.full(n, np.nan)
    recorded = np.zeros(n, dtype=bool)
    not_worn = np.zeros(n, dtype=bool)
    activity = np.zeros(n)
    sensed = np.zeros(n, dtype=bool)
    if has_counts:
        starts = pd.to_datetime(counts["start"], utc=True)
        ends = starts + pd.to_timedelta(counts["epoch_s"].to_numpy(dtype="int64"), unit="s")
        row, epoch, overlap = on_grid(grid, starts, ends)
        valid = counts["valid"].to_numpy(dtype=bool)[row]
        worn = _worn(counts)[row]
        recorded[epoch[valid]] = True
        not_worn[epoch[~worn]] = True
        share = overlap / counts["epoch_s"].to_numpy(dtype="float64")[row]
        values = np.nan_to_num(counts["count"].to_numpy(dtype="float64")[row]) * share
        activity += np.bincount(epoch[valid], weights=values[valid], minlength=n)
        sensed[epoch[valid]] = True
    if has_log or has_spans:
        recorded |= _log_recorded(grid, recording if has_spans else None, log_events if has_log else None)
    return coverage_state(recorded, not_worn), np.where(sensed, activity, np.nan)


def coverage_state(recorded: np.ndarray, not_worn: np.ndarray) -> np.ndarray:
    """Each epoch's coverage word: recorded wins over not worn, which wins over no data."""
    return np.where(recorded, RECORDED, np.where(not_worn, NOT_WORN, NO_DATA)).astype(object)


def _worn(counts: pd.DataFrame) -> np.ndarray:
    if "worn" not in counts:  # written before non-wear was stored: unknown, so not "not worn"
        return np.ones(len(counts), dtype=bool)
    return counts["worn"].fillna(True).to_numpy(dtype=bool)


def _log_recorded(grid: pd.DatetimeIndex, recording, log_events) -> np.ndarray:
    """Epochs an event log was watching: inside its recording spans, outside silences no night can hold."""
    n = len(grid)
    watched = np.zeros(n, dtype=bool)
    times = (
        pd.DatetimeIndex(pd.to_datetime(log_events["start"], utc=True)).sort_values()
        if log_events is not None
        else pd.DatetimeIndex([], tz="UTC")
    )
    if recording is not None:
        spans_start, spans_end = recording["start"], recording["end"]
    else:
        spans_start, spans_end = times[:1], times[-1:] + pd.Timedelta(seconds=EPOCH_S)
    _, epoch, _ = on_grid(grid, spans_start, spans_end)
    watched[epoch] = True
    # silences: between consecutive movements, and from a span's edge to the first / after the last one
    moves = utc_ns(times)
    span_edges = np.r_[
        utc_ns(pd.to_datetime(spans_start, utc=True)), utc_ns(pd.to_datetime(spans_end, utc=True))
    ]
    marks = np.unique(np.r_[moves, span_edges])
    if len(marks) > 1:
        gap = np.diff(marks) / 60e9
        long = np.flatnonzero(gap > MAX_SILENCE_MIN)
        if len(long):
            # the epoch holding a movement stays watched; a span's edge (a night's noon) is no movement
            step = EPOCH_S * 1_000_000_000
            is_move = np.isin(marks, moves)
            lo = marks[long] + np.where(is_move[long], step, 0)
            hi = marks[long + 1] - np.where(is_move[long + 1], step, 0)
            _, silent, _ = on_grid(grid, pd.to_datetime(lo, utc=True), pd.to_datetime(hi, utc=True))
            watched[silent] = False
    return watched


def epoch_features(
    events: pd.DataFrame,
    epoch_starts: pd.DatetimeIndex,
    tz: str,
    age_weeks: float = np.nan,
    counts: pd.DataFrame | None = None,
    *,
    coverage: np.ndarray | None = None,
    activity: np.ndarray | None = None,
) -> pd.DataFrame:
    """Feature table, one row per epoch of ``epoch_starts`` (UTC, 30 s apart, ascending): the night's grid.

    Parameters
    ----------
    events : DataFrame
        ``start`` (UTC), ``duration_s``, ``limb``, ``kind``, ``intensity``.
    epoch_starts : DatetimeIndex
        The epochs to describe; events outside them are ignored.
    tz : str
        The subject's zone, for the clock-time features.
    age_weeks : float
        Age on that night; NaN when the birth date is unknown (stays missing, never zero).
    counts : DataFrame, optional
        Sensor epochs, when ``coverage`` is not given: see :func:`grid_coverage`.
    coverage, activity : arrays, optional
        Each epoch's coverage state and sensor activity from :func:`grid_coverage`. Epochs that are not
        ``recorded`` get missing (NaN) movement features, never zeros, and rolling means skip them.

    Returns
    -------
    DataFrame
        ``epoch_start``, the feature columns, ``coverage`` and ``valid`` (coverage is ``recorded``).
    """
    n = len(epoch_starts)
    grid0 = epoch_starts[0] if n else pd.Timestamp(0, tz="UTC")
    starts = pd.to_datetime(events["start"], utc=True)
    idx = ((starts - grid0).dt.total_seconds() // EPOCH_S).to_numpy(dtype="float64")
    inside = (idx >= 0) & (idx < n)
    idx = idx[inside].astype(np.int64)
    kind = events["kind"].to_numpy()[inside]
    duration = events["duration_s"].to_numpy(dtype="float64")[inside]
    intensity = events["intensity"].to_numpy(dtype="float64")[inside]
    limb = events["limb"].to_numpy()[inside]

    out = {"epoch_start": epoch_starts}
    for k in KINDS:
        out[f"n_{k}"] = np.bincount(idx[kind == k], minlength=n).astype("float64")
    out["n_events"] = np.bincount(idx, minlength=n).astype("float64")
    twitch = kind == "twitch"
    legs, arms = np.isin(limb, ("left_leg", "right_leg")), np.isin(limb, ("left_arm", "right_arm"))
    out["n_twitch_legs"] = np.bincount(idx[twitch & legs], minlength=n).astype("float64")
    out["n_twitch_arms"] = np.bincount(idx[twitch & arms], minlength=n).astype("float64")
    out["move_s"] = np.minimum(np.bincount(idx, weights=np.nan_to_num(duration), minlength=n), EPOCH_S)
    max_int = np.zeros(n)
    np.maximum.at(max_int, idx, np.nan_to_num(intensity))
    out["max_intensity"] = max_int
    # distinct limbs moving in the epoch
    pairs = pd.DataFrame({"i": idx, "limb": limb}).drop_duplicates()
    out["n_limbs"] = np.bincount(pairs["i"].to_numpy(dtype=np.int64), minlength=n).astype("float64")
    frame = pd.DataFrame(out)
    if coverage is None:
        coverage, activity = grid_coverage(epoch_starts, counts)
    valid = coverage == RECORDED
    frame.loc[~valid, list(ROLLED)] = np.nan  # no data is not "no movement": rolling means skip it

    for name, width in WINDOWS.items():
        rolled = frame[list(ROLLED)].rolling(width, center=True, min_periods=1).mean()
        for col in ROLLED:
            frame[f"{col}_{name}"] = rolled[col].to_numpy()

    big = np.isin(kind, BIG_MOVES)
    big_epochs = np.zeros(n, dtype=bool)
    big_epochs[idx[big]] = True
    frame["min_since_big"], frame["min_to_big"] = _distance_to_marks(big_epochs)
    frame["hours_since_settled"] = _hours_since_settled(big_epochs)

    local = epoch_starts.tz_convert(tz)
    clock_h = local.hour + local.minute / 60
    frame["clock_sin"] = np.sin(2 * np.pi * clock_h / 24)
    frame["clock_cos"] = np.cos(2 * np.pi * clock_h / 24)
    # hours into and left of the recorded span (the model's training semantics; not of the noon-to-noon grid)
    seen = np.flatnonzero(valid)
    first, last = (seen[0], seen[-1]) if len(seen) else (0, n - 1)
    frame["hours_in"] = (np.arange(n) - first) * EPOCH_S / 3600
    frame["hours_left"] = (last - np.arange(n)) * EPOCH_S / 3600
    frame["age_weeks"] = float(age_weeks)
    frame["activity"] = activity
    movement = [
        c for c in frame.columns if c.startswith(("n_", "move_s", "max_intensity", "min_since", "min_to"))
    ]
    frame.loc[~valid, movement] = np.nan
    frame["coverage"] = coverage
    frame["valid"] = valid
    return frame


def _hours_since_settled(big_epochs: np.ndarray) -> np.ndarray:
    """Hours since the first run of 10 minutes without a large movement (negative before it; NaN if none)."""
    run = int(SETTLED_MIN * 60 / EPOCH_S)
    n = len(big_epochs)
    if n < run:
        return np.full(n, np.nan)
    quiet_windows = np.lib.stride_tricks.sliding_window_view(~big_epochs, run).all(axis=1)
    if not quiet_windows.any():
        return np.full(n, np.nan)
    settled = int(np.argmax(quiet_windows))
    return (np.arange(n) - settled) * EPOCH_S / 3600


def _distance_to_marks(marks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minutes since the previous and until the next marked epoch (capped)."""
    n = len(marks)
    pos = np.arange(n, dtype="float64")
    prev = np.where(marks, pos, np.nan)
    prev = pd.Series(prev).ffill().to_numpy()
    nxt = pd.Series(np.where(marks, pos, np.nan)).bfill().to_numpy()
    per_min = 60 / EPOCH_S
    since = np.nan_to_num((pos - prev) / per_min, nan=GAP_CAP_MIN)
    until = np.nan_to_num((nxt - pos) / per_min, nan=GAP_CAP_MIN)
    return np.minimum(since, GAP_CAP_MIN), np.minimum(until, GAP_CAP_MIN)


def age_in_weeks(born, night) -> float:
    """Age in weeks on a night; NaN when the birth date is unknown."""
    if born is None or (not isinstance(born, str) and pd.isna(born)):
        return float("nan")
    return (pd.Timestamp(str(night)) - pd.Timestamp(str(born))).days / 7
