"""Epoch activity counts from actigraphy exports -> ``lake/counts``.

Every reader returns the epoch start times (as written: usually local times without a zone), the epoch
length and one count per epoch; ``NaN`` or a device's own off-wrist flag marks no data. Formats are
recognised by content (``--format`` overrides):

============  =================================================================  =====================
format        what                                                               count used
============  =================================================================  =====================
agd           ActiGraph AGD (SQLite): ``settings`` + ``data`` tables             axis1 (vertical)
actilife-csv  ActiLife CSV export with its 10-line header (epoch files)          first column (axis1)
actigraph-    ActiGraph epoch CSV with ISO timestamps (``timestamp,axis1,...``)  axis1
 iso-csv
awd           Actiwatch AWD: 7 header lines, then one count per line             the count
rpx           Philips Actiware CSV export (English, French, German, Dutch)       Activity; off-wrist
                                                                                 rows are no data
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
import io
import re
import sqlite3
import tempfile
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..nights import utc_ns
from ..schema import DEVICE_YEARS, SleepmovesError
from .logs import BadInputError, RowError

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
        _regular(start, epoch_s, len(count)), epoch_s, count, np.isfinite(count), "actilife-csv"
    )


def _iso_csv(data: bytes, path: str) -> CountsRead:
    table = pd.read_csv(io.BytesIO(data))
    times = pd.Series(pd.to_datetime(table.iloc[:, 0], format="ISO8601"))
    steps = times.diff().dt.total_seconds().dropna()
    epoch_s = int(round(steps.median())) if len(steps) else 60
    count = _numbers(table["axis1"] if "axis1" in table else table.iloc[:, 1])
    return CountsRead(times, epoch_s, count, np.isfinite(count), "actigraph-iso-csv")


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
    values = [line.split(",")[0].strip() for line in lines[7:] if line.strip()]
    count = _numbers(values)
    return CountsRead(_regular(start, epoch_s, len(count)), epoch_s, count, np.isfinite(count), "awd")


RPX_LINE = ("line", "lijn", "ligne", "zeile")
RPX_DATE = ("date", "datum")
RPX_TIME = ("time", "tijd", "heure", "zeit")
RPX_ACTIVITY = ("activity", "activiteit", "activité", "aktivität")
RPX_OFFWRIST = (
    "off-wrist status",
    "status niet-om-pols",
    "statut hors poignet",
    "status nicht am handgelenk",
)
RPX_SLEEPWAKE = ("sleep/wake", "slapen/waken", "sommeil/éveil", "schlaf/wach")


def _rpx(data: bytes, path: str) -> CountsRead:
    text = _text(data)
    rows = list(csv.reader(io.StringIO(text)))
    header_at = None
    for i, row in enumerate(rows):
        cells = [c.strip().lower() for c in row]
        if cells and cells[0] in RPX_LINE and any(c in RPX_ACTIVITY for c in cells):
            header_at = i  # the last such header is the epoch-by-epoch table
    if header_at is None:
        raise BadInputError(path, [RowError(path, 1, "", "no epoch-by-epoch table with an Activity column")])
    names = [c.strip().lower() for c in rows[header_at]]
    col = {name: names.index(name) for name in names if name}
    date_i = next(col[n] for n in RPX_DATE if n in col)
    time_i = next(col[n] for n in RPX_TIME if n in col)
    act_i = next(col[n] for n in RPX_ACTIVITY if n in col)
    off_i = next((col[n] for n in RPX_OFFWRIST if n in col), None)
    body = [r for r in rows[header_at + 1 :] if len(r) > act_i and r[0].strip().isdigit()]
    stamps = [f"{r[date_i].strip()} {r[time_i].strip()}" for r in body]
    times = _day_month_order(stamps, path)
    count = _numbers([r[act_i] for r in body])
    valid = np.isfinite(count)
    if off_i is not None:
        valid &= np.array([r[off_i].strip() not in ("1",) for r in body])
    steps = times.diff().dt.total_seconds().dropna()
    epoch_s = int(round(steps.median())) if len(steps) else 60
    sleep_i = next((col[n] for n in RPX_SLEEPWAKE if n in col), None)
    device = None
    if sleep_i is not None:  # Actiware: 0 = sleep, 1 = wake, NaN = not scored
        score = _numbers([r[sleep_i] for r in body])
        device = np.where(np.isfinite(score), score == 0, np.nan)
    return CountsRead(times, epoch_s, count, valid, "rpx", device_sleep=device)


def _day_month_order(stamps: list[str], path: str) -> pd.Series:
    """Parse dd/mm or mm/dd dates: the reading whose times only move forward in equal steps."""
    for fmt in ("%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S"):
        times = pd.Series(pd.to_datetime(stamps, format=fmt, errors="coerce"))
        steps = times.diff().dt.total_seconds().dropna()
        if times.notna().all() and (steps > 0).all() and steps.nunique() <= 2:
            return times
    raise BadInputError(
        path, [RowError(path, 1, "Date", "dates are neither consistently day/month nor month/day")]
    )


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
        _regular(pd.Timestamp(start.group(1)), epoch_s, len(count)), epoch_s, count, np.isfinite(count), "mtn"
    )


def _acttrust(data: bytes, path: str) -> CountsRead:
    text = _text(data)
    lines = text.splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.startswith("DATE/TIME;"))
    table = pd.read_csv(io.StringIO("\n".join(lines[header_at:])), sep=";")
    times = pd.Series(pd.to_datetime(table["DATE/TIME"], format="%d/%m/%Y %H:%M:%S"))
    interval = re.search(r"INTERVAL : (\d+)", text)
    epoch_s = int(interval.group(1)) if interval else 60
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
    # "2014-05-07 13:29:50.439000+0100 [Europe/London]": the offset makes it absolute
    times = pd.Series(
        pd.to_datetime(
            table["time"].str.replace(r"\s*\[.*\]$", "", regex=True), format="%Y-%m-%d %H:%M:%S.%f%z"
        )
    )
    steps = times.diff().dt.total_seconds().dropna()
    epoch_s = int(round(steps.median())) if len(steps) else 30
    count = _numbers(table["acc"])
    return CountsRead(times, epoch_s, count, np.isfinite(count), "ukb-csv")


def no_zone_error(path: str) -> BadInputError:
    """The error for device times written without a zone when no ``--tz`` was given."""
    return BadInputError(
        path,
        [
            RowError(
                path,
                1,
                "",
                "the device wrote local times without a zone: pass --tz ZONE (e.g. --tz Europe/London)",
            )
        ],
    )


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


def localise(times: pd.Series, tz: str | None, path: str) -> pd.Series:
    """UTC times; naive device times are read in ``tz`` (required), DST-repeated hours in order."""
    check_years(times, path)
    if times.dt.tz is not None:
        return times.dt.tz_convert("UTC")
    if tz is None:
        raise no_zone_error(path)
    # epochs run forward in time, so pandas can tell the two passes through a repeated hour apart
    try:
        local = times.dt.tz_localize(tz, ambiguous="infer", nonexistent="raise")
    except Exception as exc:  # zoneinfo and pandas raise several types for DST problems
        raise BadInputError(
            path, [RowError(path, 1, "", f"times do not fit the zone {tz}: {str(exc)[:120]}")]
        ) from None
    return local.dt.tz_convert("UTC")


def counts_table(read: CountsRead, tz: str | None, path: str) -> pd.DataFrame:
    """The lake rows: ``start`` (UTC), ``epoch_s``, ``count``, ``limb``, ``valid``."""
    start = localise(read.times, tz, path)
    backwards = np.flatnonzero(np.diff(utc_ns(start)) <= 0)
    if len(backwards):
        i = int(backwards[0]) + 1
        raise BadInputError(
            path,
            [RowError(path, 1, "", f"epoch {i + 1} does not come after epoch {i} (times repeat or go back)")],
        )
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
        }
    )
