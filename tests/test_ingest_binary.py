"""Binary raw files checked value by value against the references in ../shared/data/raw."""

import numpy as np
import pandas as pd
import pytest

from sleepmoves.ingest import ingest_file
from sleepmoves.ingest.binary import read_binary, sniff_binary_format, unpack_12bit
from sleepmoves.ingest.logs import BadInputError
from sleepmoves.lake import Lake
from tests.conftest import SHARED_DATA, write

RAW = SHARED_DATA / "raw"
needs_data = pytest.mark.skipif(
    not SHARED_DATA.exists(), reason="../shared/data is absent (not a project checkout)"
)


def test_unpack_12bit_twos_complement():
    # 0x7FF = 2047, 0x800 = -2048, 0xFFF = -1, 0x001 = 1
    packed = np.array([0x7F, 0xF8, 0x00, 0xFF, 0xF0, 0x01], dtype=np.uint8)
    assert unpack_12bit(packed).tolist() == [2047, -2048, -1, 1]


@needs_data
def test_gt3x_matches_actilife_export_value_by_value():
    times, acc, fs, _ = read_binary((RAW / "neo.gt3x").read_bytes(), "neo.gt3x", "gt3x", None)
    ref = pd.read_csv(RAW / "neo.csv", skiprows=10).to_numpy()
    assert fs == 30 and acc.shape == ref.shape
    assert np.array_equal(np.round(acc.astype("float64"), 3), ref)
    # ActiLife: Start 12/20/2021 11:55:00 local; the file's own zone is UTC-6
    assert pd.Timestamp(times[0], tz="UTC") == pd.Timestamp("2021-12-20T17:55:00Z")


@needs_data
@pytest.mark.parametrize(
    ("name", "fmt", "fs"),
    [
        ("small.gt3x", "gt3x", 30),
        ("actigraph_testfile.gt3x", "gt3x", 30),
        ("ax6_testfile.cwa", "cwa", 100),
        ("GENEActiv_testfile.bin", "geneactiv-bin", 85.7),
    ],
)
def test_other_binary_files_decode_to_one_g_at_rest(name, fmt, fs):
    data = (RAW / name).read_bytes()
    assert sniff_binary_format(data) == fmt
    times, acc, got_fs, notes = read_binary(data, name, fmt, "Europe/London")
    assert got_fs == fs and len(acc) > 1000
    assert 0.9 < np.median(np.linalg.norm(acc, axis=1)) < 1.1  # gravity
    assert (np.diff(times) > 0).mean() > 0.99
    assert notes == []  # nothing damaged, nothing to tell


@needs_data
def test_truncated_gt3x_is_a_clear_error(tmp_path):
    cut = write(tmp_path / "cut.gt3x", (RAW / "small.gt3x").read_bytes()[:200_000])
    lake = Lake(tmp_path / "lake")
    lake.add_subject("dev", "UTC")
    with pytest.raises(BadInputError, match="cannot read as gt3x: BadZipFile"):
        ingest_file(lake, cut, "dev", tz="UTC")


@needs_data
def test_binary_night_reaches_the_lake_as_events_and_coverage(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.add_subject("dev", "America/Chicago")
    report = ingest_file(lake, RAW / "small.gt3x", "dev", tz="America/Chicago", limb="right_leg")
    assert report.format == "gt3x"
    events = lake.read("events", ["dev"], report.result.nights)
    assert len(events) > 100 and set(events["limb"]) == {"right_leg"} and set(events["source"]) == {"sensor"}
    counts = lake.read("counts", ["dev"], report.result.nights)
    assert len(counts) > 250 and counts["valid"].any()  # ~2.4 h of 30-s epochs
