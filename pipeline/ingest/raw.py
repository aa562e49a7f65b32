"""Plain raw-acceleration CSV: a timestamp and x/y/z in g, one sensor per file or one triple per limb.

Accepted layouts (header optional; compressed ``.gz`` files are read as they are):

* ``timestamp,x,y,z`` (any extra columns ignored) with ``--limb left_leg``;
* ``timestamp,left_leg_x,left_leg_y,left_leg_z,right_leg_x,...``: one triple per limb;
* no header: the first column is the time, the next three are x, y, z (needs ``--limb``, else ``unknown``).

Timestamps are Unix seconds (UTC) or ISO 8601 (with an offset, or naive plus ``--tz``; a ``--tz`` given with
offsets must agree with them). The sampling rate (10-200 Hz) is taken from the timestamps; a gap longer than 1 s
splits the recording, and the gap is stored as no data.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..detect import MAX_FS, MIN_FS, detect_events, epoch_coverage, movement_magnitude
from ..nights import utc_ns
from ..progress import progress
from ..schema import LIMBS, YEARS, SleepmovesError, normalise_word
from .errors import BadInputError, RowError, decode
from .limits import DEFAULT_LIMITS, Limits
from .offsets import conflict_reason, first_offset_conflict, written_offsets

GAP_S = 1.0
MAX_ABS_G = 32.0  # beyond any accelerometer's range: corrupt data
OFFSET_AT_END = r"(?:Z|[+-]\d\d:?\d\d)\s*$"  # a time written with its UTC offset
TIME_NAMES = ("timestamp", "time", "datetime", "date_time", "t")


def _stream(data: bytes | Path):
    """A binary stream over the file's bytes, or over the file itself (read as it goes, never held whole)."""
    return open(data, "rb") if isinstance(data, Path) else io.BytesIO(data)


def _first_bytes(data: bytes | Path, size: int) -> bytes:
    if isinstance(data, Path):
        with open(data, "rb") as fh:
            return fh.read(size)
    return data[:size]


def maybe_gunzip(data: bytes, path: str, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """``data``, decompressed when it is gzip; refused once it expands past ``limits.max_bytes``."""
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        content = gzip.GzipFile(fileobj=io.BytesIO(data)).read(limits.max_bytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise SleepmovesError(f"{path}: damaged gzip file ({exc})") from None
    limits.check_size(path, len(content), "decompressed, the file is over")
    return content


def looks_like_raw_csv(text_head: str) -> bool:
    """A header with x/y/z columns, or a first row of a time followed by three or more numbers."""
    lines = text_head.lstrip().splitlines()
    first = lines[0] if lines else ""
    cells = [normalise_word(c).strip('"') for c in first.split(",")]
    if any(c in ("x", "y", "z") or re.fullmatch(r"[a-z_]+_[xyz]", c) for c in cells):
        return True
    raw = [c.strip().strip('"') for c in first.split(",")]
    if len(raw) < 4 or not all(_is_number(c) for c in raw[1:]):
        return False
    return _is_number(raw[0]) or not pd.isna(pd.to_datetime(raw[0], errors="coerce", format="ISO8601"))


def _limb_columns(names: list[str], limb: str | None, path: str) -> tuple[str, dict[str, list[str]]]:
    """The time column and, per limb, its x/y/z column names."""
    words = [normalise_word(n) for n in names]
    time_col = next((n for n, w in zip(names, words, strict=True) if w in TIME_NAMES), names[0])
    triples: dict[str, list[str]] = {}
    for axis in "xyz":
        for n, w in zip(names, words, strict=True):
            m = re.fullmatch(r"([a-z_]+)_" + axis, w)
            if m and m.group(1) in LIMBS:
                triples.setdefault(m.group(1), [None, None, None])["xyz".index(axis)] = n
    triples = {k: v for k, v in triples.items() if all(v)}
    if triples:
        if limb:
            raise SleepmovesError(
                f"{path}: the columns already name the limbs ({', '.join(triples)}); drop --limb"
            )
        return time_col, triples
    plain = {}
    for axis in "xyz":
        hit = [
            n
            for n, w in zip(names, words, strict=True)
            if w in (axis, f"acc_{axis}", f"accelerometer_{axis}", f"{axis}_g")
        ]
        if hit:
            plain[axis] = hit[0]
    if len(plain) < 3:
        others = [n for n in names if n != time_col]
        if len(others) < 3:
            raise BadInputError(
                path, [RowError(path, 1, "", "expected a time column and x, y, z columns (in g)")]
            )
        plain = dict(zip("xyz", others[:3], strict=True))
    return time_col, {limb or "unknown": [plain["x"], plain["y"], plain["z"]]}


def read_raw_csv(
    data: bytes | Path,
    path: str,
    tz: str | None = None,
    limb: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Parse a raw CSV: ``(times in UTC nanoseconds, {limb: (n, 3) float32 g})``.

    ``data`` is the file's bytes or its path (then it is streamed from disk: the text is never in memory whole).
    """
    if limb is not None and limb not in LIMBS:
        raise SleepmovesError(f"unknown limb {limb!r}: use one of {', '.join(LIMBS)}")
    compressed = _first_bytes(data, 2) == b"\x1f\x8b"
    # a gzip file is read as a stream: the decompressed text is never held whole
    head_bytes = gunzip_head(data, path) if compressed else _first_bytes(data, 4096)
    if not head_bytes.strip():
        raise BadInputError(path, [RowError(path, 1, "", "the file is empty")])
    # refuse non-UTF-8 bytes and too many rows here, with their line, before the CSV reader
    capacity = _check_utf8(data, path, compressed, limits)
    head = head_bytes[:4096].decode("utf-8", errors="replace")
    lines = head.lstrip().splitlines()
    if not lines:
        raise BadInputError(path, [RowError(path, 1, "", "the file holds no text rows")])
    first_line = lines[0]
    has_header = not all(_is_number(c) for c in first_line.split(","))
    offset = 2 if has_header else 1  # file line of row 0

    def source():
        raw = pa.OSFile(str(data)) if isinstance(data, Path) else pa.BufferReader(data)
        return pa.CompressedInputStream(raw, "gzip") if compressed else raw

    try:
        return _read_in_batches(source(), path, tz, limb, has_header, lines, offset, capacity)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # a cell the batch reader could not convert: read the file whole (slower, more memory) to name its line
        return _read_whole(source(), path, tz, limb, has_header, offset)


# ~256 KB of text a batch: the reader holds several batches in flight, so bigger ones only cost memory
BATCH_BYTES = 1 << 18


def _read_in_batches(source, path, tz, limb, has_header, lines, offset, capacity):
    """The common case: batches of text (``BATCH_BYTES``) converted into arrays allocated once, so the peak
    memory is the arrays plus the batches in flight (the whole text or an Arrow table of it is never held)."""
    import csv

    first = next(csv.reader([lines[0]]))
    names = [c.strip() for c in first] if has_header else [f"f{i}" for i in range(len(first))]
    time_col, triples = _limb_columns(names, limb, path)
    if len(set(names)) != len(names):
        raise pa.ArrowInvalid("duplicate column names")  # let the whole-file reader explain
    data_line = lines[1] if has_header and len(lines) > 1 else lines[0]
    time_index = names.index(time_col)
    numeric_time = _is_number(next(csv.reader([data_line]), [""])[time_index] or "x")
    axes = [c for cols in triples.values() for c in cols]
    types = {c: pa.float64() for c in axes}
    if numeric_time:
        types[time_col] = pa.float64()
    elif tz is not None and re.search(OFFSET_AT_END, next(csv.reader([data_line]), [""])[time_index]):
        types[time_col] = pa.string()  # kept as text, so the offsets written can be checked against --tz
    reader = pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(
            autogenerate_column_names=not has_header, block_size=BATCH_BYTES, use_threads=False
        ),
        convert_options=pacsv.ConvertOptions(
            strings_can_be_null=True, include_columns=[time_col, *axes], column_types=types
        ),
        # the system allocator gives each batch's memory back; Arrow's default pool keeps some for reuse
        # (a night's read peaked at 106 MB with it, 93 MB without)
        memory_pool=pa.system_memory_pool(),
    )
    times = np.empty(capacity, dtype="int64")
    out = {name: np.empty((capacity, 3), dtype="float32") for name in triples}
    filled, aware = 0, None
    for batch in reader:
        n = batch.num_rows
        if filled + n > capacity:
            raise pa.ArrowInvalid("more rows than lines")  # cannot happen with well-formed text
        column = batch.column(time_col)
        if pa.types.is_timestamp(column.type):
            batch_aware = column.type.tz is not None
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            batch_aware = bool(pc.any(pc.match_substring_regex(column, OFFSET_AT_END)).as_py())
        else:
            batch_aware = True  # Unix seconds
        if aware is not None and batch_aware != aware:
            raise BadInputError(
                path,
                [RowError(path, filled + offset, time_col, "some times have a UTC offset and some do not")],
            )
        aware = batch_aware
        chunk = _parse_times(pa.chunked_array([column]), path, time_col, tz, offset + filled)
        # checked with the previous batch's last time, so the order holds across the seam too
        _check_order(np.r_[times[filled - 1 : filled], chunk], path, time_col, offset + filled - (filled > 0))
        times[filled : filled + n] = chunk
        _fill_axes(batch, triples, out, filled, path, offset)
        filled += n
    if filled == 0:
        raise BadInputError(path, [RowError(path, offset, "", "the file holds no data rows")])
    # views of the first `filled` rows (the few spare rows of blank lines are not worth a copy)
    return times[:filled], {name: values[:filled] for name, values in out.items()}


def _fill_axes(source, triples: dict, out: dict, at: int, path: str, offset: int) -> None:
    """Convert ``source``'s (a batch's or a table's) x/y/z columns into rows ``at``... of the float32 arrays."""
    for name, cols in triples.items():
        for k, col in enumerate(cols):  # one column at a time: small float64 intermediates
            column = source.column(col)
            if not isinstance(column, pa.ChunkedArray):
                column = pa.chunked_array([column])
            out[name][at : at + source.num_rows, k] = _numbers(column, path, col, offset + at)


def _check_order(times: np.ndarray, path: str, time_col: str, offset: int) -> None:
    order_problem = np.flatnonzero(np.diff(times) <= 0)
    if len(order_problem):
        i = int(order_problem[0]) + 1
        raise BadInputError(
            path,
            [RowError(path, i + offset, time_col, "time does not increase (rows out of order or repeated)")],
        )


def _read_whole(source, path, tz, limb, has_header, offset):
    try:
        table = pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(autogenerate_column_names=not has_header),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise BadInputError(
            path, [RowError(path, _line_of(str(exc)), "", f"unreadable CSV ({_short(exc)})")]
        ) from None
    names = table.column_names
    time_col, triples = _limb_columns(names, limb, path)
    times = _parse_times(table.column(time_col), path, time_col, tz, offset)
    _check_order(times, path, time_col, offset)
    out = {name: np.empty((table.num_rows, 3), dtype="float32") for name in triples}
    _fill_axes(table, triples, out, 0, path, offset)
    return times, out


def gunzip_head(data: bytes | Path, path: str, size: int = 65536) -> bytes:
    """The first ``size`` decompressed bytes of a gzip file (its bytes or its path)."""
    try:
        with _stream(data) as raw:
            return gzip.GzipFile(fileobj=raw).read(size)
    except (OSError, EOFError, zlib.error) as exc:
        raise SleepmovesError(f"{path}: damaged gzip file ({exc})") from None


def _check_utf8(
    data: bytes | Path,
    path: str,
    compressed: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    chunk: int = 1 << 20,
) -> int:
    """Like :func:`decode` but a chunk at a time (decompressing as it goes), so a large file is never held whole
    as text; counts lines and bytes on the way, so a file over the limits is refused before it is parsed.
    Returns the number of lines (an upper bound on the rows)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    raw = _stream(data)
    stream = gzip.GzipFile(fileobj=raw) if compressed else raw
    lines = size = 0
    try:
        while block := stream.read(chunk):
            decoder.decode(block)
            lines += block.count(b"\n")
            size += len(block)
            limits.check_rows(path, lines - 1)  # the header line aside
            limits.check_size(path, size, "decompressed, the file is over")
        decoder.decode(b"", final=True)
        return lines + 1
    except UnicodeDecodeError:
        whole = data.read_bytes() if isinstance(data, Path) else data
        decode(
            maybe_gunzip(whole, path, limits), path
        )  # decode it whole only now, to name the bad byte's line
        raise
    except (OSError, EOFError, zlib.error) as exc:
        raise SleepmovesError(f"{path}: damaged gzip file ({exc})") from None
    finally:
        raw.close()


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]


def _line_of(message: str) -> int:
    m = re.search(r"row (\d+)", message)
    return int(m.group(1)) + 1 if m else 1


def _numbers(column: pa.ChunkedArray, path: str, name: str, offset: int) -> np.ndarray:
    try:
        values = column.to_numpy(zero_copy_only=False).astype("float64")
    except (ValueError, TypeError, pa.ArrowInvalid):
        raw = column.to_pylist()
        bad = next(i for i, v in enumerate(raw) if not _is_number(str(v)))
        raise BadInputError(
            path, [RowError(path, bad + offset, name, f"not a number: {raw[bad]!r}")]
        ) from None
    bad = np.flatnonzero(~np.isfinite(values) | (np.abs(values) > MAX_ABS_G))
    if len(bad):
        i = int(bad[0])
        return_value = values[i]
        reason = (
            "missing or not finite"
            if not np.isfinite(return_value)
            else f"{return_value:g} g is beyond any sensor's range"
        )
        raise BadInputError(path, [RowError(path, i + offset, name, reason)])
    return values


def _parse_times(column: pa.ChunkedArray, path: str, name: str, tz: str | None, offset: int) -> np.ndarray:
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        seconds = column.to_numpy(zero_copy_only=False).astype("float64")
        bad = np.flatnonzero(~np.isfinite(seconds) | (seconds < 0) | (seconds > 7.3e9))
        if len(bad):
            raise BadInputError(
                path, [RowError(path, int(bad[0]) + offset, name, "not a Unix time in seconds")]
            )
        return np.round(seconds * 1e9).astype("int64")
    written = stamps = None  # written: the UTC offsets written with the times, checked against --tz
    text_column = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    if tz is not None and text_column and column.null_count == 0:
        written = written_offsets(column)  # None unless every time ends with an offset
        try:  # Arrow reads ISO 8601 with offsets as its CSV reader does; the text gave the offsets written
            if written is not None:
                stamps = pd.Series(pc.cast(column, pa.timestamp("ns", tz="UTC")).to_pandas())
        except pa.ArrowInvalid:
            written = None  # a cell that is no time: the general reading below names its row
    if stamps is None and pa.types.is_timestamp(column.type):
        stamps = pd.Series(column.to_pandas())
    elif stamps is None:
        text = pd.Series(column.to_pylist(), dtype="string")
        numeric = pd.to_numeric(text, errors="coerce")
        if numeric.notna().mean() > 0.5:  # Unix seconds with a few bad cells
            i = int(numeric.isna().to_numpy().argmax())
            raise BadInputError(path, [RowError(path, i + offset, name, f"not a time: {text.iloc[i]!r}")])
        has_offset = text.str.contains(OFFSET_AT_END, regex=True, na=False)
        if has_offset.any() and not has_offset.all():
            i = int((has_offset != has_offset.iloc[0]).to_numpy().argmax())
            raise BadInputError(
                path, [RowError(path, i + offset, name, "some times have a UTC offset and some do not")]
            )
        # several offsets in one file (a DST change, travel) are fine: each row is its own instant
        stamps = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=bool(has_offset.all()))
        if stamps.isna().any():
            i = int(stamps.isna().to_numpy().argmax())
            raise BadInputError(path, [RowError(path, i + offset, name, f"not a time: {text.iloc[i]!r}")])
        written = written_offsets(column) if tz is not None and has_offset.all() else None
    if stamps.dt.tz is None:
        if tz is None:
            raise BadInputError(
                path,
                [
                    RowError(
                        path,
                        offset,
                        name,
                        "times have no UTC offset: pass --tz ZONE (e.g. --tz Europe/London)",
                    )
                ],
            )
        try:
            stamps = stamps.dt.tz_localize(tz, ambiguous="raise", nonexistent="raise")
        except Exception:  # zoneinfo raises several types for DST problems: find the row and say which
            marked = stamps.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
            i = int(marked.isna().to_numpy().argmax())
            skipped = pd.isna(
                stamps.iloc[[i]].dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward").iloc[0]
            )
            why = "happens twice (clocks went back)" if skipped else "does not exist (clocks went forward)"
            raise BadInputError(
                path, [RowError(path, i + offset, name, f"{stamps.iloc[i]} {why} in {tz}; add UTC offsets")]
            ) from None
    outside = np.flatnonzero(~stamps.dt.year.between(*YEARS).to_numpy())
    if len(outside):
        i = int(outside[0])
        raise BadInputError(
            path, [RowError(path, i + offset, name, f"time outside the years {YEARS[0]} to {YEARS[1]}")]
        )
    ns = utc_ns(stamps)
    if written is not None:  # times with offsets and a --tz: they must agree
        conflict = first_offset_conflict(ns, written, tz)
        if conflict:
            i, at, zone_s = conflict
            raise BadInputError(path, [RowError(path, i + offset, name, conflict_reason(at, tz, zone_s))])
    return ns


def sampling_rate(times_ns: np.ndarray, path: str) -> float:
    if len(times_ns) < 2:
        raise BadInputError(path, [RowError(path, 1, "", "fewer than two samples")])
    step = float(np.median(np.diff(times_ns))) / 1e9
    fs = 1 / step
    if not MIN_FS * 0.95 <= fs <= MAX_FS * 1.05:
        raise BadInputError(
            path, [RowError(path, 1, "", f"sampling rate {fs:.3g} Hz is outside {MIN_FS:g}-{MAX_FS:g} Hz")]
        )
    return round(fs, 3)


def segments(times_ns: np.ndarray, gap_s: float = GAP_S) -> list[tuple[int, int]]:
    """(start, end) index ranges without a gap longer than ``gap_s``."""
    cuts = np.flatnonzero(np.diff(times_ns) > gap_s * 1e9) + 1
    bounds = np.concatenate([[0], cuts, [len(times_ns)]])
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def events_and_coverage(
    times_ns: np.ndarray, signals: dict[str, np.ndarray], fs: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Detected events and per-epoch coverage of every limb and contiguous segment."""
    events, coverage = [], []
    work = [(limb, a, b) for limb in signals for a, b in segments(times_ns)]
    for limb, a, b in progress(work, len(work), "detecting movements"):
        acc = signals[limb][a:b]
        start = pd.Timestamp(int(times_ns[a]), tz="UTC")
        if b - a < 3 * fs:  # too short to filter: keep it as no data
            cov = epoch_coverage(acc, fs, start, magnitude=np.zeros(b - a, dtype="float32"))
            cov["valid"] = False
        else:
            mag = movement_magnitude(acc, fs)
            events.append(detect_events(acc, fs, start, limb=limb, magnitude=mag))
            cov = epoch_coverage(acc, fs, start, magnitude=mag)
        cov["limb"] = limb
        coverage.append(cov)
    ev = (
        pd.concat(events, ignore_index=True)
        if events
        else pd.DataFrame(columns=["start", "duration_s", "limb", "kind", "intensity"])
    )
    cov = pd.concat(coverage, ignore_index=True)
    # two segments can share the epoch at a gap: keep one row per (limb, epoch), valid only if both are
    cov = cov.groupby(["limb", "start"], as_index=False).agg(
        {"epoch_s": "first", "count": "sum", "valid": "all", "worn": "all"}
    )
    return ev, cov
