"""Bounded fuzzing of every ingest format: damaged, hostile and odd files get a clear error or a correct result.

Each format starts from a good file (generated here, or a real device/app file from ``../shared/data`` when that
folder is present) and hypothesis damages it: truncation, random bytes, huge / negative / NaN / inf numbers,
lines repeated or swapped (times out of order, duplicated), timestamps moved to the far past or future, given
other UTC offsets, or put on DST-ambiguous and nonexistent local times. Whatever comes in, :func:`parse_file`
must either raise :class:`SleepmovesError` (a message for the user) or return tables that are valid for the
lake: every time zone-aware and within 1970-2200, numbers finite, each row on the night its start falls in.
Never another exception, a hang (each example has an alarm) or unbounded memory (limits are enforced).
"""

from __future__ import annotations

import gzip
import json
import re
import signal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sleepmoves.ingest import Limits, parse_file
from sleepmoves.lake import _table_schema
from sleepmoves.nights import night_of
from sleepmoves.schema import SleepmovesError, check_night
from sleepmoves.spill import NightPieces
from tests.conftest import SHARED_DATA

SUBJECT_TZ = "Europe/London"
LIMITS = Limits(max_bytes=16 * 1024 * 1024, max_rows=2_000_000)
ALARM_S = 30


def _log_csv() -> bytes:
    rows = [
        "2026-03-28T21:00:00+00:00,0.3,left_leg,twitch,0.2",
        "2026-03-28T21:00:04+00:00,1.5,right_leg,kick,0.7",
        "2026-03-29T00:30:00,0.8,whole_body,startle,0.9",
        "2026-03-29T03:10:00+01:00,0.2,left_arm,twitch,",
        "2026-10-25T01:10:00+01:00,0.5,right_arm,kick,0.4",
    ]
    return ("time,duration_s,limb,kind,intensity\n" + "\n".join(rows) + "\n").encode()


def _log_jsonl() -> bytes:
    rows = [
        {"time": "2026-03-02T20:00:00+00:00", "duration_s": 0.3, "limb": "left_leg", "kind": "twitch"},
        {
            "time": "2026-03-03T04:00:00+00:00",  # the offset --tz Europe/London has then (or it is refused)
            "duration_s": 2.0,
            "limb": "trunk",
            "kind": "shake",
            "intensity": 1,
        },
    ]
    return "\n".join(json.dumps(r) for r in rows).encode() + b"\n"


def _raw_csv() -> bytes:
    t0 = pd.Timestamp("2026-03-02T21:00:00Z").value
    n = 50 * 12
    times = t0 + np.arange(n) * 20_000_000
    rng = np.random.default_rng(1)
    acc = rng.normal(0, 0.01, (n, 3)) + [0, 0, 1]
    acc[300:310] += 0.5  # a twitch
    lines = ["timestamp,x,y,z"] + [
        f"{pd.Timestamp(t, tz='UTC').isoformat()},{x:.4f},{y:.4f},{z:.4f}"
        for t, (x, y, z) in zip(times, acc, strict=True)
    ]
    return ("\n".join(lines) + "\n").encode()


def _diary() -> bytes:
    return (
        b"start,end,activity,note\n"
        b"2026-03-02T19:30:00+00:00,2026-03-02T23:10:00+00:00,sleep,cot\n"
        b"2026-03-02T23:15:00+00:00,2026-03-02T23:35:00+00:00,feed,\n"
        b"2026-03-03T00:00:00+00:00,2026-03-03T06:40:00+00:00,sleep,\n"
    )


GENERATED = {
    "log.csv": _log_csv,
    "log.jsonl": _log_jsonl,
    "raw.csv": _raw_csv,
    "raw.csv.gz": lambda: gzip.compress(_raw_csv(), mtime=0),
    "diary.csv": _diary,
}

# one real file per device / app format (read in place)
SHARED = {
    "awd": "actigraphy/example_01.AWD",
    "agd": "actigraphy/test_sample.agd",
    "mtn": "actigraphy/test_sample.mtn",
    "acttrust": "actigraphy/test_sample_atr.txt",
    "rpx": "actigraphy/test_sample_rpx_eng.csv",
    "ukb": "actigraphy/sample-timeSeries.csv.gz",
    "actilife-csv": "ankle/GT3XPlus-RawData-Day01-10sec60sec.csv",
    "actilife-raw": "raw/ActiGraph13.csv",
    "actical": "raw/Actical.csv",
    "actiwatch": "raw/Actiwatch.AWD",
    "cwa": "raw/ax3_testfile.cwa",
    "gt3x": "raw/actigraph_testfile.gt3x",
    "geneactiv": "raw/GENEActiv_testfile.bin",
    "babyconnect": "logs/babyconnect_eva.csv",
}


def seed(name: str) -> tuple[str, bytes]:
    if name in GENERATED:
        return name, GENERATED[name]()
    path = SHARED_DATA / SHARED[name]
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/data is not next to this checkout)")
    return path.name, path.read_bytes()


# ---------------------------------------------------------------------- damage
STRANGE_NUMBERS = [
    b"1e308",
    b"-1e308",
    b"NaN",
    b"nan",
    b"inf",
    b"-inf",
    b"-1",
    b"-99999",
    b"0",
    b"1e400",
    b"99999999999999999999999",
    b"",
    b"0x1F",
]
STRANGE_TIMES = [
    b"1900-01-01T00:00:00+00:00",
    b"0001-01-01T00:00:00",
    b"9999-12-31T23:59:59+14:00",
    b"2300-01-01T00:00:00Z",
    b"2026-03-29T01:30:00",
    b"2026-10-25T01:30:00",
    b"2026-03-29 01:30:00",
    b"2026-10-25 01:30:00",
    b"2026-03-02T21:00:00+05:45",
    b"2026-03-02T21:00:00-12:00",
    b"2026-03-02T21:00:00+14:00",
    b"1970-01-01T00:00:00Z",
    b"2026-02-30T10:00:00",
    b"-1",
    b"1e18",
    b"4102444800",
]
NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
TIME = re.compile(rb"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")


@st.composite
def damage(draw, data: bytes) -> bytes:
    """One to three damaging edits of ``data``."""
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(["truncate", "bytes", "insert", "number", "time", "repeat", "swap", "delete"])
        )
        if not data:
            break
        if kind == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "bytes":
            at = draw(st.integers(0, len(data) - 1))
            chunk = draw(st.binary(min_size=1, max_size=16))
            data = data[:at] + chunk + data[at + len(chunk) :]
        elif kind == "insert":
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
        elif kind in ("number", "time"):
            pattern, values = (NUMBER, STRANGE_NUMBERS) if kind == "number" else (TIME, STRANGE_TIMES)
            matches = list(pattern.finditer(data[:200_000]))
            if matches:
                m = matches[draw(st.integers(0, len(matches) - 1))]
                data = data[: m.start()] + draw(st.sampled_from(values)) + data[m.end() :]
        else:
            lines = data.split(b"\n")
            if len(lines) < 3:
                continue
            i = draw(st.integers(1, len(lines) - 2))
            j = draw(st.integers(1, len(lines) - 2))
            if kind == "repeat":
                lines.insert(j, lines[i])  # a duplicated row
            elif kind == "swap":
                lines[i], lines[j] = lines[j], lines[i]  # rows out of order
            else:
                del lines[i]
            data = b"\n".join(lines)
    return data


# ---------------------------------------------------------------------- the property
def assert_valid_for_the_lake(parsed) -> None:
    assert parsed.tables, "a file that parses must give at least one table"
    for name, rows in parsed.tables.items():
        frame = rows.frame() if isinstance(rows, NightPieces) else rows  # a log's rows are kept by night
        if frame.empty:
            continue
        for night in frame["night"].unique():
            check_night(str(night))
        arrow_schema = _table_schema(name)
        body = frame.drop(columns=["night"])
        pa.Table.from_pandas(
            body, schema=arrow_schema, preserve_index=False
        )  # the lake's types, or it raises
        for column in ("start", "end"):
            if column in frame:
                times = frame[column]
                assert str(times.dt.tz) == "UTC", (name, column)
                known = times.dropna()
                assert (column == "end") or len(known) == len(times), f"{name}.{column} has missing times"
                # logs and diaries: 1970-2200; device files: 1900-2200 (anonymised files are shifted to ~1918)
                assert known.between(
                    pd.Timestamp("1900-01-01", tz="UTC"), pd.Timestamp("2201-01-01", tz="UTC")
                ).all()
        expected_nights = night_of(frame["start"], SUBJECT_TZ).to_numpy()
        assert (frame["night"].to_numpy() == expected_nights).all(), f"{name}: a row is on the wrong night"
        for column in frame.columns:
            if pd.api.types.is_float_dtype(frame[column]):
                values = frame[column].to_numpy(dtype="float64")
                assert not np.isinf(values).any(), f"{name}.{column} holds an infinite value"
        if "duration_s" in frame:
            assert (frame["duration_s"].dropna() >= 0).all()


class Hang(Exception):
    pass


def _alarm(*_):
    raise Hang(f"parsing took over {ALARM_S} s")


def parse_or_refuse(data: bytes, name: str, limb: str | None = None):
    """``parse_file`` under an alarm; returns the parsed file or None when it was refused with a message."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(ALARM_S)
    try:
        parsed = parse_file(data, name, SUBJECT_TZ, tz="Europe/London", limb=limb, limits=LIMITS)
    except SleepmovesError as exc:
        assert str(exc).strip(), "an error must say something"
        return None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert_valid_for_the_lake(parsed)
    return parsed


def _fuzz(name: str, examples: int):
    filename, data = seed(name)
    assert parse_or_refuse(data, filename) is not None, "the undamaged seed must parse"

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(damage(data))
    def run(damaged):
        parse_or_refuse(damaged, filename)

    run()


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_fuzz_generated_formats(name):
    _fuzz(name, 60)


@pytest.mark.parametrize("name", sorted(SHARED))
def test_fuzz_real_device_and_app_files(name):
    _fuzz(name, 25)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    st.binary(max_size=4000),
    st.sampled_from(
        ["x.csv", "x.jsonl", "x.cwa", "x.gt3x", "x.bin", "x.agd", "x.awd", "x.csv.gz", "x.mtn", "x.txt"]
    ),
)
def test_random_bytes_under_any_name(data, name):
    parse_or_refuse(data, name)


@pytest.mark.parametrize(
    "magic", [b"MD", b"PK\x03\x04", b"SQLite format 3\x00", b"Device Unique Serial Code:", b"\x1f\x8b"]
)
@settings(max_examples=40, deadline=None, derandomize=True)
@given(tail=st.binary(max_size=3000))
def test_random_bytes_behind_a_format_signature(magic, tail):
    """Bytes that start like a CWA, GT3X (zip), AGD (SQLite), GENEActiv or gzip file but are garbage after."""
    parse_or_refuse(magic + tail, "device.dat")


# ---------------------------------------------------------------------- times, by construction
ODD_TIMES = [
    ("2026-03-29T01:30:00", "does not exist"),  # London: clocks go forward 01:00 -> 02:00
    ("2026-10-25T01:30:00", "happens twice"),  # London: clocks go back 02:00 -> 01:00
    ("1969-12-31T23:00:00+00:00", "outside the years"),
    ("2201-01-01T00:00:00+00:00", "outside the years"),
]


def _with_first_time(fmt: str, stamp: str) -> bytes:
    lines = GENERATED[fmt]().decode().splitlines()
    row = lines[2].split(",")
    row[0] = stamp
    lines[2] = ",".join(row)
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("stamp,reason", ODD_TIMES)
@pytest.mark.parametrize("fmt", ["log.csv", "raw.csv"])
def test_odd_times_in_logs_and_raw_files_are_refused_naming_the_line(fmt, stamp, reason):
    with pytest.raises(SleepmovesError) as refused:
        parse_file(_with_first_time(fmt, stamp), fmt, SUBJECT_TZ, tz="Europe/London", limits=LIMITS)
    message = str(refused.value)
    assert f"{fmt}:3" in message, message
    if fmt == "log.csv":  # a raw file names the first bad row of its time column
        assert reason in message, message


@pytest.mark.parametrize(
    "stamp,expected",
    [
        # a parent's app writes wall-clock times: the documented reading is the earlier one / shifted forward
        ("2026-10-25T01:30:00", "2026-10-25T00:30:00Z"),
        ("2026-03-29T01:30:00", "2026-03-29T01:00:00Z"),
        ("1969-12-31T23:00:00+00:00", None),
        ("2201-01-01T00:00:00+00:00", None),
    ],
)
def test_odd_times_in_a_diary(stamp, expected):
    data = _diary().decode().replace("2026-03-02T23:15:00+00:00,2026-03-02T23:35:00+00:00", f"{stamp},")
    data = data.replace("+00:00", "") if "+" not in stamp else data
    if expected is None:
        with pytest.raises(SleepmovesError, match="diary.csv:3: .*outside the years 1970 to 2200"):
            parse_file(data.encode(), "diary.csv", SUBJECT_TZ, tz="Europe/London", limits=LIMITS)
        return
    parsed = parse_file(data.encode(), "diary.csv", SUBJECT_TZ, tz="Europe/London", limits=LIMITS)
    assert pd.Timestamp(expected) in set(parsed.tables["diary"]["start"])


@settings(max_examples=60, deadline=None, derandomize=True)
@given(offsets=st.lists(st.integers(-12 * 4, 14 * 4), min_size=3, max_size=3))
def test_mixed_offsets_each_row_is_its_own_instant(offsets):
    """A log whose rows carry different UTC offsets (travel, a DST change) is read row by row, exactly."""
    instants = [pd.Timestamp("2026-03-02T20:00:00Z") + pd.Timedelta(minutes=m) for m in (0, 30, 60)]
    rows = []
    for instant, quarter_hours in zip(instants, offsets, strict=True):
        local = instant.tz_convert(pd.Timestamp(0).tz_localize("UTC").tz).tz_convert(
            __import__("datetime").timezone(pd.Timedelta(minutes=15 * quarter_hours).to_pytimedelta())
        )
        rows.append(f"{local.isoformat()},0.3,left_leg,twitch,0.2")
    data = ("time,duration_s,limb,kind,intensity\n" + "\n".join(rows) + "\n").encode()
    parsed = parse_file(data, "trip.csv", SUBJECT_TZ, limits=LIMITS)
    assert list(parsed.tables["events"].frame()["start"]) == instants


# ---------------------------------------------------------------------- limits
def test_a_gzip_bomb_is_refused_before_it_is_unpacked():
    bomb = gzip.compress(b"0" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 200_000
    small = Limits(max_bytes=8 * 1024 * 1024, max_rows=10_000_000)
    for name in ("bomb.csv.gz", "bomb.jsonl.gz"):
        with pytest.raises(SleepmovesError, match="decompressed, the file is over"):
            parse_file(bomb, name, SUBJECT_TZ, tz="UTC", limits=small)


def test_a_raw_file_over_the_row_limit_is_refused_while_streaming():
    raw = _raw_csv()
    packed = gzip.compress(raw * 1, mtime=0)
    with pytest.raises(SleepmovesError, match="more than 100 rows"):
        parse_file(packed, "raw.csv.gz", SUBJECT_TZ, limits=Limits(max_rows=100))
    with pytest.raises(SleepmovesError, match="more than 3 rows"):
        parse_file(_log_csv(), "log.csv", SUBJECT_TZ, tz="Europe/London", limits=Limits(max_rows=3))


def test_file_size_limit_comes_before_reading(tmp_path):
    from sleepmoves.ingest import ingest_file
    from sleepmoves.lake import Lake

    lake = Lake(tmp_path / "lake")
    lake.add_subject("ada", SUBJECT_TZ)
    path = tmp_path / "log.csv"
    path.write_bytes(_log_csv())
    with pytest.raises(SleepmovesError, match=r"log.csv: the file is \d+ bytes, over the limit of 100 bytes"):
        ingest_file(lake, path, "ada", tz=SUBJECT_TZ, limits=Limits(max_bytes=100))
    assert lake.manifest().empty
