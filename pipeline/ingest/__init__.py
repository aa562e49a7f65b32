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

__all__ = ["BadInputError", "IngestReport", "RowError", "ingest_file", "sha256_of"]

LOG_FORMATS = ("csv", "jsonl")


@dataclass
class IngestReport:
    """What :func:`ingest_file` did, and the bad rows it skipped (only with ``skip_bad``)."""

    result: IngestResult
    path: str
    format: str
    skipped: list[RowError] = field(default_factory=list)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ingest_file(
    lake: Lake,
    path: str | Path,
    subject: str,
    tz: str | None = None,
    fmt: str = "auto",
    skip_bad: bool = False,
) -> IngestReport:
    """Parse, validate and store one file for one subject.

    A file with any bad row stores nothing and raises :class:`BadInputError` listing every bad row,
    unless ``skip_bad`` is set: then the good rows are stored and the bad ones returned in the report.
    A file already in the lake (same sha256) adds nothing.
    """
    path = Path(path)
    info = lake.subject(subject)
    if fmt not in ("auto", *LOG_FORMATS):
        raise SleepmovesError(f"unknown format {fmt!r}: use one of auto, {', '.join(LOG_FORMATS)}")
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

    parsed = parse_log(data, str(path), tz=tz, fmt=fmt)
    if parsed.errors and not skip_bad:
        raise BadInputError(str(path), parsed.errors, good_rows=len(parsed.events))
    if parsed.events.empty:
        raise BadInputError(str(path), parsed.errors)
    events = parsed.events.assign(source="log", source_sha=sha)
    events["night"] = night_of(events["start"], info["tz"]).to_numpy()
    result = lake.commit_ingest(
        sha256=sha,
        source_path=str(path.resolve()),
        fmt=parsed.format,
        subject=subject,
        tables={"events": events},
    )
    return IngestReport(result, str(path), parsed.format, skipped=parsed.errors)
