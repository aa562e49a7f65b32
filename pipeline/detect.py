"""Raw tri-axial acceleration -> movement events (twitch, kick, startle, shake) and per-epoch coverage.

Steps
-----
1. Remove gravity and drift: 4th-order Butterworth high-pass at 0.5 Hz, causal (gravity and a
   sensor's temperature drift live below 0.1 Hz; the slowest movement we classify, a 1 Hz shake, is kept).
2. Movement magnitude: Euclidean norm of the three filtered axes, smoothed by a 0.1-s moving RMS.
3. Bursts with hysteresis: a burst starts where the magnitude exceeds ``ON`` and extends while it stays
   above ``OFF``; bursts closer than ``MERGE_GAP_S`` are merged, shorter than ``MIN_BURST_S`` dropped.
4. Classify each burst from its duration, peak, rise time and rhythm, with an intensity 0..1.
5. Coverage: epochs with missing samples, a flat (stuck) signal or no wear are "no data" — shown as no
   data, never as quiet sleep.

Thresholds and their basis (no published infant values exist for twitch amplitude or duration, see
``science.md``; these are stated assumptions, checked on simulated nights by precision/recall):

==================  =================  ===============================================================
name                value              basis
==================  =================  ===============================================================
HIGHPASS_HZ         0.5 Hz             gravity/posture < 0.1 Hz; keeps 1-5 Hz rhythmic movement
ON / OFF            max(5, 2.5) x noise  hysteresis over the recording's own noise floor (median
                    floor, at least    magnitude), so a noisier sensor does not invent events;
                    0.03 / 0.015 g     floors above typical MEMS noise (AX3 ~ 4-8 mg rms)
MERGE_GAP_S         0.25 s             twitches in a burst are >= 0.5 s apart (Blumberg: bursts of
                                       twitches <= 10 s apart), so 0.25 s joins one movement's lobes only
MIN_BURST_S         0.05 s             shorter is a single-sample spike
twitch              < 1 s and peak     "brief, jerky, low-amplitude" (science.md); 1 s from the issue
                    < 0.3 g
startle             peak >= 0.5 g,     "sudden, large" (Moro): fast rise; arousal startle 2-4 s in all
                    rise <= 0.2 s,     (science.md), so the startle itself is the first <= 2.5 s
                    <= 2.5 s
shake               >= 4 s, rhythm     sustained rhythmic jerking at 1-5 Hz (science.md); 4 s = at
                    1-5 Hz, autocorr   least 4 cycles at 1 Hz; autocorrelation >= 0.4 at the period
                    >= 0.4
kick                everything else    longer and larger than a twitch
intensity           log scale 0.02 g   0 at the ON floor, 1 at 2 g (a hard kick on an ankle)
                    -> 0, 2 g -> 1
FLAT_STD_G          0.0005 g           real sensors always show noise; a flatter epoch is a stuck or
                                       interpolated signal
NONWEAR             60-min window,     van Hees et al. 2011/2013 (std < 13 mg and range < 50 mg on
                    std < 13 mg, range >= 2 axes): a sensor lying on a table
                    < 50 mg, 2 axes
==================  =================  ===============================================================
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from scipy import signal

from .schema import EPOCH_S

HIGHPASS_HZ = 0.5
RMS_S = 0.1
ON_FACTOR, OFF_FACTOR = 5.0, 2.5
ON_FLOOR_G, OFF_FLOOR_G = 0.03, 0.015
MERGE_GAP_S = 0.25
MIN_BURST_S = 0.05
TWITCH_MAX_S, TWITCH_MAX_G = 1.0, 0.3
STARTLE_MIN_G, STARTLE_RISE_S, STARTLE_MAX_S = 0.3, 0.25, 3.0
SHAKE_MIN_S, SHAKE_HZ, SHAKE_AUTOCORR = 4.0, (1.0, 5.0), 0.6
INTENSITY_LO_G, INTENSITY_HI_G = 0.02, 2.0
FLAT_STD_G = 0.0005
NONWEAR_WINDOW_MIN, NONWEAR_STD_G, NONWEAR_RANGE_G = 60, 0.013, 0.050
MIN_FS, MAX_FS = 10.0, 200.0

EVENT_COLUMNS = ["start", "duration_s", "limb", "kind", "intensity"]


def _check(acc, fs) -> np.ndarray:
    acc = np.asarray(acc, dtype="float32")
    if acc.ndim != 2 or acc.shape[1] != 3:
        raise ValueError(f"acceleration must be an (n, 3) array in g, got shape {acc.shape}")
    if not MIN_FS <= fs <= MAX_FS:
        raise ValueError(f"sampling rate {fs} Hz is outside {MIN_FS:g}-{MAX_FS:g} Hz")
    return acc


@functools.lru_cache(maxsize=16)
def _highpass_sos(fs: float) -> np.ndarray:
    """The high-pass filter's coefficients (designing it costs more than filtering a short burst; scipy wants a
    writable array, and never writes to it)."""
    return signal.butter(4, HIGHPASS_HZ, btype="highpass", fs=fs, output="sos")


def _moving_axis(acc: np.ndarray, fs: float, k: int) -> np.ndarray:
    """Axis ``k``'s movement: gravity and drift removed (causal high-pass), as float32."""
    # causal (forward-only) filtering: a posture change rings after the movement, never before its onset;
    # one axis at a time keeps the float64 intermediates to a third
    return signal.sosfilt(_highpass_sos(float(fs)), acc[:, k] - acc[0, k]).astype("float32")


def _moving(acc: np.ndarray, fs: float) -> np.ndarray:
    """The movement part of the acceleration, all axes."""
    out = np.empty(acc.shape, dtype="float32")
    for k in range(acc.shape[1]):
        out[:, k] = _moving_axis(acc, fs, k)
    return out


def _moving_slice(acc: np.ndarray, fs: float, start: int, end: int, warmup_s: float = 10.0) -> np.ndarray:
    """The filtered movement of samples [start, end), filtering from ``warmup_s`` earlier so the filter has settled
    (only long bursts need it, for their rhythm: cheaper than filtering the whole recording twice)."""
    lead = min(start, int(warmup_s * fs))
    return _moving(acc[start - lead : end], fs)[lead:]


def _smoothed_rms(power: np.ndarray, fs: float) -> np.ndarray:
    width = max(1, int(round(RMS_S * fs)))
    kernel = np.ones(width, dtype="float32") / width
    out = np.convolve(power, kernel, mode="same").astype("float32", copy=False)
    return np.sqrt(out, out=out)


def movement_magnitude(acc, fs: float) -> np.ndarray:
    """Gravity- and drift-free movement magnitude in g, smoothed by a 0.1-s moving RMS.

    The power is summed one filtered axis at a time, so the filtered (n, 3) signal is never held whole (a night's
    peak memory).
    """
    acc = _check(acc, fs)
    if len(acc) < 3 * fs:
        return np.zeros(len(acc), dtype="float32")
    power = np.zeros(len(acc), dtype="float32")
    for k in range(acc.shape[1]):
        axis = _moving_axis(acc, fs, k)
        np.multiply(axis, axis, out=axis)
        power += axis
        del axis
    return _smoothed_rms(power, fs)


def thresholds(magnitude: np.ndarray) -> tuple[float, float]:
    """(on, off) hysteresis thresholds in g from the recording's noise floor."""
    # the median of every 10th sample: the same noise floor, a tenth of the sorting
    noise = float(np.median(magnitude[::10])) if len(magnitude) else 0.0
    return max(ON_FACTOR * noise, ON_FLOOR_G), max(OFF_FACTOR * noise, OFF_FLOOR_G)


def find_bursts(magnitude: np.ndarray, fs: float, on: float, off: float) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) sample indices of bursts: above ``off``, reaching ``on``, gaps merged."""
    above = magnitude > off
    edges = np.diff(np.concatenate([[0], above.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if len(starts) == 0:
        return starts, ends
    peaks = np.maximum.reduceat(magnitude, starts)
    # reduceat over [start, next start) also covers the gap after a run; gaps are below off < on
    keep = peaks > on
    starts, ends = starts[keep], ends[keep]
    if len(starts) > 1:
        gap = (starts[1:] - ends[:-1]) / fs
        join = np.concatenate([[False], gap < MERGE_GAP_S])
        first_of_group = np.flatnonzero(~join)
        starts = starts[first_of_group]
        ends = np.maximum.reduceat(ends, first_of_group)
    keep = (ends - starts) / fs >= MIN_BURST_S
    return starts[keep], ends[keep]


def _rhythmic(moving: np.ndarray, fs: float) -> bool:
    """True when the movement repeats at 1-5 Hz along its main direction.

    The burst's filtered acceleration is projected on its first principal axis; rhythmic shaking gives an
    autocorrelation >= 0.6 at a lag of one period (0.2-1 s), irregular kicking does not.
    """
    x = moving - moving.mean(axis=0)
    if not np.any(x):
        return False
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    p = x @ vt[0]
    ac = signal.correlate(p, p, mode="full", method="fft")[len(p) - 1 :]
    ac /= ac[0]
    lo, hi = int(fs / SHAKE_HZ[1]), int(np.ceil(fs / SHAKE_HZ[0]))
    if hi + 1 >= len(ac):
        return False
    lag = lo + int(np.argmax(ac[lo : hi + 1]))
    # a true period is a local peak; a maximum at the window's edge is a slower (or faster) movement
    is_peak = lo < lag < hi and ac[lag] >= ac[lag - 1] and ac[lag] >= ac[lag + 1]
    return bool(is_peak and ac[lag] >= SHAKE_AUTOCORR)


def _first_peak(mag: np.ndarray, starts: np.ndarray, ends: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Index of each burst's first maximum (an argmax per burst, without a Python loop over bursts)."""
    lengths = ends - starts
    owner = np.repeat(np.arange(len(starts)), lengths)
    index = np.arange(int(lengths.sum())) + np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    hits = np.flatnonzero(mag[index] == peaks[owner])
    _, first = np.unique(owner[hits], return_index=True)
    return index[hits[first]]


def classify(duration_s: float, peak_g: float, rise_s: float, rhythmic: bool) -> str:
    """The kind of one burst (rules in the module table)."""
    if duration_s >= SHAKE_MIN_S and rhythmic:
        return "shake"
    if peak_g >= STARTLE_MIN_G and rise_s <= STARTLE_RISE_S and duration_s <= STARTLE_MAX_S:
        return "startle"
    if duration_s < TWITCH_MAX_S and peak_g < TWITCH_MAX_G:
        return "twitch"
    return "kick"


def intensity(peak_g) -> np.ndarray:
    """Peak magnitude mapped to 0..1 on a log scale (0.02 g -> 0, 2 g -> 1)."""
    p = np.maximum(np.asarray(peak_g, dtype="float64"), 1e-9)
    return np.clip(np.log(p / INTENSITY_LO_G) / np.log(INTENSITY_HI_G / INTENSITY_LO_G), 0, 1)


def detect_events(
    acc, fs: float, start, *, limb: str = "unknown", magnitude: np.ndarray | None = None
) -> pd.DataFrame:
    """Movement events in one contiguous recording: twitches, kicks, startles, stretches and rhythmic shaking.

    Parameters
    ----------
    acc : array (n, 3)
        Acceleration in g.
    fs : float
        Sampling rate in Hz (10-200).
    start : timestamp
        Time of the first sample (timezone-aware; stored as UTC).
    limb : str
        Where the sensor was worn.
    magnitude : array, optional
        A precomputed :func:`movement_magnitude` of ``acc``.

    Returns
    -------
    DataFrame
        One row per event: ``start`` (UTC), ``duration_s``, ``limb``, ``kind``, ``intensity`` (0-1).

    Examples
    --------
    Twenty quiet seconds at 50 Hz with one brief 0.1-g movement of a leg, 10 s in (a twitch):

    >>> import numpy as np, pandas as pd
    >>> from sleepmoves import detect_events
    >>> rng = np.random.default_rng(0)
    >>> acc = np.tile([0.0, 0.0, 1.0], (50 * 20, 1)) + rng.normal(0, 0.002, (50 * 20, 3))
    >>> acc[500:515, 0] += 0.1 * np.sin(np.linspace(0, np.pi, 15))
    >>> events = detect_events(acc, 50, pd.Timestamp("2026-03-02T21:00:00Z"), limb="left_leg")
    >>> events[["limb", "kind"]].values.tolist(), str(events["start"].iloc[0])[:19]
    ([['left_leg', 'twitch']], '2026-03-02 21:00:10')
    """
    acc = _check(acc, fs)
    mag = movement_magnitude(acc, fs) if magnitude is None else magnitude
    on, off = thresholds(mag)
    starts, ends = find_bursts(mag, fs, on, off)
    t0 = pd.Timestamp(start)
    if t0.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if len(starts) == 0:
        return pd.DataFrame(
            {
                c: pd.Series(dtype=t)
                for c, t in zip(
                    EVENT_COLUMNS, ["datetime64[us, UTC]", "float64", "str", "str", "float64"], strict=True
                )
            }
        )
    peaks = np.maximum.reduceat(mag, starts)
    peak_at = _first_peak(mag, starts, ends, peaks)
    durations = (ends - starts) / fs
    rises = (peak_at - starts) / fs
    kinds = [
        classify(d, p, r, d >= SHAKE_MIN_S and _rhythmic(_moving_slice(acc, fs, s, e), fs))
        for s, e, d, p, r in zip(starts, ends, durations, peaks, rises, strict=True)
    ]
    return pd.DataFrame(
        {
            "start": (
                t0.tz_convert("UTC").round("us")
                + pd.to_timedelta(np.round(starts / fs * 1e6).astype("int64"), unit="us")
            ).astype("datetime64[us, UTC]"),
            "duration_s": durations.round(3),
            "limb": limb,
            "kind": kinds,
            "intensity": intensity(peaks).round(3),
        }
    )


def epoch_coverage(
    acc, fs: float, start, magnitude: np.ndarray | None = None, epoch_s: int = EPOCH_S
) -> pd.DataFrame:
    """Per-epoch movement and whether the epoch holds usable data.

    Epochs are aligned to UTC ``epoch_s`` marks. Returns ``start`` (UTC), ``epoch_s``, ``count`` (movement
    magnitude above the noise floor integrated over the epoch, in mg*s), ``valid`` (False for missing
    samples, a flat signal or no wear) and ``worn`` (False where van Hees' rule finds the sensor off).
    """
    acc = _check(acc, fs)
    mag = movement_magnitude(acc, fs) if magnitude is None else magnitude
    t0 = pd.Timestamp(start).tz_convert("UTC")
    first = t0.floor(f"{epoch_s}s")
    offset = (t0 - first).total_seconds()
    bounds, epochs, n = _epoch_bounds(len(acc), fs, offset, epoch_s)
    samples = np.zeros(n, dtype=np.int64)
    samples[epochs] = np.diff(np.r_[bounds, len(acc)])
    _, off = thresholds(mag)
    above = mag - np.float32(off)
    np.maximum(above, 0, out=above)
    count = np.zeros(n)
    count[epochs] = np.add.reduceat(above, bounds, dtype=np.float64) / fs * 1000 if len(acc) else []
    del above
    stats = _epoch_stats(acc, bounds, epochs, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = stats["sq"] / samples[:, None] - (stats["sum"] / samples[:, None]) ** 2
    flat = (np.sqrt(np.maximum(var, 0)) < FLAT_STD_G).all(axis=1)
    expected = epoch_s * fs
    complete = samples >= 0.9 * expected
    complete[0] = samples[0] >= 0.9 * (expected - offset * fs)  # a recording may start mid-epoch
    complete[-1] = True  # and end mid-epoch
    worn = ~_nonwear(stats, samples, n, epoch_s)
    valid = complete & ~flat & worn
    return pd.DataFrame(
        {
            "start": first + pd.to_timedelta(np.arange(n) * epoch_s, unit="s"),
            "epoch_s": epoch_s,
            "count": count.round(1),
            "valid": valid,
            "worn": worn,
        }
    )


def _epoch_bounds(count: int, fs: float, offset: float, epoch_s: int) -> tuple[np.ndarray, np.ndarray, int]:
    """``(first sample of each epoch that has samples, those epochs' numbers, number of epochs)``.

    Sample i belongs to epoch ``floor((i / fs + offset) / epoch_s)``; the boundaries are computed per epoch (not per
    sample: a night has 2 M samples and 1,500 epochs), then checked against that rule so they agree exactly.
    """
    if count == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 0

    def epoch_of(i):
        return ((np.asarray(i) / fs + offset) // epoch_s).astype(np.int64)

    n = int(epoch_of(count - 1)) + 1
    k = np.arange(1, n, dtype=np.int64)
    first = np.ceil((k * epoch_s - offset) * fs).astype(np.int64)
    first = np.where(epoch_of(first) < k, first + 1, first)  # rounding: never start an epoch early...
    first = np.where(epoch_of(np.maximum(first - 1, 0)) >= k, first - 1, first)  # ...or late
    bounds = np.r_[0, np.clip(first, 0, count)]
    # an epoch without samples (only below 1 sample per epoch) has no slice
    has = np.diff(np.r_[bounds, count]) > 0
    return bounds[has], np.arange(n, dtype=np.int64)[has], n


def _epoch_stats(acc: np.ndarray, bounds: np.ndarray, epochs: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Per epoch and axis: sum, sum of squares, max and min (float64), by slice reductions."""
    out = {name: np.zeros((n, 3)) for name in ("sum", "sq")}
    out["max"], out["min"] = np.full((n, 3), -np.inf), np.full((n, 3), np.inf)
    if len(bounds) == 0:
        return out
    for k in range(3):  # one axis at a time, squared in place: one float64 copy at a time
        x = acc[:, k].astype("float64")
        out["sum"][epochs, k] = np.add.reduceat(x, bounds)
        out["max"][epochs, k] = np.maximum.reduceat(x, bounds)
        out["min"][epochs, k] = np.minimum.reduceat(x, bounds)
        np.multiply(x, x, out=x)
        out["sq"][epochs, k] = np.add.reduceat(x, bounds)
        del x
    return out


def _nonwear(stats: dict[str, np.ndarray], samples: np.ndarray, n: int, epoch_s: int) -> np.ndarray:
    """Epochs inside a 60-min window where >= 2 axes have std < 13 mg and range < 50 mg (van Hees)."""
    per_window = int(NONWEAR_WINDOW_MIN * 60 / epoch_s)
    if n < per_window:
        return np.zeros(n, dtype=bool)
    from scipy.ndimage import maximum_filter1d, minimum_filter1d

    def sums(x):  # every window's sum, from one cumulative sum (the strided window views were the slow part)
        total = np.cumsum(np.concatenate([np.zeros((1, *x.shape[1:])), x]), axis=0)
        return total[per_window:] - total[:-per_window]

    def extreme(
        filter1d, x
    ):  # every window's max or min: [i, i + per_window) is centred at i + per_window // 2
        centre = per_window // 2
        return filter1d(x, per_window, axis=0)[centre : centre + n - per_window + 1]

    c = sums(samples.astype("float64"))[:, None]
    a, b = sums(stats["sum"]), sums(stats["sq"])
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.sqrt(np.maximum(b / c - (a / c) ** 2, 0))
    rng = extreme(maximum_filter1d, stats["max"]) - extreme(minimum_filter1d, stats["min"])
    still_axes = ((std < NONWEAR_STD_G) & (rng < NONWEAR_RANGE_G)).sum(axis=1)
    # an epoch is non-wear when any still window covers it
    still = (still_axes >= 2).astype(np.int64)
    return np.convolve(still, np.ones(per_window, dtype=np.int64))[:n] > 0
