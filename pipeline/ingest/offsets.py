"""Times written with a UTC offset, checked against ``--tz``.

A file that writes its times with offsets is read by those offsets; a ``--tz`` given with it must agree with
them (the zone's offset at each of those instants), else the file or the option is wrong and the file is refused
naming both: "the file writes times at +01:00 but --tz America/New_York is -05:00 there; drop --tz or fix it".
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..nights import zone

OFFSET_TAIL = re.compile(r"(?:(Z)|([+-])(\d\d):?(\d\d))\s*$")
# no zone changes its offset twice within 6 h, so sampling at this step and bisecting finds every change
_SAMPLE_US = 6 * 3600 * 10**6


def offset_text(seconds: int) -> str:
    """``+01:00``, ``-05:00``, ``+05:45``."""
    sign = "-" if seconds < 0 else "+"
    minutes = abs(int(seconds)) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def conflict_reason(written_s: int, tz: str, zone_s: int) -> str:
    """The message for times written at one offset when ``--tz`` gives another there."""
    return (
        f"the file writes times at {offset_text(written_s)} but --tz {tz} is {offset_text(zone_s)} there; "
        "drop --tz or fix it"
    )


def offset_seconds(text: str) -> int | None:
    """The UTC offset at the end of a written time (``Z``, ``+01:00``, ``-0500``), in seconds; None if none."""
    m = OFFSET_TAIL.search(text)
    if not m:
        return None
    if m.group(1):
        return 0
    seconds = int(m.group(3)) * 3600 + int(m.group(4)) * 60
    return -seconds if m.group(2) == "-" else seconds


def written_offsets(column) -> np.ndarray | None:
    """Seconds east of UTC written at the end of each time string (an Arrow or pandas column); None if a time
    has none."""
    arr = column if isinstance(column, pa.ChunkedArray | pa.Array) else pa.array(column, type=pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.string())
    # the last 6 characters hold the offset ("+01:00", "0+0100", "0.000Z"): a few distinct tails a file
    tails = pc.binary_slice(arr.cast(pa.binary()), -6).cast(pa.string())
    encoded = pc.dictionary_encode(tails)
    uniques = [offset_seconds(t) for t in encoded.dictionary.to_pylist()]
    if any(u is None for u in uniques):  # trailing blanks after the offset: trim, then read the tails again
        tails = pc.utf8_slice_codeunits(pc.utf8_rtrim_whitespace(arr), -6)
        encoded = pc.dictionary_encode(tails)
        uniques = [offset_seconds(t or "") for t in encoded.dictionary.to_pylist()]
    if any(u is None for u in uniques) or encoded.null_count:
        return None
    values = np.array(uniques, dtype="int64")
    return values[encoded.indices.to_numpy(zero_copy_only=False)] if len(values) else np.zeros(0, "int64")


def zone_offsets(utc_ns: np.ndarray, tz: str) -> np.ndarray:
    """Seconds east of UTC of zone ``tz`` at each instant (nanoseconds since 1970, UTC)."""
    info = zone(tz)

    def at(us: int) -> int:
        when = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)
        return int(when.astimezone(info).utcoffset().total_seconds())

    utc_ns = np.asarray(utc_ns, dtype="int64")
    if not len(utc_ns):
        return np.zeros(0, dtype="int64")
    lo, hi = int(utc_ns.min()) // 1000, -(-int(utc_ns.max()) // 1000)  # microseconds
    cuts, values = [], [at(lo)]
    a = lo
    while a < hi:
        b = min(a + _SAMPLE_US, hi)
        if at(b) != at(a):  # a change in (a, b]: bisect to the microsecond it happens at
            x, y = a, b
            while y - x > 1:
                mid = (x + y) // 2
                x, y = (mid, y) if at(mid) == at(x) else (x, mid)
            cuts.append(y * 1000)
            values.append(at(y))
        a = b
    return np.asarray(values, dtype="int64")[
        np.searchsorted(np.asarray(cuts, dtype="int64"), utc_ns, "right")
    ]


def first_offset_conflict(utc_ns: np.ndarray, written_s: np.ndarray, tz: str) -> tuple[int, int, int] | None:
    """``(index, written offset, zone offset)`` of the first time whose written offset is not ``tz``'s there."""
    zone_s = zone_offsets(utc_ns, tz)
    bad = np.flatnonzero(np.asarray(written_s, dtype="int64") != zone_s)
    if not len(bad):
        return None
    i = int(bad[0])
    return i, int(np.asarray(written_s)[i]), int(zone_s[i])
