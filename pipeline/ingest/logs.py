"""Parent event logs: CSV or JSON Lines with one movement event per row.

Columns (names are case-insensitive; the first listed is canonical, the rest are accepted aliases):

=============  ===========================================  ========  =====================================
column         aliases                                      required  value
=============  ===========================================  ========  =====================================
start          time, timestamp, datetime                    yes       ISO 8601; with a UTC offset, or naive
                                                                      plus ``--tz``
duration_s     duration (seconds), duration_ms (ms)         no        seconds, 0 to 3600; empty = unknown
limb           side                                         no        left_leg, right_leg, left_arm,
                                                                      right_arm, head, trunk, whole_body,
                                                                      unknown (default)
kind           type                                         yes       twitch, kick, startle, shake,
                                                                      stretch, other
intensity                                                   no        0 to 1; empty = unknown
=============  ===========================================  ========  =====================================

Other columns (for example ``note``) are ignored. Words are normalised ("Left Leg" = ``left_leg``).

When the log was recording: a row of kind ``recording_start`` says the monitor (or the app) started
watching at its time, one of kind ``recording_stop`` that it stopped; these rows are not movements and their
other columns are ignored. Between a stop and the next start there is no data. Without such rows a log
records from its first to its last event. Either way, a stretch with no movement at all for longer than an
infant sleep cycle allows (:data:`sleepmoves.epochs.MAX_SILENCE_MIN`) is no data, never quiet sleep.

Every bad row is reported as ``file:line: column: reason``. A local time that does not exist (the
hour skipped when clocks go forward) or happens twice (clocks go back) is refused: add a UTC
offset to such rows. A ``--tz`` given with times that carry offsets must agree with them (a row whose
offset is not the zone's at that instant is refused, naming both).
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ..nights import zone
from ..schema import KINDS, LIMBS, YEARS, SleepmovesError, normalise_word
from .errors import MAX_ERRORS_KEPT, SEMICOLONS, BadInputError, RowError, semicolon_separated
from .limits import DEFAULT_LIMITS, Limits
from .offsets import conflict_reason
from .text import text_lines

MAX_DURATION_S = 3600.0

# canonical column -> accepted header names (after normalise_word)
ALIASES: dict[str, tuple[str, ...]] = {
    "start": ("start", "time", "timestamp", "datetime", "date_time", "start_time"),
    "duration_s": ("duration_s", "duration", "duration_ms"),
    "limb": ("limb", "side"),
    "kind": ("kind", "type"),
    "intensity": ("intensity",),
}
REQUIRED = ("start", "kind")


@dataclass
class ParsedLog:
    """Result of parsing a log: the good events and the errors of the bad rows."""

    events: pd.DataFrame
    errors: list[RowError]
    format: str
    recording: pd.DataFrame | None = None  # start, end of each span from recording rows (None: no such rows)
    error_count: int = 0  # every bad row; ``errors`` keeps the first MAX_ERRORS_KEPT


def sniff_format(path: str, head: str) -> str:
    """``csv`` or ``jsonl``, from the file name, else from the first non-blank character of its ``head``."""
    lower = path.lower()
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lower.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    return "jsonl" if head.lstrip()[:1] in ("{", "[") else "csv"


BATCH_ROWS = 16_384  # good rows a batch: under 1 MB as columns


class LogReader:
    """One pass over a parent event log: its good rows in batches, then what the whole file said.

    The file is read a block at a time (:func:`~sleepmoves.ingest.text.text_lines`) and its good rows are handed
    out in batches of ``batch_rows``, in file order, so memory holds one batch, never the file. Once
    :meth:`batches` is exhausted, ``errors`` (the first :data:`MAX_ERRORS_KEPT`), ``error_count``, ``rows``,
    ``first`` / ``last`` (the earliest and latest event) and ``recording`` describe the whole file.

    Parameters
    ----------
    source : bytes or Path
        The file's bytes, or its path (read as it goes; gzip is decompressed as it goes).
    path : str
        Shown in error messages.
    tz : str, optional
        IANA zone for timestamps written without a UTC offset.
    fmt : {"auto", "csv", "jsonl"}
    limits : Limits
        Size (decompressed) and line limits, checked as the reading gets there.
    """

    def __init__(
        self,
        source: bytes | Path,
        path: str,
        tz: str | None = None,
        fmt: str = "auto",
        limits: Limits = DEFAULT_LIMITS,
        batch_rows: int | None = None,
    ):
        if fmt not in ("auto", None, "csv", "jsonl"):
            raise SleepmovesError(f"unknown log format {fmt!r}: use csv or jsonl")
        self.source, self.path, self.limits = source, path, limits
        self.batch_rows = batch_rows or BATCH_ROWS
        self.zone = zone(tz) if tz else None
        self.format = fmt or "auto"
        self.errors: list[RowError] = []
        self.error_count = 0
        self.rows = 0
        self.first: pd.Timestamp | None = None
        self.last: pd.Timestamp | None = None
        self.recording: pd.DataFrame | None = None

    def error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(error)

    def batches(self) -> Iterator[pd.DataFrame]:
        """Frames of ``start`` (UTC), ``duration_s``, ``limb``, ``kind``, ``intensity``, in file order."""
        path = self.path
        taken, rest = _head(text_lines(self.source, path, self.limits))
        head = "".join(taken)
        if not head.strip():  # blank so far: empty unless something follows
            more = next(rest, None)
            if more is None:
                raise BadInputError(path, [RowError(path, 1, "", "the file is empty (no header, no events)")])
            taken.append(more)
        if self.format == "auto":
            self.format = sniff_format(path, head)
        lines = itertools.chain(taken, rest)
        records = (
            _csv_records(lines, head, path) if self.format == "csv" else _json_records(lines, head, path)
        )
        # Rows are kept as columns of machine numbers (and the few limb / kind words, shared): about 40 bytes an
        # event, where a dict per row took about 500.
        columns = _Columns()
        marks: list = []
        first = last = None
        for line, record in records:
            if isinstance(record, RowError):
                self.error(record)
                continue
            row, row_errors = _validate(record, path, line, self.zone)
            if row_errors:
                for e in row_errors:
                    self.error(e)
            elif row["kind"] in RECORDING_KINDS:
                marks.append((row["start"], row["kind"], line))
            else:
                columns.add(row)
                first = row["start"] if first is None or row["start"] < first else first
                last = row["start"] if last is None or row["start"] > last else last
                if len(columns) >= self.batch_rows:
                    self.rows += len(columns)
                    yield columns.frame()
                    columns = _Columns()
        if len(columns):
            self.rows += len(columns)
            yield columns.frame()
        self.first = pd.Timestamp(first) if first is not None else None
        self.last = pd.Timestamp(last) if last is not None else None
        self.recording = _recording_spans(marks, first, last, path, self.error)
        if not self.rows and not self.error_count:
            raise BadInputError(path, [RowError(path, 2, "", "no events: the file has a header but no rows")])


class _Columns:
    """A batch of good rows as machine-number columns."""

    def __init__(self):
        self.starts, self.durations, self.intensities = array("q"), array("d"), array("d")
        self.limbs: list[str] = []
        self.kinds: list[str] = []

    def __len__(self) -> int:
        return len(self.starts)

    def add(self, row: dict) -> None:
        self.starts.append((row["start"] - EPOCH) // ONE_US)
        self.durations.append(math.nan if row["duration_s"] is None else row["duration_s"])
        self.intensities.append(math.nan if row["intensity"] is None else row["intensity"])
        self.limbs.append(WORDS.setdefault(row["limb"], row["limb"]))
        self.kinds.append(WORDS.setdefault(row["kind"], row["kind"]))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "start": pd.to_datetime(
                    np.frombuffer(self.starts, dtype=np.int64), unit="us", utc=True
                ).astype("datetime64[us, UTC]"),
                "duration_s": np.frombuffer(self.durations, dtype=np.float64).copy(),
                "limb": pd.Series(self.limbs, dtype=object),
                "kind": pd.Series(self.kinds, dtype=object),
                "intensity": np.frombuffer(self.intensities, dtype=np.float64).copy(),
            }
        )


def parse_log(
    data: bytes | Path, path: str, tz: str | None = None, fmt: str = "auto", limits: Limits = DEFAULT_LIMITS
) -> ParsedLog:
    """Parse a parent event log whole (see :class:`LogReader` to read a large one in batches).

    Parameters
    ----------
    data : bytes or Path
        The file's content, or its path.
    path : str
        Shown in error messages.
    tz : str, optional
        IANA zone for timestamps written without a UTC offset.
    fmt : {"auto", "csv", "jsonl"}

    Returns
    -------
    ParsedLog
        ``events`` has columns ``start`` (UTC), ``duration_s``, ``limb``, ``kind``, ``intensity``,
        sorted by start; ``errors`` lists the bad rows (file-level problems raise instead).
    """
    reader = LogReader(data, path, tz=tz, fmt=fmt, limits=limits)
    frames = list(reader.batches())
    events = pd.concat(frames, ignore_index=True) if frames else _Columns().frame()
    events = events.sort_values("start", kind="stable", ignore_index=True)
    return ParsedLog(events, reader.errors, reader.format, reader.recording, reader.error_count)


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
ONE_US = dt.timedelta(microseconds=1)
WORDS: dict[str, str] = {}  # one string object per limb / kind word, shared by every row


RECORDING_KINDS = ("recording_start", "recording_stop")


def _recording_spans(marks: list, first, last, path: str, error) -> pd.DataFrame | None:
    """Spans from recording start/stop rows, in time order; an unmatched start runs to the last event (``last``),
    an unmatched stop from the first (``first``). Two starts (or stops) in a row are reported as bad rows
    (to ``error``)."""
    if not marks:
        return None
    times = [first, last] if first is not None else []
    spans, opened = [], None
    for when, kind, line in sorted(marks, key=lambda m: m[0]):
        if kind == "recording_start":
            if opened is not None:
                error(RowError(path, line, "kind", "recording_start while already recording"))
            opened = when
        else:
            if opened is None and spans:
                error(RowError(path, line, "kind", "recording_stop without a recording_start"))
                continue
            spans.append((opened if opened is not None else (times[0] if times else when), when))
            opened = None
    if opened is not None:
        spans.append((opened, max(times[-1], opened) if times else opened))
    frame = pd.DataFrame(spans, columns=["start", "end"])
    frame["start"] = pd.to_datetime(frame["start"], utc=True)
    frame["end"] = pd.to_datetime(frame["end"], utc=True)
    return frame[frame["end"] > frame["start"]].reset_index(drop=True)


HEAD_CHARS = 4096  # the text the format and the delimiter are guessed from


def _head(lines: Iterator[str]) -> tuple[list[str], Iterator[str]]:
    """The lines of the first :data:`HEAD_CHARS` characters, and the lines after them."""
    taken: list[str] = []
    size = 0
    for line in lines:
        taken.append(line)
        size += len(line)
        if size >= HEAD_CHARS:
            break
    return taken, lines


# ---------------------------------------------------------------------- readers
def _canonical(name: str) -> str | None:
    word = normalise_word(name)
    for canonical, names in ALIASES.items():
        if word in names:
            return canonical
    return None


def _rename(raw: dict, path: str, line: int) -> dict | RowError:
    """Map a record's keys to canonical names; remember which alias carried the duration unit."""
    out: dict = {}
    for key, value in raw.items():
        canonical = _canonical(str(key))
        if canonical is None:
            continue
        if canonical in out:
            return RowError(path, line, str(key), f"two columns mean {canonical}; keep one")
        out[canonical] = value
        if canonical == "duration_s":
            out["_duration_unit"] = "ms" if normalise_word(str(key)) == "duration_ms" else "s"
    return out


def _csv_records(lines: Iterator[str], head: str, path: str) -> Iterator[tuple[int, dict | RowError]]:
    delimiter = "\t" if head.count("\t") > head.count(",") else ","
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error as exc:
        yield 1, RowError(path, 1, "", f"unreadable CSV header ({exc})")
        return
    while header is not None and not any(h.strip() for h in header):
        header = next(reader, None)
    if header is None:
        return
    if len(header) == 1 and semicolon_separated(header[0]):
        yield 1, RowError(path, 1, "", SEMICOLONS)
        return
    names = [h.strip() for h in header]
    seen: dict[str, str] = {}
    for name in names:
        canonical = _canonical(name)
        if canonical and canonical in seen:
            raise BadInputError(
                path, [RowError(path, reader.line_num, name, f"two columns mean {canonical}; keep one")]
            )
        if canonical:
            seen[canonical] = name
    missing = [c for c in REQUIRED if c not in seen]
    if missing:
        # A missing column is a file-level problem: every row would fail the same way.
        raise BadInputError(
            path,
            [
                RowError(
                    path,
                    reader.line_num,
                    c,
                    f"missing required column (accepted names: {', '.join(ALIASES[c])})",
                )
                for c in missing
            ],
        )
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield reader.line_num, RowError(path, reader.line_num, "", f"unreadable CSV row ({exc})")
            break
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(names):
            yield line, RowError(path, line, "", f"{len(cells)} values but {len(names)} header columns")
            continue
        record = dict(zip(names, cells + [""] * (len(names) - len(cells)), strict=True))
        yield line, _rename(record, path, line)


def _json_records(lines: Iterator[str], head: str, path: str) -> Iterator[tuple[int, dict | RowError]]:
    if head.lstrip().startswith("["):  # one JSON array: no line per record, read whole
        text = "".join(lines)
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            yield exc.lineno, RowError(path, exc.lineno, "", f"invalid JSON ({exc.msg})")
            return
        for i, item in enumerate(items, start=1):
            # a JSON array has no line per record: report the item number instead
            yield from _json_item(item, path, i)
        return
    for number, raw_line in enumerate(lines, start=1):
        if not raw_line.strip():
            continue
        try:
            item = json.loads(raw_line)
        except json.JSONDecodeError as exc:
            yield number, RowError(path, number, "", f"invalid JSON ({exc.msg} at character {exc.colno})")
            continue
        yield from _json_item(item, path, number)


def _json_item(item, path: str, line: int) -> Iterator[tuple[int, dict | RowError]]:
    if not isinstance(item, dict):
        yield line, RowError(path, line, "", "expected a JSON object with start and kind")
        return
    renamed = _rename(item, path, line)
    if isinstance(renamed, dict):
        for column in REQUIRED:
            if column not in renamed:
                renamed = RowError(
                    path, line, column, f"missing (accepted names: {', '.join(ALIASES[column])})"
                )
                break
    yield line, renamed


# ---------------------------------------------------------------------- validation
def _validate(record: dict, path: str, line: int, tz: ZoneInfo | None) -> tuple[dict, list[RowError]]:
    errors: list[RowError] = []

    def bad(column: str, reason: str) -> None:
        errors.append(RowError(path, line, column, reason))

    start = None
    try:
        start = parse_timestamp(record.get("start"), tz)
    except ValueError as exc:
        bad("start", str(exc))

    kind = _word(record.get("kind"))
    if not kind:
        bad("kind", f"empty; use one of {', '.join(KINDS)}")
    elif kind not in KINDS and kind not in RECORDING_KINDS:
        bad("kind", f"unknown kind {record.get('kind')!r}; use one of {', '.join(KINDS + RECORDING_KINDS)}")
    if kind in RECORDING_KINDS:  # not a movement: only its time counts
        return {
            "start": start,
            "duration_s": None,
            "limb": "unknown",
            "kind": kind,
            "intensity": None,
        }, errors

    limb = _word(record.get("limb")) or "unknown"
    if limb not in LIMBS:
        bad("limb", f"unknown limb {record.get('limb')!r}; use one of {', '.join(LIMBS)}")

    duration = None
    try:
        duration = _number(record.get("duration_s"))
        if duration is not None:
            if record.get("_duration_unit") == "ms":
                duration /= 1000.0
            if not 0 <= duration <= MAX_DURATION_S:
                raise ValueError(f"{duration:g} s is outside 0 to {MAX_DURATION_S:g} s")
    except ValueError as exc:
        bad("duration_s", str(exc))

    intensity = None
    try:
        intensity = _number(record.get("intensity"))
        if intensity is not None and not 0 <= intensity <= 1:
            raise ValueError(f"{intensity:g} is outside 0 to 1")
    except ValueError as exc:
        bad("intensity", str(exc))

    row = {"start": start, "duration_s": duration, "limb": limb, "kind": kind, "intensity": intensity}
    return row, errors


def _word(value) -> str:
    if value is None:
        return ""
    return normalise_word(value)


def _number(value) -> float | None:
    """A finite float, None for empty, ValueError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"not a number: {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {value!r}")
    return number


def parse_timestamp(value, tz: ZoneInfo | None) -> dt.datetime:
    """Parse one ISO 8601 timestamp to an aware UTC datetime.

    Naive times are read in ``tz``; without ``tz`` they are refused. Local times that do not exist or
    are ambiguous in ``tz`` (DST changes) are refused with a hint to add the UTC offset. A time written with an
    offset that is not ``tz``'s offset at that instant is refused naming both.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("empty timestamp")
    if not isinstance(value, str):
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}")
    text = value.strip()
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"not an ISO 8601 timestamp: {text!r} (expected e.g. 2026-03-01T21:15:03+00:00)"
        ) from None
    if stamp.tzinfo is None:
        if tz is None:
            raise ValueError(
                f"{text!r} has no UTC offset and no time zone was given: pass --tz ZONE (e.g. --tz Europe/London)"
            )
        early = stamp.replace(tzinfo=tz, fold=0)
        late = stamp.replace(tzinfo=tz, fold=1)
        if early.utcoffset() != late.utcoffset():
            # fold only matters where the offset differs: a skipped or a repeated local time
            round_trip = early.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None)
            if round_trip != stamp:
                raise ValueError(
                    f"{text!r} does not exist in {tz.key} (clocks went forward); add the UTC offset"
                )
            raise ValueError(f"{text!r} happens twice in {tz.key} (clocks went back); add the UTC offset")
        stamp = early
    if not YEARS[0] <= stamp.year <= YEARS[1]:
        raise ValueError(f"{text!r} is outside the years {YEARS[0]} to {YEARS[1]}")
    if tz is not None and stamp.tzinfo is not tz:  # written with an offset: --tz must agree with it there
        written, local = stamp.utcoffset(), stamp.astimezone(tz).utcoffset()
        if written != local:
            raise ValueError(conflict_reason(written.total_seconds(), tz.key, local.total_seconds()))
    return stamp.astimezone(dt.UTC)
