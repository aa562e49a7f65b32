"""Baby-monitor and phone video: when it was recorded, and its frames decoded as a stream, small and slow enough
to analyse for movement, in bounded memory whatever the file's length.

Why PyAV (FFmpeg's libraries, bundled in its wheels): it decodes every container and codec monitors and phones
write (MP4 / MOV / MKV / AVI; H.264, H.265, MJPEG, MPEG-4, VP9) without a system FFmpeg, and hands frames over
one at a time, already scaled down and grey, as NumPy arrays. It is the ``video`` extra
(``pip install 'sleepmoves[video]'``); without it a video gives a one-line message saying so.

The recording's start comes from, in this order: ``start`` given by the user; the container's creation time (a
phone's local ``com.apple.quicktime.creationdate``, with its UTC offset, before FFmpeg's UTC ``creation_time``);
the file name of the common cameras (:data:`NAME_PATTERNS`). :class:`VideoInfo` says which was used, for the user
to hear. A container date of 1904 or 1970 is a clock that was never set, not a time.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..extras import need
from ..nights import zone
from ..schema import SleepmovesError

ANALYSIS_WIDTH = 160  # pixels across: a crib fills most of a monitor's view, a limb is then still ~10 px wide
ANALYSIS_FPS = 5.0  # frames analysed a second: a twitch (0.1-0.5 s) moves across at least one frame pair
CUT_SLACK_S = 2.0  # a video whose frames end this much before its header's length was cut off
MAX_HOURS = 16.0  # longer than any night; a longer file is several nights (or a clock gone wrong): split it
FAST_DECODE = {"skip_loop_filter": "all", "flags2": "+fast"}
YEARS = (2000, 2100)  # a container date outside these is an unset clock (QuickTime counts from 1904)

# Camera and phone file names that carry the start, each with the zone its clock writes in:
# "local" (the baby's zone), "utc", or "offset" (written in the name).
NAME_PATTERNS = (
    # Google Pixel: PXL_20260302_193000123.mp4, in UTC (with milliseconds)
    ("Google Pixel", re.compile(r"PXL_(\d{8})_(\d{6})\d{0,3}"), "utc"),
    # Tapo: 1772479800-1772483400.mp4, Unix seconds of start and end
    ("Tapo", re.compile(r"^(\d{10})-\d{10}$"), "unix"),
    # Blink (downloaders): 2026-03-02T19_30_00+01_00.mp4
    ("Blink", re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2})_(\d{2})_(\d{2})([+-]\d{2})_(\d{2})"), "offset"),
    # Reolink: RecM01_20260302_193000_203000_....mp4 (date, start, end), local time
    ("Reolink", re.compile(r"Rec[A-Z0-9]{3}_(?:DST)?(\d{8})_(\d{6})_\d{6}"), "local"),
    # Android and most cameras: VID_20260302_193000.mp4, 20260302_193000.mp4, local time
    ("a camera or phone", re.compile(r"(?<!\d)(\d{8})[_-](\d{6})(?!\d)"), "local"),
    # generic: 2026-03-02_19-30-00.mp4 / 2026-03-02 19.30.00.mov, local time
    ("a camera or phone", re.compile(r"(\d{4}-\d{2}-\d{2})[ _T](\d{2})[-.:_](\d{2})[-.:_](\d{2})"), "local"),
)


@dataclass(frozen=True)
class VideoInfo:
    """What a video file is: its stream, its length and when it started (and how that was known)."""

    path: str
    container: str
    codec: str
    width: int
    height: int
    fps: float
    duration_s: float
    start: pd.Timestamp  # UTC
    start_from: str  # "--start", "the file's creation time", "the file name (Reolink)": said to the user


def _av():
    return need("av", "video", "reading video")


def _open(path: Path):
    """The container opened, or a clear refusal (0 bytes, damaged, not a video)."""
    av = _av()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SleepmovesError(f"{path}: cannot read ({exc.strerror})") from None
    if size == 0:
        raise SleepmovesError(f"{path}: the file is empty (0 bytes)")
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise SleepmovesError(
            f"{path}: not a video sleepmoves can read, or damaged (FFmpeg: {_said(exc)}); if the recording was "
            "cut off, export it again from the camera's app"
        ) from None
    if not container.streams.video:
        kinds = _kinds(container) or "nothing"
        container.close()
        raise SleepmovesError(f"{path}: the file has no video in it (only {kinds})")
    stream = container.streams.video[0]
    if stream.codec_context is None:  # FFmpeg has no decoder for it (or does not know the codec at all)
        tag = getattr(stream, "codec_tag", None)
        name = f"a codec FFmpeg does not decode ({tag})" if tag and tag.strip("\x00") else "an unknown codec"
        container.close()
        raise SleepmovesError(
            f"{path}: its video is in {name}: export it from the camera's app as MP4 (H.264), or convert it"
        )
    return container, stream


def _said(exc) -> str:
    return (getattr(exc, "strerror", None) or str(exc)).strip().rstrip(".")


def _kinds(container) -> str:
    return ", ".join(sorted({s.type for s in container.streams}))


def probe(path: str | Path, *, tz: str, start=None) -> VideoInfo:
    """Read a video's header: stream, length and start, or refuse it with a clear reason.

    Parameters
    ----------
    path : str or Path
    tz : str
        The baby's zone: a start written without an offset (``start`` or a local file name) is in it.
    start : str or timestamp, optional
        The recording's start, when the user gives it; overrides the file's own.
    """
    path = Path(path)
    container, stream = _open(path)
    with container:
        duration = _duration_s(container, stream)
        if duration > MAX_HOURS * 3600:
            raise SleepmovesError(
                f"{path}: {duration / 3600:.1f} hours of video, longer than a night ({MAX_HOURS:g} h at most): "
                "split it into nights"
            )
        begun, source = _start(path, container, stream, tz, start)
        rate = stream.average_rate or stream.guessed_rate or Fraction(0)
        return VideoInfo(
            str(path),
            container.format.name,
            stream.codec_context.name,
            stream.codec_context.width,
            stream.codec_context.height,
            float(rate),
            duration,
            begun,
            source,
        )


def _duration_s(container, stream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:  # MKV / WebM give the container's, in microseconds
        return container.duration / 1e6
    raise SleepmovesError(f"{container.name}: the video does not say how long it is (a damaged file?)")


def _start(path: Path, container, stream, tz: str, given) -> tuple[pd.Timestamp, str]:
    local = zone(tz)
    if given is not None:
        stamp = pd.Timestamp(given)
        if stamp.tzinfo is None:
            stamp = stamp.tz_localize(local, ambiguous="raise", nonexistent="raise")
        return stamp.tz_convert("UTC"), "--start"
    for key, where in (
        ("com.apple.quicktime.creationdate", container.metadata),  # a phone's local time with its offset
        ("creation_time", container.metadata),
        ("creation_time", stream.metadata),
    ):
        stamp = _container_time(where.get(key))
        if stamp is not None:
            return stamp, "the file's creation time"
    name = path.stem
    for camera, pattern, clock in NAME_PATTERNS:
        found = pattern.search(name)
        if found is None:
            continue
        stamp = _name_time(found, clock, local)
        if stamp is not None:
            return stamp, f"the file name ({camera})"
    raise SleepmovesError(
        f"{path}: when was it recorded? The file has no creation time and its name no date: "
        "pass --start with the time the recording began (e.g. --start 2026-03-02T19:30)"
    )


def _container_time(text) -> pd.Timestamp | None:
    if not text:
        return None
    try:
        stamp = pd.Timestamp(str(text).strip())
    except (ValueError, TypeError):
        return None
    if stamp.tzinfo is None:  # FFmpeg's creation_time is UTC; a bare date from another writer is taken as UTC
        stamp = stamp.tz_localize("UTC")
    if not YEARS[0] <= stamp.year < YEARS[1]:
        return None  # a camera clock that was never set (1904 / 1970)
    return stamp.tz_convert("UTC")


def _name_time(found: re.Match, clock: str, local) -> pd.Timestamp | None:
    try:
        if clock == "unix":
            return pd.Timestamp(int(found.group(1)), unit="s", tz="UTC")
        if clock == "offset":
            day, h, m, s, oh, om = found.groups()
            stamp = pd.Timestamp(f"{day}T{h}:{m}:{s}{oh}:{om}")
        else:
            digits = "".join(found.groups()).replace("-", "")
            stamp = pd.Timestamp(dt.datetime.strptime(digits[:14], "%Y%m%d%H%M%S"))
            stamp = stamp.tz_localize(
                "UTC" if clock == "utc" else local, ambiguous="raise", nonexistent="raise"
            )
    except (ValueError, OverflowError):
        return None
    if not YEARS[0] <= stamp.year < YEARS[1]:
        return None
    return stamp.tz_convert("UTC")


def frames(
    path: str | Path, *, fps: float = ANALYSIS_FPS, width: int = ANALYSIS_WIDTH
) -> Iterator[tuple[float, np.ndarray]]:
    """The video's frames at about ``fps`` a second, grey and ``width`` pixels across: ``(seconds from the
    start, uint8 array)`` one at a time, so memory holds one frame whatever the file's length.

    Every frame is decoded (a frame between two kept ones is needed to decode the next) but only those kept are
    scaled and converted. A file cut off part-way yields the frames it has; the caller compares the last time
    with the header's duration.
    """
    path = Path(path)
    container, stream = _open(path)
    av = _av()
    stream.thread_type = "AUTO"  # frame and slice threads: decoding is most of the work
    # H.264 / H.265 without the deblocking filter: a fifth faster on one core (make bench), and its only effect,
    # softer block edges, is averaged away in the 160-px analysis frame (test: the same events either way)
    stream.codec_context.options = dict(FAST_DECODE)
    height = max(2, round(width * stream.codec_context.height / max(stream.codec_context.width, 1) / 2) * 2)
    # one scaler for the whole stream: Frame.reformat builds a new one every call, 40 % of the scaling's time
    scaler = av.video.reformatter.VideoReformatter()
    base = stream.time_base or Fraction(1, 90_000)
    step = Fraction(1) / Fraction(fps).limit_denominator(1000) / base  # in the stream's ticks (exact)
    first = due = None
    with container:
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                if first is None:
                    first = due = frame.pts
                if frame.pts < due:  # compared in integer ticks: no float time for the frames skipped
                    continue
                while due <= frame.pts:  # the next frame due (after a gap in the file, the one after it)
                    due += step
                grey = scaler.reformat(frame, width=width, height=height, format="gray").to_ndarray()
                yield float((frame.pts - first) * base), grey
        except av.FFmpegError as exc:
            raise SleepmovesError(f"{path}: the video is damaged part-way ({_said(exc)})") from None


class VideoReading(NamedTuple):
    """What :func:`read_video` found: the movements, each epoch's coverage, notes for the user, the header."""

    events: pd.DataFrame
    coverage: pd.DataFrame
    notes: list[str]
    info: VideoInfo


def read_video(
    path: str | Path, *, tz: str, start=None, progress=None, template: dict | None = None
) -> VideoReading:
    """A video as the lake stores a sensor: ``(events, coverage, notes, info)``.

    ``events`` are the movements seen (:func:`sleepmoves.motion.motion_events`); ``coverage`` has one row per
    30-s epoch (UTC-aligned) the video spans: ``start``, ``epoch_s``, ``count`` (the epoch's summed zone motion),
    ``limb`` (``whole_body``: the camera sees all of the baby), ``valid`` (at least half of the epoch's analysed
    frames are data: not a light or camera change, not a visit) and ``worn`` (True). ``notes`` say where the
    start came from and how much was no data, for the user to hear; ``info`` is the header (:func:`probe`).
    ``progress``, when given, is called now and then with (seconds analysed, seconds in the video);
    ``template`` is where the baby lies in the picture (:func:`sleepmoves.motion.placed_template`; default the
    built-in one: on her back, head at the top).
    """
    from ..motion import _recorded, frame_motion, motion_events
    from ..schema import EPOCH_S

    info = probe(path, tz=tz, start=start)
    stream = frames(path)
    if progress is not None:
        stream = _reporting(stream, info.duration_s, progress)
    motion = frame_motion(stream, template)
    events = motion_events(motion, info.start)
    recorded = _recorded(motion)
    at = info.start + pd.to_timedelta(motion.times, unit="s")
    epoch = at.floor(f"{EPOCH_S}s")
    per = pd.DataFrame({"start": epoch, "recorded": recorded, "count": motion.zones.sum(axis=1) * recorded})
    grouped = per.groupby("start", sort=True).agg(
        frames=("recorded", "size"), data=("recorded", "sum"), count=("count", "sum")
    )
    expected = EPOCH_S * ANALYSIS_FPS
    coverage = pd.DataFrame(
        {
            "start": grouped.index,
            "epoch_s": EPOCH_S,
            "count": grouped["count"].to_numpy(),
            "limb": "whole_body",
            "valid": grouped["data"].to_numpy() >= expected / 2,
            "worn": True,
        }
    )
    lost = {state: int((motion.state == state).sum()) for state in ("lights", "camera", "visit")}
    notes = [
        f"{Path(path).name}: {length_words(info.duration_s)} of {info.codec} video from "
        f"{info.start.tz_convert(tz):%Y-%m-%d %H:%M} ({tz}), the start taken from {info.start_from}"
    ]
    seen = float(motion.times[-1]) if len(motion.times) else 0.0
    if seen < info.duration_s - CUT_SLACK_S:  # a recording cut off (a full card, a crash): keep what it holds
        notes.append(
            f"{Path(path).name}: the video stops after {length_words(seen)} of the {length_words(info.duration_s)} its "
            "header announces (the file was cut off): what it holds is stored, the rest is no data"
        )
    said = {
        "lights": "a light or the infrared switching",
        "camera": "the camera moving",
        "visit": "a visit (hands in the cot)",
    }
    for state, count in lost.items():
        if count:
            notes.append(
                f"{Path(path).name}: {said[state]} at {count} moment(s): stored as no data, not movement"
            )
    return VideoReading(events, coverage, notes, info)


def length_words(seconds: float) -> str:
    """A video's length as a parent says it: 40 s, 12 min, 11.5 h."""
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def _reporting(stream, total_s: float, progress, every_s: float = 60.0):
    """``stream`` unchanged, calling ``progress(seconds done, total)`` each ``every_s`` of video and at the end."""
    due = 0.0
    for t, frame in stream:
        if t >= due:
            progress(t, total_s)
            due = t + every_s
        yield t, frame
    progress(total_s, total_s)


def is_video(head: bytes) -> bool:
    """Whether a file's first bytes are a video container: MP4 / MOV (``ftyp``, ``moov``, ``mdat``, ``wide``
    boxes), Matroska / WebM (EBML), AVI (RIFF ... AVI)."""
    return (
        head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free")
        or head[:4] == b"\x1a\x45\xdf\xa3"
        or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
    )
