"""Parent sleep diaries -> ``lake/diary``: sleeps, feeds, nappies and visits, as context on the night chart.

=================  ==========================================================================  ===============
format             header                                                                       times
=================  ==========================================================================  ===============
babyconnect        ``Date and Time,End Time,Duration (min),Activity,...`` (Baby Connect export)  US M/D/YY h:mm AM
huckleberry        ``Type,Start,End,Duration,Start Condition,Start Location,End Condition,Notes``  YYYY-MM-DD HH:MM
diary-csv          ``start,end,activity,note`` (generic; see below)                              ISO 8601
=================  ==========================================================================  ===============

The generic diary takes the shapes baby apps export: a start (``start``, ``time``, ``date``, ``datetime``,
``date and time``, ``start time``, ``from``, ``began``) with an end (``end``, ``end time``, ``stop``, ``to``) or a
length (``duration``, ``duration (min)``, ``duration(s)``, ``duration (h)``, ``length``, ``minutes``; a number in
the header's unit, minutes when it names none, or ``h:mm``). ``activity`` (or ``type``, ``event``, ``category``)
and ``note`` (or ``notes``, ``comment``, ``text``) are optional: a file without an activity column is one row
per sleep (``date,duration(min)``).

Activities become ``sleep``, ``feed``, ``diaper``, ``visit`` (a parent going in) or ``other``; the app's own
words are kept in ``note``. Times without an offset need ``--tz``; a ``--tz`` given with times that carry offsets
must agree with them. Rows that are not events of a day (weight, height, milestones) are kept as ``other``. A diary
entry in the hour skipped or repeated by a DST change is read as the earlier clock reading: diary entries are
context, not measurements, and an app export should not be refused for one of them.
"""

from __future__ import annotations

import csv
import io
import math
import re

import numpy as np
import pandas as pd

from ..schema import YEARS, normalise_word
from ..wording import counted
from .errors import SEMICOLONS, BadInputError, RowError, decode, semicolon_separated
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


# generic diary columns: header key (lower case, letters and digits only) -> role
START_KEYS = (
    "start",
    "time",
    "date",
    "datetime",
    "dateandtime",
    "starttime",
    "startdate",
    "from",
    "began",
    "begin",
    "begintime",
)
# Time forms of app exports that are not ISO 8601 (none carries a zone: --tz says it). A file's start column is read
# with the first form that reads all of its first rows; month-first before day-first, as the apps that write
# these (US-made) do. Sources: Baby Tracker "1/13/26, 19:54"; Glow Baby "08/29/2022 11:38:00 PM"; Feed Baby
# "11:20PM 01-24-2020" (exports seen in public repositories, listed in the README).
TIME_FORMS = (
    "%m/%d/%y, %H:%M",
    "%m/%d/%Y, %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%y %I:%M %p",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M",
    "%I:%M%p %m-%d-%Y",
    "%H:%M:%S %m-%d-%Y",
)
SNIFF_ROWS = 200
END_KEYS = ("end", "endtime", "stop", "stoptime", "to", "ended", "enddate")
ACTIVITY_KEYS = ("activity", "type", "event", "category")
NOTE_KEYS = ("note", "notes", "comment", "comments", "text")
# a length column and its unit in minutes (a key not listed here but starting "duration": minutes)
DURATION_UNITS = {
    "duration": 1.0,
    "durationmin": 1.0,
    "durationmins": 1.0,
    "durationminutes": 1.0,
    "minutes": 1.0,
    "mins": 1.0,
    "length": 1.0,
    "lengthmin": 1.0,
    "durations": 1 / 60,
    "durationsec": 1 / 60,
    "durationseconds": 1 / 60,
    "seconds": 1 / 60,
    "durationh": 60.0,
    "durationhours": 60.0,
    "hours": 60.0,
}
MOVEMENT_KEYS = ("kind", "limb", "side", "intensity")  # columns of a movement log, never of a diary


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", str(header).lower())


def sniff_diary_format(data: bytes) -> str | None:
    head = data[:2000].decode("utf-8", errors="replace").lstrip("\ufeff")
    first = head.splitlines()[0] if head.splitlines() else ""
    words = [normalise_word(c) for c in first.split(",")]
    if words[:4] == ["date_and_time", "end_time", "duration_(min)", "activity"]:
        return "babyconnect"
    if words[:3] == ["type", "start", "end"] and "start_condition" in words:
        return "huckleberry"
    keys = [_key(c) for c in first.split(",")]
    if any(k in MOVEMENT_KEYS for k in keys):
        return None  # a movement log (its duration is a movement's, in seconds)
    has_start = any(k in START_KEYS for k in keys)
    if has_start and ("activity" in keys or any(k in END_KEYS or k in DURATION_UNITS for k in keys)):
        return "diary-csv"
    return None


def generic_columns(headers: list[str], path: str) -> dict:
    """Which column of a generic diary is which (see the module docstring); a clear error when there is no start
    or neither an end, a length nor an activity."""
    found: dict = {}
    for header in headers:
        key = _key(header)
        for role, keys in (
            ("start", START_KEYS),
            ("end", END_KEYS),
            ("activity", ACTIVITY_KEYS),
            ("note", NOTE_KEYS),
        ):
            if key in keys and role not in found:
                found[role] = header
        if "duration" not in found and (key in DURATION_UNITS or key.startswith("duration")):
            found["duration"], found["unit"] = header, DURATION_UNITS.get(key, 1.0)
    if len(headers) == 1 and semicolon_separated(headers[0]):
        raise BadInputError(path, [RowError(path, 1, "", SEMICOLONS)])
    if "start" not in found or not {"end", "duration", "activity"} & set(found):
        raise BadInputError(
            path,
            [
                RowError(
                    path,
                    1,
                    "",
                    f"a diary needs a start column and an end, a duration or an activity; this header is "
                    f"{', '.join(headers)!s}. Use start,end,activity,note or start,duration(min)",
                )
            ],
        )
    return found


def _minutes(value: str, unit: float) -> float | None:
    """A length: ``h:mm`` (or ``h:mm:ss``), else a number in ``unit`` minutes; None when it is neither."""
    text = str(value).strip()
    if ":" in text:
        parts = text.split(":")
        if len(parts) in (2, 3) and all(q.isdigit() for q in parts):
            hours, minutes, seconds = (int(q) for q in [*parts, "0"][:3])
            return hours * 60 + minutes + seconds / 60
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number * unit if math.isfinite(number) else None


MAX_ENTRY_H = 24  # a diary entry longer than a day is a typing error


def read_diary(data: bytes, path: str, fmt: str) -> pd.DataFrame:
    """Rows ``start``, ``end`` (naive or aware as written), ``activity``, ``note``, ``line``."""
    text = decode(data, path)
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise BadInputError(path, [RowError(path, 2, "", "no diary rows")])
    headers = list(rows[0])
    duration_col, unit = None, 1.0
    if fmt in APP_COLUMNS:
        start_col, end_col, act_col, note_cols, time_fmt = APP_COLUMNS[fmt]
        missing = [c for c in (start_col, end_col, act_col) if c not in headers]
        if missing:  # told the format, but the file is another shape: say so once, not once a row
            raise BadInputError(
                path,
                [
                    RowError(
                        path,
                        1,
                        "",
                        f"not a {fmt} export: no column {', '.join(missing)} (this header is {', '.join(headers)}); "
                        "leave out --format to let sleepmoves recognise the file",
                    )
                ],
            )
    else:
        found = generic_columns(headers, path)
        start_col, end_col, act_col = found["start"], found.get("end"), found.get("activity")
        time_fmt = time_form([row.get(start_col) for row in rows[:SNIFF_ROWS]])
        note_cols = (found["note"],) if "note" in found else ()
        duration_col, unit = found.get("duration"), found.get("unit", 1.0)
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
        if end is None and duration_col and (row.get(duration_col) or "").strip():
            minutes = _minutes(row[duration_col], unit)
            if minutes is None or not 0 <= minutes <= MAX_ENTRY_H * 60:
                errors.append(
                    RowError(
                        path, i, duration_col, f"not a length of 0 to {MAX_ENTRY_H} h: {row[duration_col]!r}"
                    )
                )
                continue
            end = start + pd.Timedelta(minutes=minutes)
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
        # no activity column: one row per sleep (the "date,duration(min)" exports)
        word = normalise_word(row.get(act_col) or "") if act_col else "sleep"
        note = " ".join((row.get(c) or "").strip() for c in note_cols).strip()
        out.append(
            {
                "start": start,
                "end": end,
                "activity": ACTIVITY_WORDS.get(word, "other"),
                "note": note or ((row.get(act_col) or "") if act_col else ""),
                "line": i,
            }
        )
    if errors:
        raise BadInputError(path, errors)
    return pd.DataFrame(out)


def time_form(values: list) -> str | None:
    """The form a generic diary writes its times in: None for ISO 8601 (also when no listed form reads every
    value: each bad row is then named), else the first of :data:`TIME_FORMS` that reads them all."""
    values = [str(v).strip() for v in values if v is not None and str(v).strip()]
    if not values or all(_time(v, None) is not None for v in values):
        return None
    for form in TIME_FORMS:
        if all(_time(v, form) is not None for v in values):
            return form
    return None


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
            "line": rows["line"],
        }
    )


SAME_ENTRY = ["start", "end", "activity"]
EXAMPLES_TOLD = 3  # entries named in a note; the rest are counted


def entry_words(row, tz: str) -> str:
    """``sleep Tue 3 Mar 2026 19:02–21:30`` in the baby's time zone (an app export spans years)."""
    start = row["start"].tz_convert(tz)
    end = "" if pd.isna(row["end"]) else "–" + row["end"].tz_convert(tz).strftime("%H:%M")
    return f"{row['activity']} {start.strftime('%a')} {start.day} {start.strftime('%b %Y %H:%M')}{end}"


def repeated_and_overlapping(table: pd.DataFrame, tz: str) -> tuple[pd.DataFrame, list[str]]:
    """A diary's entries with the ones written twice kept once, and notes naming them and any sleeps that overlap.

    Apps export a sleep twice when it was edited on two phones; two overlapping sleeps are a typing slip. Neither
    is stored silently: a repeat is stored once, an overlap is stored as written (the night counts the time
    once) and both are told with their lines.
    """
    notes = []
    repeat = table.duplicated(SAME_ENTRY, keep="first")
    if repeat.any():
        firsts = table[~repeat].reset_index().set_index(SAME_ENTRY)["line"]
        told = [
            f"line {row.line} repeats line {firsts.loc[tuple(row[c] for c in SAME_ENTRY)]} ({entry_words(row, tz)})"
            for _, row in table[repeat].head(EXAMPLES_TOLD).iterrows()
        ]
        more = int(repeat.sum()) - len(told)
        notes.append(
            f"{counted(int(repeat.sum()), 'entry', 'entries')} written twice, stored once: "
            + "; ".join(told)
            + (f"; {more} more" if more else "")
        )
    table = table[~repeat]
    sleeps = table[(table["activity"] == "sleep") & table["end"].notna()].sort_values(["start", "end"])
    reach = sleeps["end"].cummax().shift()
    overlapping = np.flatnonzero((sleeps["start"] < reach).to_numpy())
    if len(overlapping):
        told = []
        for at in overlapping[:EXAMPLES_TOLD]:
            earlier = sleeps.iloc[int(np.argmax(sleeps["end"].iloc[:at].to_numpy()))]  # the one reaching past
            row = sleeps.iloc[at]
            told.append(
                f"lines {earlier.line} and {row.line} ({entry_words(earlier, tz)}, {entry_words(row, tz)})"
            )
        more = len(overlapping) - len(told)
        notes.append(
            f"{counted(len(overlapping), 'sleep')} overlapping an earlier one (stored as written; the night counts that time once): "
            + "; ".join(told)
            + (f"; {more} more" if more else "")
        )
    return table, notes


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
