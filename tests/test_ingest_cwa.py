"""Axivity CWA: decoded value by value against references; damaged, cut, shuffled files never crash the process.

The damage cases are the ones that took the previous (Fortran) reader down: a file cut inside its first data
block ended the interpreter, and whole blocks removed made it write past its arrays (a segmentation fault).
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sleepmoves.ingest import ingest_file
from sleepmoves.ingest.binary import read_binary
from sleepmoves.ingest.cwa import SECTOR, CwaError, decode_cwa
from sleepmoves.ingest.logs import BadInputError
from sleepmoves.lake import Lake
from tests.conftest import SHARED_DATA

RAW = SHARED_DATA / "raw"
CLEAN = RAW / "ax3_testfile.cwa"
CORRUPT = RAW / "ax3_testfile_corrupt_blocks_0_13_14_142_143_144.cwa"
HEADER = 1024
pytestmark = pytest.mark.skipif(
    not SHARED_DATA.exists(), reason="../shared/data is absent (not a project checkout)"
)


def _blocks(data: bytes) -> list[bytes]:
    return [data[i : i + SECTOR] for i in range(HEADER, len(data), SECTOR)]


def test_ax3_matches_scikit_digital_health_reference_arrays():
    ref = np.load(RAW / "ax3_data.npz")
    times, acc, fs, notes = read_binary((RAW / "ax3_sample.cwa").read_bytes(), "ax3_sample.cwa", "cwa", "UTC")
    assert fs == 200 and acc.shape == ref["accel"].shape and notes == []
    assert np.array_equal(acc, ref["accel"].astype("float32"))
    # the reference times each block at its whole second at the nominal rate; we, as Open Movement's tools,
    # use the block's fraction of a second and the rate between blocks: within two samples of each other
    assert np.abs(times / 1e9 - ref["time"]).max() < 2 / fs


def test_ax6_accelerometer_matches_its_csv_export():
    ref = pd.read_csv(RAW / "ax6_testfile_formatted_timestamps.csv", header=None)
    recording = decode_cwa((RAW / "ax6_testfile.cwa").read_bytes())
    n = len(ref)
    assert recording.fs == 100
    assert np.abs(recording.accel[:n] - ref[[1, 2, 3]].to_numpy()).max() < 1e-6  # the CSV keeps 6 decimals
    ref_seconds = (pd.to_datetime(ref[0]) - pd.Timestamp("1970-01-01")).dt.total_seconds().to_numpy()
    assert np.abs(recording.local_seconds[:n] - ref_seconds).max() < 2 / recording.fs


def test_damaged_blocks_are_gaps_and_every_other_sample_is_unchanged():
    clean = decode_cwa(CLEAN.read_bytes())
    damaged = decode_cwa(CORRUPT.read_bytes())
    assert (damaged.blocks, damaged.damaged) == (145, 6)
    assert "6 of 145 data blocks are damaged" in damaged.note()
    per_block = 120
    kept = np.ones(len(clean.accel), dtype=bool)
    for block in (0, 13, 14, 142, 143, 144):  # the file's name says which
        kept[block * per_block : (block + 1) * per_block] = False
    assert np.array_equal(damaged.accel, clean.accel[kept])  # no 0 g stand-ins, no shifted samples
    assert np.abs(damaged.local_seconds - clean.local_seconds[kept]).max() < 0.001


def test_a_file_with_damaged_blocks_ingests_and_the_user_is_told(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.add_subject("dev", "Europe/London")
    report = ingest_file(lake, CORRUPT, "dev", tz="Europe/London", limb="left_leg")
    assert report.format == "cwa"
    assert any("6 of 145 data blocks are damaged" in note for note in report.notes)
    clean = decode_cwa(CLEAN.read_bytes())
    gap_start = pd.Timestamp(clean.local_seconds[13 * 120], unit="s").tz_localize("Europe/London")
    gap_end = pd.Timestamp(clean.local_seconds[15 * 120 - 1], unit="s").tz_localize("Europe/London")
    events = lake.read("events", ["dev"], report.result.nights)
    assert not events["start"].between(gap_start, gap_end).any()  # nothing detected where no data was


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (10, "not a CWA file|ends before"),
        (1030, "ends before its first data block"),  # inside the first data block
        (1023, "ends before its first data block"),
    ],
)
def test_a_file_cut_short_is_a_clear_error_not_a_crash(cut, message):
    data = CLEAN.read_bytes()[:cut]
    with pytest.raises(BadInputError, match=message):
        read_binary(data, "cut.cwa", "cwa", "Europe/London")


def test_blocks_missing_from_the_middle_leave_a_gap_in_time():
    data = CLEAN.read_bytes()
    blocks = _blocks(data)
    shortened = data[:HEADER] + b"".join(blocks[:5] + blocks[55:])  # 50 blocks gone (crashed the old reader)
    whole = decode_cwa(data)
    cut = decode_cwa(shortened)
    assert len(cut.accel) == len(whole.accel) - 50 * 120
    assert np.array_equal(cut.accel, np.concatenate([whole.accel[: 5 * 120], whole.accel[55 * 120 :]]))
    jump = np.diff(cut.local_seconds).max()
    assert 45 < jump < 70  # ~50 blocks of 120 samples at 100 Hz, not spread over the samples around it


def test_blocks_out_of_order_are_refused_naming_the_block():
    data = CLEAN.read_bytes()
    blocks = _blocks(data)
    blocks[20], blocks[90] = blocks[90], blocks[20]
    with pytest.raises(CwaError, match="clock goes back at data block"):
        decode_cwa(data[:HEADER] + b"".join(blocks))


def test_a_file_of_only_damaged_blocks_is_refused():
    data = bytearray(CLEAN.read_bytes())
    for at in range(HEADER + 100, len(data), SECTOR):
        data[at] ^= 0xFF
    with pytest.raises(BadInputError, match="none of its 145 data blocks can be read"):
        read_binary(bytes(data), "bad.cwa", "cwa", "Europe/London")


@st.composite
def block_edits(draw, blocks: list[bytes]) -> list[bytes]:
    """Whole-block edits a copy or a card can make: drop, repeat, swap, cut, flip bytes."""
    blocks = list(blocks)
    for _ in range(draw(st.integers(1, 4))):
        if not blocks:
            break
        i = draw(st.integers(0, len(blocks) - 1))
        kind = draw(st.sampled_from(["drop", "repeat", "swap", "cut", "flip"]))
        if kind == "drop":
            del blocks[i : i + draw(st.integers(1, 60))]
        elif kind == "repeat":
            blocks.insert(i, blocks[draw(st.integers(0, len(blocks) - 1))])
        elif kind == "swap":
            j = draw(st.integers(0, len(blocks) - 1))
            blocks[i], blocks[j] = blocks[j], blocks[i]
        elif kind == "cut":
            blocks = blocks[:i] + [blocks[i][: draw(st.integers(0, SECTOR - 1))]]
        else:
            at = draw(st.integers(0, SECTOR - 1))
            block = bytearray(blocks[i])
            block[at : at + 4] = draw(st.binary(min_size=1, max_size=4))
            blocks[i] = bytes(block[:SECTOR])
    return blocks


CLEAN_BLOCKS = _blocks(CLEAN.read_bytes()) if CLEAN.exists() else []


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(block_edits(CLEAN_BLOCKS))
def test_any_block_level_damage_decodes_in_time_order_or_is_refused(blocks):
    data = CLEAN.read_bytes()[:HEADER] + b"".join(blocks)
    try:
        recording = decode_cwa(data)
    except CwaError as exc:
        assert str(exc)
        return
    assert len(recording.accel) == len(recording.local_seconds) > 0
    assert (np.diff(recording.local_seconds) > 0).all()
    assert np.isfinite(recording.accel).all() and np.abs(recording.accel).max() <= 16
    assert 0 <= recording.damaged <= recording.blocks
