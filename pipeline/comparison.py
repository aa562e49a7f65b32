"""Period A against period B, each baby against herself: the difference and an interval that respects how one
night follows another.

Why no p-values: a baby's nights are not independent draws (a bad night follows a bad night), so a test that
treats nights as the unit overstates its certainty; and a table of a dozen metrics per baby would need a
correction for multiplicity that makes every single test nearly powerless. We report for each baby and metric the
difference of means (B - A) with a 95 % interval from a moving-block bootstrap over nights (blocks of
consecutive nights are resampled, keeping their dependence; Kunsch 1989), and call a change "clear" only when
the interval excludes zero. A week is 7 nights, where plain bootstrap percentiles are too narrow; the interval is
the "expanded percentile" one (Hesterberg 2015, "What teachers should know about the bootstrap"): percentiles
taken further out, so that the interval is as wide as a t interval would be for that many nights. Babies are never pooled: with several babies, the cohort row treats the baby as
the unit (the mean of the babies' own differences, bootstrapped over babies).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from .summarize import COMPARED_METRICS

RESAMPLES = 4000
SEED = 20260302  # the same numbers twice: a fixed stream of resamples
LEVEL = 0.95
MIN_NIGHTS = 3  # fewer nights than this in a period: no interval
MIN_BABIES = 3  # fewer babies than this: no cohort row


def block_length(n: int) -> int:
    """Blocks of about n^(1/3) consecutive nights (the usual rate for a moving-block bootstrap of a mean)."""
    return max(1, round(n ** (1 / 3)))


def block_bootstrap_means(
    values: np.ndarray, rng: np.random.Generator, resamples: int = RESAMPLES
) -> np.ndarray:
    """Means of ``resamples`` moving-block resamples of a series in night order (NaN nights dropped first)."""
    values = np.asarray(values, dtype="float64")
    values = values[np.isfinite(values)]
    n = len(values)
    length = block_length(n)
    starts = rng.integers(0, n - length + 1, size=(resamples, -(-n // length)))
    picks = (starts[:, :, None] + np.arange(length)[None, None, :]).reshape(resamples, -1)[:, :n]
    return values[picks].mean(axis=1)


def interval(draws: np.ndarray, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Expanded-percentile interval of bootstrap ``draws`` from ``n`` values (Hesterberg 2015): the tail is
    Phi(-sqrt(n / (n - 1)) t_{n-1}), which widens the plain percentiles to a t interval's width for small n."""
    tail = _tail_percent(n, level)
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


@functools.lru_cache(maxsize=256)
def _tail_percent(n: int, level: float) -> float:
    # once per number of nights: scipy's distribution calls cost more than the bootstrap of a week
    from scipy.stats import norm, t

    z = np.sqrt(n / (n - 1)) * t.ppf(1 - (1 - level) / 2, df=n - 1)
    return float(norm.cdf(-z)) * 100


def compare_periods(
    nights: pd.DataFrame,
    period_a: tuple[str, str],
    period_b: tuple[str, str],
    metrics=COMPARED_METRICS,
    resamples: int = RESAMPLES,
) -> pd.DataFrame:
    """One row per baby and metric: nights and mean in each period, the difference B - A and its 95 % interval.

    Parameters
    ----------
    nights : DataFrame
        The nights table of one or more babies (``subject``, ``night`` and metric columns).
    period_a, period_b : (str, str)
        First and last night (``YYYY-MM-DD``, inclusive) of each period.

    Returns
    -------
    DataFrame
        ``subject, metric, nights_a, mean_a, nights_b, mean_b, difference, low, high, change`` where ``change``
        is ``higher`` / ``lower`` (the interval excludes zero), ``no clear change`` or ``too few nights``.
    """
    rows = []
    rng = np.random.default_rng(SEED)
    for subject, own in nights.sort_values("night").groupby("subject", sort=True):
        in_a = own["night"].astype(str).between(*period_a).to_numpy()
        in_b = own["night"].astype(str).between(*period_b).to_numpy()
        # every metric as one float array (a metric the table lacks is all NaN): one conversion per baby
        values = own.reindex(columns=list(metrics)).apply(pd.to_numeric, errors="coerce").to_numpy("float64")
        for column, metric in enumerate(metrics):
            a, b = values[in_a, column], values[in_b, column]
            a, b = a[~np.isnan(a)], b[~np.isnan(b)]
            row = {
                "subject": subject,
                "metric": metric,
                "nights_a": len(a),
                "mean_a": a.mean() if len(a) else np.nan,
                "nights_b": len(b),
                "mean_b": b.mean() if len(b) else np.nan,
            }
            row["difference"] = row["mean_b"] - row["mean_a"]
            row["low"] = row["high"] = np.nan
            if min(len(a), len(b)) >= MIN_NIGHTS:
                draws = block_bootstrap_means(b, rng, resamples) - block_bootstrap_means(a, rng, resamples)
                row["low"], row["high"] = interval(draws, min(len(a), len(b)))
            rows.append({**row, "change": _change(row["low"], row["high"], "too few nights")})
    return pd.DataFrame(
        rows,
        columns=[
            "subject",
            "metric",
            "nights_a",
            "mean_a",
            "nights_b",
            "mean_b",
            "difference",
            "low",
            "high",
            "change",
        ],
    )


def cohort_difference(per_baby: pd.DataFrame, resamples: int = RESAMPLES) -> pd.DataFrame:
    """Per metric, the babies as the unit: the mean of the babies' own differences and a bootstrap interval over
    babies (only babies with both periods count; none when fewer than :data:`MIN_BABIES`)."""
    rng = np.random.default_rng(SEED + 1)
    rows = []
    for metric, part in per_baby.groupby("metric", sort=False):
        own = part["difference"].dropna().to_numpy()
        row = {"metric": metric, "babies": len(own), "difference": own.mean() if len(own) else np.nan}
        row["low"] = row["high"] = np.nan
        if len(own) >= MIN_BABIES:
            draws = own[rng.integers(0, len(own), size=(resamples, len(own)))].mean(axis=1)
            row["low"], row["high"] = interval(draws, len(own))
        rows.append({**row, "change": _change(row["low"], row["high"], "too few babies")})
    return pd.DataFrame(rows, columns=["metric", "babies", "difference", "low", "high", "change"])


def _change(low: float, high: float, unknown: str) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return unknown
    if low > 0:
        return "higher"
    if high < 0:
        return "lower"
    return "no clear change"
