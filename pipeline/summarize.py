"""Night metrics from one night's phases and events (definitions from ``science.md``).

Every metric is defined once, in :data:`DEFINITIONS`, and those words are stamped into every export.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .runs import runs
from .schema import ASLEEP_PHASES, EPOCH_S, NO_DATA, PHASES

# NO_DATA is also the phase word of a grid epoch without data: never sleep, never wake

WAKE_BOUT_EPOCHS = 2  # a wake bout is >= 2 consecutive awake epochs (science.md)
MIN_EPISODE_EPOCHS = 3  # an active or quiet episode lasts >= 1.5 min; shorter runs are label flicker
RATE_KINDS = ("twitch", "kick", "startle")
LIMB_PAIRS = {"legs": ("left_leg", "right_leg"), "arms": ("left_arm", "right_arm")}

DEFINITIONS = {
    "sleep_onset": "start of the night's sleep period: the parent's diary, else the first of 5 consecutive sleep minutes (Tudor-Locke rule)",
    "sleep_offset": "end of the night's sleep period: where 10 consecutive wake minutes begin, or the diary's end",
    "sleep_period_min": "minutes from sleep onset to sleep offset (the sleep period)",
    "total_sleep_min": "minutes of sleep epochs in the sleep period, over recorded time only",
    "waso_min": "wake after sleep onset: minutes of awake epochs in the sleep period, over recorded time only",
    "nodata_in_period_min": "minutes of the sleep period without data (neither sleep nor wake; reported beside them)",
    "sleep_efficiency_pct": "total sleep as a share of the recorded minutes of the sleep period (%)",
    "wake_bouts": f"runs of >= {WAKE_BOUT_EPOCHS} consecutive awake epochs in the sleep period (no data ends a run)",
    "longest_sleep_min": f"longest stretch of the sleep period broken neither by a wake bout of >= {WAKE_BOUT_EPOCHS} epochs nor by no data",
    "naps, nap_min": "sleep periods outside the night's (count, minutes of sleep in them)",
    "sleep_24h_min": "total sleep plus nap sleep, noon to noon",
    "min_<phase>, pct_<phase>": "minutes of each phase in the sleep period; share of each sleep phase in total sleep (%); empty when the data cannot tell the phase (counts only)",
    "min_<phase>_low, min_<phase>_high": "a 95 % interval for the minutes of each sleep phase in the sleep period, from the epochs' calibrated probabilities (expected minutes +- 1.96 SD; the epochs of one labelled bout counted as erring together, as they do)",
    "cycles": f"number of active-sleep episodes followed by a quiet-sleep episode (episodes >= {MIN_EPISODE_EPOCHS} epochs; transition epochs between them ignored; no data ends an episode)",
    "mean_cycle_min": "mean minutes between the starts of successive cycles with no data between them",
    "<kind>_per_h": "twitches, kicks, startles per hour of recorded time",
    "<kind>_per_h_<phase>": "movements starting in epochs of that phase, per hour of that phase",
    "lr_ratio_<legs|arms>": "movements of the left limb divided by those of the right (1 = symmetric)",
    "nodata_min": "minutes between the first and last recorded epoch without usable data (gaps, flat signal, monitor off, not worn)",
    "notworn_min": "minutes of the night the sensor was not worn (device off-wrist column, Choi, van Hees)",
    "recorded_min": "minutes of epochs with data",
    "sleepwake": "what scored sleep and wake: the phase model, or the device's own algorithm with its settings",
}
# what a parent reads for each metric (the cards, the About page, the PNG); the keys stay the exported columns
METRIC_NAMES = {
    "sleep_onset": "Fell asleep",
    "sleep_offset": "Woke for the day",
    "sleep_period_min": "Sleep period",
    "total_sleep_min": "Total sleep",
    "waso_min": "Awake in the night",
    "nodata_in_period_min": "No data in the sleep period",
    "sleep_efficiency_pct": "Sleep efficiency",
    "wake_bouts": "Wakings",
    "longest_sleep_min": "Longest stretch",
    "naps, nap_min": "Naps",
    "sleep_24h_min": "Sleep in 24 hours",
    "min_<phase>, pct_<phase>": "Time in each phase",
    "min_<phase>_low, min_<phase>_high": "Likely range of each phase",
    "cycles": "Sleep cycles",
    "mean_cycle_min": "Cycle length",
    "<kind>_per_h": "Movements per hour",
    "<kind>_per_h_<phase>": "Movements per hour of each phase",
    "lr_ratio_<legs|arms>": "Left and right",
    "nodata_min": "No data",
    "notworn_min": "Not worn",
    "recorded_min": "Recorded time",
    "sleepwake": "Scored by",
}
__doc__ += "\n" + "\n".join(f"* ``{k}``: {v}" for k, v in DEFINITIONS.items())
UNITS = {"_min": " (min)", "_pct": " (%)"}


def metric_words(key: str) -> str:
    """A concrete metric column in words: ``twitches_per_h_active`` -> ``Twitches per hour of active sleep``."""
    unit = next((u for end, u in UNITS.items() if key.endswith(end)), "")
    if key in METRIC_NAMES:
        return METRIC_NAMES[key] + unit
    kind, _, phase = key.partition("_per_h")
    if _ and kind:
        of = f" of {phase.lstrip('_')} sleep" if phase.lstrip("_") in PHASES else ""
        return f"{kind.replace('_', ' ').capitalize()} per hour{of}"
    for prefix, words in (("pct_", "{} (% of sleep)"), ("min_", "{} (min)")):
        if key.startswith(prefix) and key[len(prefix) :] in PHASES:
            phase = key[len(prefix) :]
            return words.format("Awake" if phase == "awake" else f"{phase.capitalize()} sleep")
    if key.startswith("lr_ratio_"):
        return f"Left / right {key.removeprefix('lr_ratio_')}"
    return key.replace("_", " ").capitalize()


def cycles(phase: np.ndarray) -> tuple[int, float]:
    """Active->quiet cycles and their mean length in minutes (see :data:`DEFINITIONS`).

    ``phase`` is one word per grid epoch; :data:`NO_DATA` epochs end episodes and are never dropped.
    """
    count, lengths_min = cycle_lengths(phase)
    return count, float(np.mean(lengths_min)) if len(lengths_min) else float("nan")


def episodes(phase: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(start epoch, length in epochs, phase)`` of the active / quiet / awake episodes of a night's grid:
    transition epochs ignored, runs shorter than :data:`MIN_EPISODE_EPOCHS` dropped as flicker (their
    neighbours re-joined); :data:`NO_DATA` runs are kept, whatever their length, and end episodes."""
    keep = phase != "transition"
    core, index = phase[keep], np.flatnonzero(keep)
    starts, lengths, values = runs(core)
    long = (lengths >= MIN_EPISODE_EPOCHS) | (values == NO_DATA)
    kept = np.repeat(long, lengths)
    core, index = core[kept], index[kept]
    starts, _, values = runs(core)
    if not len(starts):
        return starts, starts, values
    first = index[starts]
    # an episode lasts to the next one's start (transition epochs inside it count with it)
    return first, np.r_[first[1:], index[-1] + 1] - first, values


def cycle_lengths(phase: np.ndarray) -> tuple[int, np.ndarray]:
    """The number of active->quiet cycles and the minutes between the starts of successive ones (a length
    spanning no data is left out)."""
    starts, _, values = episodes(phase)
    cycle_at = [i for i in range(len(values) - 1) if values[i] == "active" and values[i + 1] == "quiet"]
    gaps = np.cumsum(values == NO_DATA)
    lengths_min = [
        (starts[j] - starts[i]) * EPOCH_S / 60
        for i, j in zip(cycle_at[:-1], cycle_at[1:], strict=True)
        if gaps[j] == gaps[i]
    ]
    return len(cycle_at), np.asarray(lengths_min, dtype="float64")


def bout_statistics(phase_by_night: list[np.ndarray]) -> dict:
    """What a clinician reads of the sleep cycle over several nights' grids: per sleep phase the number of bouts
    (episodes, :func:`episodes`) a night and their median minutes; cycle lengths (median, quartiles); and
    changes between sleep phases per hour of sleep."""
    bouts = {"active": [], "quiet": []}
    lengths, changes, asleep_epochs = [], 0, 0
    for phase in phase_by_night:
        _, episode_lengths, values = episodes(phase)
        for name in bouts:
            bouts[name] += list(episode_lengths[values == name] * EPOCH_S / 60)
        lengths += list(cycle_lengths(phase)[1])
        sleeping = np.isin(phase, ("active", "quiet", "transition"))
        asleep_epochs += int(sleeping.sum())
        changes += int((sleeping[1:] & sleeping[:-1] & (phase[1:] != phase[:-1])).sum())
    nights = max(len(phase_by_night), 1)
    out = {}
    for name, found in bouts.items():
        out[f"{name} bouts a night"] = len(found) / nights
        out[f"{name} bout, median min"] = float(np.median(found)) if found else float("nan")
    quartiles = np.percentile(lengths, [25, 50, 75]) if lengths else [float("nan")] * 3
    out["cycle, median min"] = float(quartiles[1])
    out["cycle, quartiles min"] = (float(quartiles[0]), float(quartiles[2]))
    hours = asleep_epochs * EPOCH_S / 3600
    out["phase changes per hour of sleep"] = changes / hours if hours else float("nan")
    return out


def phases_on_grid(phases: pd.DataFrame, grid: pd.DatetimeIndex) -> np.ndarray:
    """One phase word per grid epoch (``no_data`` where the phase table has none), matched by time."""
    out = np.full(len(grid), NO_DATA, dtype=object)
    if len(phases) and len(grid):
        starts = pd.DatetimeIndex(pd.to_datetime(phases["epoch_start"], utc=True))
        where = grid.get_indexer(starts)
        ok = where >= 0
        out[where[ok]] = phases["phase"].to_numpy()[ok]
    return out


INTERVAL_Z = 1.96  # a 95 % interval


def phase_minutes_interval(
    phases: pd.DataFrame, grid: pd.DatetimeIndex, in_period: np.ndarray, phase: np.ndarray
) -> dict:
    """``min_<phase>_low`` / ``_high`` for each sleep phase: a 95 % interval for its minutes in the sleep period.

    The expected minutes are the sum of the epochs' calibrated probabilities of the phase. Epoch errors are not
    independent: the model mislabels whole bouts, not single epochs (on simulated nights, an interval that
    treated epochs as independent held the true minutes 26 % of the time). So each bout of one label (a run of
    ``phase``) counts as one unit whose epochs err together: the variance is the sum over bouts of the squared
    sum of the epochs' standard deviations. NaN when the night has no phase probabilities (counts only).
    """
    out = {}
    n = len(grid)
    probabilities = {}
    if len(phases) and n and "p_active" in phases:
        where = grid.get_indexer(pd.DatetimeIndex(pd.to_datetime(phases["epoch_start"], utc=True)))
        ok = where >= 0
        for p in PHASES[1:]:
            column = np.full(n, np.nan)
            column[where[ok]] = phases[f"p_{p}"].to_numpy(dtype="float64")[ok]
            probabilities[p] = column
    starts, lengths, _ = runs(phase[in_period])
    bout = np.repeat(np.arange(len(starts)), lengths)
    per_min = 60 / EPOCH_S
    for p in PHASES[1:]:
        values = probabilities.get(p, np.full(n, np.nan))[in_period]
        if not len(values) or not np.isfinite(values).any():
            out[f"min_{p}_low"] = out[f"min_{p}_high"] = np.nan
            continue
        values = np.nan_to_num(values)
        expected = values.sum() / per_min
        spread = np.sqrt(values * (1 - values))
        sd = np.sqrt(np.sum(np.bincount(bout, weights=spread, minlength=len(starts)) ** 2)) / per_min
        out[f"min_{p}_low"] = float(max(0.0, expected - INTERVAL_Z * sd))
        out[f"min_{p}_high"] = float(expected + INTERVAL_Z * sd)
    return out


def night_metrics(
    phases: pd.DataFrame,
    events: pd.DataFrame,
    *,
    grid: pd.DatetimeIndex | None = None,
    periods=None,
    tz: str = "UTC",
) -> dict:
    """Metrics of one night, on its time grid (see :data:`DEFINITIONS`).

    Parameters
    ----------
    phases : DataFrame
        ``epoch_start`` (UTC) and ``phase`` of the epochs with data; any other epoch of ``grid`` is no data.
    events : DataFrame
        ``start`` (UTC), ``kind`` and ``limb``.
    grid : DatetimeIndex, optional
        The night's 30-s epochs (default: from the first to the last phase epoch).
    periods : :class:`sleepmoves.periods.SleepPeriods`, optional
        The night's sleep period and naps (default: found from the phases by the rest-interval rule).
    tz : str
        The baby's zone (for finding the sleep period when ``periods`` is not given).

    Returns
    -------
    dict
        Times as UTC timestamps (NaT when there is no sleep period), durations in minutes, rates per hour.

    Examples
    --------
    >>> import datetime as dt
    >>> from sleepmoves import label_night, night_metrics
    >>> from sleepmoves.simulate import make_babies, simulate_night
    >>> baby = make_babies(1, seed=0)[0]
    >>> events, _ = simulate_night(baby, dt.date(2026, 3, 2))
    >>> phases = label_night(events, night="2026-03-02", tz=baby.tz, born=baby.born).phases
    >>> m = night_metrics(phases, events, tz=baby.tz)
    >>> m["total_sleep_min"] <= m["sleep_period_min"], round(m["pct_active"] + m["pct_quiet"] + m["pct_transition"])
    (True, 100)
    >>> m["twitches_per_h_active"] > m["twitches_per_h_quiet"]
    True
    """
    from .periods import sleep_periods

    if grid is None:
        starts = pd.DatetimeIndex(pd.to_datetime(phases["epoch_start"], utc=True)).sort_values()
        n = int((starts[-1] - starts[0]).total_seconds() // EPOCH_S) + 1 if len(starts) else 0
        grid = pd.DatetimeIndex(
            (starts[0] if len(starts) else pd.Timestamp(0, tz="UTC"))
            + pd.to_timedelta(np.arange(n) * EPOCH_S, unit="s")
        )
    phase = phases_on_grid(phases, grid)
    recorded = phase != NO_DATA
    asleep = np.isin(phase, ASLEEP_PHASES)
    awake = phase == "awake"
    if periods is None:
        periods = sleep_periods(grid, np.where(recorded, asleep, np.nan), tz)
    per_min = 60 / EPOCH_S
    seen = np.flatnonzero(recorded)
    step = pd.Timedelta(seconds=EPOCH_S)
    out: dict = {
        "recording_start": grid[seen[0]] if len(seen) else pd.NaT,
        "recording_end": grid[seen[-1]] + step if len(seen) else pd.NaT,
        "recorded_min": recorded.sum() / per_min,
        "nodata_min": float((~recorded[seen[0] : seen[-1] + 1]).sum() / per_min) if len(seen) else 0.0,
        "sleep_period_source": periods.source,
    }
    in_period = np.zeros(len(grid), dtype=bool)
    if periods.night is None:
        out.update(
            sleep_onset=pd.NaT, sleep_offset=pd.NaT, sleep_period_min=0.0, total_sleep_min=0.0, waso_min=0.0,
            nodata_in_period_min=0.0, sleep_efficiency_pct=np.nan, wake_bouts=0, longest_sleep_min=0.0,
        )  # fmt: skip
    else:
        a, b = periods.night
        in_period[a:b] = True
        state = np.where(asleep[a:b], "S", np.where(awake[a:b], "W", "N"))
        run_starts, run_lengths, run_values = runs(state)
        bouts = (run_values == "W") & (run_lengths >= WAKE_BOUT_EPOCHS)
        # stretches between wake bouts and no data: a 1-epoch wake does not break a stretch
        breaks = bouts | (run_values == "N")
        stretch_id = np.repeat(np.cumsum(breaks), run_lengths)
        sleep_in = state == "S"
        longest = np.bincount(stretch_id[sleep_in]).max() if sleep_in.any() else 0
        tst, waso = sleep_in.sum() / per_min, (state == "W").sum() / per_min
        out.update(
            sleep_onset=grid[a],
            sleep_offset=grid[b - 1] + step,
            sleep_period_min=float((b - a) / per_min),
            total_sleep_min=float(tst),
            waso_min=float(waso),
            nodata_in_period_min=float((state == "N").sum() / per_min),
            sleep_efficiency_pct=float(100 * tst / (tst + waso)) if tst + waso else np.nan,
            wake_bouts=int(bouts.sum()),
            longest_sleep_min=float(longest / per_min),
        )
    nap_sleep = sum(int(asleep[a:b].sum()) for a, b in periods.naps) / per_min
    out["naps"], out["nap_min"] = len(periods.naps), float(nap_sleep)
    out["sleep_24h_min"] = out["total_sleep_min"] + out["nap_min"]
    staged = np.isin(phase, PHASES[1:]).any()  # counts alone say asleep, not which phase
    sleep_total = asleep[in_period].sum()
    for p in PHASES:
        out[f"min_{p}"] = float((phase[in_period] == p).sum() / per_min) if staged or p == "awake" else np.nan
    for p in PHASES[1:]:
        out[f"pct_{p}"] = (
            float(100 * (phase[in_period] == p).sum() / sleep_total) if sleep_total and staged else np.nan
        )
    out["cycles"], out["mean_cycle_min"] = cycles(phase[in_period]) if staged else (np.nan, np.nan)
    out.update(phase_minutes_interval(phases, grid, in_period, phase))

    # Each movement takes the phase of the epoch it starts in (none when that epoch has no data).
    ev_starts = (
        pd.DatetimeIndex(pd.to_datetime(events["start"], utc=True))
        if len(events)
        else pd.DatetimeIndex([], tz="UTC")
    )
    where = (
        np.asarray((ev_starts - grid[0]) // step, dtype=np.int64)
        if len(grid) and len(ev_starts)
        else np.zeros(0, np.int64)
    )
    ok = (where >= 0) & (where < len(grid))
    event_phase = np.full(len(ev_starts), "", dtype=object)
    event_phase[ok] = phase[where[ok]]
    kinds = events["kind"].to_numpy().astype(str) if len(events) else np.array([], str)
    # movement rates need movements: a night known from counts alone has none to count
    hours = recorded.sum() / per_min / 60 if staged or len(events) else 0
    for k in RATE_KINDS:
        is_kind = kinds == k
        out[f"n_{k}"] = int(is_kind.sum())
        out[f"{k}s_per_h" if k != "twitch" else "twitches_per_h"] = (
            float((is_kind & ok & (event_phase != NO_DATA)).sum() / hours) if hours else np.nan
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


def sleep_statistics(phases) -> dict:
    """The usual statistics of a hypnogram of 30-s epochs, as YASA's ``sleep_statistics`` defines them.

    Unlike :func:`night_metrics` (which finds the night's sleep period by the rest-interval rule and sets naps
    apart), this takes the hypnogram as it is: the sleep period runs from its first to its last sleep epoch.
    Epochs without data count as YASA's unscored ones: in the time in bed, never as sleep or wake.

    Parameters
    ----------
    phases : DataFrame or sequence of str
        A phase word per consecutive 30-s epoch -- ``awake``, ``active``, ``quiet``, ``transition`` (or
        ``asleep`` when only sleep is known), ``no_data`` for an epoch without data -- or a DataFrame with
        ``epoch_start`` and ``phase`` (such as :attr:`NightLabels.phases`), whose missing epochs are no data.

    Returns
    -------
    dict
        Minutes unless marked %: ``TIB`` (every epoch), ``SPT`` (first to last sleep epoch), ``WASO`` (awake
        within SPT), ``TST`` (asleep within SPT), ``SE`` (TST / TIB, %), ``SME`` (TST / SPT, %), ``SOL`` (start to
        the first sleep epoch); per phase its minutes (``active``, ``quiet``, ``transition``), its share of TST
        (``%active``, ...) and its latency from the start (``Lat_active``, ``Lat_quiet``, ``Lat_transition``).
        NaN where a figure has no meaning (no sleep: WASO, SOL, SME, the shares and latencies).

    Examples
    --------
    >>> from sleepmoves import sleep_statistics
    >>> night = ["awake"] * 20 + ["active"] * 40 + ["quiet"] * 60 + ["awake"] * 4 + ["quiet"] * 40 + ["awake"] * 30
    >>> stats = sleep_statistics(night)
    >>> stats["TST"], stats["WASO"], stats["SOL"], stats["Lat_quiet"], round(stats["%quiet"], 1)
    (70.0, 2.0, 10.0, 30.0, 71.4)
    """
    if isinstance(phases, pd.DataFrame):
        words = _on_own_grid(phases)
    else:
        words = np.asarray(list(phases), dtype=object)
    minutes = EPOCH_S / 60
    nan = float("nan")
    sleep_at = np.flatnonzero(np.isin(words, ASLEEP_PHASES))
    out = {"TIB": float(len(words) * minutes)}
    if not len(sleep_at):
        out.update({"SPT": 0.0, "WASO": nan, "TST": 0.0, "SE": 0.0, "SME": nan, "SOL": nan})
        for phase in ("active", "quiet", "transition"):
            out.update({phase: 0.0, f"%{phase}": nan, f"Lat_{phase}": nan})
        return out
    first, last = sleep_at[0], sleep_at[-1]
    period = words[first : last + 1]
    tst = float(np.isin(period, ASLEEP_PHASES).sum() * minutes)
    out["SPT"] = float(len(period) * minutes)
    out["WASO"] = float((period == "awake").sum() * minutes)
    out["TST"] = tst
    out["SE"] = tst / out["TIB"] * 100
    out["SME"] = tst / out["SPT"] * 100
    out["SOL"] = float(first * minutes)
    for phase in ("active", "quiet", "transition"):
        at = np.flatnonzero(words == phase)
        out[phase] = float((period == phase).sum() * minutes)
        out[f"%{phase}"] = out[phase] / tst * 100
        out[f"Lat_{phase}"] = float(at[0] * minutes) if len(at) else nan
    return out


def _on_own_grid(phases: pd.DataFrame) -> np.ndarray:
    """Phase words on the 30-s grid from the first to the last epoch of ``phases``; a missing epoch is no data."""
    if not len(phases):
        return np.array([], dtype=object)
    starts = pd.DatetimeIndex(pd.to_datetime(phases["epoch_start"], utc=True))
    grid = pd.date_range(starts.min(), starts.max(), freq=f"{EPOCH_S}s")
    return phases_on_grid(phases, grid)


def week_words(week: str) -> str:
    """``2026-W10 (2–8 Mar 2026)``: an ISO week (or a range) with its dates."""
    first, last = (pd.Timestamp(d) for d in week_nights(week))
    if ".." in week:
        return f"{first:%d %b %Y} – {last:%d %b %Y}"
    start = f"{first.day}" if first.month == last.month else f"{first.day} {first:%b}"
    return f"{week} ({start}–{last.day} {last:%b %Y})"


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


# ---------------------------------------------------------------------- the per-night table
LATENCY_MAX_MIN = 120
# (column, what it holds): the measures an actigraphy report starts with (Actiware's statistics table, GGIR's
# night summary), then the phases and the movements; one row per night, numbers as the night page shows them
NIGHT_TABLE = {
    "night": "the night (local noon to noon) it belongs to",
    "weekday": "the evening's weekday",
    "fell asleep": "sleep onset, local clock",
    "woke for the day": "sleep offset, local clock",
    "sleep period (min)": DEFINITIONS["sleep_period_min"],
    "total sleep (min)": DEFINITIONS["total_sleep_min"],
    "awake in the night (min)": DEFINITIONS["waso_min"],
    "sleep efficiency (%)": DEFINITIONS["sleep_efficiency_pct"],
    "latency (min)": "from the first recorded minute of the night (sensor or monitor on) to sleep onset; blank when "
    f"the recording began more than {LATENCY_MAX_MIN} min before (put on in the day, not at bedtime)",
    "wakings": DEFINITIONS["wake_bouts"],
    "longest stretch (min)": DEFINITIONS["longest_sleep_min"],
    "data in the sleep period (%)": "share of the sleep period with usable data",
    "naps": "naps outside the night",
    "sleep in 24 h (min)": DEFINITIONS["sleep_24h_min"],
    "active sleep (%)": "share of total sleep in active (REM-like) sleep",
    "quiet sleep (%)": "share of total sleep in quiet (NREM-like) sleep",
    "cycles": DEFINITIONS["cycles"],
    "twitches / h active": "twitches per hour of active sleep",
    "twitches / h quiet": "twitches per hour of quiet sleep",
    "kicks / h": "kicks per hour of recorded time",
    "startles / h": "startles per hour of recorded time",
    "flags": "review flags of the night",
    "scored by": DEFINITIONS["sleepwake"],
}


def night_table(nights: pd.DataFrame) -> pd.DataFrame:
    """The per-night table (:data:`NIGHT_TABLE`) of one baby's nights table rows, in night order.

    Minutes and percentages are rounded as the night page rounds them (whole minutes, one decimal for rates and
    shares); clock times are in the baby's zone (the row's ``tz``).
    """
    rows = []
    for row in nights.sort_values("night").to_dict("records"):
        tz = row.get("tz") or "UTC"
        onset, offset = row.get("sleep_onset"), row.get("sleep_offset")
        start = row.get("recording_start")
        period = row.get("sleep_period_min")
        flags = _flag_words(row.get("flags"), tz)
        rows.append(
            {
                "night": str(row["night"]),
                "weekday": pd.Timestamp(str(row["night"])).strftime("%a"),
                "fell asleep": _local_clock(onset, tz),
                "woke for the day": _local_clock(offset, tz),
                "sleep period (min)": _whole(period),
                "total sleep (min)": _whole(row.get("total_sleep_min")),
                "awake in the night (min)": _whole(row.get("waso_min")),
                "sleep efficiency (%)": _tenth(row.get("sleep_efficiency_pct")),
                "latency (min)": _latency(onset, start),
                "wakings": _whole(row.get("wake_bouts")),
                "longest stretch (min)": _whole(row.get("longest_sleep_min")),
                "data in the sleep period (%)": _tenth(
                    100 * (1 - (row.get("nodata_in_period_min") or 0) / period)
                    if period and period > 0
                    else None
                ),
                "naps": _whole(row.get("naps")),
                "sleep in 24 h (min)": _whole(row.get("sleep_24h_min")),
                "active sleep (%)": _tenth(row.get("pct_active")),
                "quiet sleep (%)": _tenth(row.get("pct_quiet")),
                "cycles": _whole(row.get("cycles")),
                "twitches / h active": _whole(row.get("twitches_per_h_active")),
                "twitches / h quiet": _whole(row.get("twitches_per_h_quiet")),
                "kicks / h": _tenth(row.get("kicks_per_h")),
                "startles / h": _tenth(row.get("startles_per_h")),
                "flags": "; ".join(flags),
                "scored by": row.get("sleepwake") or "",
            }
        )
    return pd.DataFrame(rows, columns=list(NIGHT_TABLE))


def _flag_words(encoded, tz: str) -> list[str]:
    """``cluster on waking at 02:19`` for each of a night's flags (the night page has their sentences)."""
    import json

    if not isinstance(encoded, str) or not encoded:
        return []
    return [
        f"{flag['rule'].replace('_', ' ')} at {_local_clock(pd.Timestamp(flag['start']), tz)}"
        for flag in json.loads(encoded)
    ]


def _latency(onset, start) -> int | None:
    if onset is None or start is None or pd.isna(onset) or pd.isna(start):
        return None
    minutes = (onset - start).total_seconds() / 60
    return _whole(minutes) if 0 <= minutes <= LATENCY_MAX_MIN else None


def _local_clock(value, tz: str) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).tz_convert(tz).strftime("%H:%M")


def _whole(value) -> int | None:
    return None if value is None or pd.isna(value) else int(round(float(value)))


def _tenth(value) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 1)
