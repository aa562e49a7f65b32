"""A stylised infant night video from simulated events: the ground truth for movement from video.

Head, trunk and four limbs as blobs on a cot sheet, each body part moving exactly when its events say, with
infrared-like noise, and optionally a light switch, a parent's visit and the camera nudged once. How each kind
moves (pixels at 320 x 240, scaled with the picture):

==========  =======================================================================================
twitch      the limb jerks out 4 px and back within the event (0.1-0.5 s)
kick        the limb thrashes: swings of 0.25-0.8 s (as the raw simulator's kicks), each out 7-10 px
            in a direction of its own and back, 0-0.3 s apart, for the event's length
startle     every limb at once, 8 px out and back (a Moro reflex is bilateral whatever limb the
            simulator's ankle sensor saw it on)
whole body  a kick moves both legs, a stretch every limb, a shake (rocking) every part
shake       the limb oscillates +-5 px at 1.5 Hz for the event's length
stretch     the limb extends 6 px slowly and comes back (one slow swing over 2-6 s)
other       the trunk and head shift 5 px and back (squirming, rolling)
==========  =======================================================================================

A figure measured on these videos checks the detector's logic; it is never a claim about real babies.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from .motion import DEFAULT_TEMPLATE

LIMBS = ("left_arm", "right_arm", "left_leg", "right_leg")
# blob half-axes (x, y) in pixels at 240 px high
BLOBS = {
    "head": (16, 14),
    "trunk": (24, 34),
    "left_arm": (9, 20),
    "right_arm": (9, 20),
    "left_leg": (9, 30),
    "right_leg": (9, 30),
}
SIZE = {"twitch": 4.0, "kick": 10.0, "startle": 8.0, "shake": 5.0, "stretch": 6.0, "other": 5.0}
SHAKE_HZ = 1.5


def _moved_parts(limb: str, kind: str) -> tuple[str, ...]:
    """The body parts an event moves: a startle every limb; squirming ("other") the trunk and head; a
    whole-body kick both legs, a whole-body stretch every limb, a whole-body shake (rocking) everything."""
    if kind == "startle":
        return LIMBS
    if kind == "other":
        return ("head", "trunk")
    if limb == "whole_body":
        return {"kick": ("left_leg", "right_leg"), "stretch": LIMBS, "shake": tuple(BLOBS)}.get(kind, ())
    return (limb,) if limb in BLOBS else ()


def _swings(rng: np.random.Generator, duration: float) -> np.ndarray:
    """A kick's swings: rows of (start s, length s, dx, dy) at full size, irregular in length and direction."""
    rows, at = [], 0.0
    while at < duration:
        length = min(float(rng.uniform(0.25, 0.8)), max(duration - at, 0.15))
        angle = float(rng.uniform(-1.2, 1.2))
        reach = float(rng.uniform(0.7, 1.0))
        rows.append((at, length, reach * np.cos(angle), reach * np.sin(angle)))
        at += length + float(rng.uniform(0, 0.3))
    return np.asarray(rows)


def _displacement(kind: str, since: float, duration: float, swings=None) -> tuple[float, float]:
    """(dx, dy) at 240 px high, ``since`` seconds into an event of ``duration``; dx points away from the body."""
    phase = since / max(duration, 0.15)
    if kind == "kick" and swings is not None:
        k = int(np.searchsorted(swings[:, 0], since, side="right")) - 1
        at, length, ux, uy = swings[max(k, 0)]
        if since - at >= length:
            return 0.0, 0.0
        bump = SIZE["kick"] * np.sin(np.pi * (since - at) / length)
        return bump * ux, bump * uy
    size = SIZE.get(kind, 6.0)
    if kind == "shake":
        return size * np.sin(2 * np.pi * SHAKE_HZ * since) * np.sin(np.pi * phase) ** 0.2, 0.0
    if kind == "stretch":
        return size * np.sin(np.pi * phase), -size * 0.5 * np.sin(np.pi * phase)
    return size * np.sin(np.pi * phase), size * 0.5 * np.sin(2 * np.pi * phase)


def render(
    path: str | Path,
    events: pd.DataFrame,
    start: pd.Timestamp,
    seconds: float,
    *,
    width: int = 320,
    height: int = 240,
    fps: int = 10,
    codec: str = "mpeg4",
    bit_rate: int = 2_000_000,
    seed: int = 0,
    light_switch_s: float | None = None,
    visit_s: tuple[float, float] | None = None,
    nudge_s: float | None = None,
    template: dict | None = None,
) -> Path:
    """Write the video of ``seconds`` from ``start`` (``codec`` in an MP4; its creation time is ``start``).

    Parameters
    ----------
    events : DataFrame
        ``start``, ``duration_s``, ``limb``, ``kind``: what the baby does (as :mod:`sleepmoves.simulate` writes).
    width, height, fps, codec, bit_rate
        The picture, as a monitor records it (e.g. 1280 x 720 at 15/s in ``libx264``).
    light_switch_s, visit_s, nudge_s
        When the light switches (the picture's gain rises), when a parent's hand is in the cot
        (``(from, to)``) and when the camera is nudged (the whole picture shifts), in seconds from ``start``.
    template : dict, optional
        Where the baby lies (:func:`sleepmoves.motion.placed_template`); default the default template.
    """
    import av

    rng = np.random.default_rng(seed)
    scale = height / 240
    offsets = (pd.to_datetime(events["start"], utc=True) - start).dt.total_seconds().to_numpy()
    order = np.argsort(offsets, kind="stable")
    offsets = offsets[order]
    durations = np.maximum(events["duration_s"].to_numpy(dtype=float)[order], 0.15)
    limbs, kinds = events["limb"].to_numpy()[order], events["kind"].to_numpy()[order]
    longest = float(durations.max()) if len(durations) else 0.0
    swings = {
        k: _swings(np.random.default_rng([seed, int(k)]), durations[k])
        for k in np.flatnonzero(kinds == "kick")
    }
    template = template or DEFAULT_TEMPLATE
    centres = {
        part: ((x0 + x1) / 2 * width, (y0 + y1) / 2 * height) for part, (x0, y0, x1, y1) in template.items()
    }
    # the baby lies across the picture when her head is beside her trunk rather than above or below it
    head_dx, head_dy = (abs(a - b) for a, b in zip(centres["head"], centres["trunk"], strict=True))
    across = head_dx > head_dy
    stamps = {part: _stamp(ry, rx) if across else _stamp(rx, ry) for part, (rx, ry) in _scaled(scale).items()}
    outward = {part: 1 if centres[part][0] > centres["trunk"][0] else -1 for part in BLOBS}
    hand = _stamp(30 * scale, 18 * scale)  # a parent's, on a visit
    bar = max(2, int(16 * scale))
    backgrounds = {}
    for shift in (0, int(6 * scale)):
        sheet = np.full((height, width), 60, np.uint8)
        sheet[:, ((np.arange(width) + shift) // bar) % 2 == 0] = 45  # the cot's bars move with the camera
        backgrounds[shift] = sheet
    # IR-like noise: a bank of noise frames picked at random (drawing 1 M normals a frame would be most of the
    # rendering time at 720p; a difference of two bank frames is as noisy as a fresh one)
    bank = [rng.normal(0, 4, (height, width)).astype(np.int16) for _ in range(8)]
    with av.open(str(path), "w") as out:
        out.metadata["creation_time"] = start.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = bit_rate
        for i in range(int(seconds * fps)):
            t = i / fps
            gain = 1.0 if light_switch_s is None or t < light_switch_s else 1.6
            shift = 0 if nudge_s is None or t < nudge_s else int(6 * scale)
            img = backgrounds[shift].astype(np.int16)
            moved = {part: [0.0, 0.0] for part in BLOBS}
            lo, hi = np.searchsorted(offsets, [t - longest, t], side="right")
            for k in range(lo, hi):
                since = t - offsets[k]
                if since >= durations[k]:
                    continue
                dx, dy = _displacement(kinds[k], since, durations[k], swings.get(k))
                for part in _moved_parts(limbs[k], kinds[k]):
                    moved[part][0] += dx * outward[part]
                    moved[part][1] += dy
            for part, stamp in stamps.items():
                cx, cy = centres[part]
                _paste(img, stamp, cx + moved[part][0] * scale + shift, cy + moved[part][1] * scale, 170)
            if visit_s is not None and visit_s[0] <= t < visit_s[1]:
                _paste(
                    img, hand, width * 0.1 + (t - visit_s[0]) * 30 * scale % (width * 0.3), height * 0.45, 230
                )
            img = img + bank[rng.integers(len(bank))]
            img = np.clip(img * gain, 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="gray")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return Path(path)


def _scaled(scale: float) -> dict[str, tuple[float, float]]:
    return {part: (rx * scale, ry * scale) for part, (rx, ry) in BLOBS.items()}


def _stamp(rx: float, ry: float) -> np.ndarray:
    """A filled ellipse with half-axes ``rx`` x ``ry`` as a boolean mask."""
    ix, iy = int(np.ceil(rx)), int(np.ceil(ry))
    yy, xx = np.mgrid[-iy : iy + 1, -ix : ix + 1]
    return (xx / max(rx, 0.5)) ** 2 + (yy / max(ry, 0.5)) ** 2 <= 1


def _paste(img: np.ndarray, stamp: np.ndarray, cx: float, cy: float, value: int) -> None:
    """Paint ``stamp`` centred at (cx, cy), clipped to the picture."""
    h, w = stamp.shape
    x0, y0 = int(round(cx)) - w // 2, int(round(cy)) - h // 2
    ax0, ay0 = max(x0, 0), max(y0, 0)
    ax1, ay1 = min(x0 + w, img.shape[1]), min(y0 + h, img.shape[0])
    if ax0 >= ax1 or ay0 >= ay1:
        return
    region = img[ay0:ay1, ax0:ax1]
    region[stamp[ay0 - y0 : ay1 - y0, ax0 - x0 : ax1 - x0]] = value


def separable(events: pd.DataFrame, margin_s: float = 0.5) -> np.ndarray:
    """Whether each event can be told apart on video: no other event moving one of the same body parts
    overlaps it (within ``margin_s``). Two kicks of one leg a moment apart are one movement on any camera."""
    start = (pd.to_datetime(events["start"], utc=True) - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    t0 = start.to_numpy() - margin_s
    t1 = t0 + events["duration_s"].to_numpy(dtype=float) + 2 * margin_s
    parts = [set(_moved_parts(limb, kind)) for limb, kind in zip(events["limb"], events["kind"], strict=True)]
    alone = np.ones(len(events), bool)
    order = np.argsort(t0, kind="stable")
    for a_pos, a in enumerate(order):
        for b in order[a_pos + 1 :]:
            if t0[b] > t1[a]:
                break
            if parts[a] & parts[b]:
                alone[a] = alone[b] = False
    return alone


def rendered_clip_scores(
    seed: int, *, babies: int = 3, seconds: float = 300, folder: str | Path, night=None
) -> pd.DataFrame:
    """Movement from video measured on rendered clips of simulated nights (held out by ``seed``).

    Per baby (realistic setting; the second has rhythmic jerking, the ``rhythmic`` anomaly), clips of
    ``seconds``: two hours into the night (sleep), around the first two wakings after that (each opens with a
    startle and thrashing) and around the night's first shake, if any. Each clip is rendered, analysed as
    ``sleepmoves ingest`` does, and its events matched to the truth (:func:`sleepmoves.evaluate.match_events`,
    the same limb first). Returns the matches with a ``separable`` column (:func:`separable`: whether the true
    event, or the true events a false detection overlaps, can be told apart at all).
    """
    import datetime as dt

    from .evaluate import match_events
    from .ingest.video import frames
    from .motion import frame_motion, motion_events
    from .simulate import make_babies, simulate_night

    night = night or dt.date(2026, 3, 2)
    out = []
    for number, baby in enumerate(make_babies(babies, seed=seed, anomalies={1: "rhythmic"})):
        events, labels = simulate_night(baby, night)
        first = labels["epoch_start"].iloc[0]
        woke = labels["epoch_start"][(labels["phase"] == "awake") & (labels["phase"].shift() != "awake")]
        woke = woke[woke > first + pd.Timedelta(hours=1)].iloc[:2]
        clips = [(events, first + pd.Timedelta(hours=2))]
        clips += [(events, t - pd.Timedelta(seconds=seconds / 3)) for t in woke]
        for day in range(7):  # the week's first shake, if the baby has one
            week_events, _ = simulate_night(baby, night + dt.timedelta(days=day))
            shakes = week_events["start"][week_events["kind"] == "shake"]
            if len(shakes):
                clips.append((week_events, shakes.iloc[0] - pd.Timedelta(seconds=seconds / 3)))
                break
        for k, (events, begin) in enumerate(clips):
            end = begin + pd.Timedelta(seconds=seconds)
            # the truth: what starts and ends inside the clip, a second away from its edges
            inside = (events["start"] >= begin + pd.Timedelta(seconds=1)) & (
                events["start"] + pd.to_timedelta(events["duration_s"], unit="s")
                < end - pd.Timedelta(seconds=1)
            )
            truth = events[inside].reset_index(drop=True)
            truth.loc[truth["kind"] == "startle", "limb"] = "whole_body"  # a Moro reflex is bilateral
            clip = render(
                Path(folder) / f"clip-{number}-{k}.mp4", truth, begin, seconds, seed=number * 10 + k
            )
            found = motion_events(frame_motion(frames(clip)), begin)
            clip.unlink()
            matches = match_events(truth, found, 0.3, prefer_same=("limb",))
            alone = separable(truth)
            ambiguous = truth[~alone]
            a0 = (ambiguous["start"] - begin).dt.total_seconds().to_numpy()
            a1 = a0 + ambiguous["duration_s"].to_numpy(dtype=float)
            f0 = (found["start"] - begin).dt.total_seconds().to_numpy()
            f1 = f0 + found["duration_s"].to_numpy(dtype=float)
            ok = []
            for i, j in zip(matches["true_index"], matches["detected_index"], strict=True):
                if i >= 0:
                    ok.append(bool(alone[i]))
                else:
                    ok.append(not bool(np.any((a0 <= f1[j] + 0.5) & (f0[j] - 0.5 <= a1))))
            out.append(matches.assign(separable=ok, baby=baby.subject, clip=k))
    return pd.concat(out, ignore_index=True)
