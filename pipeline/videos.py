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


def stage(scratch: Path, path: Path, sha256: str, info) -> dict[str, Path]:
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
        if described.stem not in held:
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
