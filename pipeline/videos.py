"""A baby's videos kept in the lake, for the night page's player: ``video/subject=<id>/<sha256><suffix>`` with a
``<sha256>.json`` beside it (when it began, how long, codec, whether a browser can play it).

The lake keeps its own copy: the player must not depend on where the parent's file was, and ``subject delete``
must remove every trace of the baby. The copy is made before the ingest's transaction (outside the writer lock:
a night of video is gigabytes) into the lake's scratch folder, and moved into place by the transaction that
stores the video's movements, so both land or neither does (:meth:`sleepmoves.journal.Transaction.put_file`).
A video is listed only while the manifest holds its file: a copy a killed ingest left is never shown.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd

from .schema import SleepmovesError, check_subject_id

FOLDER = "video"
SHA_RE = re.compile(r"^[0-9a-f]{64}$")
# what Chromium, Firefox and Safari all play in a <video>: H.264 (and VP8/VP9/AV1) in MP4, MOV or WebM/MKV;
# H.265 plays only where the machine decodes it in hardware, MJPEG / MPEG-4 in AVI nowhere
PLAYABLE_CODECS = ("h264", "vp8", "vp9", "av1")
PLAYABLE_CONTAINERS = ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm")
MIME = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/mp4",
    ".webm": "video/webm",
    ".mkv": "video/webm",
}


def folder(root: Path, subject: str) -> Path:
    return Path(root) / FOLDER / f"subject={check_subject_id(subject)}"


def stage(scratch: Path, path: Path, sha256: str, info, camera: str | None = None) -> dict[str, Path]:
    """Copy ``path`` and its description into ``scratch``: ``{name in the baby's video folder: staged file}``,
    for :meth:`sleepmoves.lake.Lake.commit_ingest` to move into place."""
    suffix = Path(path).suffix.lower()
    suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ".video"
    copy = Path(scratch) / f"{sha256}{suffix}"
    shutil.copyfile(path, copy)
    about = {
        "sha256": sha256,
        "file": f"{sha256}{suffix}",
        "name": Path(path).name,
        "start": info.start.isoformat(),
        "duration_s": info.duration_s,
        "codec": info.codec,
        "container": info.container,
        "width": info.width,
        "height": info.height,
        "start_from": info.start_from,
        "camera": camera or DEFAULT_CAMERA,
        "playable": info.codec in PLAYABLE_CODECS
        and info.container in PLAYABLE_CONTAINERS
        and suffix in MIME,
    }
    described = Path(scratch) / f"{sha256}.json"
    described.write_text(json.dumps(about))
    return {copy.name: copy, described.name: described}


def videos(lake, subject: str, start=None, end=None) -> list[dict]:
    """The baby's kept videos (those the manifest holds), each a dict of :func:`stage`'s description with
    ``start`` / ``end`` as UTC timestamps; only those overlapping ``[start, end)`` when given."""
    lake._check(subject)
    where = folder(lake.root, subject)
    if not where.is_dir():
        return []
    held = set(lake.manifest().query("subject == @subject")["sha256"])
    found = []
    for described in sorted(where.glob("*.json")):
        if described.stem not in held:  # also cameras.json
            continue
        try:
            about = json.loads(described.read_text())
            about["start"] = pd.Timestamp(about["start"]).tz_convert("UTC")
            about["end"] = about["start"] + pd.Timedelta(seconds=float(about["duration_s"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a damaged description: the video is not offered (its movements are stored regardless)
        if start is not None and about["end"] <= pd.Timestamp(start):
            continue
        if end is not None and about["start"] >= pd.Timestamp(end):
            continue
        found.append(about)
    return sorted(found, key=lambda a: a["start"])


def video_file(lake, subject: str, sha256: str) -> tuple[Path, str]:
    """The kept file of one of the baby's videos and its MIME type, or :class:`SleepmovesError` (unknown baby
    for this handle, not a sha256, not a kept and playable video): what the player's URL may serve."""
    if not isinstance(sha256, str) or not SHA_RE.match(sha256):
        raise SleepmovesError("no such video")
    for about in videos(lake, subject):
        if about["sha256"] == sha256 and about.get("playable"):
            path = folder(lake.root, subject) / about["file"]
            if path.is_file() and not path.is_symlink():
                return path, MIME[path.suffix]
    raise SleepmovesError("no such video")


def removals(root: Path, subject: str, shas: set[str]) -> list[Path]:
    """The kept files of ``shas`` (video and description), for a transaction to remove with the file."""
    where = folder(root, subject)
    if not where.is_dir():
        return []
    return [p for p in where.iterdir() if p.name.split(".")[0] in shas]


CAMERAS = "cameras.json"  # beside the videos: where the baby lies in each camera's picture
CAMERA_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
DEFAULT_CAMERA = "default"


def cameras(lake, subject: str) -> dict[str, dict]:
    """The baby's placed cameras: name -> ``{"box": [x0, y0, x1, y1], "head": "top", "placed_at": ...}``."""
    lake._check(subject)
    path = folder(lake.root, subject) / CAMERAS
    if not path.is_file():
        return {}
    try:
        placed = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SleepmovesError(f"{path}: unreadable ({exc}); place the camera again") from None
    return placed if isinstance(placed, dict) else {}


def place_camera(lake, subject: str, camera: str, box, head: str = "top") -> dict:
    """Say once where the baby lies in a camera's picture: every later video of it (``ingest --camera``) uses
    the zone template fitted there (:func:`sleepmoves.motion.placed_template`). Written atomically with the
    lake's other files; placing a camera again replaces its placement (videos already stored keep theirs)."""
    from .motion import placed_template
    from .spill import scratch_folder

    lake._check(subject)
    if not isinstance(camera, str) or not CAMERA_RE.match(camera):
        raise SleepmovesError(f"a camera name is 1-40 letters, digits, - or _ (e.g. nursery), not {camera!r}")
    try:
        box = [float(v) for v in box]
        placed_template(tuple(box), head)  # checks the box and the head
    except (TypeError, ValueError) as exc:
        raise SleepmovesError(str(exc)) from None
    with lake.writer():
        lake.subject(subject)  # a clear error for an unknown baby
        placed = cameras(lake, subject)
        placed[camera] = {"box": box, "head": head, "placed_at": pd.Timestamp.now(tz="UTC").isoformat()}
        with scratch_folder(lake.root) as scratch, lake.transaction() as txn:
            staged = Path(scratch) / CAMERAS
            staged.write_text(json.dumps(placed, indent=1))
            txn.put_file(staged, folder(lake.root, subject) / CAMERAS)
    return placed[camera]


def found_box(video: str | Path, head: str = "top", seconds: float = 1200.0) -> list[float]:
    """The template's box found from where the baby moved in the first ``seconds`` of ``video``
    (:func:`sleepmoves.motion.movement_box`, :func:`sleepmoves.motion.box_from_movement`)."""
    from .ingest.video import frames
    from .motion import box_from_movement, movement_box

    moved = movement_box(frames(video, fps=2), seconds)
    if moved is None:
        raise SleepmovesError(
            f"{Path(video).name}: too little movement in its first {seconds / 60:.0f} min to find the baby: "
            "give --box x0,y0,x1,y1, or a video where she moves"
        )
    return [round(v, 3) for v in box_from_movement(moved, head)]


def camera_template(lake, subject: str, camera: str | None) -> dict | None:
    """The zone template of a placed camera; None for the default camera never placed (the built-in
    template); a clear error for a named camera that was never placed."""
    from .motion import placed_template

    placed = cameras(lake, subject)
    name = camera or DEFAULT_CAMERA
    if name in placed:
        return placed_template(tuple(placed[name]["box"]), placed[name]["head"])
    if camera is None or camera == DEFAULT_CAMERA:
        return None
    known = ", ".join(sorted(placed)) or "none yet"
    raise SleepmovesError(
        f"{subject} has no camera {camera!r} (placed: {known}): place it first with "
        f"`sleepmoves camera place {camera} --subject {subject} --box x0,y0,x1,y1`"
    )


def preview(video: str | Path, template: dict | None, out: str | Path, at_s: float = 60.0) -> Path:
    """A PNG of one frame of ``video`` (``at_s`` in, or its middle when shorter) with the zones drawn on it:
    to check a placement before ingesting a night."""
    from PIL import Image, ImageDraw

    from .ingest.video import frames
    from .motion import DEFAULT_TEMPLATE

    template = template or DEFAULT_TEMPLATE
    picture = None
    for t, frame in frames(video, fps=1, width=640):
        picture = frame
        if t >= at_s:
            break
    if picture is None:
        raise SleepmovesError(f"{video}: no frame to draw on")
    image = Image.fromarray(picture).convert("RGB")
    draw = ImageDraw.Draw(image)
    h, w = picture.shape
    for zone, (x0, y0, x1, y1) in template.items():
        draw.rectangle([x0 * w, y0 * h, x1 * w - 1, y1 * h - 1], outline=(230, 159, 0), width=2)
        draw.text((x0 * w + 3, y0 * h + 2), zone.replace("_", " "), fill=(255, 255, 255))
    out = Path(out)
    image.save(out)
    return out
