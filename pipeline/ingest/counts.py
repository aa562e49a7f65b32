"""Epoch activity counts from actigraphy exports -> ``lake/counts``.

Every reader returns the epoch start times (as written: usually local times without a zone), the epoch
length and one count per epoch; ``NaN`` or a device's own off-wrist flag marks no data. Times written with a UTC
offset are absolute, and a ``--tz`` given with them must agree with them; ActiLife's CSV writes local times with a
"Z", which are read as local times in ``--tz`` (and the ingest says so). Formats are recognised by content
(``--format`` overrides):

============  =================================================================  =====================
format        what                                                               count used
============  =================================================================  =====================
agd           ActiGraph AGD (SQLite): ``settings`` + ``data`` tables             axis1 (vertical)
actilife-csv  ActiLife CSV export with its 10-line header (epoch files)          first column (axis1)
actigraph-    ActiGraph epoch CSV with ISO timestamps (``timestamp,axis1,...``)  axis1
 iso-csv
awd           Actiwatch AWD: 7 header lines, then one count per line             the count
rpx           Philips Actiware CSV export (English, French, German, Dutch,       Activity; off-wrist
              Spanish; their own date forms, ``,`` or ``;``, decimal commas)     and excluded rows are
                                                                                 no data
mtn           CamNtech MotionWatch MTN (XML, ``motion`` channel)                 the count
acttrust      Condor ActTrust text report (``;``-separated)                      PIM
actical       Actical CSV export                                                 Activity counts
ukb-csv       UK-Biobank-style accelerometer time series (``time,acc,...``)      acc (mg)
============  =================================================================  =====================

Counts are device units: they feed the sleep/wake algorithms (Sadeh and Cole-Kripke expect ActiGraph-
like 60-s counts) and the coverage of the night, not a cross-device scale.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import sqlite3
import tempfile
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..nights import utc_ns
from ..schema import DEVICE_YEARS, SleepmovesError
from .errors import BadInputError, RowError
from .offsets import conflict_reason, first_offset_conflict, written_offsets
from .raw import OFFSET_AT_END

COUNT_FORMATS = (
    "agd",
    "actilife-csv",
    "actigraph-iso-csv",
    "awd",
    "rpx",
    "mtn",
    "acttrust",
    "actical",
    "ukb-csv",
)
DOTNET_EPOCH_TICKS = 621355968000000000  # .NET ticks (100 ns since 0001-01-01) at 1970-01-01
AWD_EPOCHS = {1: 15, 2: 30, 4: 60, 8: 120}
DAY_1900_S = -2208988800  # 1900-01-01 in Unix seconds (where a time of day alone is put)


@dataclass
class CountsRead:
    """Epochs as read from a file: times may be naive local times (then ``--tz`` places them)."""

    times: pd.Series
    epoch_s: int
    count: np.ndarray
    valid: np.ndarray
    format: str
    raw: dict | None = None  # ActiLife raw exports: {"fs": Hz, "acc": (n, 3)} instead of counts
    device_sleep: np.ndarray | None = None  # the device software's own scoring, True = sleep (Actiware)
    wake_threshold: float | None = None  # the wake threshold the device software states (Actiware), else None
    regular: bool = False  # times are a start plus whole epochs (the device's clock runs on across DST)
    worn: np.ndarray | None = None  # the device's own off-wrist column (False = not worn), where it has one
    lines: np.ndarray | None = None  # the file line of each epoch, where the format has one line an epoch
    offsets: np.ndarray | None = None  # the UTC offset (s) written with each time, for formats that write one
    z_local: bool = False  # times written with a "Z" that are really local wall-clock times (ActiLife's CSV)
    notes: list[str] = field(default_factory=list)  # what the reader decided that the user should hear


def sniff_counts_format(data: bytes, path: str) -> str | None:
    """The counts format of a file (already decompressed), or None when it is not one."""
    if data[:16] == b"SQLite format 3\x00":
        return "agd"
    head = data[:6000].decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = head.splitlines()
    first = lines[0] if lines else ""
    if "<motionfile>" in head[:400]:
        return "mtn"
    if "Condor Instruments" in first:
        return "acttrust"
    if "Data File Created By ActiGraph" in first:
        return "actilife-csv"
    if first.startswith("Actical"):
        return "actical"
    if re.search(r"Actiware|Epoch-by-Epoch|Periodelengte|Epochenl|Longueur d", head):
        return "rpx"
    if re.match(r"\s*timestamp\s*,\s*axis1", first, re.I):
        return "actigraph-iso-csv"
    if re.match(r"\s*time\s*,\s*acc\b", first):
        return "ukb-csv"
    lines = head.splitlines()
    if (
        len(lines) > 7
        and re.fullmatch(r"\d{1,2}-[A-Za-z]{3}-\d{4}", lines[1].strip())
        and re.fullmatch(r"\d{1,2}:\d{2}", lines[2].strip())
    ):
        return "awd"
    return None


def read_counts(data: bytes, path: str, fmt: str) -> CountsRead:
    """Read one counts file in a known format (see the module table)."""
    reader = {
        "agd": _agd,
        "actilife-csv": _actilife_csv,
        "actigraph-iso-csv": _iso_csv,
        "awd": _awd,
        "rpx": _rpx,
        "mtn": _mtn,
        "acttrust": _acttrust,
        "actical": _actical,
        "ukb-csv": _ukb,
    }[fmt]
    try:
        out = reader(data, path)
    except (BadInputError, SleepmovesError):
        raise
    except Exception as exc:  # a damaged file of a known format: say what and where, never a traceback
        raise BadInputError(
            path, [RowError(path, 1, "", f"cannot read as {fmt}: {type(exc).__name__}: {str(exc)[:200]}")]
        ) from None
    if out.raw is None and len(out.count) == 0:
        raise BadInputError(path, [RowError(path, 1, "", f"no epochs found in this {fmt} file")])
    return out


def _text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _regular(start: pd.Timestamp, epoch_s: int, n: int) -> pd.Series:
    return pd.Series(start + pd.to_timedelta(np.arange(n) * epoch_s, unit="s"))


def _numbers(values) -> np.ndarray:
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype="float64")


# ---------------------------------------------------------------------- ActiGraph
def _agd(data: bytes, path: str) -> CountsRead:
    with tempfile.NamedTemporaryFile(suffix=".agd") as tmp:  # sqlite3 reads files, not bytes
        tmp.write(data)
        tmp.flush()
        con = sqlite3.connect(f"file:{tmp.name}?mode=ro", uri=True)
        try:
            settings = dict(con.execute("select settingName, settingValue from settings").fetchall())
            rows = con.execute("select dataTimestamp, axis1 from data order by dataTimestamp").fetchall()
        finally:
            con.close()
    epoch_s = int(settings.get("epochlength", 0))
    if not rows or epoch_s <= 0:
        raise BadInputError(path, [RowError(path, 1, "", "AGD file without data rows or epoch length")])
    ticks = np.array([r[0] for r in rows], dtype="int64")
    times = pd.Series(pd.to_datetime((ticks - DOTNET_EPOCH_TICKS) * 100, unit="ns"))  # local, naive
    count = np.array([r[1] for r in rows], dtype="float64")
    return CountsRead(times, epoch_s, count, np.isfinite(count), "agd")


def _actilife_header(lines: list[str], path: str) -> tuple[pd.Timestamp, int, str]:
    header = "\n".join(lines[:10])
    date_fmt = re.search(r"date format (\S+)", header)
    start_t = re.search(r"Start Time (\d{1,2}:\d{2}:\d{2})", header)
    start_d = re.search(r"Start Date (\d{1,2}/\d{1,2}/\d{4})", header)
    period = re.search(r"Epoch Period \(hh:mm:ss\) (\d{2}):(\d{2}):(\d{2})", header)
    if not (start_t and start_d and period):
        raise BadInputError(
            path, [RowError(path, 1, "", "ActiLife header without Start Time, Start Date or Epoch Period")]
        )
    dayfirst = bool(date_fmt and date_fmt.group(1).lower().startswith("d"))
    start = pd.to_datetime(f"{start_d.group(1)} {start_t.group(1)}", dayfirst=dayfirst)
    h, m, s = (int(x) for x in period.groups())
    return start, h * 3600 + m * 60 + s, header


def _actilife_csv(data: bytes, path: str) -> CountsRead:
    lines = _text(data).splitlines()
    start, epoch_s, header = _actilife_header(lines, path)
    body = [line for line in lines[10:] if line.strip().strip(",")]
    has_names = bool(body) and not re.match(r"\s*-?\d", body[0])
    table = pd.read_csv(io.StringIO("\n".join(body)), header=0 if has_names else None)
    if epoch_s == 0:  # a raw export: "at 30 Hz", columns Accelerometer X/Y/Z
        hz = re.search(r"at (\d+) Hz", header)
        if not hz:
            raise BadInputError(
                path, [RowError(path, 1, "", "ActiLife raw export without its sampling rate ('at N Hz')")]
            )
        acc = table.iloc[:, :3].to_numpy(dtype="float64")
        return CountsRead(
            pd.Series([start]),
            0,
            np.array([]),
            np.array([]),
            "actilife-csv",
            raw={"fs": float(hz.group(1)), "acc": acc},
        )
    count = _numbers(table.iloc[:, 0])
    return CountsRead(
        _regular(start, epoch_s, len(count)), epoch_s, count, np.isfinite(count), "actilife-csv", regular=True
    )


def _iso_csv(data: bytes, path: str) -> CountsRead:
    table = pd.read_csv(io.BytesIO(data))
    text = table.iloc[:, 0].astype(str).str.strip()
    # ActiLife writes the device's local wall-clock time (as its AGD stores it) with a "Z": the mark is wrong, so
    # the times are local (--tz places them). Times with a real offset (+01:00) are absolute.
    z_local = bool(len(text)) and bool(text.str.endswith(("Z", "z")).all())
    if z_local:
        text = text.str[:-1]
    aware = bool(len(text)) and bool(text.str.contains(OFFSET_AT_END, regex=True).all())
    times = pd.Series(pd.to_datetime(text, format="ISO8601", utc=aware))
    steps = times.diff().dt.total_seconds().dropna()
    epoch_s = int(round(steps.median())) if len(steps) else 60
    count = _numbers(table["axis1"] if "axis1" in table else table.iloc[:, 1])
    return CountsRead(
        times,
        epoch_s,
        count,
        np.isfinite(count),
        "actigraph-iso-csv",
        lines=_csv_lines(data, len(times)),
        offsets=written_offsets(text) if aware else None,
        z_local=z_local,
    )


def _csv_lines(data: bytes, rows: int) -> np.ndarray | None:
    """File lines of a one-header-line CSV's rows, when every line is a row (no blank lines)."""
    return np.arange(rows) + 2 if data.rstrip(b"\r\n").count(b"\n") == rows else None


# ---------------------------------------------------------------------- Actiwatch / Actiware
def _awd(data: bytes, path: str) -> CountsRead:
    lines = _text(data).splitlines()
    start = pd.to_datetime(f"{lines[1].strip()} {lines[2].strip()}", format="%d-%b-%Y %H:%M")
    code = int(lines[3].strip())
    if code not in AWD_EPOCHS:
        raise BadInputError(
            path, [RowError(path, 4, "", f"unknown AWD epoch code {code} (known: {sorted(AWD_EPOCHS)})")]
        )
    epoch_s = AWD_EPOCHS[code]
    # a count, then optionally a marker ("71 M": the event button was pressed in that epoch)
    values = [re.split(r"[,\s]+", line.strip())[0] for line in lines[7:] if line.strip()]
    count = _numbers(values)
    return CountsRead(
        _regular(start, epoch_s, len(count)), epoch_s, count, np.isfinite(count), "awd", regular=True
    )


# Actiware's labels, compared after _rpx_label() (lower case; no quotes, colon or doubled spaces). English, French and
# German as in the sample exports pyActigraphy tests with; Dutch as in raw/Actiwatch.csv. No Spanish export is public:
# Spanish is matched by its plain words (Línea, Fecha, Hora, Actividad) and, like every language, by the stems the
# labels share ("activ"/"aktiv" in Activity, "interval" in Interval Status).
RPX_LINE = ("line", "ligne", "zeile", "lijn", "línea", "linea")
RPX_DATE = ("date", "datum", "fecha")
RPX_TIME = ("time", "heure", "zeit", "tijd", "hora")
RPX_ACTIVITY = ("activity", "activité", "aktivität", "activiteit", "actividad")
RPX_OFFWRIST = ("off-wrist", "hors poignet", "hors-poignet", "nicht am handgelenk", "niet-om-pols", "muñeca")
RPX_SLEEPWAKE = ("sleep/wake", "sommeil/éveil", "schlaf/wach", "slapen/waken", "sueño/vigilia")
# Interval Status of epochs excluded in Actiware (no data)
RPX_EXCLUDED = ("EXCLUDED", "EXCLU", "AUSGESCHLOSSEN", "UITGEZONDERD", "EXCLUIDO")
RPX_MISSING = ("", "nan", "kz")  # no count: NaN (English, Dutch), NAN (French), kZ (German)
RPX_NA_CELLS = ("", "NaN", "NAN", "nan", "kZ", "kz")
RPX_EPOCH = ("epoch length", "longueur de la période", "epochenlänge", "periodelengte")
RPX_WAKE_THRESHOLD = (
    "wake threshold value",
    "valeur du seuil d'éveil",
    "grenzwert für wachphasen",
    "waakdrempelwaarde",
)
# the unit after the epoch length (seconds, secondes, Sekunden, seconden, segundos): found in any language
RPX_SECONDS = ("sec", "sek", "seg")
RPX_DATE_FORM = re.compile(r"(\d{1,4})([./-])(\d{1,2})\2(\d{1,4})")
RPX_TIME_FORM = re.compile(r"(\d{1,2}):(\d\d)(?::(\d\d)(?:[.,](\d{1,6}))?)?\s*(?:([AaPp])\.?\s*[Mm]\.?)?")
RPX_NO_EPOCHS = "no epochs below the epoch table's header"
RPX_HEADER_START = tuple(f"{q}{w}{e}" for w in RPX_LINE for q in ('"', "") for e in ('"', ",", ";", "\t"))


def _rpx_label(cell: str) -> str:
    return " ".join(cell.strip().strip('"').strip().rstrip(":").split()).lower()


def _rpx(data: bytes, path: str) -> CountsRead:
    """Actiware's CSV export in any language it writes; its epoch-by-epoch table, found by its header row."""
    text = _text(data)
    found = _rpx_table(text)
    if found is None:
        why = "no epoch-by-epoch table (a row of Line, Date, Time, Activity, ... labels)"
        raise BadInputError(path, [RowError(path, 1, "", why)])
    start, end, header_line, labels, sep = found
    names = [_rpx_label(c) for c in labels]
    col = {
        "line": 0,
        "date": next((i for i, n in enumerate(names) if n in RPX_DATE), None),
        "time": next((i for i, n in enumerate(names) if n in RPX_TIME), None),
        "activity": _rpx_activity_column(names),
        "off": next((i for i, n in enumerate(names) if any(w in n for w in RPX_OFFWRIST)), None),
        "sleep": next((i for i, n in enumerate(names) if n in RPX_SLEEPWAKE), None),
        "status": next((i for i, n in enumerate(names) if "interval" in n), None),
    }
    epoch_s, wake_threshold = _rpx_fields(text[:start], sep, path)
    used = sorted({i for i in col.values() if i is not None})
    body = text[end + 1 :]
    # the C parser wants at least the first row's fields named, and no more names than the widest row has
    first_row = next(csv.reader([body[: body.find("\n")] if "\n" in body else body], delimiter=sep), [])
    width = max(len(first_row), max(used) + 1)
    try:
        table = pd.read_csv(
            io.BytesIO(body.encode("utf-8")),  # bytes: the C parser reads them twice as fast as text
            encoding="utf-8",
            sep=sep,
            header=None,
            names=range(width),
            usecols=used,
            dtype={col[r]: object for r in ("date", "time", "status") if col[r] is not None},
            keep_default_na=False,
            na_values=list(RPX_NA_CELLS),  # counts in float columns, the words for no count NaN
            skip_blank_lines=False,  # one row a line: row k is on line header_line + 1 + k
            engine="c",
        )
    except (pd.errors.ParserError, ValueError) as exc:  # ValueError: nothing below the header
        if not body.strip():
            raise BadInputError(path, [RowError(path, header_line, "", RPX_NO_EPOCHS)]) from None
        at = re.search(r"row (\d+)|line (\d+)", str(exc))  # pandas counts rows from 0, lines from 1
        line = header_line
        if at:
            line += 1 + int(at.group(1)) if at.group(1) else int(at.group(2))
        raise BadInputError(path, [RowError(path, line, "", f"unreadable CSV ({str(exc)[:120]})")]) from None
    if len(table) != body.count("\n") + (not body.endswith("\n")):  # a quote left open ran on past its line
        k = next((k for k, line in enumerate(body.split("\n")) if line.count('"') % 2), 0)
        why = "a quote is not closed on this line"
        raise BadInputError(path, [RowError(path, header_line + 1 + k, "", why)])
    # blank lines (or lines of delimiters only) are skipped
    kept = np.flatnonzero(table.notna().any(axis=1).to_numpy())
    if not len(kept):
        raise BadInputError(path, [RowError(path, header_line, "", RPX_NO_EPOCHS)])
    lines = header_line + 1 + kept
    table = table.iloc[kept]
    cells = {role: table[i] for role, i in col.items() if i is not None}

    def refuse(k: int, role: str, reason: str):
        return BadInputError(path, [RowError(path, int(lines[k]), labels[col[role]].strip(), reason)])

    numbers = pd.to_numeric(cells["line"], errors="coerce").to_numpy(dtype="float64")
    not_numbered = np.flatnonzero(~(numbers >= 0) | (numbers != np.floor(numbers)))
    if len(not_numbered):
        k = int(not_numbered[0])
        raise refuse(k, "line", f"{_cell(cells['line'].iloc[k])!r} is not an epoch number")
    english = names[0] == "line"
    times, step = _rpx_times(cells["date"], cells["time"], text[:start], english, refuse)
    if epoch_s is not None and step is not None and step != epoch_s[0]:
        why = f"the header says {epoch_s[0]} s epochs but the times are {step} s apart"
        raise BadInputError(path, [RowError(path, epoch_s[1], "", why)])
    epoch = epoch_s[0] if epoch_s is not None else step or 60
    count = _rpx_numbers(cells["activity"], refuse, "activity")
    valid = np.isfinite(count)
    worn = None
    if "off" in cells:  # Off-Wrist Status 1 = not worn
        worn = _rpx_numbers(cells["off"]) != 1
        valid &= worn
    if "status" in cells:  # an interval excluded in Actiware (the watch was off): no data
        codes, values = pd.factorize(cells["status"])
        excluded = np.array([str(v).strip().upper() in RPX_EXCLUDED for v in values] + [False])
        valid &= ~excluded[codes]  # code -1 (blank): the appended False
    device = None
    if "sleep" in cells:  # Actiware: 0 = sleep, 1 = wake, NaN = not scored
        score = _rpx_numbers(cells["sleep"])
        device = np.where(np.isfinite(score), score == 0, np.nan)
    return CountsRead(
        times,
        epoch,
        count,
        valid,
        "rpx",
        device_sleep=device,
        wake_threshold=wake_threshold,
        worn=worn,
        lines=lines,
    )


def _rpx_table(text: str) -> tuple[int, int, int, list[str], str] | None:
    """Where the epoch-by-epoch header row is: ``(start, end, line number, cells, delimiter)``.

    Lines are tested cheaply on their first characters (a Line label); only those few are split into cells. The
    Marker/Score list has a Line/Date/Time header too, but no Activity column.
    """
    pos, number = 0, 1
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        if text[pos : pos + 8].lower().startswith(RPX_HEADER_START):
            line = text[pos:end].rstrip("\r")
            sep = max((",", ";", "\t"), key=line.count)
            cells = next(csv.reader([line], delimiter=sep), [])
            names = [_rpx_label(c) for c in cells]
            if (
                names
                and names[0] in RPX_LINE
                and any(n in RPX_DATE for n in names)
                and any(n in RPX_TIME for n in names)
                and _rpx_activity_column(names) is not None
            ):
                return pos, end, number, cells, sep
        pos, number = end + 1, number + 1
    return None


def _rpx_activity_column(names: list[str]) -> int | None:
    exact = next((i for i, n in enumerate(names) if n in RPX_ACTIVITY), None)
    if exact is not None:
        return exact
    return next((i for i, n in enumerate(names) if re.match(r"a[ck]tiv|attiv", n)), None)


def _rpx_fields(head: str, sep: str, path: str) -> tuple[tuple[int, int] | None, float | None]:
    """The header's epoch length (seconds, line) and wake threshold value (None when the file does not say)."""
    epoch, threshold = None, None
    for number, row in enumerate(csv.reader(io.StringIO(head), delimiter=sep), start=1):
        if len(row) < 2 or not row[0].strip():
            continue
        label, value = _rpx_label(row[0]), _decimal(row[1])
        unit = _rpx_label(row[2]) if len(row) > 2 else ""
        if epoch is None and (label in RPX_EPOCH or unit.startswith(RPX_SECONDS)):
            if value is None or not (0 < value <= 3600 and value == int(value)):
                why = f"epoch length {row[1].strip()!r} is not a number of seconds"
                raise BadInputError(path, [RowError(path, number, "", why)])
            epoch = (int(value), number)
        elif threshold is None and (label in RPX_WAKE_THRESHOLD or re.search(r"a[ck]tiv", unit)):
            if value is not None and 0 <= value < 1e6:  # "Not Applicable" and the like: the file does not say
                threshold = value
    return epoch, threshold


def _decimal(cell: str) -> float | None:
    try:
        value = float(cell.strip().replace(",", "."))
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def _cell(value) -> str:
    return "" if pd.isna(value) else str(value)


def _rpx_numbers(cells: pd.Series, refuse=None, role: str = "") -> np.ndarray:
    """Numbers with a decimal point or comma; missing-value words are NaN, other words refused (with ``refuse``)."""
    if cells.dtype.kind in "fiu":  # the CSV reader read them all as numbers
        return cells.to_numpy(dtype="float64")
    text = pa.array(cells.fillna("").astype(str).str.strip(), type=pa.large_string())
    missing = pc.is_in(pc.utf8_lower(text), value_set=pa.array(RPX_MISSING, type=pa.large_string()))
    text = pc.replace_substring(pc.if_else(missing, pa.scalar(None, pa.large_string()), text), ",", ".")
    try:
        return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:  # a word that is not a number
        values = pd.to_numeric(text.to_pandas(), errors="coerce").to_numpy(dtype="float64")
        bad = np.flatnonzero(np.isnan(values) & ~missing.to_numpy(zero_copy_only=False))
        if refuse is not None and len(bad):
            k = int(bad[0])
            raise refuse(k, role, f"{_cell(cells.iloc[k])!r} is not a number") from None
        return values


def _rpx_times(
    dates: pd.Series, clock: pd.Series, head: str, english: bool, refuse
) -> tuple[pd.Series, int | None]:
    """Epoch start times (naive local) and their step in seconds.

    Each distinct date and time is parsed once. Day/month order: year-first and dotted dates are unambiguous
    (``2015-02-04``, ``19.09.2019``), as is a day or month over 12 in the table; otherwise the header's dates, then
    the language (English: month first, the US form) decide which order is tried first, and an order is kept only
    if the times then move forward in equal steps (an hour more at a clock change).
    """
    d_codes, d_values = pd.factorize(dates)
    t_codes, t_values = pd.factorize(clock)
    for role, codes, what in (("date", d_codes, "date"), ("time", t_codes, "time")):
        if (codes < 0).any():  # a blank cell
            raise refuse(int(np.argmax(codes < 0)), role, f"'' is not a {what}")
    t_values = [str(v).strip() for v in t_values]
    clock_times = pc.strptime(pa.array(t_values, pa.string()), "%H:%M:%S", "s", error_is_null=True)
    seconds = clock_times.cast(pa.int64()).to_numpy(zero_copy_only=False).astype("float64") - DAY_1900_S
    for k in np.flatnonzero(np.isnan(seconds)):  # a 12-h clock, no seconds, or no time at all
        s = _time_of_day(t_values[k])
        if s is None:
            row = int(np.argmax(t_codes == k))
            raise refuse(row, "time", f"{clock.iloc[row]!r} is not a time")
        seconds[k] = s
    seconds = seconds.astype("int64")
    parts = []
    for k, value in enumerate(d_values):
        part = _date_parts(str(value).strip())
        if part is None:
            row = int(np.argmax(d_codes == k))
            raise refuse(row, "date", f"{dates.iloc[row]!r} is not a date")
        parts.append(part)
    date_problem = order_problem = None  # of the likeliest order: a date it cannot read, or times out of step
    for order in _date_orders(parts, head, english):
        days = [_day_number(p, order) for p in parts]
        invalid = [k for k, d in enumerate(days) if d is None]
        if invalid:
            first = min(int(np.argmax(d_codes == k)) for k in invalid)
            date_problem = date_problem or (first, "date", f"{dates.iloc[first]!r} is not a date")
            continue
        ns = (np.asarray(days, dtype="int64")[d_codes] * 86400 + seconds[t_codes]) * 10**9
        broken = _uneven(ns)
        if broken is None:
            step = _usual_step(ns) // 10**9 if len(ns) > 1 else None
            return pd.Series((ns // 1000).astype("datetime64[us]")), step
        k, reason = broken
        order_problem = order_problem or (k, "time", f"'{dates.iloc[k]} {clock.iloc[k]}' {reason}")
    raise refuse(*(order_problem or date_problem))


def _date_parts(value: str) -> tuple[int, int, str, str, bool] | None:
    """``(first, second, last as written, separator, year first)`` of yyyy-mm-dd, d/m/yy or d/m/yyyy (either
    order of day and month; ``/``, ``.`` or ``-``), None for anything else."""
    m = RPX_DATE_FORM.fullmatch(value)
    if not m:
        return None
    first, sep, second, last = m.groups()
    year_first = len(first) == 4
    if (len(last) > 2) if year_first else (len(first) > 2 or len(last) not in (2, 4)):
        return None
    return int(first), int(second), last, sep, year_first


def _time_of_day(value: str) -> int | None:
    m = RPX_TIME_FORM.fullmatch(value)
    if not m:
        return None
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if m.group(5):  # 12-hour clock
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if m.group(5) in "Pp" else 0)
    if h > 23 or mi > 59 or s > 59:
        return None
    return h * 3600 + mi * 60 + s


def _date_orders(parts: list[tuple], head: str, english: bool) -> list[str]:
    """Day/month orders to try, the most likely first."""
    if parts[0][4]:
        return ["ymd"]
    if parts[0][3] == ".":
        return ["dmy"]
    if any(a > 12 for a, *_ in parts) and not any(b > 12 for _, b, *_ in parts):
        return ["dmy"]
    if any(b > 12 for _, b, *_ in parts) and not any(a > 12 for a, *_ in parts):
        return ["mdy"]
    # the header's own dates (birth, start, statistics) are written the same way
    found = re.finditer(r"\b(\d{1,2})([/-])(\d{1,2})\2\d{2,4}\b", head)
    written = [(int(m.group(1)), int(m.group(3))) for m in found]
    day_first = any(a > 12 for a, _ in written)
    month_first = any(b > 12 for _, b in written)
    if day_first != month_first:
        return ["dmy", "mdy"] if day_first else ["mdy", "dmy"]
    return ["mdy", "dmy"] if english else ["dmy", "mdy"]


def _day_number(part: tuple, order: str) -> int | None:
    """Days since 1970-01-01 of a date read in ``order``, None if it is no calendar date."""
    a, b, c, _, year_first = part
    if year_first != (order == "ymd"):
        return None
    if order == "ymd":
        year, month, day = a, b, int(c)
    else:
        year = int(c) if len(c) == 4 else 2000 + int(c) if int(c) < 69 else 1900 + int(c)  # Python's %y
        day, month = (a, b) if order == "dmy" else (b, a)
    try:
        return dt.date(year, month, day).toordinal() - 719163
    except ValueError:
        return None


def _uneven(ns: np.ndarray) -> tuple[int, str] | None:
    """The first epoch that does not follow the one before by the usual step (or an hour more), and why."""
    steps = np.diff(ns)
    if not len(steps):
        return None
    usual = _usual_step(ns)
    ok = (steps == usual) | (steps == usual + 3600 * 10**9)
    if usual > 0 and ok.all():
        return None
    k = int(np.argmax(~ok)) if usual > 0 else int(np.argmax(steps <= 0))
    gap = int(steps[k]) // 10**9
    if gap <= 0:
        return k + 1, "does not come after the epoch before it (lines out of order or repeated)"
    return k + 1, f"is {gap} s after the epoch before it, not {usual // 10**9} s"


def _usual_step(ns: np.ndarray) -> int:
    values, counts = np.unique(np.diff(ns), return_counts=True)
    return int(values[counts.argmax()])


# ---------------------------------------------------------------------- other devices
def _mtn(data: bytes, path: str) -> CountsRead:
    text = _text(data)
    start = re.search(r"<name>=StartTime</name><content>([^<]+)</content>", text)
    channel = re.search(
        r"<channel><name>motion</name>.*?<epoch>(\d+)</epoch>.*?<data[^>]*>([^<]*)</data>", text, re.S
    )
    if not (start and channel):
        raise BadInputError(path, [RowError(path, 1, "", "MTN file without StartTime or a motion channel")])
    count = _numbers([v for v in re.split(r"[,\s]+", channel.group(2)) if v])
    epoch_s = int(channel.group(1))
    return CountsRead(
        _regular(pd.Timestamp(start.group(1)), epoch_s, len(count)),
        epoch_s,
        count,
        np.isfinite(count),
        "mtn",
        regular=True,
    )


def _acttrust(data: bytes, path: str) -> CountsRead:
    text = _text(data)
    lines = text.splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.startswith("DATE/TIME;"))
    table = pd.read_csv(io.StringIO("\n".join(lines[header_at:])), sep=";")
    times = pd.Series(pd.to_datetime(table["DATE/TIME"], format="%d/%m/%Y %H:%M:%S"))
    interval = re.search(r"INTERVAL : (\d+)", text)
    epoch_s = int(interval.group(1)) if interval else 60
    # a row written when the event button was pressed (EVENT 1, at hh:mm:26) stands for its whole epoch
    step = pd.Timedelta(seconds=epoch_s)
    times = times.iloc[0] + ((times - times.iloc[0]) // step) * step
    count = _numbers(table["PIM"])
    return CountsRead(times, epoch_s, count, np.isfinite(count), "acttrust")


def _actical(data: bytes, path: str) -> CountsRead:
    rows = list(csv.reader(io.StringIO(_text(data))))
    header_at = next(i for i, r in enumerate(rows) if r and r[0].strip() == "Epoch#")
    names = [c.strip() for c in rows[header_at]]
    date_i, time_i, act_i = names.index("Date"), names.index("Time"), names.index("Activity")
    body = [r for r in rows[header_at + 1 :] if r and r[0].strip().isdigit()]
    times = pd.Series(
        pd.to_datetime([f"{r[date_i]} {r[time_i]}" for r in body], format="mixed", dayfirst=True)
    )
    count = _numbers([r[act_i] for r in body])
    steps = times.diff().dt.total_seconds().dropna()
    epoch_s = int(round(steps.median())) if len(steps) else 60
    return CountsRead(times, epoch_s, count, np.isfinite(count), "actical")


def _ukb(data: bytes, path: str) -> CountsRead:
    table = pd.read_csv(io.BytesIO(data))
    # "2014-05-07 13:29:50.439000+0100 [Europe/London]": the offset makes it absolute (and may change at DST)
    text = table["time"].str.replace(r"\s*\[.*\]$", "", regex=True)
    times = pd.Series(pd.to_datetime(text, format="%Y-%m-%d %H:%M:%S.%f%z", utc=True))
    steps = times.diff().dt.total_seconds().dropna()
    epoch_s = int(round(steps.median())) if len(steps) else 30
    count = _numbers(table["acc"])
    return CountsRead(
        times,
        epoch_s,
        count,
        np.isfinite(count),
        "ukb-csv",
        lines=_csv_lines(data, len(times)),
        offsets=written_offsets(text),
    )


def no_zone_error(path: str, z_local: bool = False) -> BadInputError:
    """The error for device times written without a zone when no ``--tz`` was given."""
    why = (
        "the times are marked 'Z' (UTC), but ActiLife writes the device's local time that way"
        if z_local
        else "the device wrote local times without a zone"
    )
    return BadInputError(path, [RowError(path, 1, "", f"{why}: pass --tz ZONE (e.g. --tz Europe/London)")])


def read_notes(read: CountsRead, tz: str | None) -> list[str]:
    """What the user should be told about how the file's times were read."""
    notes = list(read.notes)
    if read.z_local and tz:
        notes.append(
            "the times are marked 'Z' (UTC), but ActiLife writes the device's local time that way: "
            f"read as local times in {tz} (--tz)"
        )
    return notes


def check_years(times: pd.Series, path: str, what: str = "epoch") -> None:
    """Refuse a device time outside ``DEVICE_YEARS`` (an unset clock, a damaged header), naming the first one."""
    first, last = DEVICE_YEARS
    outside = np.flatnonzero(~times.dt.year.between(first, last).to_numpy())
    if len(outside):
        i = int(outside[0])
        raise BadInputError(
            path,
            [
                RowError(
                    path, 1, "", f"{what} {i + 1} is at {times.iloc[i]}, outside the years {first} to {last}"
                )
            ],
        )


def localise(times: pd.Series, tz: str | None, path: str, z_local: bool = False) -> pd.Series:
    """UTC times; naive device times are read in ``tz`` (required), DST-repeated hours in order."""
    check_years(times, path)
    if times.dt.tz is not None:
        return times.dt.tz_convert("UTC")
    if tz is None:
        raise no_zone_error(path, z_local)
    # epochs run forward in time, so pandas can tell the two passes through a repeated hour apart
    try:
        local = times.dt.tz_localize(tz, ambiguous="infer", nonexistent="raise")
    except Exception as exc:  # zoneinfo and pandas raise several types for DST problems
        raise BadInputError(
            path, [RowError(path, 1, "", f"times do not fit the zone {tz}: {str(exc)[:120]}")]
        ) from None
    return local.dt.tz_convert("UTC")


def counts_table(read: CountsRead, tz: str | None, path: str) -> pd.DataFrame:
    """The lake rows: ``start`` (UTC), ``epoch_s``, ``count``, ``limb``, ``valid``, ``wake_threshold``.

    Times written with UTC offsets must agree with ``tz`` where it is given (else refused, naming both).
    """
    if read.regular:  # only the start is a wall-clock time: the epochs follow in real time, across DST too
        first = localise(read.times.iloc[:1], tz, path, read.z_local).iloc[0]
        check_years(read.times.iloc[-1:], path)
        start = pd.Series(first + pd.to_timedelta(np.arange(len(read.times)) * read.epoch_s, unit="s"))
    else:
        start = localise(read.times, tz, path, read.z_local)
    ns = utc_ns(start)

    def line_of(i: int) -> int:
        return int(read.lines[i]) if read.lines is not None else 1

    if tz is not None and read.offsets is not None:
        conflict = first_offset_conflict(ns, read.offsets, tz)
        if conflict:
            i, written, zone_s = conflict
            raise BadInputError(path, [RowError(path, line_of(i), "", conflict_reason(written, tz, zone_s))])
    backwards = np.flatnonzero(np.diff(ns) <= 0)
    if len(backwards):
        i = int(backwards[0]) + 1
        why = f"epoch {i + 1} does not come after epoch {i} (times repeat or go back)"
        raise BadInputError(path, [RowError(path, line_of(i), "", why)])
    count = np.asarray(read.count, dtype="float64")
    # a device's missing-value codes (negative, blank, overflow) are epochs without data, never counts
    usable = np.isfinite(count) & (count >= 0)
    return pd.DataFrame(
        {
            "start": start.to_numpy(),
            "epoch_s": read.epoch_s,
            "count": np.where(usable, count, np.nan),
            "limb": "unknown",
            "valid": np.asarray(read.valid, dtype=bool) & usable,
            "wake_threshold": np.nan if read.wake_threshold is None else float(read.wake_threshold),
        }
    )
