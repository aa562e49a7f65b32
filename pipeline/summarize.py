"""Night metrics from one night's phases and events (definitions from ``science.md``).

Definitions, stamped into exports by :data:`DEFINITIONS`:
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .schema import EPOCH_S, PHASES

ONSET_EPOCHS = 3  # sleep onset = first of >= 3 consecutive sleep epochs

DEFINITIONS = {
    "sleep_onset": f"start of the first run of >= {ONSET_EPOCHS} consecutive sleep epochs (active, quiet or transition)",
    "sleep_offset": "end of the last sleep epoch",
    "total_sleep_min": "minutes of sleep epochs between onset and offset",
    "waso_min": "wake after sleep onset: minutes of awake epochs between onset and offset",
    "min_<phase>": "minutes of each phase over the recorded night",
    "pct_<phase>": "share of each sleep phase in total sleep (%)",
    "twitches_per_h_<phase>": "twitches starting in epochs of that phase, per hour of that phase",
    "recorded_min": "minutes from the first to the last recorded epoch",
}
__doc__ += "\n" + "\n".join(f"* ``{k}``: {v}" for k, v in DEFINITIONS.items())


def sleep_onset_index(asleep: np.ndarray, run: int = ONSET_EPOCHS) -> int | None:
    """Index of the first epoch of the first run of ``run`` consecutive True values, or None."""
    if len(asleep) < run:
        return None
    windows = np.lib.stride_tricks.sliding_window_view(asleep.astype(np.int8), run).sum(axis=1)
    hits = np.flatnonzero(windows == run)
    return int(hits[0]) if len(hits) else None


def night_metrics(phases: pd.DataFrame, events: pd.DataFrame) -> dict:
    """Metrics of one night.

    Parameters
    ----------
    phases : DataFrame
        ``epoch_start`` (UTC, ascending) and ``phase``.
    events : DataFrame
        ``start`` (UTC) and ``kind``.

    Returns
    -------
    dict
        Times as UTC timestamps (NaT when there is no sleep), durations in minutes, rates per hour.
    """
    phase = phases["phase"].to_numpy().astype(str)
    starts = pd.DatetimeIndex(pd.to_datetime(phases["epoch_start"], utc=True))
    per_min = 60 / EPOCH_S
    asleep = phase != "awake"
    onset = sleep_onset_index(asleep)
    out: dict = {
        "recording_start": starts[0] if len(starts) else pd.NaT,
        "recording_end": starts[-1] + pd.Timedelta(seconds=EPOCH_S) if len(starts) else pd.NaT,
        "recorded_min": len(phase) / per_min,
    }
    if onset is None:
        offset = None
        out.update(sleep_onset=pd.NaT, sleep_offset=pd.NaT, total_sleep_min=0.0, waso_min=0.0)
    else:
        offset = int(np.flatnonzero(asleep)[-1])  # last sleep epoch
        period = asleep[onset : offset + 1]
        out.update(
            sleep_onset=starts[onset],
            sleep_offset=starts[offset] + pd.Timedelta(seconds=EPOCH_S),
            total_sleep_min=float(period.sum() / per_min),
            waso_min=float((~period).sum() / per_min),
        )
    sleep_total = asleep.sum()
    for p in PHASES:
        out[f"min_{p}"] = float((phase == p).sum() / per_min)
    for p in PHASES[1:]:
        out[f"pct_{p}"] = float(100 * (phase == p).sum() / sleep_total) if sleep_total else np.nan

    # Twitches per hour of each phase: each twitch takes the phase of the epoch it starts in.
    twitch_starts = pd.to_datetime(events.loc[events["kind"] == "twitch", "start"], utc=True)
    idx = (
        ((twitch_starts - starts[0]).dt.total_seconds() // EPOCH_S).to_numpy()
        if len(starts)
        else np.array([])
    )
    idx = idx[(idx >= 0) & (idx < len(phase))].astype(int)
    twitch_phase = phase[idx]
    for p in PHASES:
        hours = (phase == p).sum() / per_min / 60
        out[f"twitches_per_h_{p}"] = float((twitch_phase == p).sum() / hours) if hours else np.nan
    for k in ("twitch", "kick", "startle"):
        out[f"n_{k}"] = int((events["kind"] == k).sum())
    out["n_events"] = int(len(events))
    return out
