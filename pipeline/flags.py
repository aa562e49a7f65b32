"""Review flags: patterns worth showing a pediatrician, with the time to find them on video. Never a diagnosis.

Every threshold lives in :data:`RULES`, with its source in ``science.md``. A flag is a dict:
``rule``, ``start`` (UTC ISO time), ``duration_s``, ``limbs``, ``detail`` and ``message`` (plain words, in the
baby's local time).

=====================  ======================================================================================
rule                   fires when
=====================  ======================================================================================
rhythmic_jerking       rhythmic movement at 1-5 Hz for more than 10 s (a ``shake`` event, or >= 10 jerks 0.2-1 s
                       apart) while asleep. Rocking while falling asleep is common and benign (59 % of
                       9-month-olds) and is not flagged; benign sleep myoclonus and seizures look alike here.
cluster_on_waking      >= 5 brief (<= 2 s) sudden jerks (startles), 3-30 s apart, within 5 minutes after waking,
                       from about 3 months (the pattern of infantile spasms).
limb_asymmetry         one limb of a pair moves under a third as often as the other (ratio < 1/3 or > 3, with
                       >= 100 movements of the pair) on >= 3 of the last 7 nights. No published threshold exists:
                       only large, persistent differences are flagged.
periodic_limb_moves    leg movements of 0.5-10 s in series of >= 4 with 5-90 s between onsets (AASM), in the
                       sleep period (sleep onset to last sleep, outside wakings > 10 min: movement-based staging
                       calls many such epochs awake), at >= 5 per hour of sleep period (abnormal in children; no
                       infant norms exist).
rising_shaking         shaking episodes in each of the last three weeks, more each week, and >= 3 in the last
                       week; or any week with >= 3 after 6 months of age.
=====================  ======================================================================================
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from .nights import utc_ns
from .schema import ASLEEP_PHASES, EPOCH_S

# what each rule looks for, in a parent's words (the About page); the numbers are the RULES below
FLAG_WORDS = {
    "rhythmic_jerking": "a limb jerking rhythmically, 1 to 5 times a second, for 10 seconds or more",
    "cluster_on_waking": "a series of 5 or more brief jerks a few seconds apart just after waking (from about 3 months)",
    "limb_asymmetry": "one leg or arm moving 3 times as much as the other, on several nights of a week",
    "periodic_limb_moves": "leg movements repeating at a steady pace (every 5 to 90 seconds), 5 or more an hour",
    "rising_shaking": "shaking after 6 months of age, or more of it week after week",
}
RULES = {
    "rhythmic_jerking": {
        "min_s": 10.0,
        "min_jerks": 10,
        "gap_s": (0.2, 1.0),
        "source": "science.md: 1-5 Hz > ~10 s",
    },
    "cluster_on_waking": {
        "min_jerks": 5,
        "max_jerk_s": 2.0,
        "gap_s": (3.0, 30.0),
        "window_min": 5.0,
        "min_age_months": 2.5,
        "source": "science.md: series of >= 5 brief (1-2 s) jerks a few seconds apart on waking, 3-7 months",
    },
    "limb_asymmetry": {
        "ratio": 3.0,
        "min_moves": 100,
        "nights": 3,
        "of_last": 7,
        "source": "science.md: no threshold; large and persistent only",
    },
    "periodic_limb_moves": {
        "duration_s": (0.5, 10.0),
        "gap_s": (5.0, 90.0),
        "series": 4,
        "index_per_h": 5.0,
        # periodic: the gaps between onsets of a series vary little (median absolute deviation over the median
        # gap at most this; robust to an ordinary kick falling inside a series). Assumption, not in the AASM
        # rule: without it, 7 % of 168 normal simulated nights (realistic setting) were flagged, from a baby's
        # ordinary kicks that happen to fall 5-90 s apart; with it 0 %, and 84 % of 56 PLM nights (91 % without)
        "max_gap_spread": 0.3,
        "source": "AASM PLM rule; index >= 5/h abnormal in children (science.md); a steady pace is our addition",
    },
    "rising_shaking": {
        "weekly_min": 3,
        "weeks": 3,
        "late_months": 6.0,
        "source": "science.md: shaking past 6 months or growing week over week",
    },
}

PLAIN = {
    "rhythmic_jerking": "rhythmic jerking for {dur} while asleep",
    "cluster_on_waking": "a cluster of {n} sudden jerks just after waking",
    "limb_asymmetry": "the {weak} moved much less than the {strong} ({ratio}) on {nights} of the last {of} nights",
    "periodic_limb_moves": "repeated leg movements every 5-90 s ({index:.0f} per hour of sleep)",
    "rising_shaking": "shaking episodes becoming more frequent ({counts} over the last weeks)",
}


def _flag(rule: str, start, duration_s: float, limbs, detail: dict, tz: str) -> dict:
    local = pd.Timestamp(start).tz_convert(tz)
    what = PLAIN[rule].format(**detail)
    return {
        "rule": rule,
        "start": pd.Timestamp(start).tz_convert("UTC").isoformat(),
        "duration_s": round(float(duration_s), 1),
        "limbs": sorted(set(limbs)),
        "detail": {k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in detail.items()},
        "message": (
            f"Worth showing your pediatrician: {what}, at {local:%H:%M} ({local:%a %d %b}). "
            "Look at your video from that time. This is not a diagnosis."
        ),
    }


def _sleep_at(times: pd.DatetimeIndex, phases: pd.DataFrame) -> np.ndarray:
    """Whether each time falls in an epoch labelled as sleep (active, quiet or transition)."""
    starts = pd.DatetimeIndex(pd.to_datetime(phases["epoch_start"], utc=True))
    if len(starts) == 0 or len(times) == 0:
        return np.zeros(len(times), dtype=bool)
    where = starts.searchsorted(times, side="right") - 1
    ok = (where >= 0) & ((times - starts[np.clip(where, 0, None)]) < pd.Timedelta(seconds=EPOCH_S))
    asleep = np.isin(phases["phase"].to_numpy(), ASLEEP_PHASES)
    return ok & asleep[np.clip(where, 0, None)]


def _in_sleep_period(times: pd.DatetimeIndex, phases: pd.DataFrame, max_wake_min: float = 10.0) -> np.ndarray:
    """Whether each time lies between sleep onset and the last sleep epoch, outside wakings longer than
    ``max_wake_min``. Movement-only staging tends to call an epoch with a leg movement "awake", so rules that
    count movements in sleep (PLM) use the sleep period rather than the per-epoch label."""
    starts = pd.DatetimeIndex(pd.to_datetime(phases["epoch_start"], utc=True))
    phase = phases["phase"].to_numpy()
    asleep = np.isin(phase, ASLEEP_PHASES)
    if not asleep.any() or len(times) == 0:
        return np.zeros(len(times), dtype=bool)
    first, last = np.flatnonzero(asleep)[[0, -1]]
    long_wake = np.zeros(len(phase), dtype=bool)
    edges = np.diff(np.r_[0, (~asleep).astype(np.int8), 0])
    for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        if (b - a) * EPOCH_S / 60 > max_wake_min:
            long_wake[a:b] = True
    where = np.clip(starts.searchsorted(times, side="right") - 1, 0, len(starts) - 1)
    within = (times >= starts[first]) & (times < starts[last] + pd.Timedelta(seconds=EPOCH_S))
    return np.asarray(within) & ~long_wake[where]


def _spread(gaps: np.ndarray) -> float:
    """How irregular gaps are: median absolute deviation over the median (0 = a steady pace)."""
    middle = np.median(gaps)
    return float(np.median(np.abs(gaps - middle)) / middle) if middle > 0 else np.inf


def _series(onsets: np.ndarray, lo: float, hi: float, minimum: int) -> list[tuple[int, int]]:
    """Index ranges [a, b) of runs of onsets whose successive gaps all lie in [lo, hi], at least ``minimum`` long."""
    if len(onsets) < minimum:
        return []
    good = (np.diff(onsets) >= lo) & (np.diff(onsets) <= hi)
    out, a = [], 0
    for i, ok in enumerate(np.r_[good, False]):
        if not ok:
            if i + 1 - a >= minimum:
                out.append((a, i + 1))
            a = i + 1
    return out


def rhythmic_jerking(events: pd.DataFrame, phases: pd.DataFrame, tz: str) -> list[dict]:
    rule = RULES["rhythmic_jerking"]
    flags = []
    times = pd.DatetimeIndex(pd.to_datetime(events["start"], utc=True))
    asleep = _sleep_at(times, phases)
    shakes = events[
        (events["kind"] == "shake").to_numpy()
        & (events["duration_s"].fillna(0).to_numpy() > rule["min_s"])
        & asleep
    ]
    for row in shakes.itertuples():
        flags.append(
            _flag(
                "rhythmic_jerking",
                row.start,
                row.duration_s,
                [row.limb],
                {"dur": f"{row.duration_s:.0f} s"},
                tz,
            )
        )
    jerks = events[events["kind"].isin(["twitch", "kick", "startle"]).to_numpy() & asleep]
    onsets = utc_ns(jerks["start"]) / 1e9 if len(jerks) else np.array([])
    for a, b in _series(onsets, *rule["gap_s"], rule["min_jerks"]):
        if onsets[b - 1] - onsets[a] > rule["min_s"]:
            span = onsets[b - 1] - onsets[a]
            flags.append(
                _flag(
                    "rhythmic_jerking",
                    jerks["start"].iloc[a],
                    span,
                    jerks["limb"].iloc[a:b],
                    {"dur": f"{span:.0f} s"},
                    tz,
                )
            )
    return flags


def cluster_on_waking(events: pd.DataFrame, phases: pd.DataFrame, tz: str, age_months: float) -> list[dict]:
    rule = RULES["cluster_on_waking"]
    if np.isfinite(age_months) and age_months < rule["min_age_months"]:
        return []
    phase = phases["phase"].to_numpy()
    starts = pd.DatetimeIndex(pd.to_datetime(phases["epoch_start"], utc=True))
    asleep = np.isin(phase, ASLEEP_PHASES)
    wakings = starts[1:][(phase[1:] == "awake") & asleep[:-1]]
    jerks = events[
        (events["kind"] == "startle").to_numpy()
        & (events["duration_s"].fillna(0).to_numpy() <= rule["max_jerk_s"])
    ]
    times = pd.DatetimeIndex(pd.to_datetime(jerks["start"], utc=True))
    flags, told = [], set()
    for waking in wakings:
        near = (times >= waking - pd.Timedelta(seconds=EPOCH_S)) & (
            times <= waking + pd.Timedelta(minutes=rule["window_min"])
        )
        if near.sum() < rule["min_jerks"]:
            continue
        onsets = utc_ns(times[near]) / 1e9
        for a, b in _series(onsets, *rule["gap_s"], rule["min_jerks"]):
            part = jerks[near].iloc[a:b]
            if onsets[a] in told:  # two wakings minutes apart see the same cluster: it is one episode
                break
            told.add(onsets[a])
            flags.append(
                _flag(
                    "cluster_on_waking",
                    part["start"].iloc[0],
                    onsets[b - 1] - onsets[a],
                    part["limb"],
                    {"n": b - a},
                    tz,
                )
            )
            break
    return flags


def periodic_limb_moves(events: pd.DataFrame, phases: pd.DataFrame, tz: str) -> tuple[list[dict], float]:
    """Flags and the PLM index (movements in series per hour of sleep)."""
    rule = RULES["periodic_limb_moves"]
    lo, hi = rule["duration_s"]
    dur = events["duration_s"].fillna(0).to_numpy()
    legs = (
        events["limb"].isin(["left_leg", "right_leg"]).to_numpy()
        & events["kind"].isin(["kick", "other", "stretch"]).to_numpy()
    )
    times = pd.DatetimeIndex(pd.to_datetime(events["start"], utc=True))
    moves = events[legs & (dur >= lo) & (dur <= hi) & _in_sleep_period(times, phases)]
    onsets = utc_ns(moves["start"]) / 1e9 if len(moves) else np.array([])
    onsets = np.unique(onsets)
    runs = [
        (a, b)
        for a, b in _series(onsets, *rule["gap_s"], rule["series"])
        if _spread(np.diff(onsets[a:b])) <= rule["max_gap_spread"]
    ]
    in_series = sum(b - a for a, b in runs)
    starts = pd.DatetimeIndex(pd.to_datetime(phases["epoch_start"], utc=True))
    sleep_h = _in_sleep_period(starts, phases).sum() * EPOCH_S / 3600
    index = in_series / sleep_h if sleep_h else 0.0
    if index < rule["index_per_h"] or not runs:
        return [], float(index)
    a, b = runs[0]
    first = pd.Timestamp(onsets[a], unit="s", tz="UTC")
    return [
        _flag(
            "periodic_limb_moves",
            first,
            onsets[b - 1] - onsets[a],
            moves["limb"],
            {"index": index},
            tz,
        )
    ], float(index)


def limb_asymmetry(history: pd.DataFrame, tz: str, night_start) -> list[dict]:
    """From the night metrics of this and earlier nights (``lr_ratio_*``, ``n_<limb>``), newest last."""
    rule = RULES["limb_asymmetry"]
    recent = history.tail(rule["of_last"])
    flags = []
    for pair, (left, right) in {"legs": ("left_leg", "right_leg"), "arms": ("left_arm", "right_arm")}.items():
        if f"lr_ratio_{pair}" not in recent:
            continue
        ratio = recent[f"lr_ratio_{pair}"].astype(float)
        enough = (recent[f"n_{left}"] + recent[f"n_{right}"]) >= rule["min_moves"]
        low, high = enough & (ratio < 1 / rule["ratio"]), enough & (ratio > rule["ratio"])
        for side, mask in (("left", low), ("right", high)):
            if mask.sum() >= rule["nights"] and mask.iloc[-1]:
                weak, strong = (left, right) if side == "left" else (right, left)
                value = ratio.iloc[-1]
                detail = {
                    "weak": weak.replace("_", " "),
                    "strong": strong.replace("_", " "),
                    "ratio": f"left/right = {value:.2f}",
                    "nights": int(mask.sum()),
                    "of": len(recent),
                }
                flags.append(_flag("limb_asymmetry", night_start, 0, [weak], detail, tz))
    return flags


def rising_shaking(history: pd.DataFrame, tz: str, night_start, age_months: float) -> list[dict]:
    """From night metrics with ``n_shake_asleep`` and ``night`` (this night last): weekly counts of shaking in
    sleep (rocking while falling asleep is benign and not counted)."""
    rule = RULES["rising_shaking"]
    if "n_shake_asleep" not in history or history.empty:
        return []
    nights = pd.to_datetime(history["night"])
    last = nights.iloc[-1]
    counts = history["n_shake_asleep"].fillna(0)
    weeks = [
        int(
            counts[
                (nights > last - pd.Timedelta(days=7 * (w + 1))) & (nights <= last - pd.Timedelta(days=7 * w))
            ].sum()
        )
        for w in range(rule["weeks"])
    ][::-1]
    rising = (
        all(w > 0 for w in weeks)
        and all(b > a for a, b in zip(weeks, weeks[1:], strict=False))
        and weeks[-1] >= rule["weekly_min"]
    )
    late = np.isfinite(age_months) and age_months >= rule["late_months"] and weeks[-1] >= rule["weekly_min"]
    # raised on a night that itself had shaking in sleep, so the parent has a time to look at
    if (rising or late) and int(counts.iloc[-1]) > 0:
        return [
            _flag(
                "rising_shaking", night_start, 0, ["whole_body"], {"counts": " -> ".join(map(str, weeks))}, tz
            )
        ]
    return []


def night_flags(
    events: pd.DataFrame, phases: pd.DataFrame, tz: str, age_months: float
) -> tuple[list[dict], dict]:
    """The flags that one night's data alone can raise, and the numbers behind them."""
    flags = rhythmic_jerking(events, phases, tz) + cluster_on_waking(events, phases, tz, age_months)
    plm, index = periodic_limb_moves(events, phases, tz)
    times = pd.DatetimeIndex(pd.to_datetime(events["start"], utc=True))
    in_sleep = (
        int(((events["kind"] == "shake").to_numpy() & _sleep_at(times, phases)).sum()) if len(events) else 0
    )
    return flags + plm, {"plm_index": index, "n_shake_asleep": in_sleep}


# The most earlier nights a history flag looks at: asymmetry, the last ``of_last`` nights; rising shaking, the
# nights of the last ``weeks`` weeks (one a date, so at most 7 per week).
HISTORY_NIGHTS = max(RULES["limb_asymmetry"]["of_last"], 7 * RULES["rising_shaking"]["weeks"])


HISTORY_RULES = ("limb_asymmetry", "rising_shaking")  # the rules that look at earlier nights


def history_flags(history: pd.DataFrame, tz: str, night_start, age_months: float) -> list[dict]:
    """Flags that need earlier nights: persistent asymmetry, shaking rising week over week."""
    return limb_asymmetry(history, tz, night_start) + rising_shaking(history, tz, night_start, age_months)


def encode(flags: list[dict]) -> str:
    return json.dumps(flags, ensure_ascii=False)


def decode(text) -> list[dict]:
    if text is None or (isinstance(text, float) and np.isnan(text)) or text == "":
        return []
    return json.loads(text)
