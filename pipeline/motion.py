"""Movement from video (WORK IN PROGRESS, issue 18; not used by ingest yet).

Per frame pair: the absolute grey-level difference, thresholded against the frame's own noise, counted per body
zone of a template placed over the crib. A pair where most of the picture changes at once is no data, never
movement: lights or the camera's infrared switching (the brightness jumps), or the camera moved (Frigate's
motion detector documents the same rule: recalibrate when 80 % of the picture changes at once). A pair where the
change reaches the template's border from outside it is an adult's hands (a visit): no data too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

ZONES = ("head", "trunk", "left_arm", "right_arm", "left_leg", "right_leg")
# Zone boxes as (x0, y0, x1, y1) fractions of the frame, for a baby on her back with the head at the top of the
# picture (a monitor above the cot): her left is the picture's right.
DEFAULT_TEMPLATE = {
    "head": (0.42, 0.08, 0.58, 0.28),
    "trunk": (0.38, 0.28, 0.62, 0.60),
    "left_arm": (0.62, 0.28, 0.80, 0.58),
    "right_arm": (0.20, 0.28, 0.38, 0.58),
    "left_leg": (0.50, 0.60, 0.66, 0.92),
    "right_leg": (0.34, 0.60, 0.50, 0.92),
}
MIN_LEVEL = 12  # grey levels: a pixel changed less than this is noise whatever the frame's own noise
NOISE_FACTOR = 4.0  # ... or less than this many times the frame pair's median absolute difference
GLOBAL_CHANGE = 0.5  # share of the picture changed at once: a light, an IR switch or the camera moved
BRIGHTNESS_JUMP = 15.0  # grey levels of mean brightness between two frames: a light or the IR switching


@dataclass(frozen=True)
class FrameMotion:
    """Per analysed frame (from the second): time, whether it is data, and each zone's share of changed pixels."""

    times: np.ndarray
    state: np.ndarray  # "recorded", "lights", "camera", "visit"
    zones: np.ndarray  # (n, len(ZONES)) shares 0-1


def _boxes(shape: tuple[int, int], template: dict) -> dict[str, tuple[slice, slice]]:
    h, w = shape
    return {
        zone: (
            slice(int(y0 * h), max(int(y1 * h), int(y0 * h) + 1)),
            slice(int(x0 * w), max(int(x1 * w), int(x0 * w) + 1)),
        )
        for zone, (x0, y0, x1, y1) in template.items()
    }


def frame_motion(frames: Iterable[tuple[float, np.ndarray]], template: dict | None = None) -> FrameMotion:
    """Zone motion of a stream of grey frames (see the module docstring)."""
    template = template or DEFAULT_TEMPLATE
    times, states, shares = [], [], []
    previous, boxes, border = None, None, None
    for t, frame in frames:
        frame = frame.astype(np.int16)
        if previous is None:
            previous = frame
            boxes = _boxes(frame.shape, template)
            border = _border_mask(frame.shape, template)
            continue
        diff = np.abs(frame - previous)
        level = max(MIN_LEVEL, NOISE_FACTOR * float(np.median(diff)))
        changed = diff > level
        jump = abs(float(frame.mean()) - float(previous.mean()))
        state = "recorded"
        if jump > BRIGHTNESS_JUMP:
            state = "lights"
        elif changed.mean() > GLOBAL_CHANGE or (changed.mean() > SHIFT_CHANGE and _shifted(previous, frame)):
            state = "camera"
        elif changed[border].sum() > VISIT_PIXELS:
            state = "visit"
        times.append(t)
        states.append(state)
        shares.append([changed[boxes[z]].mean() for z in ZONES])
        previous = frame
    return FrameMotion(
        np.asarray(times), np.asarray(states, dtype=object), np.asarray(shares).reshape(-1, len(ZONES))
    )


SHIFT_CHANGE = (
    0.2  # share of the picture changed before a whole-picture shift is looked for (a startle moves less)
)
VISIT_PIXELS = 40  # changed pixels (of a 160-px-wide frame) outside the baby: more than a limb reaching out


def _shifted(previous: np.ndarray, frame: np.ndarray) -> bool:
    """Whether the whole picture moved (the camera was nudged): the phase correlation of the two frames peaks
    away from zero, strongly. A baby's movement changes a small part of the picture and leaves the peak at 0."""
    a = previous - previous.mean()
    b = frame - frame.mean()
    spectrum = np.fft.rfft2(a) * np.conj(np.fft.rfft2(b))
    spectrum /= np.abs(spectrum) + 1e-9
    corr = np.fft.irfft2(spectrum, s=a.shape)
    peak = np.unravel_index(np.argmax(corr), corr.shape)
    return peak != (0, 0) and corr[peak] > 2 * corr[0, 0] and corr[peak] > 0.1


def _border_mask(shape: tuple[int, int], template: dict, band: float = 0.3) -> np.ndarray:
    """Everything just outside the template's outline, where an adult's hands come in."""
    h, w = shape
    x0 = min(b[0] for b in template.values())
    y0 = min(b[1] for b in template.values())
    x1 = max(b[2] for b in template.values())
    y1 = max(b[3] for b in template.values())
    outer = np.zeros(shape, bool)
    outer[
        int(max(0, y0 - band) * h) : int(min(1, y1 + band) * h),
        int(max(0, x0 - band) * w) : int(min(1, x1 + band) * w),
    ] = True
    inner = np.zeros(shape, bool)
    inner[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)] = True
    return outer & ~inner


MERGE_FRAMES = 2  # frames of stillness inside one movement (a swing turning)
ON_SHARE = 0.04  # a zone moves when this share of its pixels changed (WIP: to be measured on rendered videos)


VISIT_MARGIN_S = 3.0  # a visit is no data this long either side of the frames that show hands coming in


def _recorded(motion: FrameMotion) -> np.ndarray:
    """Frames that are data: not a light or camera change, and not within a visit (hands in the cot move the
    baby and are seen only part of the time)."""
    recorded = motion.state == "recorded"
    visits = motion.times[motion.state == "visit"]  # in time order, as the frames
    if len(visits):
        # the nearest visit frame on either side, found by bisection: a night holds 10^5 frames
        after = np.clip(np.searchsorted(visits, motion.times), 0, len(visits) - 1)
        before = np.clip(after - 1, 0, len(visits) - 1)
        nearest = np.minimum(np.abs(visits[after] - motion.times), np.abs(visits[before] - motion.times))
        recorded &= nearest > VISIT_MARGIN_S
    return recorded


def motion_events(motion: FrameMotion, start: pd.Timestamp) -> pd.DataFrame:
    """Movement events from zone motion (WIP rules): a burst of one limb zone is a twitch (<= 0.4 s) or a kick;
    four or more zones starting together within 0.4 s is a startle."""
    rows = []
    step = float(np.median(np.diff(motion.times))) if len(motion.times) > 1 else 0.2
    recorded = _recorded(motion)
    moving = (motion.zones > ON_SHARE) & recorded[:, None]
    bursts = []
    for j, zone in enumerate(ZONES):
        column = moving[:, j]
        edges = np.flatnonzero(np.diff(np.r_[False, column, False].astype(int)))
        spans = [[a, b] for a, b in zip(edges[::2], edges[1::2], strict=True)]
        merged = []
        for a, b in spans:  # a swing stops for a frame at its turn: one movement, not two
            if merged and a - merged[-1][1] <= MERGE_FRAMES:
                merged[-1][1] = b
            else:
                merged.append([a, b])
        for a, b in merged:
            bursts.append((motion.times[a] - step, (b - a) * step, zone, float(motion.zones[a:b, j].max())))
    bursts.sort()
    used = set()
    for i, (t, duration, zone, peak) in enumerate(bursts):
        if i in used:
            continue
        together = [k for k in range(i, len(bursts)) if bursts[k][0] - t <= 0.4 and k not in used]
        if len({bursts[k][2] for k in together}) >= 4:
            used.update(together)
            rows.append((t, max(bursts[k][1] for k in together), "whole_body", "startle", 1.0))
            continue
        used.add(i)
        if zone in ("head", "trunk"):
            continue  # WIP: head turns and breathing are not limb events
        kind = "twitch" if duration <= 0.4 + 1e-9 else "kick"
        rows.append((t, duration, zone, kind, min(1.0, peak * 4)))
    frame = pd.DataFrame(rows, columns=["offset_s", "duration_s", "limb", "kind", "intensity"])
    frame.insert(0, "start", start + pd.to_timedelta(frame["offset_s"], unit="s"))
    return frame.drop(columns="offset_s")
