"""Video files: decoded as a stream at the analysis size and rate, their start found and said, and every bad file
refused with a clear reason. The videos are written here by FFmpeg (through PyAV) in the codecs and containers
monitors and phones use."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sleepmoves.schema import SleepmovesError

av = pytest.importorskip("av", reason="the video extra (PyAV) is not installed")

from sleepmoves.ingest.video import ANALYSIS_WIDTH, frames, probe  # noqa: E402

TZ = "Europe/London"


def write_video(
    path: Path, codec: str, seconds: float = 4.0, fps: int = 10, creation: str | None = None
) -> Path:
    """A 320x240 video of a bright square moving right one pixel a frame over a dark noisy background."""
    pix = "yuvj420p" if codec == "mjpeg" else "yuv420p"
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        if creation:
            out.metadata["creation_time"] = creation
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, pix
        for i in range(int(seconds * fps)):
            img = rng.integers(10, 30, (240, 320, 3), dtype=np.uint8)
            img[100:140, 40 + i : 80 + i] = 220
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def write_sound(path: Path) -> Path:
    """A Matroska file with one second of silence and no video stream."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 8000), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


@pytest.mark.parametrize(
    "codec, suffix",
    [
        ("libx264", ".mp4"),
        ("libx265", ".mp4"),
        ("mpeg4", ".mov"),
        ("mjpeg", ".avi"),
        ("libx264", ".mkv"),
        ("libvpx-vp9", ".webm"),
    ],
)
def test_codecs_and_containers_decode_at_the_analysis_size_and_rate(tmp_path, codec, suffix):
    video = write_video(tmp_path / f"VID_20260302_193000{suffix}", codec)
    info = probe(video, tz=TZ)
    assert (info.width, info.height) == (320, 240) and info.fps == pytest.approx(10)
    assert info.duration_s == pytest.approx(4.0, abs=0.15)
    got = list(frames(video, fps=5))
    times = [t for t, _ in got]
    assert 19 <= len(got) <= 21 and times[0] == 0.0  # 4 s at 5 a second
    assert np.allclose(np.diff(times), 0.2, atol=0.01)
    assert all(img.shape == (120, ANALYSIS_WIDTH) and img.dtype == np.uint8 for _, img in got)
    # the square is still there, scaled down: bright columns, moving right
    first, last = got[0][1], got[-1][1]
    assert first.max() > 150 and np.argmax(last[60]) > np.argmax(first[60])


def test_the_start_comes_from_the_user_then_the_file_then_its_name(tmp_path):
    stamped = write_video(
        tmp_path / "IMG_0001.mp4", "mpeg4", seconds=1, creation="2026-03-02T19:30:00.000000Z"
    )
    info = probe(stamped, tz=TZ)
    assert (
        info.start == pd.Timestamp("2026-03-02T19:30:00Z") and info.start_from == "the file's creation time"
    )
    given = probe(stamped, tz=TZ, start="2026-03-02T20:15")  # the user's word wins, in the baby's zone
    assert given.start == pd.Timestamp("2026-03-02T20:15:00Z") and given.start_from == "--start"

    names = {
        "VID_20260702_193000.mp4": ("2026-07-02T18:30:00Z", "the file name (a camera or phone)"),  # BST
        "PXL_20260702_193000123.mp4": ("2026-07-02T19:30:00Z", "the file name (Google Pixel)"),  # UTC
        "RecM01_20260302_193000_203000_6D28808_1.mp4": ("2026-03-02T19:30:00Z", "the file name (Reolink)"),
        "1772479800-1772483400.mp4": ("2026-03-02T19:30:00Z", "the file name (Tapo)"),
        "2026-03-02T19_30_00+01_00.mp4": ("2026-03-02T18:30:00Z", "the file name (Blink)"),
        "nursery 2026-03-02 19.30.00.mov": ("2026-03-02T19:30:00Z", "the file name (a camera or phone)"),
    }
    for name, (when, source) in names.items():
        info = probe(write_video(tmp_path / name, "mpeg4", seconds=0.5), tz=TZ)
        assert (info.start, info.start_from) == (pd.Timestamp(when), source), name


def test_an_unset_camera_clock_is_not_a_start(tmp_path):
    video = write_video(tmp_path / "clip.mp4", "mpeg4", seconds=0.5, creation="1970-01-01T00:00:00.000000Z")
    with pytest.raises(SleepmovesError, match="no creation time and its name no date: pass --start"):
        probe(video, tz=TZ)


def test_bad_files_are_refused_with_a_reason(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(SleepmovesError, match="empty.mp4: the file is empty"):
        probe(empty, tz=TZ)

    good = write_video(tmp_path / "VID_20260302_193000.mp4", "libx264")
    cut = tmp_path / "cut.mp4"  # the MP4 index is at the end: a recording cut off has none
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(SleepmovesError, match="cut.mp4: not a video sleepmoves can read, or damaged"):
        probe(cut, tz=TZ)

    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(SleepmovesError, match="notes.mp4: not a video"):
        probe(text, tz=TZ)

    sound = write_sound(tmp_path / "sound.mka")
    with pytest.raises(SleepmovesError, match="sound.mka: the file has no video in it \\(only audio\\)"):
        probe(sound, tz=TZ)


def test_a_file_longer_than_a_night_is_refused(tmp_path, monkeypatch):
    from sleepmoves.ingest import video as module

    clip = write_video(tmp_path / "VID_20260302_193000.mp4", "mpeg4", seconds=2)
    monkeypatch.setattr(module, "MAX_HOURS", 1 / 3600)  # 1 s, as if the clip were 20 hours long
    with pytest.raises(SleepmovesError, match="longer than a night .*: split it into nights"):
        probe(clip, tz=TZ)


def _lake_state(root: Path) -> dict:
    """Every file of the lake with its size and time: what a refused ingest must leave as it was."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and p.name != ".lock"
    }


def _twenty_hours(path: Path) -> Path:
    """A real H.264 file whose two frames are 20 hours apart: a camera that never stopped."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=1)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for pts in (0, 20 * 3600):
            frame = av.VideoFrame.from_ndarray(np.zeros((240, 320, 3), np.uint8), format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def test_bad_videos_are_refused_through_ingest_and_leave_the_lake_as_it_was(tmp_path):
    from sleepmoves.ingest import ingest_file
    from sleepmoves.lake import Lake

    lake = Lake(tmp_path / "lake")
    lake.add_subject("ada", TZ, born="2026-01-10")
    ingest_file(lake, write_video(tmp_path / "VID_20260301_193000.mp4", "libx264"), "ada")
    before = _lake_state(lake.root)

    good = write_video(tmp_path / "VID_20260302_193000.mp4", "libx264")
    cut = tmp_path / "VID_20260302_200000.mp4"  # cut off before the MP4's index
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    empty = tmp_path / "VID_20260302_210000.mp4"
    empty.write_bytes(b"")
    unknown = tmp_path / "VID_20260302_220000.mkv"  # a codec FFmpeg does not know (its id overwritten)
    body = write_video(tmp_path / "h264.mkv", "libx264").read_bytes()
    unknown.write_bytes(body.replace(b"V_MPEG4/ISO/AVC", b"V_ZZZZZ/ISO/ZZZ"))
    sound = write_sound(tmp_path / "VID_20260302_230000.mkv")
    cases = {
        cut: "not a video sleepmoves can read, or damaged",
        empty: "the file is empty",
        unknown: "an unknown codec",
        sound: "has no video in it",
        _twenty_hours(tmp_path / "VID_20260303_193000.mp4"): "20.0 hours of video, longer than a night",
    }
    for path, reason in cases.items():
        with pytest.raises(SleepmovesError, match=reason):
            ingest_file(lake, path, "ada")
        assert _lake_state(lake.root) == before, path.name
    assert not list((lake.root / ".scratch").glob("*/*"))  # no half-copied video left behind


def test_a_video_is_kept_for_the_player_and_goes_with_its_file_and_its_baby(tmp_path):
    from sleepmoves.ingest import ingest_file
    from sleepmoves.lake import Lake
    from sleepmoves.videos import video_file, videos

    lake = Lake(tmp_path / "lake")
    lake.add_subject("ada", TZ, born="2026-01-10")
    lake.add_subject("ben", TZ, born="2026-01-10")
    h264 = write_video(tmp_path / "VID_20260302_193000.mp4", "libx264", seconds=6)
    mjpeg = write_video(tmp_path / "VID_20260302_200000.avi", "mjpeg", seconds=6)
    first = ingest_file(lake, h264, "ada").result
    ingest_file(lake, mjpeg, "ada")
    kept = videos(lake, "ada")
    assert [k["name"] for k in kept] == [h264.name, mjpeg.name]
    assert [k["playable"] for k in kept] == [True, False]  # no browser plays MJPEG in AVI
    assert kept[0]["start"] == pd.Timestamp("2026-03-02T19:30", tz=TZ)
    assert kept[0]["duration_s"] == pytest.approx(6, abs=0.2)
    path, mime = video_file(lake, "ada", first.sha256)
    assert path.read_bytes() == h264.read_bytes() and mime == "video/mp4"
    assert videos(lake, "ada", start="2026-03-02T19:40Z", end="2026-03-02T20:30Z")[0]["name"] == mjpeg.name
    # another baby's handle, a scoped handle and a forged id are refused alike
    for handle, baby, sha in (
        (lake, "ben", first.sha256),
        (Lake(lake.root, only=["ben"]), "ada", first.sha256),
        (lake, "ada", "0" * 64),
        (lake, "ada", "../" + first.sha256[3:]),
    ):
        with pytest.raises(SleepmovesError):
            video_file(handle, baby, sha)
    # taking the file out takes its copy out; deleting the baby takes every video
    lake.remove_file("ada", h264.name)
    assert [k["name"] for k in videos(lake, "ada")] == [mjpeg.name]
    assert not list((lake.root / "video" / "subject=ada").glob(f"{first.sha256}*"))
    lake.delete_subject("ada")
    assert not (lake.root / "video" / "subject=ada").exists()
