"""Parent sleep diaries -> ``lake/diary``: sleeps, feeds, nappies and visits, as context on the night chart.

=================  ==========================================================================  ===============
format             header                                                                       times
=================  ==========================================================================  ===============
babyconnect        ``Date and Time,End Time,Duration (min),Activity,...`` (Baby Connect export)  US M/D/YY h:mm AM
huckleberry        ``Type,Start,End,Duration,Start Condition,Start Location,End Condition,Notes``  YYYY-MM-DD HH:MM
diary-csv          ``start,end,activity,note`` (generic; ``end`` and ``note`` optional)          ISO 8601
=================  ==========================================================================  ===============

Activities become ``sleep``, ``feed``, ``diaper``, ``visit`` (a parent going in) or ``other``; the app's own
words are kept in ``note``. Times without an offset need ``--tz``; a ``--tz`` given with times that carry offsets
must agree with them. Rows that are not events of a day (weight, height, milestones) are kept as ``other``. A diary
entry in the hour skipped or repeated by a DST change is read as the earlier clock reading: diary entries are
context, not measurements, and an app export should not be refused for one of them.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd

from ..schema import YEARS, normalise_word
from .errors import BadInputError, RowError, decode
from .offsets import conflict_reason

DIARY_FORMATS = ("babyconnect", "huckleberry", "diary-csv")
ACTIVITY_WORDS = {
    "sleep": "sleep",
    "nap": "sleep",
    "bottle": "feed",
    "nursing": "feed",
    "breastfeeding": "feed",
    "feed": "feed",
    "feeding": "feed",
    "solid": "feed",
    "solids": "feed",
    "pump": "feed",
    "diaper": "diaper",
    "nappy": "diaper",
    "visit": "visit",
    "parent_visit": "visit",
    "soothe": "visit",
    "wake": "visit",
}


# app export -> (start, end, activity, note columns, time format); None = ISO 8601
APP_COLUMNS = {
    "babyconnect": ("Date and Time", "End Time", "Activity", ("Text", "Notes"), "%m/%d/%y %I:%M %p"),
    "huckleberry": ("Start", "End", "Type", ("Notes", "Start Location"), None),
}


def sniff_diary_format(data: bytes) -> str | None:
    head = data[:2000].decode("utf-8", errors="replace").lstrip("\ufeff")
    first = head.splitlines()[0] if head.splitlines() else ""
    words = [normalise_word(c) for c in first.split(",")]
    if words[:4] == ["date_and_time", "end_time", "duration_(min)", "activity"]:
        return "babyconnect"
    if words[:3] == ["type", "start", "end"] and "start_condition" in words:
        return "huckleberry"
    if "activity" in words and words and words[0] in ("start", "time", "start_time"):
        return "diary-csv"
    return None


def read_diary(data: bytes, path: str, fmt: str) -> pd.DataFrame:
    """Rows ``start``, ``end`` (naive or aware as written), ``activity``, ``note``, ``line``."""
    text = decode(data, path)
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise BadInputError(path, [RowError(path, 2, "", "no diary rows")])
    if fmt in APP_COLUMNS:
        start_col, end_col, act_col, note_cols, time_fmt = APP_COLUMNS[fmt]
    else:
        names = {normalise_word(k): k for k in rows[0]}
        start_col = names.get("start") or names.get("time") or names.get("start_time")
        end_col, act_col, time_fmt = names.get("end"), names["activity"], None
        note_cols = (names["note"],) if "note" in names else ()
    errors, out = [], []
    for i, row in enumerate(rows, start=2):
        start = _time(row.get(start_col), time_fmt)
        if start is None:
            errors.append(RowError(path, i, start_col, f"not a time: {row.get(start_col)!r}"))
            continue
        end = _time(row.get(end_col), time_fmt) if end_col else None
        if end_col and end is None and (row.get(end_col) or "").strip():
            errors.append(RowError(path, i, end_col, f"not a time: {row.get(end_col)!r}"))
            continue
        outside = [(col, t) for col, t in ((start_col, start), (end_col, end)) if _out_of_range(t)]
        if outside:
            col, stamp = outside[0]
            errors.append(
                RowError(path, i, col, f"{stamp.isoformat()} is outside the years {YEARS[0]} to {YEARS[1]}")
            )
            continue
        if end is not None and (end.tzinfo is None) != (start.tzinfo is None):
            errors.append(RowError(path, i, end_col, "start and end must both have a UTC offset, or neither"))
            continue
        if end is not None and end < start:
            errors.append(RowError(path, i, end_col, "ends before it starts"))
            continue
        word = normalise_word(row.get(act_col) or "")
        note = " ".join((row.get(c) or "").strip() for c in note_cols).strip()
        out.append(
            {
                "start": start,
                "end": end,
                "activity": ACTIVITY_WORDS.get(word, "other"),
                "note": note or (row.get(act_col) or ""),
                "line": i,
            }
        )
    if errors:
        raise BadInputError(path, errors)
    return pd.DataFrame(out)


def _out_of_range(stamp) -> bool:
    return stamp is not None and not YEARS[0] <= stamp.year <= YEARS[1]


def _time(value, fmt: str | None):
    if value is None or not str(value).strip():
        return None
    stamp = pd.to_datetime(str(value).strip(), format=fmt or "ISO8601", errors="coerce")
    return None if pd.isna(stamp) else stamp


def diary_table(rows: pd.DataFrame, tz: str | None, path: str) -> pd.DataFrame:
    """UTC ``start``/``end``; naive times are read in ``tz`` (required)."""

    def utc(column: pd.Series) -> pd.Series:
        present = column.notna()
        out = pd.Series(pd.NaT, index=column.index, dtype="datetime64[us, UTC]")
        if not present.any():
            return out
        values = column[present]
        aware = values.map(lambda t: t.tzinfo is not None)
        if aware.all():
            if tz is not None:  # offsets written and a --tz: they must agree at each time
                for k, t in values.items():
                    written, local = t.utcoffset(), t.tz_convert(tz).utcoffset()
                    if written != local:
                        reason = conflict_reason(written.total_seconds(), tz, local.total_seconds())
                        raise BadInputError(path, [RowError(path, int(rows.loc[k, "line"]), "", reason)])
            out[present] = pd.to_datetime(values, utc=True).astype("datetime64[us, UTC]")
        elif aware.any():
            line = int(rows.loc[values.index[int(np.argmax(~aware.to_numpy()))], "line"])
            raise BadInputError(
                path, [RowError(path, line, "", "some times have a UTC offset and some do not")]
            )
        else:
            # a diary is not in time order (newest first): localise row by row, refusing DST-ambiguous times
            out[present] = [_localise_one(t, tz, path, int(rows.loc[k, "line"])) for k, t in values.items()]
        return out

    return pd.DataFrame(
        {
            "start": utc(rows["start"]),
            "end": utc(rows["end"]),
            "activity": rows["activity"],
            "note": rows["note"],
        }
    )


def _localise_one(stamp: pd.Timestamp, tz: str | None, path: str, line: int) -> pd.Timestamp:
    if tz is None:
        raise BadInputError(
            path,
            [
                RowError(
                    path, line, "", "times have no UTC offset: pass --tz ZONE (e.g. --tz America/New_York)"
                )
            ],
        )
    try:
        return stamp.tz_localize(tz, ambiguous="raise", nonexistent="raise").tz_convert("UTC")
    except Exception:  # the skipped or repeated hour of a DST change: the earlier reading (module docs)
        return stamp.tz_localize(tz, ambiguous=True, nonexistent="shift_forward").tz_convert("UTC")
