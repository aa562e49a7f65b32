"""Ingest: parse and validate a user's file, then store it in the lake (all or nothing).

One entry point, :func:`ingest_file`, for every format; the format modules only parse.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import videos
from ..lake import IngestResult, Lake
from ..nights import night_of, split_by_night
from ..nonwear import CHOI_WINDOW_MIN, WINDOW_BY_FORMAT, counts_worn
from ..schema import EPOCH_S, SleepmovesError
from ..sleepwake import check_algorithm
from ..spill import NightPieces, scratch_folder
from ..tables import file_sha256
from ..wording import counted
from .binary import BINARY_FORMATS, read_binary, sniff_binary_format
from .counts import COUNT_FORMATS, counts_table, localise, read_counts, read_notes, sniff_counts_format
from .diary import (
    DIARY_FORMATS,
    SAME_ENTRY,
    diary_table,
    read_diary,
    repeated_and_overlapping,
    sniff_diary_format,
)
from .errors import BadInputError, RowError
from .limits import DEFAULT_LIMITS, Limits
from .logs import LogReader
from .raw import (
    events_and_coverage,
    gunzip_head,
    looks_like_raw_csv,
    maybe_gunzip,
    read_raw_csv,
    sampling_rate,
)
from .video import is_video, read_video

__all__ = [
    "BadInputError",
    "FileTables",
    "IngestReport",
    "Limits",
    "ParsedFile",
    "RowError",
    "ingest_file",
    "parse_file",
    "read_file",
    "sha256_of",
]

LOG_FORMATS = ("csv", "jsonl")
SENSOR_FORMATS = ("raw-csv", *BINARY_FORMATS, "video")
FORMATS = (*LOG_FORMATS, *SENSOR_FORMATS, *COUNT_FORMATS, *DIARY_FORMATS)


@dataclass
class IngestReport:
    """What :func:`ingest_file` did, and the bad rows it skipped (only with ``skip_bad``)."""

    result: IngestResult
    path: str
    format: str
    skipped: list[RowError] = field(default_factory=list)  # the first MAX_ERRORS_KEPT of them
    notes: list[str] = field(default_factory=list)  # how the file was read, for the user (see ParsedFile)
    skipped_count: int = 0  # every bad row skipped


def sha256_of(data: bytes) -> str:
    """Hex sha256 of a file's bytes: the identity of an ingested file."""
    return hashlib.sha256(data).hexdigest()


def ingest_file(
    lake: Lake,
    path: str | Path,
    subject: str,
    *,
    tz: str | None = None,
    fmt: str = "auto",
    skip_bad: bool = False,
    limb: str | None = None,
    source_name: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    replace: bool = False,
    sleepwake: str | None = None,
    video_start=None,
    video_progress=None,
    camera: str | None = None,
) -> IngestReport:
    r"""Parse, validate and store one file for one subject.

    A file with any bad row stores nothing and raises :class:`BadInputError` listing every bad row,
    unless ``skip_bad`` is set: then the good rows are stored and the bad ones returned in the report.
    A file already stored for this subject (same sha256) adds nothing; one stored for another subject is
    refused, naming it. A file whose sensor epochs overlap an earlier file's of the same subject and limb in time
    (a device file and its CSV export) is refused naming that file, or replaces it with ``replace``
    (see :meth:`Lake.commit_ingest`). ``source_name`` names the file in messages and the
    manifest when ``path`` is a temporary copy (an upload). A file over ``limits`` (size, size decompressed,
    rows) is refused before it is read whole.

    Parameters
    ----------
    lake : Lake
    path : str or Path
        The file (any format :func:`read_file` reads).
    subject : str
        The baby it belongs to (added first with :meth:`Lake.add_subject`).
    tz : str, optional
        The zone of times the file writes without a UTC offset.
    fmt : str
        ``auto`` (recognised from the content) or a format name.
    skip_bad : bool
        Store the good rows and report the bad ones, instead of refusing the file.
    limb : str, optional
        Where a single sensor was worn, when the file does not say.
    source_name : str, optional
        The name to give the file in messages and the manifest (``path`` is then a temporary copy).
    limits : Limits
        Largest file, size decompressed and rows accepted.
    replace : bool
        Replace an earlier file whose sensor epochs overlap this one's.
    sleepwake : str, optional
        The algorithm that is to score this file's activity counts.
    video_start : str or timestamp, optional
        When a video began (default: the file's creation time, else its name), in the baby's zone unless it
        has an offset.
    video_progress : callable, optional
        Called with (seconds analysed, seconds in the video) as a video is analysed (minutes for a night).
    camera : str, optional
        The camera a video is from, placed with :func:`sleepmoves.videos.place_camera` (default: the baby's
        ``default`` camera if placed, else the built-in template).

    Returns
    -------
    IngestReport
        ``result`` (the nights stored, the rows, whether the file was already there), ``format``, ``notes`` and
        the bad rows ``skipped``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sleepmoves import Lake, ingest_file
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "night.csv").write_text(
    ...     "time,kind,limb\n2026-03-02T21:00:00+00:00,twitch,left_leg\n2026-03-03T02:10:00+00:00,startle,whole_body\n"
    ... )
    >>> lake = Lake(folder / "lake")
    >>> lake.add_subject("ada", "Europe/London", born="2026-01-01")
    True
    >>> report = ingest_file(lake, folder / "night.csv", "ada")
    >>> report.result.nights, report.result.rows
    (['2026-03-02'], 2)
    >>> ingest_file(lake, folder / "night.csv", "ada").result.already_ingested  # the same file again
    True
    """
    path = Path(path)
    info = lake.subject(subject)
    if fmt not in ("auto", *FORMATS):
        raise SleepmovesError(f"unknown format {fmt!r}: use one of auto, {', '.join(FORMATS)}")
    name = source_name or str(path)  # what messages and the manifest call the file
    try:
        video = _is_video_file(path)
        if not video:  # a video is decoded as a stream: its length (<= 16 h) bounds the work
            limits.check_size(name, path.stat().st_size)
        sha = file_sha256(path)
        if lake.has_file(sha, subject):
            # its nights come back, so a caller can finish labelling what a killed ingest left
            result = IngestResult(sha, subject, 0, lake.file_nights(sha, subject), already_ingested=True)
            return IngestReport(result, str(path), fmt)
        # refused before the file is read; commit_ingest checks again under the writer lock
        lake.check_not_held_by_another(sha, subject, Path(name).name)
    except OSError as exc:
        raise _unreadable(path, exc) from None
    data = _file_data(path, name, fmt)

    # a log's rows wait on disk, by night, until they are stored: memory holds a batch, never the file
    with scratch_folder(lake.root) if isinstance(data, Path) else contextlib.nullcontext() as scratch:
        parsed = parse_file(
            data,
            name,
            info["tz"],
            tz=tz,
            fmt=fmt,
            skip_bad=skip_bad,
            limb=limb,
            limits=limits,
            sha=sha,
            sleepwake=sleepwake,
            scratch=scratch,
            video_start=video_start,
            video_progress=video_progress,
            video_template=videos.camera_template(lake, subject, camera) if video else None,
        )
        del data  # the file's bytes are not needed to store its rows (a large log is tens of MB)
        if "diary" in parsed.tables:
            parsed.tables["diary"] = _not_stored_twice(lake, subject, parsed.tables["diary"], parsed.notes)
        result = lake.commit_ingest(
            sha256=sha,
            source_path=source_name or str(path.resolve()),
            fmt=parsed.format,
            subject=subject,
            tables=parsed.tables,
            replace=replace,
            files=videos.stage(scratch, path, sha, parsed.video, camera)
            if parsed.video is not None
            else None,
        )
    return IngestReport(
        result, name, parsed.format, parsed.skipped, parsed.notes, parsed.skipped_count or len(parsed.skipped)
    )


@dataclass
class ParsedFile:
    """A file read and checked, ready to store: lake table name -> rows (each with its ``night``)."""

    tables: dict
    format: str
    skipped: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the user should hear ("'Z' times read in --tz")
    skipped_count: int = 0  # with skipped_bad: every bad row (``skipped`` keeps the first MAX_ERRORS_KEPT)
    video: object = (
        None  # a video's header (sleepmoves.ingest.video.VideoInfo): the file is kept for the player
    )


def _is_video_file(path: Path) -> bool:
    with open(path, "rb") as fh:
        return is_video(fh.read(16))


def _unreadable(path: Path, exc: OSError) -> SleepmovesError:
    if isinstance(exc, FileNotFoundError):
        return SleepmovesError(f"{path}: no such file")
    if isinstance(exc, IsADirectoryError):
        return SleepmovesError(f"{path}: is a folder, not a file")
    return SleepmovesError(f"{path}: cannot read ({exc.strerror})")


def _file_data(path: Path, name: str, fmt: str) -> bytes | Path:
    """What :func:`parse_file` reads: raw acceleration and event logs from the file as they go (a night is tens of
    MB), the rest (small, or binary formats read whole by their decoders) as bytes."""
    try:
        return path if _read_as_stream(path, name, fmt) else path.read_bytes()
    except OSError as exc:
        raise _unreadable(path, exc) from None


@dataclass(frozen=True)
class FileTables:
    """What :func:`read_file` found in a file: a table per kind of data, empty where the file has none.

    Attributes
    ----------
    format : str
        The format the file was read as (``csv``, ``jsonl``, ``raw-csv``, ``gt3x``, ``cwa``, ``agd``, ``awd``,
        ``diary-csv``, ...).
    events : DataFrame
        Movement events: ``start`` (UTC), ``duration_s``, ``limb``, ``kind``, ``intensity``, ``night``; detected
        from the acceleration for raw sensor files.
    counts : DataFrame
        Epochs of activity counts, or a raw sensor's movement per epoch: ``start`` (UTC), ``epoch_s``, ``count``,
        ``limb``, ``valid`` (False: no data), ``worn``, ``wake_threshold``, ``sleepwake``, ``night``.
    recording : DataFrame
        When an event log was recording: ``start``, ``end`` (UTC) and ``night``.
    diary : DataFrame
        A parent's diary: ``start``, ``end`` (UTC), ``activity`` (sleep, feed, diaper, visit, other), ``note``
        and ``night``.
    notes : tuple of str
        How the file was read, in words the user should hear (a zone applied, damaged blocks, repeated entries).
    skipped : tuple of RowError
        Bad rows left out (only with ``skip_bad=True``; otherwise a bad row raises :class:`BadInputError`).
    """

    format: str
    events: pd.DataFrame
    counts: pd.DataFrame
    recording: pd.DataFrame
    diary: pd.DataFrame
    notes: tuple[str, ...] = ()
    skipped: tuple[RowError, ...] = ()


def read_file(
    path: str | Path,
    *,
    tz: str | None = None,
    night_tz: str | None = None,
    fmt: str = "auto",
    skip_bad: bool = False,
    limb: str | None = None,
    sleepwake: str | None = None,
) -> FileTables:
    r"""Read and check any supported file into tables, storing nothing (:func:`ingest_file` stores it in a lake).

    Parameters
    ----------
    path : str or Path
        An event log (CSV / JSON Lines), raw acceleration (CSV, ActiGraph GT3X, Axivity CWA, GENEActiv BIN),
        activity counts (ActiGraph AGD / CSV, Actiwatch AWD / MTN, Actiware CSV, ...) or a baby app's diary.
    tz : str, optional
        The zone of times the file writes without a UTC offset (as :func:`ingest_file` and the command line's
        ``--tz``); such a time is refused when it is not given.
    night_tz : str, optional
        The baby's zone, in which each row's night is the local noon-to-noon it falls in (default: ``tz``, else
        UTC). :func:`ingest_file` takes it from the lake.
    fmt : str
        ``auto`` (recognised from the content) or a format name.
    skip_bad : bool
        Leave bad rows out (listed in ``skipped``) instead of refusing the file.
    limb : str, optional
        Where a single sensor was worn, when the file does not say.
    sleepwake : str, optional
        The algorithm that scores activity counts (default: the device software's own).

    Returns
    -------
    FileTables

    Raises
    ------
    BadInputError
        The file has bad rows (each named with its line) and ``skip_bad`` is not set.
    SleepmovesError
        The file cannot be read, or is not a format sleepmoves reads (the message says what to do).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sleepmoves import read_file
    >>> log = pathlib.Path(tempfile.mkdtemp()) / "night.csv"
    >>> _ = log.write_text(
    ...     "time,kind,limb\n"
    ...     "2026-03-02T21:00:00+00:00,twitch,left_leg\n"
    ...     "2026-03-02T21:00:05+00:00,kick,right_leg\n"
    ... )
    >>> tables = read_file(log, night_tz="Europe/London")
    >>> tables.format, len(tables.events), tables.events["night"].iloc[0]
    ('csv', 2, '2026-03-02')
    >>> tables.events[["kind", "limb"]].values.tolist()
    [['twitch', 'left_leg'], ['kick', 'right_leg']]
    """
    if fmt not in ("auto", *FORMATS):
        raise SleepmovesError(f"unknown format {fmt!r}: use one of auto, {', '.join(FORMATS)}")
    path = Path(path)
    name = str(path)
    try:
        DEFAULT_LIMITS.check_size(name, path.stat().st_size)
    except OSError as exc:
        raise _unreadable(path, exc) from None
    data = _file_data(path, name, fmt)
    parsed = parse_file(
        data, name, night_tz or tz or "UTC", tz=tz, fmt=fmt, skip_bad=skip_bad, limb=limb, sleepwake=sleepwake
    )
    frames = {}
    for kind in ("events", "counts", "recording", "diary"):
        rows = parsed.tables.get(kind)
        frame = rows.frame() if isinstance(rows, NightPieces) else rows
        frame = frame.reset_index(drop=True) if frame is not None else pd.DataFrame()
        # where the rows came from is the lake's bookkeeping (set when stored), not the file's
        frames[kind] = frame.drop(columns=["source", "source_sha"], errors="ignore")
    return FileTables(parsed.format, notes=tuple(parsed.notes), skipped=tuple(parsed.skipped), **frames)


def _read_as_stream(path: Path, name: str, fmt: str) -> bool:
    """Whether the file is raw acceleration or an event log: read from disk as it goes, never held whole."""
    if fmt != "auto":
        return fmt in ("raw-csv", "video") or fmt in LOG_FORMATS
    head = _head_bytes(path, name)
    if is_video(head):
        return True
    if head[:4] == b"PK\x03\x04":
        return False  # a zip archive: refused with what it is (detect_format reads its list of names)
    try:
        return detect_format(head, name) in ("raw-csv", "auto")
    except SleepmovesError:
        return False  # parse_file gives the error, with the whole file


def _head_bytes(path: Path, name: str) -> bytes:
    """The first 64 KB of the file's content (decompressed, for gzip)."""
    with open(path, "rb") as fh:
        head = fh.read(65536)
    return gunzip_head(path, name) if head[:2] == b"\x1f\x8b" else head


def parse_file(
    data: bytes | Path,
    name: str,
    subject_tz: str,
    tz: str | None = None,
    fmt: str = "auto",
    skip_bad: bool = False,
    limb: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    sha: str = "",
    sleepwake: str | None = None,
    scratch: Path | None = None,
    video_start=None,
    video_progress=None,
    video_template: dict | None = None,
) -> ParsedFile:
    """Read any supported file's bytes into lake tables, or raise :class:`SleepmovesError` saying why not.

    Pure (no lake access): this is what the fuzz tests drive with damaged and hostile input. ``data`` may be the
    path of a raw CSV or an event log, which is then read from disk as it goes. ``sleepwake`` names the algorithm
    that is to score an activity-count file (kept on its rows; ``None`` or ``"auto"``: the device software's
    own). A log's rows are kept by night in ``scratch`` (a folder) when given, else in memory.
    """
    streamed = isinstance(data, Path)
    if fmt == "auto":
        head = (
            _head_bytes(data, name)
            if streamed
            else gunzip_head(data, name)
            if data[:2] == b"\x1f\x8b"
            else data
        )
        fmt = detect_format(head, name)
    if fmt == "video":  # decoded from the file as it goes (PyAV), never read whole
        if not streamed:
            raise SleepmovesError(f"{name}: a video is read from its file, not from bytes")
        found = read_video(
            data, tz=subject_tz, start=video_start, progress=video_progress, template=video_template
        )
        rows = _sensor_rows(found.events, found.coverage, "video", subject_tz, sha)
        return ParsedFile(rows, "video", [], found.notes, video=found.info)
    if fmt == "raw-csv":  # read as a stream, from the bytes or the file
        times, signals = read_raw_csv(data, name, tz=tz, limb=limb, limits=limits)
        return ParsedFile(_sensor_tables(times, signals, name, subject_tz, sha), "raw-csv")
    if fmt in ("auto", *LOG_FORMATS):  # read as a stream, from the bytes or the file
        return _log_tables(data, name, fmt, subject_tz, tz, skip_bad, sha, limits, scratch)
    if streamed:
        raise SleepmovesError(f"{name}: a {fmt} file is read whole, not from a path")  # a caller's mistake
    content = maybe_gunzip(data, name, limits)
    if fmt not in BINARY_FORMATS:
        limits.check_rows(name, content.count(b"\n") - 1)  # text: one row a line (the header aside)
    notes: list[str] = []
    if fmt in DIARY_FORMATS:
        diary, notes = repeated_and_overlapping(
            diary_table(read_diary(content, name, fmt), tz, name), subject_tz
        )
        tables = {"diary": _with_night(diary.drop(columns="line"), subject_tz, sha)}
    elif fmt in COUNT_FORMATS:
        tables, notes = _count_tables(content, name, fmt, subject_tz, tz, limb, sha, sleepwake)
        limits.check_rows(name, max(len(t) for t in tables.values()))
    else:  # BINARY_FORMATS
        recording = read_binary(content, name, fmt, tz)
        limits.check_rows(name, len(recording.times))
        tables = _sensor_tables(recording.times, {limb or "unknown": recording.accel}, name, subject_tz, sha)
        notes = recording.notes
    return ParsedFile(tables, fmt, [], notes)


def detect_format(content: bytes, path: str) -> str:
    """A counts format, ``raw-csv``, or ``auto`` (an event log: CSV or JSON Lines by name and content).

    Files we recognise but do not read are refused with what to do instead.
    """
    if is_video(content[:16]):
        return "video"
    refusal = _unsupported(content)
    if refusal:
        raise BadInputError(path, [RowError(path, 1, "", refusal)])
    known = sniff_binary_format(content) or sniff_counts_format(content, path) or sniff_diary_format(content)
    if known:
        return known
    return "raw-csv" if looks_like_raw_csv(content[:4096].decode("utf-8", errors="replace")) else "auto"


CSV_SHAPES = "a diary as start,end,activity,note; a movement log as start,kind,limb"
SPREADSHEET = f"save the sheet as CSV ({CSV_SHAPES})"


def _unsupported(content: bytes) -> str | None:
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # OLE2: Excel 97-2003
        return f"an Excel workbook (.xls): {SPREADSHEET}"
    if content[:4] != b"PK\x03\x04":
        return None
    # a zip's entry names are in its local headers, so the first bytes tell a spreadsheet even of a large file
    head = content[:65536]
    if b"opendocument" in content[:200]:
        return f"an OpenDocument spreadsheet: {SPREADSHEET}"
    if b"xl/" in head and b"[Content_Types].xml" in head:
        return f"an Excel workbook (.xlsx): {SPREADSHEET}"
    if b".iwa" in head:
        return f"an Apple Numbers file: export it as CSV (File, Export To, CSV; {CSV_SHAPES})"
    import io
    import zipfile

    try:
        names = zipfile.ZipFile(io.BytesIO(content)).namelist()
    except zipfile.BadZipFile:
        return None
    if names and all(n.endswith(".npy") for n in names):
        return "a NumPy archive (.npz) of arrays, not a recording from a device or an app"
    return None


def _not_stored_twice(lake: Lake, subject: str, diary: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """The diary's entries not already stored from another file (an app export re-made over a longer span
    repeats the earlier one's rows); says how many were left out and from which file."""
    if diary.empty:
        return diary
    stored = lake.read("diary", [subject], sorted(set(diary["night"])), columns=[*SAME_ENTRY, "source_sha"])
    if stored.empty:
        return diary
    key = pd.MultiIndex.from_frame(diary[SAME_ENTRY])
    known = stored.drop_duplicates(SAME_ENTRY).set_index(SAME_ENTRY)["source_sha"]
    held = key.isin(known.index)
    if held.any():
        shas = known.reindex(key[held]).unique()
        files = lake.manifest().set_index("sha256")["path"].reindex(shas).dropna()
        names = ", ".join(sorted({Path(p).name for p in files})) or "an earlier file"
        notes.append(
            f"{counted(int(held.sum()), 'entry', 'entries')} already stored from {names}: not stored twice"
        )
    return diary[~held]


def _with_night(frame, subject_tz: str, sha: str):
    frame = frame.assign(source_sha=sha)
    frame["night"] = night_of(frame["start"], subject_tz).to_numpy() if len(frame) else []
    return frame


def _log_tables(
    source: bytes | Path,
    path: str,
    fmt: str,
    subject_tz: str,
    tz,
    skip_bad: bool,
    sha: str,
    limits: Limits,
    scratch: Path | None,
):
    """An event log, read a batch of rows at a time."""
    reader = LogReader(source, path, tz=tz, fmt=fmt, limits=limits)
    events = NightPieces(scratch, {"source": "log", "source_sha": sha})
    for batch in reader.batches():
        events.add(batch.assign(night=night_of(batch["start"], subject_tz).to_numpy()))
    if reader.error_count and not skip_bad or not reader.rows:
        raise BadInputError(path, reader.errors, good_rows=reader.rows, count=reader.error_count)
    spans = reader.recording
    if spans is None or not len(spans):  # recording from the first to the last event
        spans = pd.DataFrame({"start": [reader.first], "end": [reader.last + pd.Timedelta(seconds=EPOCH_S)]})
    recording = split_by_night(spans["start"], spans["end"], subject_tz).assign(source_sha=sha)
    return ParsedFile(
        {"events": events, "recording": recording}, reader.format, reader.errors, [], reader.error_count
    )


def _sensor_tables(times, signals: dict, path: str, subject_tz: str, sha: str):
    """Raw acceleration -> detected events and per-epoch coverage, each with its night."""
    fs = sampling_rate(times, path)
    events, coverage = events_and_coverage(times, signals, fs)
    return _sensor_rows(events, coverage, "sensor", subject_tz, sha)


def _sensor_rows(events, coverage, source: str, subject_tz: str, sha: str) -> dict:
    """A sensor's (raw acceleration's or a video's) movements and epoch coverage as lake rows with their night;
    coverage is no activity count, so no sleep/wake threshold or algorithm goes with it."""
    coverage = coverage.assign(wake_threshold=np.nan, sleepwake=None)
    return {
        "events": _with_night(events.assign(source=source), subject_tz, sha),
        "counts": _with_night(coverage, subject_tz, sha),
    }


def _count_tables(
    content: bytes, path: str, fmt: str, subject_tz: str, tz, limb, sha: str, sleepwake: str | None = None
):
    """``(tables, notes)`` of a counts file."""
    read = read_counts(content, path, fmt)
    if read.raw is not None:  # an ActiLife raw export: acceleration at a stated rate, not counts
        first = localise(read.times, tz, path).iloc[0].value
        times = first + np.round(np.arange(len(read.raw["acc"])) / read.raw["fs"] * 1e9).astype("int64")
        return _sensor_tables(
            times, {limb or "unknown": read.raw["acc"].astype("float32")}, path, subject_tz, sha
        ), read_notes(read, tz)
    counts = counts_table(read, tz, path)
    if limb:
        counts["limb"] = limb
    # not worn: the device's own off-wrist column where the file has one (as its software decides), else Choi
    # with ActiLife's defaults (a longer window for Actiwatch counts)
    if read.worn is not None:
        counts["worn"] = np.asarray(read.worn, dtype=bool)
    else:
        window = WINDOW_BY_FORMAT.get(fmt, CHOI_WINDOW_MIN)
        counts["worn"] = counts_worn(
            counts["start"], counts["epoch_s"], counts["count"], counts["valid"], window
        )
    counts["valid"] &= counts["worn"]
    counts["sleepwake"] = None if sleepwake in (None, "auto") else check_algorithm(sleepwake)
    return {"counts": _with_night(counts, subject_tz, sha)}, read_notes(read, tz)
