"""Sleep/wake from 60-s activity counts: Sadeh (1994), Cole-Kripke (1992) and Webster rescoring.

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


def sadeh(counts, variant: str = "actilife") -> np.ndarray:
    """Sadeh 1994 sleep/wake on 60-s counts; True = sleep."""
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


def cole_kripke(counts, variant: str = "actilife") -> np.ndarray:
    """Cole-Kripke 1992 sleep/wake on 60-s counts; True = sleep."""
    return cole_kripke_d(counts, variant) < 1


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run-length encoding: (start index, length, value) of each run."""
    change = np.flatnonzero(np.diff(values.astype(np.int8))) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [len(values)]]))
    return starts, lengths, values[starts]


def webster(sleep) -> np.ndarray:
    """Webster rescoring of a 60-s sleep/wake series (True = sleep); returns the rescored series.

    Rules, all judged on the input scoring and applied together:
    after >= 4 min of wake the next 1 min of sleep becomes wake; after >= 10 min the next 3 min;
    after >= 15 min the next 4 min; <= 6 min of sleep between >= 15 min of wake on both sides becomes
    wake; <= 10 min of sleep between >= 20 min of wake on both sides becomes wake.
    """
    s = np.asarray(sleep, dtype=bool)
    out = s.copy()
    if len(s) == 0:
        return out
    starts, lengths, values = _runs(s)
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
