"""Ingest: parse and validate a user's file, then store it in the lake (all or nothing).

One entry point, :func:`ingest_file`, for every format; the format modules only parse.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ..lake import IngestResult, Lake
from ..nights import night_of
from ..schema import SleepmovesError
from .logs import BadInputError, RowError, parse_log
from .raw import events_and_coverage, looks_like_raw_csv, maybe_gunzip, read_raw_csv, sampling_rate

__all__ = ["BadInputError", "IngestReport", "RowError", "ingest_file", "sha256_of"]

LOG_FORMATS = ("csv", "jsonl")
SENSOR_FORMATS = ("raw-csv",)
FORMATS = (*LOG_FORMATS, *SENSOR_FORMATS)


@dataclass
class IngestReport:
    """What :func:`ingest_file` did, and the bad rows it skipped (only with ``skip_bad``)."""

    result: IngestResult
    path: str
    format: str
    skipped: list[RowError] = field(default_factory=list)


def sha256_of(data: bytes) -> str:
    """Hex sha256 of a file's bytes: the identity of an ingested file."""
    return hashlib.sha256(data).hexdigest()


def ingest_file(
    lake: Lake,
    path: str | Path,
    subject: str,
    tz: str | None = None,
    fmt: str = "auto",
    skip_bad: bool = False,
    limb: str | None = None,
) -> IngestReport:
    """Parse, validate and store one file for one subject.

    A file with any bad row stores nothing and raises :class:`BadInputError` listing every bad row,
    unless ``skip_bad`` is set: then the good rows are stored and the bad ones returned in the report.
    A file already in the lake (same sha256) adds nothing.
    """
    path = Path(path)
    info = lake.subject(subject)
    if fmt not in ("auto", *FORMATS):
        raise SleepmovesError(f"unknown format {fmt!r}: use one of auto, {', '.join(FORMATS)}")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SleepmovesError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SleepmovesError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise SleepmovesError(f"{path}: cannot read ({exc.strerror})") from None
    sha = sha256_of(data)
    if lake.has_file(sha):
        return IngestReport(IngestResult(sha, subject, 0, already_ingested=True), str(path), fmt)

    content = maybe_gunzip(data, str(path))
    if fmt == "auto":
        fmt = "raw-csv" if looks_like_raw_csv(content[:4096].decode("utf-8", errors="replace")) else "auto"
    if fmt in SENSOR_FORMATS:
        tables = _sensor_tables(content, str(path), info["tz"], tz, limb, sha)
        skipped: list[RowError] = []
        fmt_name = fmt
    else:
        parsed = parse_log(content, str(path), tz=tz, fmt=fmt)
        if parsed.errors and not skip_bad:
            raise BadInputError(str(path), parsed.errors, good_rows=len(parsed.events))
        if parsed.events.empty:
            raise BadInputError(str(path), parsed.errors)
        events = parsed.events.assign(source="log", source_sha=sha)
        events["night"] = night_of(events["start"], info["tz"]).to_numpy()
        tables, skipped, fmt_name = {"events": events}, parsed.errors, parsed.format
    result = lake.commit_ingest(
        sha256=sha, source_path=str(path.resolve()), fmt=fmt_name, subject=subject, tables=tables
    )
    return IngestReport(result, str(path), fmt_name, skipped=skipped)


def _sensor_tables(content: bytes, path: str, subject_tz: str, tz: str | None, limb: str | None, sha: str):
    """Raw acceleration -> detected events and per-epoch coverage, each with its night."""
    times, signals = read_raw_csv(content, path, tz=tz, limb=limb)
    fs = sampling_rate(times, path)
    events, coverage = events_and_coverage(times, signals, fs)
    events = events.assign(source="sensor", source_sha=sha)
    events["night"] = night_of(events["start"], subject_tz).to_numpy() if len(events) else []
    coverage = coverage.assign(source_sha=sha)
    coverage["night"] = night_of(coverage["start"], subject_tz).to_numpy()
    return {"events": events, "counts": coverage}
