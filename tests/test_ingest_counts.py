"""Every actigraphy count export under ../shared/data ingests, with its epochs in the right place."""

import numpy as np
import pandas as pd
import pytest

from sleepmoves.ingest import detect_format, ingest_file
from sleepmoves.ingest.counts import BadInputError, read_counts
from sleepmoves.ingest.raw import maybe_gunzip
from sleepmoves.lake import Lake
from sleepmoves.process import process
from tests.conftest import SHARED_DATA, write

pytestmark = pytest.mark.skipif(
    not SHARED_DATA.exists(), reason="../shared/data is absent (not a project checkout)"
)

# file, format, epoch length (s), first epoch as written by the device (local time), epochs
COUNT_FILES = [
    ("actigraphy/example_01.AWD", "awd", 60, "1918-01-23 13:58", 18401),
    ("actigraphy/example_02.AWD", "awd", 60, "1918-01-23 13:52", 18413),
    ("actigraphy/example_03.AWD", "awd", 60, "1918-01-23 14:03", 21456),
    ("raw/Actiwatch.AWD", "awd", 60, "2009-10-01 17:00", 329),
    ("actigraphy/test_sample.agd", "agd", 10, "2019-04-15 15:00", 5394),
    ("ankle/GT3XPlus-RawData-Day01.agd", "agd", 10, "2012-06-27 10:54", 8999),
    ("actigraphy/test_sample.mtn", "mtn", 5, "2018-05-23 17:30", 5978),
    ("actigraphy/test_sample_atr.txt", "acttrust", 60, "1918-01-01 09:00", 5760),
    ("actigraphy/test_sample_rpx_eng.csv", "rpx", 30, "2015-07-04 09:45", 20160),
    ("raw/Actiwatch.csv", "rpx", 15, "2019-11-23 06:00", 860),
    ("raw/ActiGraph13.csv", "actilife-csv", 15, "2013-08-26 09:00", 990),
    ("raw/ActiGraph61.csv", "actilife-csv", 5, "2016-08-15 21:35", 990),
    ("raw/Actical.csv", "actical", 60, "2021-05-13 00:00", 501),
]


@pytest.mark.parametrize(("name", "fmt", "epoch_s", "first", "n"), COUNT_FILES)
def test_count_exports_read_as_written(name, fmt, epoch_s, first, n):
    data = (SHARED_DATA / name).read_bytes()
    assert detect_format(data, name) == fmt
    read = read_counts(data, name, fmt)
    assert read.epoch_s == epoch_s and len(read.count) == n
    assert read.times.iloc[0] == pd.Timestamp(first)
    steps = read.times.diff().dt.total_seconds().dropna()
    assert (steps == epoch_s).mean() > 0.99  # ActTrust stamps a few epochs seconds late
    assert np.nanmax(read.count) > 0


def test_iso_and_biobank_csvs_carry_their_own_zone():
    read = read_counts(
        (SHARED_DATA / "ankle/GT3XPlus-RawData-Day01.csv").read_bytes(), "x", "actigraph-iso-csv"
    )
    # ActiLife's "Z" is not a zone: the device's local clock, as in its AGD (--tz places it)
    assert read.times.iloc[0] == pd.Timestamp("2012-06-27T10:54:00") and read.epoch_s == 10 and read.z_local
    data = maybe_gunzip((SHARED_DATA / "actigraphy/sample-timeSeries.csv.gz").read_bytes(), "x")
    assert detect_format(data, "x") == "ukb-csv"
    read = read_counts(data, "x", "ukb-csv")
    assert read.times.iloc[0] == pd.Timestamp("2014-05-07T12:29:50.439Z") and read.epoch_s == 30


def test_actiware_off_wrist_epochs_are_no_data():
    read = read_counts((SHARED_DATA / "raw/Actiwatch.csv").read_bytes(), "x", "rpx")
    assert not read.valid[:10].any() and read.valid.any()


def test_local_device_times_need_tz(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.add_subject("kim", "Europe/London")
    with pytest.raises(BadInputError, match="pass --tz ZONE"):
        ingest_file(lake, SHARED_DATA / "raw/ActiGraph13.csv", "kim")
    assert not (tmp_path / "lake" / "counts").exists()


def test_counts_night_is_scored_awake_or_asleep_by_its_device_algorithm(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.add_subject("kim", "Europe/London")  # an archived recording: no birth date (it would be years ago)
    report = ingest_file(lake, SHARED_DATA / "actigraphy/test_sample_rpx_eng.csv", "kim", tz="Europe/London")
    assert report.format == "rpx" and len(report.result.nights) == 8
    process(lake, ["kim"])
    night = lake.nights("kim")[2]
    phases = lake.phases("kim", night)
    assert set(phases["phase"]) == {"awake", "asleep"}  # counts never claim active or quiet sleep
    assert phases["model_version"].iloc[0] == "sleepwake:Actiware, wake threshold 40, 30-s epochs"
    summary = lake.night_summary("kim", night)
    assert 200 < summary["total_sleep_min"] < 900


def test_damaged_agd_is_a_clear_error(tmp_path):
    data = (SHARED_DATA / "actigraphy/test_sample.agd").read_bytes()
    broken = write(tmp_path / "broken.agd", data[:5000])
    lake = Lake(tmp_path / "lake")
    lake.add_subject("kim", "UTC")
    with pytest.raises(BadInputError, match="cannot read as agd"):
        ingest_file(lake, broken, "kim", tz="UTC")


def test_acttrust_event_rows_stand_for_their_epoch():
    """ActTrust writes the epoch where the event button was pressed at the press time (hh:mm:26)."""
    path = SHARED_DATA / "actigraphy/test_sample_atr.txt"
    read = read_counts(path.read_bytes(), str(path), "acttrust")
    assert (read.times.diff().dropna() == pd.Timedelta(minutes=1)).all()
    assert str(read.times.iloc[1014]) == "1918-01-02 01:54:00"  # the row written at 01:54:26
