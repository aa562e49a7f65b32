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
infant sleep cycle allows (:data:`pipeline.epochs.MAX_SILENCE_MIN`) is no data, never quiet sleep.

Every bad row is reported as ``file:line: column: reason``. A local time that does not exist (the
hour skipped when clocks go forward) or happens twice (clocks go back) is refused: add a UTC
offset to such rows. A ``--tz`` given with times that carry offsets must agree with them (a row whose
offset is not the zone's at that instant is refused, naming both).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ..nights import zone
from ..schema import KINDS, LIMBS, YEARS, SleepmovesError, normalise_word
from .offsets import conflict_reason

MAX_DURATION_S = 3600.0
MAX_ERRORS_SHOWN = 20

# canonical column -> accepted header names (after normalise_word)
ALIASES: dict[str, tuple[str, ...]] = {
    "start": ("start", "time", "timestamp", "datetime", "date_time", "start_time"),
    "duration_s": ("duration_s", "duration", "duration_ms"),
    "limb": ("limb", "side"),
    "kind": ("kind", "type"),
    "intensity": ("intensity",),
}
REQUIRED = ("start", "kind")


@dataclass(frozen=True)
class RowError:
    """One problem in an input file, located as precisely as the format allows."""

    path: str
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}"
        return f"{where}: column {self.column}: {self.reason}" if self.column else f"{where}: {self.reason}"


class BadInputError(SleepmovesError):
    """A file with bad rows; ``errors`` lists every one of them."""

    def __init__(self, path: str, errors: list[RowError], good_rows: int = 0):
        self.path = path
        self.errors = errors
        self.good_rows = good_rows
        super().__init__(format_errors(path, errors))


def format_errors(path: str, errors: list[RowError]) -> str:
    """A readable report: one line per error (the first 20), then a count of the rest."""
    count = f"{len(errors)} problem{'s' if len(errors) != 1 else ''}"
    lines = [f"{path}: {count}; nothing was written"]
    lines += [f"  {e}" for e in errors[:MAX_ERRORS_SHOWN]]
    if len(errors) > MAX_ERRORS_SHOWN:
        lines.append(f"  ... and {len(errors) - MAX_ERRORS_SHOWN} more")
    return "\n".join(lines)


@dataclass
class ParsedLog:
    """Result of parsing a log: the good events and the errors of the bad rows."""

    events: pd.DataFrame
    errors: list[RowError]
    format: str
    recording: pd.DataFrame | None = None  # start, end of each span from recording rows (None: no such rows)


def decode(data: bytes, path: str) -> str:
    """Decode UTF-8 (with or without BOM); a clear error naming the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadInputError(
            path,
            [
                RowError(
                    path,
                    line,
                    "",
                    f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                    "save the file as UTF-8",
                )
            ],
        ) from None


def sniff_format(path: str, text: str) -> str:
    """``csv`` or ``jsonl``, from the file name, else from the first non-blank character."""
    lower = path.lower()
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lower.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    head = text.lstrip()[:1]
    return "jsonl" if head in ("{", "[") else "csv"


def parse_log(data: bytes, path: str, tz: str | None = None, fmt: str = "auto") -> ParsedLog:
    """Parse a parent event log.

    Parameters
    ----------
    data : bytes
        The file's content.
    path : str
        Shown in error messages.
    tz : str, optional
        IANA zone for timestamps written without a UTC offset.
    fmt : {"auto", "csv", "jsonl"}

    Returns
    -------
    ParsedLog
        ``events`` has columns ``start`` (UTC), ``duration_s``, ``limb``, ``kind``, ``intensity``,
        sorted by start; ``errors`` lists every bad row (file-level problems raise instead).
    """
    text = decode(data, path)
    if not text.strip():
        raise BadInputError(path, [RowError(path, 1, "", "the file is empty (no header, no events)")])
    zone_info = zone(tz) if tz else None
    fmt = sniff_format(path, text) if fmt in ("auto", None) else fmt
    if fmt == "csv":
        records = _csv_records(text, path)
    elif fmt == "jsonl":
        records = _json_records(text, path)
    else:
        raise SleepmovesError(f"unknown log format {fmt!r}: use csv or jsonl")

    # Rows are kept as columns of machine numbers (and the few limb / kind words, shared): about 40 bytes an
    # event, where a dict per row took about 500 and made a 60 MB log cost 1.1 GB.
    starts, durations, intensities = array("q"), array("d"), array("d")
    limbs: list[str] = []
    kinds: list[str] = []
    errors, marks = [], []
    for line, record in records:
        if isinstance(record, RowError):
            errors.append(record)
            continue
        row, row_errors = _validate(record, path, line, zone_info)
        if row_errors:
            errors += row_errors
        elif row["kind"] in RECORDING_KINDS:
            marks.append((row["start"], row["kind"], line))
        else:
            starts.append((row["start"] - EPOCH) // ONE_US)
            durations.append(math.nan if row["duration_s"] is None else row["duration_s"])
            intensities.append(math.nan if row["intensity"] is None else row["intensity"])
            limbs.append(WORDS.setdefault(row["limb"], row["limb"]))
            kinds.append(WORDS.setdefault(row["kind"], row["kind"]))
    first = EPOCH + ONE_US * min(starts) if starts else None
    last = EPOCH + ONE_US * max(starts) if starts else None
    recording = _recording_spans(marks, first, last, path, errors)
    if not starts and not errors:
        raise BadInputError(path, [RowError(path, 2, "", "no events: the file has a header but no rows")])
    events = pd.DataFrame(
        {
            "start": pd.to_datetime(np.frombuffer(starts, dtype=np.int64), unit="us", utc=True),
            "duration_s": np.frombuffer(durations, dtype=np.float64),
            "limb": pd.Series(limbs, dtype=object),
            "kind": pd.Series(kinds, dtype=object),
            "intensity": np.frombuffer(intensities, dtype=np.float64),
        }
    )
    events["start"] = events["start"].astype("datetime64[us, UTC]")
    events = events.sort_values("start", kind="stable", ignore_index=True)
    return ParsedLog(events, errors, fmt, recording)


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
ONE_US = dt.timedelta(microseconds=1)
WORDS: dict[str, str] = {}  # one string object per limb / kind word, shared by every row


RECORDING_KINDS = ("recording_start", "recording_stop")


def _recording_spans(marks: list, first, last, path: str, errors: list) -> pd.DataFrame | None:
    """Spans from recording start/stop rows, in time order; an unmatched start runs to the last event (``last``),
    an unmatched stop from the first (``first``). Two starts (or stops) in a row are reported as bad rows."""
    if not marks:
        return None
    times = [first, last] if first is not None else []
    spans, opened = [], None
    for when, kind, line in sorted(marks, key=lambda m: m[0]):
        if kind == "recording_start":
            if opened is not None:
                errors.append(RowError(path, line, "kind", "recording_start while already recording"))
            opened = when
        else:
            if opened is None and spans:
                errors.append(RowError(path, line, "kind", "recording_stop without a recording_start"))
                continue
            spans.append((opened if opened is not None else (times[0] if times else when), when))
            opened = None
    if opened is not None:
        spans.append((opened, max(times[-1], opened) if times else opened))
    frame = pd.DataFrame(spans, columns=["start", "end"])
    frame["start"] = pd.to_datetime(frame["start"], utc=True)
    frame["end"] = pd.to_datetime(frame["end"], utc=True)
    return frame[frame["end"] > frame["start"]].reset_index(drop=True)


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


def _csv_records(text: str, path: str) -> Iterator[tuple[int, dict | RowError]]:
    sample = text[:4096]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    # lines are cut from the text as the reader asks (a StringIO would hold a second, 4-byte-a-character copy)
    reader = csv.reader(_lines(text), delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error as exc:
        yield 1, RowError(path, 1, "", f"unreadable CSV header ({exc})")
        return
    while header is not None and not any(h.strip() for h in header):
        header = next(reader, None)
    if header is None:
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


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their endings, one at a time ("\n", "\r\n" or a lone "\r")."""
    position, size = 0, len(text)
    while position < size:
        end = text.find("\n", position)
        cut = text.find("\r", position, end if end >= 0 else size)
        if cut >= 0 and (end < 0 or cut + 1 < end):  # a lone "\r" ends the line (old Mac files)
            end = cut
        stop = size if end < 0 else end + 1
        yield text[position:stop]
        position = stop


def _json_records(text: str, path: str) -> Iterator[tuple[int, dict | RowError]]:
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            yield exc.lineno, RowError(path, exc.lineno, "", f"invalid JSON ({exc.msg})")
            return
        for i, item in enumerate(items, start=1):
            # a JSON array has no line per record: report the item number instead
            yield from _json_item(item, path, i)
        return
    for number, raw_line in enumerate(_lines(text), start=1):
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
