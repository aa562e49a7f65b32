"""Raw-acceleration CSV ingest: layouts, errors by line, real files, and no-data epochs in the lake."""

import gzip

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sleepmoves.ingest import ingest_file
from sleepmoves.ingest.logs import BadInputError
from sleepmoves.ingest.raw import read_raw_csv, sampling_rate
from sleepmoves.lake import Lake
from sleepmoves.process import process
from sleepmoves.schema import SleepmovesError
from tests.conftest import SHARED_DATA, write

T0 = 1772481600.0  # 2026-03-02T20:00:00Z


def _signal(seconds=120, fs=50, seed=0):
    rng = np.random.default_rng(seed)
    acc = rng.normal(0, 0.004, (int(seconds * fs), 3))
    acc[:, 2] += 1
    m = int(0.5 * fs)
    for s in range(10, seconds - 5, 20):  # a smooth push every 20 s, on all axes
        acc[s * fs : s * fs + m] += (
            0.4 * np.sin(np.pi * np.arange(m) / m)[:, None] * np.array([0.7, 0.4, 0.6])
        )
    return acc


def _csv(acc, fs=50, t0=T0, header="timestamp,x,y,z", iso=False):
    times = t0 + np.arange(len(acc)) / fs
    if iso:
        stamps = pd.to_datetime(times, unit="s").strftime("%Y-%m-%d %H:%M:%S.%f")
        rows = [f"{t},{a:.4f},{b:.4f},{c:.4f}" for t, (a, b, c) in zip(stamps, acc, strict=True)]
    else:
        rows = [f"{t:.3f},{a:.4f},{b:.4f},{c:.4f}" for t, (a, b, c) in zip(times, acc, strict=True)]
    return ((header + "\n") if header else "") + "\n".join(rows) + "\n"


def test_single_sensor_with_limb(tmp_path):
    times, signals = read_raw_csv(_csv(_signal()).encode(), "x.csv", limb="left_leg")
    assert list(signals) == ["left_leg"] and signals["left_leg"].shape == (6000, 3)
    assert times[0] == int(T0 * 1e9) and sampling_rate(times, "x.csv") == 50


def test_one_triple_per_limb_and_no_header():
    acc = _signal()
    header = "timestamp,left_leg_x,left_leg_y,left_leg_z,right_leg_x,right_leg_y,right_leg_z"
    rows = [
        f"{T0 + i / 50:.3f},{a:.4f},{b:.4f},{c:.4f},{c:.4f},{a:.4f},{b:.4f}"
        for i, (a, b, c) in enumerate(acc)
    ]
    _, signals = read_raw_csv((header + "\n" + "\n".join(rows)).encode(), "x.csv")
    assert sorted(signals) == ["left_leg", "right_leg"]
    assert np.allclose(signals["right_leg"][:, 0], signals["left_leg"][:, 2], atol=1e-4)
    _, plain = read_raw_csv(_csv(acc, header="").encode(), "x.csv")
    assert list(plain) == ["unknown"]


def test_naive_iso_times_need_tz():
    text = _csv(_signal(30), iso=True).encode()
    with pytest.raises(
        BadInputError, match=r"x.csv:2: column timestamp: times have no UTC offset: pass --tz"
    ):
        read_raw_csv(text, "x.csv")
    times, _ = read_raw_csv(text, "x.csv", tz="Europe/London")  # March: London is UTC+0
    assert times[0] == int(T0 * 1e9)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda rows: rows.__setitem__(5, rows[5].rsplit(",", 1)[0] + ",nan"),
            "x.csv:6: column z: missing or not finite",
        ),
        (
            lambda rows: rows.__setitem__(7, rows[7].rsplit(",", 1)[0] + ",99"),
            "x.csv:8: column z: 99 g is beyond any sensor's range",
        ),
        (lambda rows: rows.__setitem__(9, rows[3]), "x.csv:10: column timestamp: time does not increase"),
        (
            lambda rows: rows.__setitem__(4, "soon," + rows[4].split(",", 1)[1]),
            "x.csv:5: column timestamp: not a time: 'soon'",
        ),
    ],
)
def test_bad_samples_are_named_by_line(mutate, message):
    rows = _csv(_signal(20)).splitlines()
    mutate(rows)
    with pytest.raises(BadInputError) as info:
        read_raw_csv("\n".join(rows).encode(), "x.csv", limb="left_leg")
    assert message in str(info.value)


def test_rate_outside_10_to_200_hz_is_refused():
    with pytest.raises(BadInputError, match="sampling rate 5 Hz is outside 10-200 Hz"):
        sampling_rate(np.arange(100) * int(0.2e9), "x.csv")


def test_unknown_limb_is_refused():
    with pytest.raises(SleepmovesError, match="unknown limb 'left_foot'"):
        read_raw_csv(_csv(_signal(10)).encode(), "x.csv", limb="left_foot")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_give_a_clear_error(data):
    try:
        read_raw_csv(data, "x.csv", tz="UTC")
    except SleepmovesError as exc:
        assert str(exc).startswith("x.csv")


def test_sensor_night_in_the_lake_with_a_gap_as_no_data(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.add_subject("ada", "Europe/London", born="2026-01-01")
    first, second = _signal(1800, seed=1), _signal(1800, seed=2)
    text = _csv(first, header="timestamp,x,y,z") + _csv(second, t0=T0 + 1800 + 600, header="")  # a 10-min gap
    path = write(tmp_path / "ankle.csv.gz", gzip.compress(text.encode()))
    report = ingest_file(lake, path, "ada", limb="right_leg")
    assert report.format == "raw-csv" and report.result.nights == ["2026-03-02"]
    assert ingest_file(lake, path, "ada", limb="right_leg").result.already_ingested
    events = lake.events("ada", "2026-03-02")
    assert set(events["source"]) == {"sensor"} and set(events["limb"]) == {"right_leg"}
    assert len(events) >= 2 * 85  # a push every 20 s in both halves
    process(lake, ["ada"])
    phases = lake.phases("ada", "2026-03-02")
    gap = (phases["epoch_start"] >= pd.Timestamp(T0 + 1800 + 30, unit="s", tz="UTC")) & (
        phases["epoch_start"] < pd.Timestamp(T0 + 2400 - 30, unit="s", tz="UTC")
    )
    assert not gap.any()  # no phase at all in the gap: it is no data, not quiet sleep
    summary = lake.night_summary("ada", "2026-03-02")
    assert 9 <= summary["nodata_min"] <= 11


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data is absent (not a project checkout)")
@pytest.mark.parametrize(
    ("name", "tz", "fs"),
    [
        ("raw/ax3_testfile_unix_timestamps.csv", None, 100),
        ("raw/ax6_testfile_formatted_timestamps.csv", "Europe/London", 100),
    ],
)
def test_real_raw_csv_exports(tmp_path, name, tz, fs):
    lake = Lake(tmp_path / "lake")
    lake.add_subject("ax", "Europe/London")
    report = ingest_file(lake, SHARED_DATA / name, "ax", tz=tz, limb="left_leg")
    assert report.format == "raw-csv" and report.result.nights
    times, _ = read_raw_csv((SHARED_DATA / name).read_bytes(), name, tz=tz)
    assert abs(sampling_rate(times, name) - fs) < 1


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("iso", [False, True])
def test_streaming_from_the_file_reads_the_same_as_from_bytes(tmp_path, compress, iso, monkeypatch):
    """A file is read in small batches straight from disk; the result is the bytes path's, exactly."""
    import sleepmoves.ingest.raw as raw

    monkeypatch.setattr(raw, "BATCH_BYTES", 4096)  # many batches: their seams are where bugs would be
    text = _csv(_signal(seconds=60), iso=iso).encode()
    data = gzip.compress(text) if compress else text
    path = write(tmp_path / ("x.csv.gz" if compress else "x.csv"), data)
    from_bytes = read_raw_csv(data, "x.csv", tz="UTC" if iso else None)
    from_file = read_raw_csv(path, "x.csv", tz="UTC" if iso else None)
    assert np.array_equal(from_bytes[0], from_file[0])
    assert np.array_equal(from_bytes[1]["unknown"], from_file[1]["unknown"])
    whole = raw._read_whole(raw.pa.BufferReader(text), "x.csv", "UTC" if iso else None, None, True, 2)
    assert np.array_equal(whole[0], from_file[0]) and np.array_equal(
        whole[1]["unknown"], from_file[1]["unknown"]
    )


def test_streaming_errors_name_the_line_in_a_later_batch(tmp_path, monkeypatch):
    import sleepmoves.ingest.raw as raw

    monkeypatch.setattr(raw, "BATCH_BYTES", 4096)
    lines = _csv(_signal(seconds=60)).splitlines()
    bad = list(lines)
    bad[2000] = bad[2000].rsplit(",", 1)[0] + ",oops"
    path = write(tmp_path / "bad.csv", "\n".join(bad) + "\n")
    with pytest.raises(BadInputError, match=r"bad.csv:2001: column z: not a number: 'oops'"):
        read_raw_csv(path, "bad.csv")
    back = list(lines)
    back[2500], back[2501] = back[2501], back[2500]
    path = write(tmp_path / "back.csv", "\n".join(back) + "\n")
    with pytest.raises(BadInputError, match=r"back.csv:2502: column timestamp: time does not increase"):
        read_raw_csv(path, "back.csv")
    mixed = _csv(_signal(seconds=60), iso=True).splitlines()
    mixed = mixed[:1500] + [line.replace(",", "+00:00,", 1) for line in mixed[1500:]]
    path = write(tmp_path / "mixed.csv", "\n".join(mixed) + "\n")
    with pytest.raises(BadInputError, match="some times have a UTC offset and some do not"):
        read_raw_csv(path, "mixed.csv", tz="UTC")
