"""Events -> one row of features per 30-s epoch.

Features describe the epoch itself (counts by kind, twitches of legs and of arms, movement seconds,
intensity, limbs), the time since the baby settled (a movement-only proxy for sleep onset), its
neighbourhood at several time scales (centred rolling means over +-1, +-2.5, +-5 and +-10 min),
the distance to the nearest large movement, the time of night and the baby's age: after about
3 months twitches also occur in quiet sleep (science.md), so the model must know the age.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .nights import epoch_grid, on_grid, utc_ns
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
        ``coverage`` holds ``recorded``, ``no_data`` or ``not_worn`` (:data:`sleepmoves.schema.COVERAGE_STATES`);
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


@dataclass(frozen=True)
class NightFeatures:
    """What :func:`night_features` finds for a night: its grid, the features of every epoch, and where the phase
    model labels them (``labelled``: recorded epochs where movement events were being watched)."""

    grid: pd.DatetimeIndex
    features: pd.DataFrame
    coverage: np.ndarray
    watched: np.ndarray
    counts: pd.DataFrame
    actigraphy: np.ndarray  # which rows of ``counts`` come from activity-count files

    @property
    def labelled(self) -> np.ndarray:
        return self.features["valid"].to_numpy(dtype=bool) & self.watched


def night_features(
    events: pd.DataFrame,
    night: str,
    tz: str,
    born,
    counts: pd.DataFrame | None = None,
    *,
    recording: pd.DataFrame | None = None,
    formats: dict | None = None,
) -> NightFeatures:
    """The features of every epoch of a night's full noon-to-noon grid, from the night's lake rows.

    The one feature function: ``process`` labels nights with it, and ``train`` / ``evaluate`` describe
    labelled epochs with it, so a model is trained on exactly what it is later given.

    Parameters
    ----------
    events, counts, recording : DataFrame
        The night's rows of the lake's tables (``recording``: when an event log was recording).
    night : str
        ``YYYY-MM-DD``, the local date the night starts on.
    tz, born
        The baby's zone and birth date (None when unknown: age stays missing).
    formats : dict, optional
        Source sha256 -> file format, from the manifest (which device wrote the counts).
    """
    grid = epoch_grid(night, tz)
    counts = counts if counts is not None else pd.DataFrame(columns=["start", "epoch_s", "count", "valid"])
    from_log = (
        events["source"].to_numpy() == "log" if "source" in events else np.ones(len(events), dtype=bool)
    )
    actigraphy = _actigraphy_rows(counts, formats, events)
    coverage, activity, watched = _coverage(grid, counts, actigraphy, recording, events[from_log])
    feats = epoch_features(
        events, grid, tz, age_weeks=age_in_weeks(born, night), coverage=coverage, activity=activity
    )
    return NightFeatures(grid, feats, coverage, watched, counts, actigraphy)


def _actigraphy_rows(counts: pd.DataFrame, formats: dict | None, events: pd.DataFrame) -> np.ndarray:
    """Which count rows come from activity-count files (scored by sleep/wake algorithms), not raw coverage.

    Without the manifest's formats, counts on a night without events are taken as actigraphy counts.
    """
    if not len(counts):
        return np.zeros(0, dtype=bool)
    if formats is None or "source_sha" not in counts:
        return np.full(len(counts), events.empty)
    from .ingest.counts import COUNT_FORMATS  # here: the ingest package imports its readers' dependencies

    return counts["source_sha"].map(formats).isin(COUNT_FORMATS).to_numpy()


def _coverage(grid, counts, actigraphy, recording, log_events):
    """``(coverage, activity, watched)`` of the grid from every source of the night.

    ``watched``: epochs where movement events were being recorded (a log's recording spans, a raw sensor's
    coverage), as opposed to epochs only an actigraph's counts cover.
    """
    n = len(grid)
    parts, watched = [], np.zeros(n, dtype=bool)
    if len(log_events) or (recording is not None and len(recording)):
        state, _ = grid_coverage(grid, None, recording, log_events)
        parts.append((state, np.full(n, np.nan)))
        watched |= state == RECORDED
    raw = counts[~actigraphy] if len(counts) else counts
    if len(raw):
        state, activity = grid_coverage(grid, raw)
        parts.append((state, activity))
        watched |= state == RECORDED
    if actigraphy.any():
        parts.append(grid_coverage(grid, counts[actigraphy]))
    if not parts:
        return np.full(n, NO_DATA, dtype=object), np.full(n, np.nan), watched
    states = np.vstack([p[0] for p in parts])
    recorded, not_worn = (states == RECORDED).any(axis=0), (states == NOT_WORN).any(axis=0)
    coverage = coverage_state(recorded, not_worn)
    activities = np.vstack([p[1] for p in parts])
    seen = np.isfinite(activities).any(axis=0)
    activity = np.where(seen, np.nansum(np.where(np.isfinite(activities), activities, 0), axis=0), np.nan)
    return coverage, activity, watched


def epoch_features(
    events: pd.DataFrame,
    epoch_starts: pd.DatetimeIndex,
    tz: str,
    *,
    age_weeks: float = np.nan,
    counts: pd.DataFrame | None = None,
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

    Examples
    --------
    >>> import pandas as pd
    >>> from sleepmoves import epoch_features
    >>> from sleepmoves.nights import epoch_grid
    >>> grid = epoch_grid("2026-03-02", "Europe/London")  # noon to noon: 2,880 epochs of 30 s
    >>> events = pd.DataFrame({
    ...     "start": pd.to_datetime(["2026-03-02T21:00:01Z", "2026-03-02T21:00:12Z"]),
    ...     "duration_s": [0.3, 1.4], "limb": ["left_leg", "right_leg"],
    ...     "kind": ["twitch", "kick"], "intensity": [0.2, 0.6]})
    >>> feats = epoch_features(events, grid, "Europe/London", age_weeks=10.0)
    >>> len(feats), feats.loc[feats["n_events"] > 0, ["n_twitch", "n_kick"]].values.tolist()
    (2880, [[1.0, 1.0]])
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
    # no data is not "no large movement": distances do not reach across it, and settling needs recorded time
    frame["min_since_big"], frame["min_to_big"] = _distance_to_marks(big_epochs, valid)
    frame["hours_since_settled"] = _hours_since_settled(big_epochs, valid)

    local = epoch_starts.tz_convert(tz)
    clock_h = local.hour + local.minute / 60
    frame["clock_sin"] = np.sin(2 * np.pi * clock_h / 24)
    frame["clock_cos"] = np.cos(2 * np.pi * clock_h / 24)
    frame["age_weeks"] = float(age_weeks)
    frame["activity"] = activity
    movement = [
        c for c in frame.columns if c.startswith(("n_", "move_s", "max_intensity", "min_since", "min_to"))
    ]
    frame.loc[~valid, movement] = np.nan
    frame["coverage"] = coverage
    frame["valid"] = valid
    return frame


def _hours_since_settled(big_epochs: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Hours since the first 10 recorded minutes without a large movement (negative before; NaN if none).

    Epochs without data never count towards settling: a sensor left on a table is not a baby asleep."""
    run = int(SETTLED_MIN * 60 / EPOCH_S)
    n = len(big_epochs)
    if n < run:
        return np.full(n, np.nan)
    calm = ~big_epochs & valid
    quiet_windows = np.lib.stride_tricks.sliding_window_view(calm, run).all(axis=1)
    if not quiet_windows.any():
        return np.full(n, np.nan)
    settled = int(np.argmax(quiet_windows))
    return (np.arange(n) - settled) * EPOCH_S / 3600


def _distance_to_marks(marks: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minutes since the previous and until the next marked epoch, looking only across recorded epochs, capped at
    :data:`GAP_CAP_MIN`. Where no mark is seen on that side before the data stops, the distance is the cap if the
    recorded stretch is that long, else unknown (NaN): a mark may lie in the time nobody recorded."""
    n = len(marks)
    pos = np.arange(n, dtype="float64")
    stretch = np.cumsum(np.r_[True, valid[1:] != valid[:-1]])  # an id per run of recorded / unrecorded epochs
    frame = pd.DataFrame({"mark": np.where(marks & valid, pos, np.nan), "pos": pos, "stretch": stretch})
    by_stretch = frame.groupby("stretch")
    prev, nxt = by_stretch["mark"].ffill().to_numpy(), by_stretch["mark"].bfill().to_numpy()
    first, last = by_stretch["pos"].transform("min").to_numpy(), by_stretch["pos"].transform("max").to_numpy()
    per_min = 60 / EPOCH_S
    out = []
    for mark, edge in ((pos - prev, pos - first + 1), (nxt - pos, last - pos + 1)):
        seen = np.minimum(mark / per_min, GAP_CAP_MIN)
        unseen = np.where(edge / per_min >= GAP_CAP_MIN, GAP_CAP_MIN, np.nan)
        out.append(np.where(np.isnan(mark), unseen, seen))
    return out[0], out[1]


def age_in_weeks(born, night) -> float:
    """Age in weeks on a night; NaN when the birth date is unknown."""
    if born is None or (not isinstance(born, str) and pd.isna(born)):
        return float("nan")
    return (pd.Timestamp(str(night)) - pd.Timestamp(str(born))).days / 7
