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

from .schema import EPOCH_S, KINDS

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


def observed_epochs(
    events: pd.DataFrame,
    night_start: pd.Timestamp,
    night_end: pd.Timestamp,
    counts: pd.DataFrame | None = None,
) -> pd.DatetimeIndex:
    """The recorded span of a night: 30-s epochs from the first to the last event or sensor epoch, inside the night."""
    times = [pd.to_datetime(events["start"], utc=True)] if len(events) else []
    if counts is not None and len(counts):
        c = pd.to_datetime(counts["start"], utc=True)
        times += [c, c + pd.to_timedelta(counts["epoch_s"].astype("int64") - 1, unit="s")]
    if not times:
        return pd.DatetimeIndex([], tz="UTC")
    every = pd.concat(times)
    first = max(every.min(), night_start).floor(f"{EPOCH_S}s")
    last = min(every.max(), night_end - pd.Timedelta(seconds=1)).floor(f"{EPOCH_S}s")
    n = int((last - first).total_seconds() // EPOCH_S) + 1
    return pd.DatetimeIndex(first + pd.to_timedelta(np.arange(n) * EPOCH_S, unit="s"))


def epoch_validity(
    counts: pd.DataFrame | None, epoch_starts: pd.DatetimeIndex
) -> tuple[np.ndarray, np.ndarray]:
    """(valid, activity) per epoch from sensor coverage.

    Without sensor data (an event log) every epoch is valid and activity is missing. With it, an epoch is
    valid when at least one limb has usable data there; epochs no sensor covers are not valid.
    """
    n = len(epoch_starts)
    if counts is None or counts.empty:
        return np.ones(n, dtype=bool), np.full(n, np.nan)
    grid0 = epoch_starts[0]
    idx = ((pd.to_datetime(counts["start"], utc=True) - grid0).dt.total_seconds() // EPOCH_S).to_numpy()
    inside = (idx >= 0) & (idx < n)
    idx = idx[inside].astype(np.int64)
    ok = counts["valid"].to_numpy(dtype=bool)[inside]
    valid = np.bincount(idx[ok], minlength=n) > 0
    activity = np.bincount(
        idx[ok], weights=counts["count"].to_numpy(dtype="float64")[inside][ok], minlength=n
    )
    return valid, np.where(valid, activity, np.nan)


def epoch_features(
    events: pd.DataFrame,
    epoch_starts: pd.DatetimeIndex,
    tz: str,
    age_weeks: float = np.nan,
    counts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Feature table, one row per epoch of ``epoch_starts`` (UTC, 30 s apart, ascending).

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
        Sensor coverage (``start``, ``epoch_s``, ``count``, ``valid``): epochs without usable sensor data
        get ``valid = False`` and missing (NaN) movement features, never zeros.

    Returns
    -------
    DataFrame
        ``epoch_start``, the feature columns and ``valid`` (whether the epoch has usable data).
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
    frame["hours_in"] = np.arange(n) * EPOCH_S / 3600
    frame["hours_left"] = (n - 1 - np.arange(n)) * EPOCH_S / 3600
    frame["age_weeks"] = float(age_weeks)
    valid, activity = epoch_validity(counts, epoch_starts)
    frame["activity"] = activity
    movement = [
        c for c in frame.columns if c.startswith(("n_", "move_s", "max_intensity", "min_since", "min_to"))
    ]
    frame.loc[~valid, movement] = np.nan
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
