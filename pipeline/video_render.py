"""A stylised infant night video from simulated events (WORK IN PROGRESS, issue 18): the ground truth for movement
from video. Head, trunk and four limbs as blobs on a cot sheet, each limb moving exactly when its events say
(a twitch: a brief small jerk; a kick: a longer larger swing; a startle: every limb at once), infrared-like noise,
and optionally a light switch, a parent's visit and the camera nudged once."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from .motion import DEFAULT_TEMPLATE

W, H = 320, 240


def _centre(zone: str) -> tuple[float, float]:
    x0, y0, x1, y1 = DEFAULT_TEMPLATE[zone]
    return (x0 + x1) / 2 * W, (y0 + y1) / 2 * H


def render(
    path: str | Path,
    events: pd.DataFrame,
    start: pd.Timestamp,
    seconds: float,
    *,
    fps: int = 10,
    seed: int = 0,
    light_switch_s: float | None = None,
    visit_s: tuple[float, float] | None = None,
    nudge_s: float | None = None,
) -> Path:
    """Write the video (MPEG-4 in MP4) of ``seconds`` from ``start``; returns its path."""
    import av

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    offsets = (pd.to_datetime(events["start"], utc=True) - start).dt.total_seconds().to_numpy()
    limbs = events["limb"].to_numpy()
    kinds = events["kind"].to_numpy()
    durations = events["duration_s"].to_numpy(dtype=float)
    blobs = {
        "head": (16, 14),
        "trunk": (24, 34),
        "left_arm": (9, 20),
        "right_arm": (9, 20),
        "left_leg": (9, 30),
        "right_leg": (9, 30),
    }
    with av.open(str(path), "w") as out:
        out.metadata["creation_time"] = start.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.bit_rate = 2_000_000
        for i in range(int(seconds * fps)):
            t = i / fps
            gain = 1.0 if light_switch_s is None or t < light_switch_s else 1.6
            shift = 0 if nudge_s is None or t < nudge_s else 6
            img = np.full((H, W), 60.0)
            img[:, ((xx[0] + shift) // 16) % 2 == 0] = 45.0  # the cot's bars: a camera that moves moves them
            for zone, (rx, ry) in blobs.items():
                cx, cy = _centre(zone)
                live = (offsets <= t) & (t < offsets + np.maximum(durations, 0.15))
                for k in np.flatnonzero(live & ((limbs == zone) | (limbs == "whole_body"))):
                    phase = (t - offsets[k]) / max(durations[k], 0.15)
                    size = {"twitch": 4.0, "kick": 10.0, "startle": 8.0}.get(kinds[k], 6.0)
                    cx += size * np.sin(np.pi * phase) * (1 if "left" in zone else -1)
                    cy += size * 0.5 * np.sin(2 * np.pi * phase)
                img[((xx - cx - shift) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1] = 170.0
            if visit_s is not None and visit_s[0] <= t < visit_s[1]:
                hx = W * 0.1 + (t - visit_s[0]) * 30 % (W * 0.3)
                img[(((xx - hx) / 30) ** 2 + ((yy - H * 0.45) / 18) ** 2) <= 1] = 230.0
            img = np.clip(img * gain + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(np.repeat(img[:, :, None], 3, axis=2), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return Path(path)
