"""Sleep/wake from activity counts: Sadeh (1994), Cole-Kripke (1992), Actiware, Webster rescoring, and which
algorithm scores which device's counts (:data:`DEVICE_ALGORITHM`, :func:`counts_sleep_on_grid`).

Exactly as written in ``science.md``; each function takes 60-s epoch counts and returns a boolean
array, True = sleep. Windows are zero-padded at the ends. All three are vectorised (no loop over
epochs).

Variants
--------
``variant="actilife"`` (the default) is what ActiGraph's ActiLife computes and what most users compare
against; ``variant="published"`` is the form of the original papers (as in pyActigraphy).

* Sadeh, actilife: counts capped at 300, sleep if PS > -4. published: no cap, sleep if PS >= 0.
* Cole-Kripke, actilife: counts / 100, capped at 300, sleep if D < 1. published: counts as they are.
"""

from __future__ import annotations

import numpy as np

from .runs import runs

VARIANTS = ("actilife", "published")


def _counts(counts) -> np.ndarray:
    a = np.asarray(counts, dtype="float64")
    if a.ndim != 1:
        raise ValueError("counts must be one-dimensional (one value per 60-s epoch)")
    if np.isnan(a).any():
        raise ValueError("counts contain NaN: split the recording at gaps before scoring")
    if (a < 0).any():
        raise ValueError("counts must be >= 0")
    return a


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: use one of {VARIANTS}")


def sadeh_ps(counts, variant: str = "actilife") -> np.ndarray:
    """The Sadeh probability-of-sleep score PS per epoch (before the threshold)."""
    _check_variant(variant)
    a = _counts(counts)
    if variant == "actilife":
        a = np.minimum(a, 300)
    n = len(a)
    padded = np.concatenate([np.zeros(5), a, np.zeros(5)])
    window = np.lib.stride_tricks.sliding_window_view(padded, 11)[:n]  # centred 11-epoch window
    mean_w5 = window.mean(axis=1)
    nat = ((window >= 50) & (window < 100)).sum(axis=1)
    last6 = np.lib.stride_tricks.sliding_window_view(np.concatenate([np.zeros(5), a]), 6)[:n]
    sd_last6 = last6.std(axis=1, ddof=1)
    return 7.601 - 0.065 * mean_w5 - 1.08 * nat - 0.056 * sd_last6 - 0.703 * np.log(a + 1)


def sadeh(counts, *, variant: str = "actilife") -> np.ndarray:
    """Sadeh (1994) sleep/wake on 60-s activity counts.

    Parameters
    ----------
    counts : array-like
        Counts of consecutive 60-s epochs (no NaN: split a recording at its gaps first).
    variant : {"actilife", "published"}
        ActiLife's form (counts capped at 300, sleep if PS > -4) or the paper's (sleep if PS >= 0).

    Returns
    -------
    ndarray of bool
        One value per epoch, True = sleep.

    Examples
    --------
    >>> import numpy as np
    >>> from sleepmoves import sadeh
    >>> counts = np.r_[np.full(5, 600.0), np.zeros(10), np.full(5, 600.0)]
    >>> sadeh(counts).astype(int).tolist()
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    """
    ps = sadeh_ps(counts, variant)
    return ps > -4 if variant == "actilife" else ps >= 0


COLE_KRIPKE_WEIGHTS = np.array([106, 54, 58, 76, 230, 74, 67], dtype="float64")  # A-4 .. A+2


def cole_kripke_d(counts, variant: str = "actilife") -> np.ndarray:
    """The Cole-Kripke activity score D per epoch (before the threshold)."""
    _check_variant(variant)
    a = _counts(counts)
    if variant == "actilife":
        a = np.minimum(a / 100, 300)
    padded = np.concatenate([np.zeros(4), a, np.zeros(2)])
    window = np.lib.stride_tricks.sliding_window_view(padded, 7)[: len(a)]  # A-4 .. A+2 around each epoch
    return 0.001 * window @ COLE_KRIPKE_WEIGHTS


def cole_kripke(counts, *, variant: str = "actilife") -> np.ndarray:
    """Cole-Kripke (1992) sleep/wake on 60-s activity counts.

    Parameters
    ----------
    counts : array-like
        Counts of consecutive 60-s epochs (no NaN).
    variant : {"actilife", "published"}
        ActiLife's form (counts / 100, capped at 300) or the paper's (counts as they are); sleep if D < 1.

    Returns
    -------
    ndarray of bool
        One value per epoch, True = sleep.

    Examples
    --------
    >>> import numpy as np
    >>> from sleepmoves import cole_kripke
    >>> counts = np.r_[np.full(5, 600.0), np.zeros(10), np.full(5, 600.0)]
    >>> cole_kripke(counts).astype(int).tolist()
    [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    """
    return cole_kripke_d(counts, variant) < 1


def webster(sleep) -> np.ndarray:
    """Webster rescoring of a 60-s sleep/wake series.

    Rules, all judged on the input scoring and applied together:
    after >= 4 min of wake the next 1 min of sleep becomes wake; after >= 10 min the next 3 min;
    after >= 15 min the next 4 min; <= 6 min of sleep between >= 15 min of wake on both sides becomes
    wake; <= 10 min of sleep between >= 20 min of wake on both sides becomes wake.

    Parameters
    ----------
    sleep : array-like of bool
        A scoring of consecutive 60-s epochs, True = sleep (e.g. from :func:`sadeh`).

    Returns
    -------
    ndarray of bool
        The rescored series.

    Examples
    --------
    >>> import numpy as np
    >>> from sleepmoves import webster
    >>> scored = np.r_[np.zeros(15, bool), np.ones(10, bool)]  # 15 min awake, then asleep
    >>> webster(scored).astype(int)[14:].tolist()  # the first 4 min of sleep become wake
    [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    """
    s = np.asarray(sleep, dtype=bool)
    out = s.copy()
    if len(s) == 0:
        return out
    starts, lengths, values = runs(s)
    # Rules a-c: the first minutes of a sleep run that follows a long wake run.
    prev_wake = np.concatenate([[0], np.where(~values[:-1], lengths[:-1], 0)])
    rescore = np.select([prev_wake >= 15, prev_wake >= 10, prev_wake >= 4], [4, 3, 1], 0)
    rescore = np.where(values, np.minimum(rescore, lengths), 0)
    # Rules d-e: short sleep runs with long wake runs on both sides.
    next_wake = np.concatenate([np.where(~values[1:], lengths[1:], 0), [0]])
    both = np.minimum(prev_wake, next_wake)
    island = values & (((lengths <= 6) & (both >= 15)) | ((lengths <= 10) & (both >= 20)))
    rescore = np.where(island, lengths, rescore)
    # Expand per-run rescoring into epoch positions (vectorised).
    total = int(rescore.sum())
    if total:
        run_of = np.repeat(np.arange(len(starts)), rescore)
        offset = np.arange(total) - np.repeat(np.cumsum(rescore) - rescore, rescore)
        out[starts[run_of] + offset] = False
    return out


# ---------------------------------------------------------------------- Actiware (Philips Respironics)
# Actiware scores each epoch by a weighted sum of its own count and its neighbours' at the file's own epoch
# length, and calls it wake when the sum is above the wake threshold (low 20, medium 40, high 80). The weights
# are those of the Actiware manual (as in pyActigraphy's ``Oakley``), centred on the scored epoch.
ACTIWARE_WEIGHTS = {
    15: np.array([1 / 25] * 4 + [1 / 5] * 4 + [4] + [1 / 5] * 4 + [1 / 25] * 4),
    30: np.array([1 / 25, 1 / 25, 1 / 5, 1 / 5, 2, 1 / 5, 1 / 5, 1 / 25, 1 / 25]),
    60: np.array([1 / 25, 1 / 5, 1, 1 / 5, 1 / 25]),
    120: np.array(
        [0.12, 0.5, 0.12]
    ),  # pyActigraphy's code (its docstring says 1/8: the manual was not at hand)
}
ACTIWARE_THRESHOLDS = {"low": 20.0, "medium": 40.0, "high": 80.0}
ACTIWARE_AUTO_FACTOR = 0.88888  # Actiware's "auto" threshold (see actiware_auto_threshold)


def actiware_score(counts, epoch_s: int = 60) -> np.ndarray:
    """Actiware's weighted activity sum per epoch (zero-padded at the ends), at its own epoch length."""
    a = _counts(counts)
    if int(epoch_s) not in ACTIWARE_WEIGHTS:
        raise ValueError(f"Actiware scores 15, 30, 60 or 120-s epochs, not {epoch_s} s")
    weights = ACTIWARE_WEIGHTS[int(epoch_s)]
    half = len(weights) // 2
    padded = np.concatenate([np.zeros(half), a, np.zeros(half)])
    return np.lib.stride_tricks.sliding_window_view(padded, len(weights))[: len(a)] @ weights


def actiware(counts, *, epoch_s: int = 60, threshold: float = ACTIWARE_THRESHOLDS["medium"]) -> np.ndarray:
    """Actiware (Philips Respironics) sleep/wake on counts at the file's own epoch length.

    Each epoch's score is a weighted sum of its count and its neighbours' (the manual's weights); the epoch is
    sleep when the score is at or under the wake threshold.

    Parameters
    ----------
    counts : array-like
        Counts of consecutive epochs (no NaN).
    epoch_s : {15, 30, 60, 120}
        The epoch length.
    threshold : float
        The wake threshold: 20 (low), 40 (medium, the default), 80 (high), or
        :func:`actiware_auto_threshold`.

    Returns
    -------
    ndarray of bool
        One value per epoch, True = sleep.

    Examples
    --------
    >>> import numpy as np
    >>> from sleepmoves import actiware
    >>> counts = np.r_[np.full(5, 600.0), np.zeros(10), np.full(5, 600.0)]
    >>> actiware(counts, epoch_s=60).astype(int).tolist()
    [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    """
    return actiware_score(counts, epoch_s) <= threshold


def actiware_auto_threshold(counts, epoch_s: int = 60) -> float:
    """Actiware's automatic wake threshold: 0.88888 x the counts per minute of the mobile epochs.

    An epoch is mobile when its count is at least ``epoch_s / 15`` (Actiware's mobility rule); the threshold is
    the sum of all counts over the mobile time in minutes. The counts' scale cancels out, which is why it
    scores devices whose counts no published threshold fits.
    """
    a = _counts(counts)
    mobile = int((a >= epoch_s / 15).sum())
    if mobile == 0:
        return ACTIWARE_THRESHOLDS["medium"]
    return float(ACTIWARE_AUTO_FACTOR * a.sum() / (mobile * epoch_s / 60))


# ---------------------------------------------------------------------- which algorithm scores which device
ALGORITHMS = {
    "sadeh": "Sadeh 1994 as ActiLife runs it (60-s counts capped at 300, sleep if PS > -4)",
    "sadeh-published": "Sadeh 1994 as published (60-s counts, sleep if PS >= 0)",
    "cole-kripke": "Cole-Kripke 1992 as ActiLife runs it (60-s counts / 100, capped at 300, sleep if D < 1)",
    "cole-kripke-published": "Cole-Kripke 1992 as published (60-s counts, sleep if D < 1)",
    "actiware": "Actiware (weighted sum at the file's epoch length; the threshold the file states, else medium 40)",
    "actiware-low": "Actiware, low wake threshold (20)",
    "actiware-medium": "Actiware, medium wake threshold (40)",
    "actiware-high": "Actiware, high wake threshold (80)",
    "actiware-auto": "Actiware, automatic wake threshold (0.88888 x the counts per minute of mobile epochs)",
}

# The device software's own algorithm, by file format. ActiGraph's ActiLife scores with Sadeh by default;
# Philips Actiware (Actiwatch, and CamNtech's Actiwatch/MotionWatch counts of the same scale) with its weighted
# sum. Counts of other devices have no published scale for these algorithms: they are scored with the
# scale-free automatic Actiware threshold, and the night says so.
DEVICE_ALGORITHM = {
    "agd": "sadeh",
    "actilife-csv": "sadeh",
    "actigraph-iso-csv": "sadeh",
    "awd": "actiware",
    "rpx": "actiware",
    "mtn": "actiware",
}
UNKNOWN_SCALE_ALGORITHM = "actiware-auto"


def check_algorithm(name: str) -> str:
    """Return ``name`` if it is a known sleep/wake algorithm, else raise :class:`SleepmovesError`."""
    from .schema import SleepmovesError

    if name not in ALGORITHMS:
        raise SleepmovesError(
            f"unknown sleep/wake algorithm {name!r}: use auto or one of {', '.join(ALGORITHMS)}"
        )
    return name


def device_algorithm(fmt: str | None) -> tuple[str, bool]:
    """(algorithm, whether the counts' scale is known) for a counts file format."""
    algorithm = DEVICE_ALGORITHM.get(str(fmt))
    return (algorithm, True) if algorithm else (UNKNOWN_SCALE_ALGORITHM, False)


def score_counts(
    counts, epoch_s: int, algorithm: str, threshold: float | None = None
) -> tuple[np.ndarray, int, str]:
    """Sleep/wake of one recording's regular count series with a named algorithm.

    Parameters
    ----------
    counts : array-like
        Counts of consecutive epochs of ``epoch_s`` seconds (no data filled with 0, as the algorithms pad).
    epoch_s : int
        The recording's epoch length.
    algorithm : str
        A key of :data:`ALGORITHMS`.
    threshold : float, optional
        The wake threshold the file states (used by ``actiware``).

    Returns
    -------
    (sleep, scored_epoch_s, setting) : ndarray of bool, int, str
        ``sleep`` per scored epoch; ``scored_epoch_s`` is the length of those epochs (:func:`scored_length`:
        shorter epochs are summed into them, longer ones shared out); ``setting`` says what was run
        ("Actiware, wake threshold 40, 30-s epochs").
    """
    a = _counts(counts)
    check_algorithm(algorithm)
    block, epoch_s = scored_length(algorithm, epoch_s), int(epoch_s)
    if block % epoch_s and epoch_s % block:
        raise ValueError(
            f"{epoch_s}-s epochs do not fit {block}-s blocks: place them with sleepmoves.nights.regular_sums first"
        )
    if block > epoch_s:  # shorter epochs summed into the blocks the algorithm scores
        a = _sum_blocks(a, block // epoch_s)
    elif block < epoch_s:  # longer ones shared out evenly over the blocks they span
        a = np.repeat(a / (epoch_s // block), epoch_s // block)
    if algorithm.startswith(("sadeh", "cole-kripke")):
        variant = "published" if algorithm.endswith("published") else "actilife"
        score = sadeh if algorithm.startswith("sadeh") else cole_kripke
        return score(a, variant=variant), block, ALGORITHMS[algorithm]
    length = block
    series = a
    level = algorithm.removeprefix("actiware").lstrip("-")
    if level == "auto":
        limit = actiware_auto_threshold(series, length)
    elif level:
        limit = ACTIWARE_THRESHOLDS[level]
    else:
        limit = float(threshold) if threshold is not None and np.isfinite(threshold) else 40.0
    setting = (
        f"Actiware, wake threshold {limit:g}{' (automatic)' if level == 'auto' else ''}, {length}-s epochs"
    )
    return actiware(series, epoch_s=length, threshold=limit), length, setting


def scored_length(algorithm: str, epoch_s: int) -> int:
    """The epoch length an algorithm scores a recording of ``epoch_s`` epochs at.

    Sadeh and Cole-Kripke score minutes (longer epochs are shared out over the minutes they span). Actiware
    scores the file's own epochs when it has weights for them (15, 30, 60, 120 s), else the next length it knows
    (5-s MotionWatch epochs summed to 15 s, 45-s epochs shared out over minutes).
    """
    if algorithm.startswith(("sadeh", "cole-kripke")):
        return 60
    for length in sorted(ACTIWARE_WEIGHTS):
        if length >= epoch_s:
            return length
    return max(ACTIWARE_WEIGHTS)


def _sum_blocks(a: np.ndarray, per: int) -> np.ndarray:
    """Sums of consecutive blocks of ``per`` values (the last block may be short)."""
    if per <= 1:
        return a
    pad = (-len(a)) % per
    return np.concatenate([a, np.zeros(pad)]).reshape(-1, per).sum(axis=1)


def counts_sleep_on_grid(
    grid, counts, formats: dict | None = None, override: str | None = None, baby: str | None = None
) -> tuple[np.ndarray, list[str], bool]:
    """Sleep/wake of a night's 30-s grid from its activity-count recordings, each scored as its device would.

    Each recording (source file and limb) is scored on its own time line at its own epoch length, no data
    filled with zeros as the algorithms pad their ends, then placed on the grid by real time. A grid epoch is
    asleep when every scored epoch it overlaps says sleep (any wake wins, as movement on any limb would).

    Parameters
    ----------
    grid : DatetimeIndex
        The night's 30-s epochs (UTC).
    counts : DataFrame
        ``start``, ``epoch_s``, ``count``, ``valid``, ``source_sha``, ``limb`` and optionally ``wake_threshold``
        and ``sleepwake`` (the algorithm chosen for a recording at ingest).
    formats : dict, optional
        Source sha256 -> file format (from the manifest): picks the device's own algorithm.
    override, baby : str, optional
        An algorithm for this run (``process --sleepwake``) and the baby's setting; the order of choice is
        override, recording, baby, device.

    Returns
    -------
    (asleep, settings, scale_known) : ndarray of float (1 sleep, 0 wake, NaN not scored), list of str, bool
    """
    import pandas as pd

    from .nights import on_grid, regular_sums

    n = len(grid)
    awake = np.zeros(n, dtype=bool)
    scored = np.zeros(n, dtype=bool)
    settings, scale_known = [], True
    formats = formats or {}
    for (sha, _limb), rec in counts.groupby(["source_sha", "limb"], sort=True):
        rec = rec.sort_values("start")
        epoch_s = int(rec["epoch_s"].mode().iloc[0])
        chosen = _first_text(rec.get("sleepwake"))
        algorithm, known = device_algorithm(formats.get(sha))
        algorithm = override or chosen or baby or algorithm
        scale_known &= known
        thresholds = rec.get("wake_threshold")
        threshold = (
            float(thresholds.dropna().iloc[0])
            if thresholds is not None and thresholds.notna().any()
            else None
        )
        # the recording's own time line, in the blocks the algorithm scores: minutes for Sadeh and Cole-Kripke
        # (shorter epochs summed into the clock minute they start in, as ActiLife does), the file's own epochs
        # (or the next length Actiware knows) for Actiware
        starts = pd.DatetimeIndex(pd.to_datetime(rec["start"], utc=True))
        block = scored_length(algorithm, epoch_s)
        origin = starts[0].floor(f"{block}s") if block > epoch_s else starts[0]
        n_blocks = int(np.ceil(((starts[-1] - origin).total_seconds() + epoch_s) / block))
        series, has_data = regular_sums(
            starts, rec["epoch_s"].to_numpy(), rec["count"], rec["valid"], origin, block, n_blocks
        )
        sleep, scored_s, setting = score_counts(series, block, algorithm, threshold)
        settings.append(setting if known else f"{setting}; counts of unknown scale")
        block_starts = origin + pd.to_timedelta(np.arange(len(sleep)) * scored_s, unit="s")
        rows = np.flatnonzero(has_data)
        row, epoch, _ = on_grid(grid, block_starts[rows], block_starts[rows] + pd.Timedelta(seconds=scored_s))
        scored[epoch] = True
        awake[epoch[~sleep[rows][row]]] = True
    asleep = np.where(scored, np.where(awake, 0.0, 1.0), np.nan)
    return asleep, list(dict.fromkeys(settings)), scale_known


def _first_text(column) -> str | None:
    if column is None:
        return None
    text = column.dropna()
    return str(text.iloc[0]) if len(text) else None
