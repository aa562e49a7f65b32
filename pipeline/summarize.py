"""Night metrics from one night's phases and events (definitions from ``science.md``).

Every metric is defined once, in :data:`DEFINITIONS`, and those words are stamped into every export.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .schema import EPOCH_S, PHASES

ONSET_EPOCHS = 3  # sleep onset = first of >= 3 consecutive sleep epochs (science.md; configurable)
WAKE_BOUT_EPOCHS = 2  # a wake bout is >= 2 consecutive awake epochs (science.md)
MIN_EPISODE_EPOCHS = 3  # an active or quiet episode lasts >= 1.5 min; shorter runs are label flicker
RATE_KINDS = ("twitch", "kick", "startle")
LIMB_PAIRS = {"legs": ("left_leg", "right_leg"), "arms": ("left_arm", "right_arm")}

DEFINITIONS = {
    "sleep_onset": f"start of the first run of >= {ONSET_EPOCHS} consecutive sleep epochs (active, quiet or transition)",
    "sleep_offset": "end of the last sleep epoch",
    "sleep_period_min": "minutes from sleep onset to sleep offset",
    "total_sleep_min": "minutes of sleep epochs between onset and offset",
    "waso_min": "wake after sleep onset: minutes of awake epochs between onset and offset",
    "wake_bouts": f"runs of >= {WAKE_BOUT_EPOCHS} consecutive awake epochs between onset and offset",
    "longest_sleep_min": f"longest stretch between onset and offset not broken by a wake bout of >= {WAKE_BOUT_EPOCHS} epochs",
    "min_<phase>, pct_<phase>": "minutes of each phase over the recording; share of each sleep phase in total sleep (%)",
    "cycles": f"number of active-sleep episodes followed by a quiet-sleep episode (episodes >= {MIN_EPISODE_EPOCHS} epochs; transition epochs between them ignored)",
    "mean_cycle_min": "mean minutes between the starts of successive active runs that begin a cycle",
    "<kind>_per_h": "twitches, kicks, startles per hour of recording",
    "<kind>_per_h_<phase>": "movements starting in epochs of that phase, per hour of that phase",
    "lr_ratio_<legs|arms>": "movements of the left limb divided by those of the right (1 = symmetric)",
    "nodata_min": "minutes of the recording without usable sensor data (gaps, flat signal, not worn)",
    "recorded_min": "minutes of epochs with data",
}
__doc__ += "\n" + "\n".join(f"* ``{k}``: {v}" for k, v in DEFINITIONS.items())


def sleep_onset_index(asleep: np.ndarray, run: int = ONSET_EPOCHS) -> int | None:
    """Index of the first epoch of the first run of ``run`` consecutive True values, or None."""
    if len(asleep) < run:
        return None
    windows = np.lib.stride_tricks.sliding_window_view(asleep.astype(np.int8), run).sum(axis=1)
    hits = np.flatnonzero(windows == run)
    return int(hits[0]) if len(hits) else None


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, length, value) of each run of equal values."""
    if len(values) == 0:
        return np.array([], int), np.array([], int), values[:0]
    change = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts = np.r_[0, change]
    lengths = np.diff(np.r_[starts, len(values)])
    return starts, lengths, values[starts]


def cycles(phase: np.ndarray) -> tuple[int, float]:
    """Active->quiet cycles and their mean length in minutes (see :data:`DEFINITIONS`)."""
    keep = phase != "transition"
    core, index = phase[keep], np.flatnonzero(keep)
    starts, lengths, values = _runs(core)
    # episodes shorter than MIN_EPISODE_EPOCHS are flicker, not a state: drop them, then re-join the runs
    long = lengths >= MIN_EPISODE_EPOCHS
    kept = np.repeat(long, lengths)
    core, index = core[kept], index[kept]
    starts, _, values = _runs(core)
    cycle_starts = [
        index[starts[i]] for i in range(len(values) - 1) if values[i] == "active" and values[i + 1] == "quiet"
    ]
    if len(cycle_starts) < 2:
        return len(cycle_starts), float("nan")
    return len(cycle_starts), float(np.diff(cycle_starts).mean() * EPOCH_S / 60)


def night_metrics(phases: pd.DataFrame, events: pd.DataFrame, onset_epochs: int = ONSET_EPOCHS) -> dict:
    """Metrics of one night.

    Parameters
    ----------
    phases : DataFrame
        ``epoch_start`` (UTC, ascending) and ``phase``; epochs without data are simply absent.
    events : DataFrame
        ``start`` (UTC), ``kind`` and ``limb``.
    onset_epochs : int
        Consecutive sleep epochs that make sleep onset.

    Returns
    -------
    dict
        Times as UTC timestamps (NaT when there is no sleep), durations in minutes, rates per hour.
    """
    phase = phases["phase"].to_numpy().astype(str)
    starts = pd.DatetimeIndex(pd.to_datetime(phases["epoch_start"], utc=True))
    per_min = 60 / EPOCH_S
    asleep = phase != "awake"
    onset = sleep_onset_index(asleep, onset_epochs)
    out: dict = {
        "recording_start": starts[0] if len(starts) else pd.NaT,
        "recording_end": starts[-1] + pd.Timedelta(seconds=EPOCH_S) if len(starts) else pd.NaT,
        "recorded_min": len(phase) / per_min,
    }
    if onset is None:
        out.update(
            sleep_onset=pd.NaT, sleep_offset=pd.NaT, sleep_period_min=0.0, total_sleep_min=0.0, waso_min=0.0,
            wake_bouts=0, longest_sleep_min=0.0,
        )  # fmt: skip
    else:
        offset = int(np.flatnonzero(asleep)[-1])  # last sleep epoch
        period = asleep[onset : offset + 1]
        run_starts, run_lengths, run_values = _runs(period)
        bouts = (~run_values) & (run_lengths >= WAKE_BOUT_EPOCHS)
        # stretches between wake bouts: a 1-epoch wake does not break a stretch
        breaks = np.r_[0, run_starts[bouts], run_starts[bouts] + run_lengths[bouts], len(period)]
        breaks = np.sort(breaks).reshape(-1, 2)
        longest = max(int(period[a:b].sum()) for a, b in breaks) if len(breaks) else 0
        out.update(
            sleep_onset=starts[onset],
            sleep_offset=starts[offset] + pd.Timedelta(seconds=EPOCH_S),
            sleep_period_min=float((starts[offset] - starts[onset]).total_seconds() / 60 + EPOCH_S / 60),
            total_sleep_min=float(period.sum() / per_min),
            waso_min=float((~period).sum() / per_min),
            wake_bouts=int(bouts.sum()),
            longest_sleep_min=float(longest / per_min),
        )
    sleep_total = asleep.sum()
    for p in PHASES:
        out[f"min_{p}"] = float((phase == p).sum() / per_min)
    for p in PHASES[1:]:
        out[f"pct_{p}"] = float(100 * (phase == p).sum() / sleep_total) if sleep_total else np.nan
    out["cycles"], out["mean_cycle_min"] = cycles(phase)

    # Each movement takes the phase of the epoch it starts in (none when that epoch has no data).
    ev_starts = (
        pd.DatetimeIndex(pd.to_datetime(events["start"], utc=True))
        if len(events)
        else pd.DatetimeIndex([], tz="UTC")
    )
    where = starts.searchsorted(ev_starts, side="right") - 1
    ok = where >= 0
    ok[ok] = (ev_starts[ok] - starts[where[ok]]) < pd.Timedelta(seconds=EPOCH_S)
    event_phase = np.full(len(ev_starts), "", dtype=object)
    event_phase[ok] = phase[where[ok]]
    kinds = events["kind"].to_numpy().astype(str) if len(events) else np.array([], str)
    hours = len(phase) / per_min / 60
    for k in RATE_KINDS:
        is_kind = kinds == k
        out[f"n_{k}"] = int(is_kind.sum())
        out[f"{k}s_per_h" if k != "twitch" else "twitches_per_h"] = (
            float(is_kind.sum() / hours) if hours else np.nan
        )
        for p in PHASES:
            p_hours = (phase == p).sum() / per_min / 60
            name = f"{'twitches' if k == 'twitch' else k + 's'}_per_h_{p}"
            out[name] = float((is_kind & (event_phase == p)).sum() / p_hours) if p_hours else np.nan
    out["n_events"] = int(len(events))
    limbs = events["limb"].to_numpy().astype(str) if len(events) and "limb" in events else np.array([], str)
    for pair, (left, right) in LIMB_PAIRS.items():
        n_left, n_right = int((limbs == left).sum()), int((limbs == right).sum())
        out[f"n_{left}"], out[f"n_{right}"] = n_left, n_right
        out[f"lr_ratio_{pair}"] = float(n_left / n_right) if n_right else np.nan
    return out


# ---------------------------------------------------------------------- weeks
COMPARED_METRICS = (
    "total_sleep_min",
    "waso_min",
    "wake_bouts",
    "longest_sleep_min",
    "pct_active",
    "pct_quiet",
    "cycles",
    "mean_cycle_min",
    "twitches_per_h_active",
    "twitches_per_h_quiet",
    "kicks_per_h",
    "startles_per_h",
)


def week_nights(week: str) -> tuple[str, str]:
    """First and last night (``YYYY-MM-DD``) of an ISO week ``YYYY-Www``, or of a range ``START..END``."""
    if ".." in week:
        start, end = week.split("..", 1)
        return str(pd.Timestamp(start).date()), str(pd.Timestamp(end).date())
    try:
        monday = pd.Timestamp.fromisocalendar(int(week[:4]), int(week.split("W")[1]), 1)
    except (ValueError, IndexError):
        from .schema import SleepmovesError

        raise SleepmovesError(
            f"invalid week {week!r}: use an ISO week such as 2026-W10, or START..END dates"
        ) from None
    return str(monday.date()), str((monday + pd.Timedelta(days=6)).date())


def compare_weeks(nights_a: pd.DataFrame, nights_b: pd.DataFrame, metrics=COMPARED_METRICS) -> pd.DataFrame:
    """Per metric: mean and SD in each period, difference (b - a), Mann-Whitney U p-value and effect size.

    The effect size is the rank-biserial correlation r = 1 - 2U / (n_a n_b): 0 no difference, +-1 every night of
    one period above every night of the other. Nights are the unit (each night one value).
    """
    from scipy.stats import mannwhitneyu

    rows = []
    for metric in metrics:
        a = pd.to_numeric(nights_a.get(metric, pd.Series(dtype=float)), errors="coerce").dropna().to_numpy()
        b = pd.to_numeric(nights_b.get(metric, pd.Series(dtype=float)), errors="coerce").dropna().to_numpy()
        row = {
            "metric": metric,
            "nights_a": len(a),
            "mean_a": a.mean() if len(a) else np.nan,
            "sd_a": a.std(ddof=1) if len(a) > 1 else np.nan,
            "nights_b": len(b),
            "mean_b": b.mean() if len(b) else np.nan,
            "sd_b": b.std(ddof=1) if len(b) > 1 else np.nan,
        }
        row["difference"] = row["mean_b"] - row["mean_a"]
        if len(a) >= 2 and len(b) >= 2 and not (np.all(a == a[0]) and np.all(b == a[0])):
            u, p = mannwhitneyu(b, a, alternative="two-sided")
            row["p_value"], row["effect_size"] = float(p), float(2 * u / (len(a) * len(b)) - 1)
        else:
            row["p_value"], row["effect_size"] = np.nan, np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def transition_matrix(phases: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts and row probabilities of phase -> next phase between consecutive epochs of the same night."""
    counts = pd.DataFrame(0, index=list(PHASES), columns=list(PHASES))
    if len(phases):
        keys = [c for c in ("subject", "night") if c in phases]
        frame = phases.sort_values([*keys, "epoch_start"]).reset_index(drop=True)
        grouped = frame.groupby(keys) if keys else frame.groupby(np.zeros(len(frame)))
        nxt = grouped["phase"].shift(-1)
        gap = grouped["epoch_start"].shift(-1) - frame["epoch_start"]
        ok = nxt.notna() & (gap == pd.Timedelta(seconds=EPOCH_S))  # no pairs across a no-data gap
        table = pd.crosstab(frame.loc[ok, "phase"], nxt[ok])
        counts = counts.add(
            table.reindex(index=list(PHASES), columns=list(PHASES), fill_value=0), fill_value=0
        ).astype(int)
    probs = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)
    return counts, probs
