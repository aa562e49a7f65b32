"""Movement from video: what ``sleepmoves ingest`` finds in a baby-monitor or phone video.

Per frame pair: the absolute grey-level difference, thresholded against the frame's own noise, counted per body
zone of a template placed over the crib. A pair where most of the picture changes at once is no data, never
movement: lights or the camera's infrared switching (the brightness jumps), or the camera moved (Frigate's
motion detector documents the same rule: recalibrate when 80 % of the picture changes at once). A pair where the
change reaches the template's border from outside it is an adult's hands (a visit): no data too.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .runs import runs

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
HEADS = ("top", "bottom", "left", "right")  # where the baby's head is in the picture


def _outline(template: dict) -> tuple[float, float, float, float]:
    """The box around a template's zones."""
    boxes = list(template.values())
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def placed_template(box: tuple[float, float, float, float], head: str = "top") -> dict:
    """The zone template fitted into ``box`` (x0, y0, x1, y1 as fractions of the picture: the baby from head to
    feet, arms out) with the head at the picture's ``head`` side; a camera above the cot keeps her left on the
    picture's right when her head is at the top (the template turns with her, it is never mirrored).

    Examples
    --------
    >>> placed_template((0.2, 0.08, 0.8, 0.92))["head"] == DEFAULT_TEMPLATE["head"]
    True
    >>> [round(v, 2) for v in placed_template((0.0, 0.0, 1.0, 1.0), "bottom")["head"]]
    [0.37, 0.76, 0.63, 1.0]
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
        raise ValueError(f"a box is x0,y0,x1,y1 with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, not {box}")
    if head not in HEADS:
        raise ValueError(f"the head is at the {' / '.join(HEADS)} of the picture, not {head!r}")
    bx0, by0, bx1, by1 = _outline(DEFAULT_TEMPLATE)
    turn = {
        "top": lambda u, v: (u, v),
        "bottom": lambda u, v: (1 - u, 1 - v),
        "left": lambda u, v: (v, 1 - u),
        "right": lambda u, v: (1 - v, u),
    }[head]
    placed = {}
    for zone, (a0, b0, a1, b1) in DEFAULT_TEMPLATE.items():
        corners = [turn((a - bx0) / (bx1 - bx0), (b - by0) / (by1 - by0)) for a, b in ((a0, b0), (a1, b1))]
        us, vs = [c[0] for c in corners], [c[1] for c in corners]
        placed[zone] = (
            x0 + min(us) * (x1 - x0),
            y0 + min(vs) * (y1 - y0),
            x0 + max(us) * (x1 - x0),
            y0 + max(vs) * (y1 - y0),
        )
    return placed


def movement_box(frames: Iterable[tuple[float, np.ndarray]], seconds: float = 1200.0) -> tuple | None:
    """Where something moved in the picture over its first ``seconds``: ``(x0, y0, x1, y1)`` fractions of the
    picture holding 96 % of the changed pixels (2nd to 98th percentile each way, so a parent's hand reaching in
    now and then does not stretch it), or None when almost nothing moved. Lights and camera moves are left out
    (:func:`frame_motion`'s rules)."""
    total, previous = None, None
    for t, frame in frames:
        if t > seconds:
            break
        frame = frame.astype(np.int16)
        if previous is not None:
            diff = np.abs(frame - previous)
            changed = diff > max(MIN_LEVEL, NOISE_FACTOR * float(np.median(diff)))
            steady = abs(float(frame.mean()) - float(previous.mean())) <= BRIGHTNESS_JUMP
            if steady and changed.mean() <= SHIFT_CHANGE:
                total = changed.astype(np.int64) if total is None else total + changed
        previous = frame
    if total is None or total.sum() < MIN_MOVED_PIXELS:
        return None
    h, w = total.shape

    def spread(weights: np.ndarray, n: int) -> tuple[float, float]:
        cumulative = np.cumsum(weights) / weights.sum()
        return float(np.searchsorted(cumulative, 0.02)) / n, float(np.searchsorted(cumulative, 0.98) + 1) / n

    x0, x1 = spread(total.sum(axis=0), w)
    y0, y1 = spread(total.sum(axis=1), h)
    return x0, y0, min(x1, 1.0), min(y1, 1.0)


# changed pixel-frames (of a 160-px-wide picture) before a box can be told: ~a minute of a baby's occasional
# movement
MIN_MOVED_PIXELS = 2000


def box_from_movement(moved: tuple, head: str = "top") -> tuple[float, float, float, float]:
    """The template's box (:func:`placed_template`) from where the baby moved (:func:`movement_box`): her limbs
    move, her head mostly does not, so the movement spans the arm and leg zones and the box is extended toward
    the head by the template's own proportions (and clipped to the picture)."""
    lx0, ly0, lx1, ly1 = _outline(
        {z: DEFAULT_TEMPLATE[z] for z in ("left_arm", "right_arm", "left_leg", "right_leg")}
    )
    tx0, ty0, tx1, ty1 = _outline(DEFAULT_TEMPLATE)
    # the whole template's extent beyond the limbs', as shares of the limbs' extent (head top orientation)
    before = (ly0 - ty0) / (ly1 - ly0)  # toward the head
    after = (ty1 - ly1) / (ly1 - ly0)
    side = ((lx0 - tx0) / (lx1 - lx0), (tx1 - lx1) / (lx1 - lx0))
    x0, y0, x1, y1 = moved
    width, height = x1 - x0, y1 - y0
    if head == "top":
        box = (x0 - side[0] * width, y0 - before * height, x1 + side[1] * width, y1 + after * height)
    elif head == "bottom":
        box = (x0 - side[1] * width, y0 - after * height, x1 + side[0] * width, y1 + before * height)
    elif head == "left":
        box = (x0 - before * width, y0 - side[1] * height, x1 + after * width, y1 + side[0] * height)
    elif head == "right":
        box = (x0 - after * width, y0 - side[0] * height, x1 + before * width, y1 + side[1] * height)
    else:
        raise ValueError(f"the head is at the {' / '.join(HEADS)} of the picture, not {head!r}")
    return (max(box[0], 0.0), max(box[1], 0.0), min(box[2], 1.0), min(box[3], 1.0))


MIN_LEVEL = 12  # grey levels: a pixel changed less than this is noise whatever the frame's own noise
NOISE_FACTOR = 4.0  # ... or less than this many times the frame pair's median absolute difference
GLOBAL_CHANGE = 0.5  # share of the picture changed at once: a light, an IR switch or the camera moved
BRIGHTNESS_JUMP = 15.0  # grey levels of mean brightness between two frames: a light or the IR switching


@dataclass(frozen=True)
class FrameMotion:
    """Per analysed frame (from the second): time, whether it is data, and each zone's share of changed pixels."""

    times: np.ndarray
    state: np.ndarray  # one of STATES: "recorded", "lights", "camera", "visit"
    zones: np.ndarray  # (n, len(ZONES)) shares 0-1
    sway: np.ndarray  # (n, len(ZONES), 2) each zone's signed change moment across and down: where it moved


def _boxes(shape: tuple[int, int], template: dict) -> dict[str, tuple[slice, slice]]:
    h, w = shape
    return {
        zone: (
            slice(int(y0 * h), max(int(y1 * h), int(y0 * h) + 1)),
            slice(int(x0 * w), max(int(x1 * w), int(x0 * w) + 1)),
        )
        for zone, (x0, y0, x1, y1) in template.items()
    }


STATES = ("recorded", "lights", "camera", "visit")
CHUNK_FRAMES = 4096  # per-frame values are kept in compact arrays grown this many frames at a time


def frame_motion(frames: Iterable[tuple[float, np.ndarray]], template: dict | None = None) -> FrameMotion:
    """Zone motion of a stream of grey frames (see the module docstring).

    Memory: one frame and its predecessor, plus 81 bytes a frame (a 12-h night at 5 frames a second: 18 MB).
    """
    template = template or DEFAULT_TEMPLATE
    n_zones = len(ZONES)
    done: list[tuple[np.ndarray, ...]] = []
    times = states = shares = sways = None
    at = CHUNK_FRAMES
    previous, boxes, border, levers = None, None, None, None
    for t, frame in frames:
        frame = frame.astype(np.int16)
        if previous is None:
            previous, previous_brightness = frame, float(frame.mean())
            boxes = _boxes(frame.shape, template)
            border = _border_mask(frame.shape, template)
            levers = {z: _levers(boxes[z]) for z in ZONES}
            continue
        if at == CHUNK_FRAMES:  # the chunk is full: keep it, start the next
            if times is not None:
                done.append((times, states, shares, sways))
            times = np.empty(CHUNK_FRAMES)
            states = np.empty(CHUNK_FRAMES, np.uint8)
            shares = np.empty((CHUNK_FRAMES, n_zones), np.float32)
            sways = np.empty((CHUNK_FRAMES, n_zones, 2), np.float32)
            at = 0
        signed = frame - previous
        diff = np.abs(signed)
        # the pair's noise from every other pixel each way: as good an estimate, a quarter of the work
        level = max(MIN_LEVEL, NOISE_FACTOR * float(np.median(diff[::2, ::2])))
        changed = diff > level
        brightness = float(frame.mean())
        jump = abs(brightness - previous_brightness)
        previous_brightness = brightness
        state = 0
        if jump > BRIGHTNESS_JUMP:
            state = 1
        elif changed.mean() > GLOBAL_CHANGE or (changed.mean() > SHIFT_CHANGE and _shifted(previous, frame)):
            state = 2
        elif changed[border].sum() > VISIT_PIXELS:
            state = 3
        times[at], states[at] = t, state
        for j, zone in enumerate(ZONES):
            shares[at, j] = changed[boxes[zone]].mean()
            sways[at, j] = _moment(signed[boxes[zone]], levers[zone])
        at += 1
        previous = frame
    if times is not None:
        done.append((times[:at], states[:at], shares[:at], sways[:at]))
    if not done:
        return FrameMotion(
            np.empty(0), np.empty(0, "<U8"), np.empty((0, n_zones)), np.empty((0, n_zones, 2), np.float32)
        )
    return FrameMotion(
        np.concatenate([c[0] for c in done]),
        np.asarray(STATES)[np.concatenate([c[1] for c in done])],
        np.concatenate([c[2] for c in done]).astype(np.float64),
        np.concatenate([c[3] for c in done]),
    )


def _levers(box: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's distance from its zone's centre, across and down, in zone widths and heights."""
    rows, cols = box[0].stop - box[0].start, box[1].stop - box[1].start
    return (np.arange(cols) - (cols - 1) / 2) / cols, (np.arange(rows) - (rows - 1) / 2) / rows


def _moment(signed: np.ndarray, levers: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    """The signed change's first moment across and down: a bright limb moving right brightens the zone's right
    and darkens its left, so the moment's sign follows the direction of movement (the rhythm of a shake)."""
    across, down = levers
    return float(signed.mean(axis=0) @ across), float(signed.mean(axis=1) @ down)


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
    x0, y0, x1, y1 = _outline(template)
    outer = np.zeros(shape, bool)
    outer[
        int(max(0, y0 - band) * h) : int(min(1, y1 + band) * h),
        int(max(0, x0 - band) * w) : int(min(1, x1 + band) * w),
    ] = True
    inner = np.zeros(shape, bool)
    inner[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)] = True
    return outer & ~inner


MERGE_FRAMES = 2  # frames of stillness inside one movement (a swing turning)
ON_SHARE = 0.04  # a zone moves when this share of its pixels changed (IR noise leaves < 1 %, a twitch > 5 %)


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


TWITCH_MAX_S = 0.6  # science.md: twitches last 0.1-0.5 s; at 5 frames a second that is up to three pairs
TOGETHER_S = 0.4  # bursts of several zones starting this close are one movement
STARTLE_LIMBS = 3  # ... a startle (Moro) moves the arms and legs at once: three or more limbs
STARTLE_MAX_S = 2.0  # ... and is over quickly (0.5-1.5 s) in all of them but one (which may go on kicking);
# a slower all-limb movement is a stretch or a shake
SHAKE_MIN_S = 4.0  # rhythmic shaking lasts at least this long (detect.py's shake rule) ...
SUSTAINED = 0.75  # ... moving in at least this share of its frames ...
RHYTHM_R = 0.6  # ... with its direction of movement repeating: autocorrelation of the zone's sway at a lag of
# 0.4-1 s (1-2.5 Hz: at 5 frames a second faster rhythms alias) at least this. Rendered shakes give 0.8, the
# irregular thrashing of a waking baby at most 0.57
STRETCH_MIN_S = 1.5  # a stretch is slow: at least this long ...
SLOW_SHARE = 0.15  # ... and never more than this share of its zone changed in one frame pair (a kick's fast
# swing changes more); set on rendered videos: there are no published infant stretch kinematics
OTHER_MIN_S = 1.0  # the trunk or head moving this long without the limbs: squirming or rolling ("other")


@dataclass(frozen=True)
class _Burst:
    """One zone moving: frames ``[a, b)`` of the analysis, with what the rules ask of it."""

    start: float  # s from the video's start
    duration: float
    zone: str
    a: int
    b: int
    peak: float  # largest share of the zone changed in a frame pair
    sustained: float  # share of its frames moving
    rhythm: float  # :func:`_rhythm` (0 when shorter than SHAKE_MIN_S)

    @property
    def end(self) -> float:
        return self.start + self.duration


def _burst(motion: FrameMotion, moving: np.ndarray, j: int, a: int, b: int, step: float) -> _Burst:
    long = (b - a) * step >= SHAKE_MIN_S
    return _Burst(
        float(motion.times[a] - step),
        (b - a) * step,
        ZONES[j],
        a,
        b,
        float(motion.zones[a:b, j].max()),
        float(moving[a:b, j].mean()),
        _rhythm(motion.sway[a:b, j], step) if long else 0.0,
    )


LIMBS = frozenset({"left_arm", "right_arm", "left_leg", "right_leg"})


def motion_events(motion: FrameMotion, start: pd.Timestamp) -> pd.DataFrame:
    """Movement events from zone motion.

    Per zone, a burst is a run of frame pairs with more than :data:`ON_SHARE` of the zone changed (a stop of
    up to :data:`MERGE_FRAMES` frames inside it merged). Then, in this order:

    * three or more limb zones starting within :data:`TOGETHER_S`, longer than twitches, all but one over within
      :data:`STARTLE_MAX_S`, two fast (more than :data:`SLOW_SHARE` changed in their first second), none
      rhythmic: a ``startle`` of the ``whole_body``; a limb that goes on moving after it (the kicks of a
      waking) is left, from the startle's end, to the rules below;
    * a limb's or the head's burst of at most :data:`TWITCH_MAX_S`: a ``twitch`` of that limb;
    * longer limb bursts starting together: one movement, of that limb (one zone) or ``whole_body``;
      ``shake`` when it lasts :data:`SHAKE_MIN_S` moving in :data:`SUSTAINED` of its frames with a rhythm
      (:data:`RHYTHM_R`), ``stretch`` when slow (:data:`STRETCH_MIN_S`, :data:`SLOW_SHARE` at most), else
      ``kick``;
    * the trunk or head moving :data:`OTHER_MIN_S` with no limb: ``other`` (squirming), ``whole_body``.

    Breathing and the trunk's small movements are not events.
    """
    step = float(np.median(np.diff(motion.times))) if len(motion.times) > 1 else 0.2
    recorded = _recorded(motion)
    moving = (motion.zones > ON_SHARE) & recorded[:, None]
    bursts = sorted(
        (
            _burst(motion, moving, j, a, b, step)
            for j in range(len(ZONES))
            for a, b in _merged_runs(moving[:, j])
        ),
        key=lambda burst: (burst.start, burst.zone),
    )
    rows = _startles(motion, moving, bursts, step)
    left = sorted(
        (burst for burst in bursts if burst is not None), key=lambda burst: (burst.start, burst.zone)
    )
    for burst in left:
        if burst.duration <= TWITCH_MAX_S + 1e-9 and burst.zone != "trunk":
            rows.append((burst.start, burst.duration, burst.zone, "twitch", min(1.0, burst.peak * 4)))
    left = [burst for burst in left if not (burst.duration <= TWITCH_MAX_S + 1e-9 and burst.zone != "trunk")]
    used: set[int] = set()
    left_starts = [burst.start for burst in left]
    for i, first in enumerate(left):
        if i in used or first.zone not in LIMBS:
            continue
        group = [
            k
            for k in range(i, bisect.bisect_right(left_starts, first.start + TOGETHER_S))  # sorted by start
            if k not in used and left[k].zone in LIMBS and left[k].start - first.start <= TOGETHER_S
        ]
        used.update(group)
        members = [left[k] for k in group]
        duration = max(m.end for m in members) - first.start
        peak = max(m.peak for m in members)
        if (
            duration >= SHAKE_MIN_S
            and min(m.sustained for m in members) >= SUSTAINED
            and max(m.rhythm for m in members) >= RHYTHM_R
        ):
            kind = "shake"
        elif duration >= STRETCH_MIN_S and peak <= SLOW_SHARE:
            kind = "stretch"
        else:
            kind = "kick"
        where = first.zone if len({m.zone for m in members}) == 1 else "whole_body"
        rows.append((first.start, duration, where, kind, min(1.0, peak * 4)))
    # whole-body movements by start, with the longest: the ones near a burst are found by bisection
    whole = sorted((r[0], r[1]) for r in rows if r[2] == "whole_body")
    longest = max((d for _, d in whole), default=0.0)
    for i, burst in enumerate(left):
        if i in used or burst.duration < OTHER_MIN_S:
            continue
        lo = bisect.bisect_left(whole, (burst.start - longest - 0.5, -1.0))
        hi = bisect.bisect_right(whole, (burst.end + 0.5, float("inf")))
        if any(burst.start <= s + d + 0.5 for s, d in whole[lo:hi]):
            continue  # the trunk moving with a whole-body movement is part of it
        rows.append((burst.start, burst.duration, "whole_body", "other", min(1.0, burst.peak * 4)))
        bisect.insort(whole, (burst.start, burst.duration))
        longest = max(longest, burst.duration)
    rows.sort()
    frame = pd.DataFrame(rows, columns=["offset_s", "duration_s", "limb", "kind", "intensity"])
    frame.insert(0, "start", start + pd.to_timedelta(frame["offset_s"], unit="s"))
    return frame.drop(columns="offset_s")


def _startles(motion: FrameMotion, moving: np.ndarray, bursts: list, step: float) -> list[tuple]:
    """Take the startles out of ``bursts`` (in place: a limb's burst is replaced by what follows the startle,
    or None) and return them as event rows."""
    rows = []
    first_second = max(1, round(1.0 / step))
    # the bursts' starts as sorted, before any is cut short below: a burst cut short only starts later, so the
    # bursts that can start within TOGETHER_S of one are all before this bound (a night's scan stays linear)
    starts = [burst.start for burst in bursts]
    for i, first in enumerate(bursts):
        if first is None or first.zone not in LIMBS:
            continue
        group = [
            k
            for k in range(i, bisect.bisect_right(starts, first.start + TOGETHER_S))
            if bursts[k] is not None
            and bursts[k].zone in LIMBS
            and bursts[k].start - first.start <= TOGETHER_S
        ]
        group = [k for k in group if bursts[k].duration > TWITCH_MAX_S]  # a twitch at that moment is a twitch
        members = [bursts[k] for k in group]
        brief = [m for m in members if m.end - first.start <= STARTLE_MAX_S]
        fast = sum(
            motion.zones[m.a : min(m.b, m.a + first_second), ZONES.index(m.zone)].max() > SLOW_SHARE
            for m in members
        )
        if (
            len({m.zone for m in members}) < STARTLE_LIMBS
            or len({m.zone for m in brief}) < STARTLE_LIMBS - 1
            or fast < 2
            or any(m.rhythm >= RHYTHM_R for m in members)
        ):
            continue
        over = max(m.end for m in brief)  # the startle is over when its brief limbs have stopped
        rows.append((first.start, over - first.start, "whole_body", "startle", 1.0))
        for k, m in zip(group, members, strict=True):
            rest = m.b - max(0, round((m.end - over) / step))  # the frame where the startle is over
            bursts[k] = (
                _burst(motion, moving, ZONES.index(m.zone), rest, m.b, step)
                if m.end - over > (MERGE_FRAMES + 1) * step
                else None
            )
    return rows


def _rhythm(sway: np.ndarray, step: float) -> float:
    """How regularly a zone's direction of movement repeats: the highest autocorrelation of its sway (across
    or down) at a lag of 0.4-1 s."""
    best = 0.0
    lags = range(max(1, round(0.4 / step)), round(1.0 / step) + 1)
    for axis in range(sway.shape[1]):
        x = sway[:, axis] - sway[:, axis].mean()
        energy = float(x @ x)
        if energy <= 0:
            continue
        best = max([best] + [float(x[:-lag] @ x[lag:]) / energy for lag in lags if lag < len(x)])
    return best


def _merged_runs(column: np.ndarray) -> list[list[int]]:
    """Runs of True as ``[first, stop)`` index pairs, runs apart by at most :data:`MERGE_FRAMES` merged (a
    swing stops for a frame at its turn: one movement, not two)."""
    merged: list[list[int]] = []
    for a, n, value in zip(*runs(column), strict=True):
        if not value:
            continue
        if merged and a - merged[-1][1] <= MERGE_FRAMES:
            merged[-1][1] = a + n
        else:
            merged.append([a, a + n])
    return merged
