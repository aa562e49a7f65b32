"""Simulated infant nights, following ``science.md``: true phases per 30-s epoch and the movements they cause.

The simulator is the ground truth the phase model is trained and checked on, so its difficulty must come
from the facts, not from what makes the model look good. Numbers and their sources:

=================================  ==========================  =============================================
parameter                          value used                  source / assumption
=================================  ==========================  =============================================
cycle length (min)                 47 at 0 mo, 49 at 3 mo,     Stern, Parmelee et al. 1969; per-cycle SD 8 min,
                                   50 at >= 8 mo               clipped to the neonatal range 30-70 min
sleep shares active/quiet/trans.   55/35/10 % at 0 mo,         Dereymaeker 2017 (newborn); quiet ~ 2x active at
                                   45/45/10 at 3 mo,           8 mo (Stern 1969); interpolated by age
                                   31/62/7 at >= 8 mo
sleep-onset active sleep           P = 1 to 1 mo, fading       science.md: sleep-onset REM fades by 2-3 months
                                   linearly to 0 at 3 mo
bedtime / morning wake             19:00-20:30 / 06:00-07:30   assumption; gives 9.5-11.5 h nights
                                                               (SHINE: 459-537 min of night sleep)
night wakings per night            Poisson, 2.5 at 1 mo,       SHINE wake bouts 3.2 / 1.1 / 0.6 at 1 / 6 / 12 mo,
                                   1.1 at 6 mo, 0.8 at 12 mo   Galland 2012 wakings 1.7 / 0.8 / 1.1
waking length                      log-normal, median 12 min,  SHINE WASO 43-54 min over the night
                                   3-45 min
twitch bursts per min              active 1.2, transition      assumption (no published infant rate):
                                   0.8, awake 0.3, quiet 0.03  twitches come in bursts <= 10 s apart (Blumberg)
                                   (< 3 mo) rising to 0.25
                                   at >= 6 mo
twitches per burst                 1 + Poisson(2.5)            assumption
startles per hour                  quiet 10.6, active 1.9 in   Sitka 1990 (day-2 newborns); Moro fades by
                                   newborns; x0.15 by 6 mo     3-6 mo (linear fade assumed)
kicks per min                      awake 3, transition 0.3,    assumption; kicks on waking (arousal sequence:
                                   active 0.15, quiet 0.02     startle then thrashing over 2-4 s)
durations (s)                      twitch 0.1-0.5, kick ~1.5,  assumption (no published durations); each
                                   startle 0.5-1.5             baby draws its own mean
sleep-onset rhythmic movement      from 6 mo, P = 0.5 a night, 59 % of 9-month-olds rock or roll at sleep
                                   one 5-20 s shake at 1-2 Hz  onset (science.md)
baby / night variability           rates x lognormal(0, 0.3)   assumption: every baby has its own rates,
                                   per baby, (0, 0.15) night   every night differs
realistic: per-phase rate, baby    lognormal(0, 0.7) per       Sitka 1990: startles 10.6 +- 8.7 /h (quiet),
                                   baby and phase              1.9 +- 2.1 /h (active), CV 0.8-1.1
realistic: per-phase rate, night   lognormal(0, 0.3)           assumption (smaller than between babies)
realistic: per bout                lognormal(0, 0.6)           assumption: twitching comes in bursts
realistic: quiet twitch bursts     0.3 /min (< 3 mo)           set so the rules baseline's active-vs-quiet
                                                               kappa is 0.2-0.4, as published (science.md)
realistic: architecture per baby   cycle SD 5 min, active      assumption, inside science.md's ranges
                                   share SD 0.06
=================================  ==========================  =============================================

Two settings (:data:`SETTINGS`): "realistic", the default, adds the rows marked realistic; "clean" leaves them
out, so phases separate by movement far more cleanly than in real infants (a logic test only).

Outputs of :func:`write_simulation`: ``subjects.csv``, ``logs/<subject>.csv`` (the user log format),
``diary/<subject>.csv`` (a parent's diary in the generic diary format: night sleep, feeds and visits at
wakings), and ``labels.csv`` (``subject, epoch_start, phase`` for every recorded epoch: the train/evaluate format).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .nights import zone
from .runs import runs
from .schema import EPOCH_S, KINDS

DEFAULT_START = dt.date(2026, 3, 2)  # four weeks from here cross both the US and the EU spring DST change
ZONES = ("Europe/London", "America/New_York", "Australia/Sydney", "Europe/Berlin", "Asia/Tokyo")
NAMES = ("ada", "ben", "cleo", "dev", "emi", "finn", "gus", "hana", "ivo", "juno", "kai", "lea")

_PHASE_CODE = {"awake": 0, "active": 1, "quiet": 2, "transition": 3}
_CODE_PHASE = np.array(["awake", "active", "quiet", "transition"])
_LIMBS_TWITCH = (["left_leg", "right_leg", "left_arm", "right_arm", "head"], [0.3, 0.3, 0.15, 0.15, 0.1])
_LIMBS_BIG = (["left_leg", "right_leg", "left_arm", "right_arm", "whole_body"], [0.3, 0.3, 0.1, 0.1, 0.2])


def _interp(age_months: float, points: dict[float, float]) -> float:
    xs, ys = zip(*sorted(points.items()), strict=True)
    return float(np.interp(age_months, xs, ys))


@dataclass(frozen=True)
class Baby:
    """One simulated baby: identity, age and its own movement rates."""

    subject: str
    born: dt.date
    tz: str
    rate_scale: float  # multiplies every movement rate
    twitch_s: float  # mean twitch duration (s)
    seed: int
    anomaly: str | None = None  # one of ANOMALIES: a pattern the review flags must catch
    phase_scale: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)  # awake, active, quiet, transition
    architecture: tuple[float, float] = (
        0.0,
        0.0,
    )  # the baby's cycle length (min) and active share, off the age's
    setting: str = "clean"  # see SETTINGS

    def age_months(self, night: dt.date) -> float:
        return (night - self.born).days / 30.44


def age_parameters(age_months: float, setting: str = "clean") -> dict[str, float]:
    """Sleep architecture and movement rates for an age, from the table in the module docstring."""
    quiet_twitch = {0: 0.03, 3: 0.03, 6: 0.25}
    if setting == "realistic":
        quiet_twitch = {
            0: REALISTIC_QUIET_TWITCH,
            3: REALISTIC_QUIET_TWITCH,
            6: max(0.25, REALISTIC_QUIET_TWITCH),
        }
    active = _interp(age_months, {0: 0.55, 3: 0.45, 8: 0.31})
    transition = _interp(age_months, {0: 0.10, 3: 0.10, 8: 0.07})
    moro = _interp(age_months, {0: 1.0, 6: 0.15})
    return {
        "cycle_min": _interp(age_months, {0: 47, 3: 49, 8: 50}),
        "active_share": active,
        "transition_share": transition,
        "quiet_share": 1 - active - transition,
        "onset_active_p": _interp(age_months, {0: 1.0, 1: 1.0, 3: 0.0}),
        "wakings": _interp(age_months, {1: 2.5, 6: 1.1, 12: 0.8}),
        # per-minute rates by phase: awake, active, quiet, transition
        "twitch_bursts": np.array([0.3, 1.2, _interp(age_months, quiet_twitch), 0.8]),
        "startles": np.array([1.0, 1.9 * moro, 10.6 * moro, 4.0 * moro]) / 60,
        "kicks": np.array([3.0, 0.15, 0.02, 0.3]),
        "stretches": np.array([0.3, 0.02, 0.01, 0.2]),
        "others": np.array([0.6, 0.0, 0.0, 0.05]),
        "onset_rhythm_p": 0.5 if age_months >= 6 else 0.0,
    }


ANOMALIES = ("rhythmic", "spasms", "asymmetric", "plm")

# How much movement tells the phases apart. "realistic" (the default: what the model is trained and its card's
# headline figure measured on) gives every baby, night and phase bout its own movement rate in each phase, so that
# rates overlap between phases as in real recordings; "clean" keeps one rate per phase (a logic test only: phases
# separate far more cleanly than in real infants).
SETTINGS = ("realistic", "clean")
# Between-baby spread of a phase's movement rate (lognormal sigma, drawn per baby and phase). Sitka 1990 (day-2
# newborns): startles 10.6 +- 8.7 /h in quiet sleep and 1.9 +- 2.1 /h in active sleep, coefficients of variation
# 0.82 and 1.1, i.e. sigma = sqrt(ln(1 + CV^2)) = 0.70 and 0.90; 0.7 is used for every kind of movement.
BABY_PHASE_SIGMA = 0.7
# Night-to-night spread of a phase's rate within a baby (lognormal sigma). Assumption: no published per-phase
# figure; smaller than between babies, as actigraphy's night-to-night variation is.
NIGHT_PHASE_SIGMA = 0.3
# Spread between bouts of the same phase in one night (lognormal sigma): assumption. Twitching comes in bursts
# and some active-sleep bouts hold little of it; this is what makes single minutes ambiguous.
BOUT_SIGMA = 0.6
# Twitch bursts per minute of quiet sleep before 3 months in the realistic setting: assumption, set so that the
# rules-only baseline's active-vs-quiet kappa on simulated babies lands in the 0.2-0.4 that published
# movement-only scoring reaches (science.md, "What good looks like"); the clean setting keeps 0.03.
REALISTIC_QUIET_TWITCH = 0.3
# Spread of the sleep architecture between babies: cycle length SD 5 min and active share SD 0.06 (assumption,
# inside the ranges science.md gives: cycles 30-70 min, active 50-60 % at term).
BABY_CYCLE_SD_MIN, BABY_ACTIVE_SD = 5.0, 0.06


def make_babies(
    n: int,
    seed: int,
    start: dt.date = DEFAULT_START,
    anomalies: dict[int, str] | None = None,
    setting: str = "realistic",
) -> list[Baby]:
    """``n`` babies whose ages at ``start`` spread from about 2 weeks to 11 months.

    ``anomalies`` maps a baby's position to one of :data:`ANOMALIES` (see :func:`anomaly_events`); ``setting``
    is one of :data:`SETTINGS`.
    """
    anomalies = anomalies or {}
    unknown = set(anomalies.values()) - set(ANOMALIES)
    if unknown:
        raise ValueError(f"unknown anomalies {sorted(unknown)}: use {', '.join(ANOMALIES)}")
    if setting not in SETTINGS:
        raise ValueError(f"unknown simulator setting {setting!r}: use {', '.join(SETTINGS)}")
    spread = np.random.default_rng(
        np.random.SeedSequence([seed, 2])
    )  # its own stream: clean babies unchanged
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    ages_days = np.linspace(14, 335, n) if n > 1 else np.array([60.0])
    babies = []
    for i in range(n):
        age = int(ages_days[i] + rng.integers(-5, 6))
        babies.append(
            Baby(
                subject=f"{NAMES[i % len(NAMES)]}{'' if i < len(NAMES) else i // len(NAMES)}",
                born=start - dt.timedelta(days=max(age, 3)),
                tz=ZONES[i % len(ZONES)],
                rate_scale=float(rng.lognormal(0, 0.3)),
                twitch_s=float(rng.uniform(0.15, 0.4)),
                seed=int(rng.integers(2**31)),
                anomaly=anomalies.get(i),
                phase_scale=(
                    tuple(float(x) for x in spread.lognormal(0, BABY_PHASE_SIGMA, 4))
                    if setting == "realistic"
                    else (1.0, 1.0, 1.0, 1.0)
                ),
                architecture=(
                    (float(spread.normal(0, BABY_CYCLE_SD_MIN)), float(spread.normal(0, BABY_ACTIVE_SD)))
                    if setting == "realistic"
                    else (0.0, 0.0)
                ),
                setting=setting,
            )
        )
    return babies


def simulate_hypnogram(
    rng: np.random.Generator, params: dict, n_epochs: int, settle: int, wake_tail: int
) -> np.ndarray:
    """Phase code per epoch for one night: settling awake, sleep cycles with wakings, morning awake."""
    out = np.zeros(n_epochs, dtype=np.int8)
    sleep_end = n_epochs - wake_tail
    per_min = 60 // EPOCH_S
    # Night wakings: times in the sleep period, each a run of awake epochs entered through transition.
    n_wakings = rng.poisson(params["wakings"])
    wakings = sorted(
        rng.uniform(settle + 60 * per_min, max(sleep_end - 30 * per_min, settle + 61 * per_min), n_wakings)
    )
    lengths = np.clip(rng.lognormal(np.log(12), 0.6, n_wakings), 3, 45) * per_min

    i = settle
    start_active = rng.random() < params["onset_active_p"]
    first = True
    while i < sleep_end:
        cycle = np.clip(rng.normal(params["cycle_min"], 8), 30, 70) * per_min
        active = max(1, int(round(cycle * params["active_share"] * rng.uniform(0.8, 1.2))))
        quiet = max(1, int(round(cycle * params["quiet_share"] * rng.uniform(0.8, 1.2))))
        trans = max(1, int(round(cycle * params["transition_share"] / 2)))
        if first and not start_active:
            order = [(3, trans), (2, quiet), (3, trans), (1, active)]
        else:
            order = [(3, trans), (1, active), (3, trans), (2, quiet)]
        first = False
        for code, length in order:
            out[i : min(i + length, sleep_end)] = code
            i += length
            if i >= sleep_end:
                break
    for at, length in zip(wakings, lengths, strict=True):
        a = int(at)
        b = min(int(at + length), sleep_end)
        out[max(a - 1, settle) : a] = 3  # arousal through a transition epoch
        out[a:b] = 0
        if b < sleep_end:
            out[b : b + 2] = 3
    out[:settle] = 0
    out[sleep_end:] = 0
    if settle > 0:
        out[settle - 1] = 3  # drowsy transition into sleep
    return out


def simulate_events(
    rng: np.random.Generator,
    baby: Baby,
    params: dict,
    codes: np.ndarray,
    t0: pd.Timestamp,
    night_scale: float,
    epoch_scale: np.ndarray | None = None,
) -> pd.DataFrame:
    """Movement events for one night's hypnogram; ``t0`` is the UTC start of the first epoch; ``epoch_scale``
    multiplies each epoch's rates (the realistic setting's per-phase, per-night and per-bout spread)."""
    scale = baby.rate_scale * night_scale * (epoch_scale if epoch_scale is not None else 1.0)
    per_epoch = EPOCH_S / 60
    n = len(codes)
    epoch_t = np.arange(n) * float(EPOCH_S)
    parts = []

    def emit(kind, counts, dur_fn, intensity_fn, limbs):
        k = int(counts.sum())
        if k == 0:
            return
        starts = np.repeat(epoch_t, counts) + rng.uniform(0, EPOCH_S, k)
        names, probs = limbs
        parts.append(
            pd.DataFrame(
                {
                    "offset": starts,
                    "duration_s": dur_fn(k),
                    "limb": rng.choice(names, size=k, p=probs),
                    "kind": kind,
                    "intensity": intensity_fn(k),
                }
            )
        )

    # Twitches: bursts of 1 + Poisson(2.5) twitches, each <= 10 s after the previous one.
    bursts = rng.poisson(params["twitch_bursts"][codes] * per_epoch * scale)
    k = int(bursts.sum())
    if k:
        burst_t = np.repeat(epoch_t, bursts) + rng.uniform(0, EPOCH_S, k)
        sizes = 1 + rng.poisson(2.5, k)
        total = int(sizes.sum())
        gaps = rng.uniform(0.5, 10, total)
        first_of_burst = np.r_[0, np.cumsum(sizes)[:-1]]
        gaps[first_of_burst] = 0
        burst_id = np.repeat(np.arange(k), sizes)
        within = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[first_of_burst], sizes)
        offsets = burst_t[burst_id] + within
        names, probs = _LIMBS_TWITCH
        parts.append(
            pd.DataFrame(
                {
                    "offset": offsets,
                    "duration_s": np.clip(rng.normal(baby.twitch_s, 0.08, total), 0.08, 0.9),
                    "limb": rng.choice(names, size=total, p=probs),
                    "kind": "twitch",
                    "intensity": np.clip(rng.beta(2, 8, total), 0.02, 1),
                }
            )
        )
    emit(
        "startle",
        rng.poisson(params["startles"][codes] * per_epoch * scale),
        lambda m: rng.uniform(0.5, 1.5, m),
        lambda m: rng.uniform(0.6, 1.0, m),
        (["whole_body", "left_arm", "right_arm"], [0.6, 0.2, 0.2]),
    )
    emit(
        "kick",
        rng.poisson(params["kicks"][codes] * per_epoch * scale),
        lambda m: np.clip(rng.lognormal(np.log(1.5), 0.4, m), 0.5, 8),
        lambda m: rng.uniform(0.4, 0.9, m),
        _LIMBS_BIG,
    )
    emit(
        "stretch",
        rng.poisson(params["stretches"][codes] * per_epoch * scale),
        lambda m: rng.uniform(2, 6, m),
        lambda m: rng.uniform(0.3, 0.6, m),
        _LIMBS_BIG,
    )
    emit(
        "other",
        rng.poisson(params["others"][codes] * per_epoch * scale),
        lambda m: rng.uniform(1, 5, m),
        lambda m: rng.uniform(0.3, 0.8, m),
        (["whole_body"], [1.0]),
    )
    # Benign rhythmic movement at sleep onset (59 % of 9-month-olds rock or roll): from 6 months, on about
    # half the nights, one 5-20 s episode at 1-2 Hz in the settling period.
    if params["onset_rhythm_p"] > 0 and rng.random() < params["onset_rhythm_p"]:
        sleep_start = int(np.argmax(codes != 0)) if (codes != 0).any() else n
        if sleep_start > 4:
            t = float(rng.uniform(0, (sleep_start - 2) * EPOCH_S))
            parts.append(
                pd.DataFrame(
                    {
                        "offset": [t],
                        "duration_s": [round(float(rng.uniform(5, 20)), 1)],
                        "limb": [rng.choice(["left_leg", "right_leg", "whole_body"])],
                        "kind": ["shake"],
                        "intensity": [round(float(rng.uniform(0.3, 0.6)), 3)],
                    }
                )
            )
    # Arousal sequence at each waking: a startle, then thrashing kicks over 2-4 s.
    onsets = np.flatnonzero((codes[1:] == 0) & (codes[:-1] != 0)) + 1
    for onset in onsets:
        t = onset * float(EPOCH_S)
        kicks = rng.integers(2, 4)
        parts.append(
            pd.DataFrame(
                {
                    "offset": np.r_[t, t + np.sort(rng.uniform(1, 4, kicks))],
                    "duration_s": np.r_[1.0, rng.uniform(0.8, 2.0, kicks)],
                    "limb": ["whole_body"] + list(rng.choice(_LIMBS_BIG[0][:4], kicks)),
                    "kind": ["startle"] + ["kick"] * kicks,
                    "intensity": np.r_[0.9, rng.uniform(0.6, 1.0, kicks)],
                }
            )
        )
    if baby.anomaly:
        parts = anomaly_events(rng, baby.anomaly, codes, parts)
    if not parts:
        return pd.DataFrame(columns=["start", "duration_s", "limb", "kind", "intensity"])
    events = pd.concat(parts, ignore_index=True)
    events = events[events["offset"] < n * EPOCH_S].sort_values("offset", ignore_index=True)
    events["start"] = t0 + pd.to_timedelta(np.round(events.pop("offset") * 1000).astype("int64"), unit="ms")
    events["duration_s"] = events["duration_s"].round(3)
    events["intensity"] = events["intensity"].round(3)
    assert set(events["kind"]) <= set(KINDS)
    return events[["start", "duration_s", "limb", "kind", "intensity"]]


def anomaly_events(
    rng: np.random.Generator, anomaly: str, codes: np.ndarray, parts: list[pd.DataFrame]
) -> list[pd.DataFrame]:
    """Add (or, for asymmetry, remove) the events of an anomaly; offsets in seconds from the first epoch.

    * rhythmic: on 70 % of nights one 12-25 s episode of rhythmic jerking of one leg in quiet sleep;
    * spasms: at every waking, a cluster of 6-10 sudden whole-body jerks (1-1.8 s) 5-15 s apart;
    * asymmetric: four in five right-leg movements never happen;
    * plm: 5-8 series of 10-20 leg movements (1-3 s) every 20-40 s in quiet sleep.
    """
    quiet = np.flatnonzero(codes == 2)
    extra = []
    if anomaly == "rhythmic" and len(quiet) and rng.random() < 0.7:
        t = float(quiet[rng.integers(len(quiet))] * EPOCH_S)
        extra.append(
            {
                "offset": [t],
                "duration_s": [rng.uniform(12, 25)],
                "limb": [rng.choice(["left_leg", "right_leg"])],
                "kind": ["shake"],
                "intensity": [0.5],
            }
        )
    elif anomaly == "spasms":
        for onset in np.flatnonzero((codes[1:] == 0) & (codes[:-1] != 0)) + 1:
            k = int(rng.integers(6, 11))
            times = onset * EPOCH_S + rng.uniform(5, 40) + np.cumsum(np.r_[0, rng.uniform(5, 15, k - 1)])
            extra.append(
                {
                    "offset": times,
                    "duration_s": rng.uniform(1.0, 1.8, k),
                    "limb": ["whole_body"] * k,
                    "kind": ["startle"] * k,
                    "intensity": rng.uniform(0.7, 1.0, k),
                }
            )
    elif anomaly == "plm" and len(quiet):
        for _ in range(int(rng.integers(5, 9))):
            k = int(rng.integers(10, 21))
            t0 = float(quiet[rng.integers(len(quiet))] * EPOCH_S)
            times = t0 + np.cumsum(np.r_[0, rng.uniform(20, 40, k - 1)])
            extra.append(
                {
                    "offset": times,
                    "duration_s": rng.uniform(1, 3, k),
                    "limb": [rng.choice(["left_leg", "right_leg"])] * k,
                    "kind": ["kick"] * k,
                    "intensity": rng.uniform(0.4, 0.7, k),
                }
            )
    elif anomaly == "asymmetric":
        parts = [p[~((p["limb"] == "right_leg").to_numpy() & (rng.random(len(p)) < 0.8))] for p in parts]
    return parts + [pd.DataFrame(e) for e in extra]


def simulate_night(baby: Baby, night: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One night of one baby: ``(events, labels)``; times are UTC, labels one row per recorded epoch."""
    rng = np.random.default_rng(np.random.SeedSequence([baby.seed, night.toordinal()]))
    params = age_parameters(baby.age_months(night), baby.setting)
    cycle_offset, active_offset = baby.architecture
    params["cycle_min"] += cycle_offset
    params["active_share"] = float(np.clip(params["active_share"] + active_offset, 0.15, 0.75))
    params["quiet_share"] = 1 - params["active_share"] - params["transition_share"]
    z = zone(baby.tz)
    bedtime = dt.datetime.combine(night, dt.time(19), tzinfo=z) + dt.timedelta(
        minutes=float(rng.uniform(0, 90))
    )
    morning = dt.datetime.combine(night + dt.timedelta(days=1), dt.time(6), tzinfo=z) + dt.timedelta(
        minutes=float(rng.uniform(0, 90))
    )
    # Recording starts with settling and ends a little after waking; epochs are aligned to UTC 30-s marks.
    settle_min, tail_min = rng.uniform(10, 30), rng.uniform(10, 20)
    t0 = (
        pd.Timestamp(bedtime - dt.timedelta(minutes=float(settle_min))).tz_convert("UTC").floor(f"{EPOCH_S}s")
    )
    t1 = pd.Timestamp(morning + dt.timedelta(minutes=float(tail_min))).tz_convert("UTC").floor(f"{EPOCH_S}s")
    n = int((t1 - t0).total_seconds() // EPOCH_S)
    per_min = 60 // EPOCH_S
    codes = simulate_hypnogram(rng, params, n, int(settle_min * per_min), int(tail_min * per_min))
    night_scale = float(rng.lognormal(0, 0.15))
    events = simulate_events(rng, baby, params, codes, t0, night_scale, _epoch_scale(baby, night, codes))
    labels = pd.DataFrame(
        {
            "subject": baby.subject,
            "epoch_start": t0 + pd.to_timedelta(np.arange(n) * EPOCH_S, unit="s"),
            "phase": _CODE_PHASE[codes],
        }
    )
    return events, labels


def _epoch_scale(baby: Baby, night: dt.date, codes: np.ndarray) -> np.ndarray:
    """Each epoch's movement-rate multiplier beyond the baby's and the night's overall scale: the baby's own rate
    in each phase, this night's, and this bout's (see :data:`SETTINGS`). All ones in the clean setting. Drawn from
    a stream of its own, so the clean setting's nights stay what they were."""
    if baby.setting != "realistic":
        return np.ones(len(codes))
    rng = np.random.default_rng(np.random.SeedSequence([baby.seed, night.toordinal(), 7]))
    night_phase = rng.lognormal(0, NIGHT_PHASE_SIGMA, 4)
    starts, lengths, values = runs(codes)
    bout = np.repeat(rng.lognormal(0, BOUT_SIGMA, len(starts)), lengths)
    return np.asarray(baby.phase_scale)[codes] * night_phase[codes] * bout


def parent_diary(baby: Baby, labels: pd.DataFrame) -> pd.DataFrame:
    """What a parent would note for a night: the sleep from falling asleep to morning, and a feed (under
    6 months) or a visit at each waking of 5 minutes or more. Times UTC; derived from the true hypnogram."""
    awake = (labels["phase"] == "awake").to_numpy()
    starts = labels["epoch_start"]
    if awake.all():
        return pd.DataFrame(columns=["start", "end", "activity", "note"])
    first, last = int(np.argmax(~awake)), len(awake) - 1 - int(np.argmax(~awake[::-1]))
    night = starts.iloc[0].date()
    rng = np.random.default_rng(np.random.SeedSequence([baby.seed, night.toordinal(), 3]))
    rows = [
        {
            "start": starts.iloc[first],
            "end": starts.iloc[last] + pd.Timedelta(seconds=EPOCH_S),
            "activity": "sleep",
            "note": "night sleep",
        }
    ]
    inside = awake[first : last + 1]
    edges = np.diff(np.r_[0, inside.astype(np.int8), 0])
    for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        if (b - a) * EPOCH_S >= 300:
            t = starts.iloc[first + a] + pd.Timedelta(seconds=float(rng.uniform(30, 120)))
            feed = baby.age_months(night) < 6
            rows.append(
                {
                    "start": t,
                    "end": pd.NaT,
                    "activity": "feed" if feed else "visit",
                    "note": "night feed" if feed else "settled",
                }
            )
    return pd.DataFrame(rows)


def simulate(
    babies: int = 3,
    weeks: int = 4,
    seed: int = 0,
    start: dt.date = DEFAULT_START,
    anomalies: dict[int, str] | None = None,
    setting: str = "realistic",
) -> tuple[list[Baby], dict[str, pd.DataFrame], pd.DataFrame]:
    """Simulate ``weeks`` of nights for ``babies`` babies, in one of :data:`SETTINGS`.

    Returns
    -------
    babies : list of Baby
    events : dict subject -> events (UTC ``start``, ``duration_s``, ``limb``, ``kind``, ``intensity``)
    labels : DataFrame ``subject, epoch_start (UTC), phase``
    """
    cohort = make_babies(babies, seed, start, anomalies, setting)
    events, labels = {}, []
    for baby in cohort:
        nights = [simulate_night(baby, start + dt.timedelta(days=d)) for d in range(7 * weeks)]
        events[baby.subject] = pd.concat([e for e, _ in nights], ignore_index=True)
        labels += [lab for _, lab in nights]
    return cohort, events, pd.concat(labels, ignore_index=True)


def recording_spans(labels: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """When each simulated night was recorded: ``subject -> start, end`` (UTC), one row per run of labelled
    epochs (the simulator labels every recorded epoch, from settling at bedtime to a little after waking)."""
    out = {}
    for subject, mine in labels.groupby("subject", sort=True):
        starts = pd.to_datetime(mine["epoch_start"], utc=True).sort_values(ignore_index=True)
        run = starts.diff().dt.total_seconds().fillna(EPOCH_S).gt(EPOCH_S).cumsum()
        spans = starts.groupby(run).agg(["min", "max"])
        out[subject] = pd.DataFrame(
            {
                "start": spans["min"].to_numpy(),
                "end": (spans["max"] + pd.Timedelta(seconds=EPOCH_S)).to_numpy(),
            }
        )
    return out


def _local_iso(times: pd.Series, tz: str) -> pd.Series:
    """ISO 8601 local times with their UTC offset, millisecond precision (what a phone app writes)."""
    local = pd.to_datetime(times, utc=True).dt.tz_convert(tz)
    text = local.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + local.dt.strftime("%z")
    return text.str[:-2] + ":" + text.str[-2:]


def write_simulation(
    out: str | Path,
    babies: int = 3,
    weeks: int = 4,
    seed: int = 0,
    start: dt.date = DEFAULT_START,
    setting: str = "realistic",
) -> dict:
    """Simulate and write ``subjects.csv``, ``logs/<subject>.csv`` and ``labels.csv`` under ``out``."""
    out = Path(out)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    cohort, events, labels = simulate(babies, weeks, seed, start, setting=setting)
    pd.DataFrame(
        {
            "subject": [b.subject for b in cohort],
            "born": [b.born.isoformat() for b in cohort],
            "tz": [b.tz for b in cohort],
        }
    ).to_csv(out / "subjects.csv", index=False)
    tz_of = {b.subject: b.tz for b in cohort}
    spans = recording_spans(labels)
    for subject, frame in events.items():
        # the monitor is switched on at bedtime and off after getting up: recording rows say so
        marks = pd.concat(
            [
                pd.DataFrame({"start": spans[subject]["start"], "kind": "recording_start"}),
                pd.DataFrame({"start": spans[subject]["end"], "kind": "recording_stop"}),
            ]
        )
        log = pd.concat([frame, marks], ignore_index=True).sort_values(
            "start", kind="stable", ignore_index=True
        )
        log.insert(0, "time", _local_iso(log.pop("start"), tz_of[subject]))
        log.to_csv(out / "logs" / f"{subject}.csv", index=False)
    (out / "diary").mkdir(exist_ok=True)
    for baby in cohort:
        mine = labels[labels["subject"] == baby.subject]
        nights = mine["epoch_start"].diff().dt.total_seconds().fillna(EPOCH_S).gt(EPOCH_S).cumsum()
        diary = pd.concat([parent_diary(baby, night) for _, night in mine.groupby(nights)], ignore_index=True)
        end = diary["end"]
        diary["start"] = _local_iso(diary["start"], baby.tz)
        diary["end"] = _local_iso(end.fillna(pd.Timestamp(0, tz="UTC")), baby.tz).where(end.notna(), "")
        diary.to_csv(out / "diary" / f"{baby.subject}.csv", index=False)
    labels = labels.copy()
    labels["epoch_start"] = pd.concat(
        [_local_iso(group["epoch_start"], tz_of[s]) for s, group in labels.groupby("subject", sort=False)]
    )
    labels.to_csv(out / "labels.csv", index=False)
    return {"babies": cohort, "events": sum(len(f) for f in events.values()), "epochs": len(labels)}


# ---------------------------------------------------------------------- raw acceleration
RAW_FS = 50
RAW_LIMBS = ("left_leg", "right_leg")
RAW_NOISE_G = 0.004  # MEMS noise per axis (AX3 datasheet order of magnitude)
WHOLE_BODY_GAIN = 0.7  # a whole-body movement reaches each ankle a little weaker


def _unit(rng: np.random.Generator, n: int = 1) -> np.ndarray:
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _waveform(rng: np.random.Generator, kind: str, duration: float, strength: float, fs: float) -> np.ndarray:
    """(m, 3) acceleration of one movement in g (before gravity), shaped by its kind."""
    m = max(int(round(duration * fs)), 2)
    t = np.arange(m) / fs
    u = _unit(rng)[0]
    if kind == "twitch":  # one brief biphasic jerk
        amp = 0.06 + 0.2 * strength
        wave = amp * np.sin(2 * np.pi * t / duration) * np.sin(np.pi * t / duration) ** 2
        return wave[:, None] * u
    if kind == "startle":  # sudden onset, then decaying oscillation
        amp = 0.6 + 0.9 * strength
        wave = (
            amp
            * (1 - np.exp(-t / 0.03))
            * np.exp(-t / max(duration / 3, 0.1))
            * np.sin(2 * np.pi * 5 * t + 1.0)
        )
        return wave[:, None] * u
    if kind == "shake":  # sustained rhythm at 1-2 Hz on one axis
        amp, f = 0.15 + 0.3 * strength, rng.uniform(1, 2)
        wave = amp * np.sin(2 * np.pi * f * t) * signal_tukey(m)
        return wave[:, None] * u
    if kind == "stretch":  # slow, small
        amp, f = 0.08 + 0.15 * strength, rng.uniform(0.3, 0.8)
        return (amp * np.sin(2 * np.pi * f * t) * np.sin(np.pi * t / duration) ** 2)[:, None] * u
    # kick / other: irregular thrashing, a few pulses of random length, direction and timing
    amp = (0.3 if kind == "kick" else 0.2) + 0.8 * strength
    wave = np.zeros((m, 3))
    at = 0
    while at < m:
        width = int(rng.uniform(0.25, 0.8) * fs)
        piece = np.sin(np.pi * np.arange(width) / width) * rng.uniform(0.5, 1.0) * rng.choice([-1, 1])
        stop = min(at + width, m)
        wave[at:stop] += piece[: stop - at, None] * _unit(rng)[0]
        at = stop + int(rng.uniform(0, 0.3) * fs)
    return amp * wave


def signal_tukey(m: int, alpha: float = 0.3) -> np.ndarray:
    from scipy.signal.windows import tukey

    return tukey(m, alpha)


def render_raw(
    events: pd.DataFrame, t0: pd.Timestamp, t1: pd.Timestamp, seed: int, fs: float = RAW_FS
) -> dict[str, np.ndarray]:
    """Left and right ankle acceleration (g, float32, shape (n, 3)) for a night's events.

    Gravity (1 g) points along a leg orientation that changes with each large movement; each axis carries
    sensor noise and a slow drift (a sensor offset wandering by ~10 mg over hours). Events on a leg are drawn
    on that leg, whole-body events on both; arm and head events are not seen by ankle sensors.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    n = int((t1 - t0).total_seconds() * fs)
    t_h = np.arange(n, dtype="float64") / fs / 3600
    out = {}
    offsets = (
        ((pd.to_datetime(events["start"], utc=True) - t0).dt.total_seconds() * fs)
        .round()
        .astype(np.int64)
        .to_numpy()
    )
    for limb in RAW_LIMBS:
        mine = (events["limb"] == limb).to_numpy() | (events["limb"] == "whole_body").to_numpy()
        # leg orientation: piecewise constant, turning at each large movement
        big = mine & events["kind"].isin(["kick", "startle", "stretch", "other"]).to_numpy()
        turning = np.flatnonzero(big & (offsets >= 0) & (offsets < n))
        turning = turning[np.argsort(offsets[turning], kind="stable")]
        # the leg turns smoothly over the movement: direction k holds until turn k starts, then ramps to k+1
        knots_t, knots_v = [0], [_unit(rng)[0]]
        for i in turning:
            span = max(int(float(events["duration_s"].iloc[i] or 1.0) * fs), 1)
            a, b = int(offsets[i]), min(int(offsets[i]) + span, n - 1)
            if a <= knots_t[-1]:
                continue
            nxt = knots_v[-1] + 0.6 * _unit(rng)[0]
            knots_t += [a, b]
            knots_v += [knots_v[-1], nxt / np.linalg.norm(nxt)]
        knots_t.append(n - 1)
        knots_v.append(knots_v[-1])
        positions = np.arange(n)
        gravity = np.stack(
            [np.interp(positions, knots_t, np.asarray(knots_v)[:, k]) for k in range(3)], axis=1
        )
        gravity = (gravity / np.linalg.norm(gravity, axis=1, keepdims=True)).astype("float32")
        acc = gravity + rng.normal(0, RAW_NOISE_G, (n, 3)).astype("float32")
        phase = rng.uniform(0, 2 * np.pi, 3)
        acc += (0.01 * np.sin(2 * np.pi * t_h[:, None] / rng.uniform(3, 8) + phase)).astype("float32")
        for i in np.flatnonzero(mine):
            start = offsets[i]
            ev = events.iloc[i]
            duration = float(ev["duration_s"]) if pd.notna(ev["duration_s"]) else 0.5
            strength = float(ev["intensity"]) if pd.notna(ev["intensity"]) else 0.5
            gain = WHOLE_BODY_GAIN if ev["limb"] == "whole_body" else 1.0
            wave = gain * _waveform(rng, ev["kind"], duration, strength, fs)
            lo, hi = max(start, 0), min(start + len(wave), n)
            if hi > lo:
                acc[lo:hi] += wave[lo - start : hi - start].astype("float32")
        out[limb] = acc
    return out


def raw_night(
    baby: Baby, night: dt.date, fs: float = RAW_FS
) -> tuple[pd.Timestamp, dict[str, np.ndarray], pd.DataFrame, pd.DataFrame]:
    """One simulated night with ankle acceleration: ``(t0, {limb: acc}, events, labels)``."""
    events, labels = simulate_night(baby, night)
    t0 = labels["epoch_start"].iloc[0]
    t1 = labels["epoch_start"].iloc[-1] + pd.Timedelta(seconds=EPOCH_S)
    return t0, render_raw(events, t0, t1, baby.seed + night.toordinal(), fs), events, labels


RAW_DROPOUT_P = 0.15  # assumption: a sensor loses contact or battery for 5-30 min on about 1 night in 7


def write_raw_csv(
    path: Path, t0: pd.Timestamp, acc: dict[str, np.ndarray], fs: float = RAW_FS, keep=None
) -> None:
    """``timestamp`` (Unix seconds, UTC) plus one x/y/z triple per limb, gzip-compressed, written atomically.

    ``keep`` (a boolean mask over samples) leaves out the samples of a simulated dropout.
    """
    import gzip

    import pyarrow as pa
    import pyarrow.csv as pacsv

    n = len(next(iter(acc.values())))
    keep = np.ones(n, dtype=bool) if keep is None else keep
    columns = {"timestamp": np.round(t0.timestamp() + np.arange(n)[keep] / fs, 3)}
    for limb, values in acc.items():
        for k, axis in enumerate("xyz"):
            columns[f"{limb}_{axis}"] = np.round(values[keep, k].astype("float64"), 4)
    buffer = pa.BufferOutputStream()
    pacsv.write_csv(pa.table(columns), buffer, pacsv.WriteOptions(quoting_style="none"))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(gzip.compress(buffer.getvalue().to_pybytes(), compresslevel=1))
    tmp.replace(path)


def write_raw(out: str | Path, babies: list[Baby], start: dt.date, weeks: int) -> int:
    """Write ``raw/<subject>/<night>.csv.gz`` for every night; returns the number of files."""
    out = Path(out)
    files = 0
    for baby in babies:
        for d in range(7 * weeks):
            night = start + dt.timedelta(days=d)
            t0, acc, _, _ = raw_night(baby, night)
            n = len(acc["left_leg"])
            keep = np.ones(n, dtype=bool)
            rng = np.random.default_rng(np.random.SeedSequence([baby.seed, night.toordinal(), 5]))
            if rng.random() < RAW_DROPOUT_P:  # missing data: the chart must show it as no data
                length = int(rng.uniform(5, 30) * 60 * RAW_FS)
                at = int(rng.uniform(0.2, 0.8) * (n - length))
                keep[at : at + length] = False
            write_raw_csv(out / "raw" / baby.subject / f"{night.isoformat()}.csv.gz", t0, acc, keep=keep)
            files += 1
    return files
