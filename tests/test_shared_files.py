"""Every real file under ../shared/data ingests, or is refused with the reason the README documents."""

from pathlib import Path

import pytest

from sleepmoves.ingest import ingest_file
from sleepmoves.ingest.logs import BadInputError
from sleepmoves.lake import Lake
from tests.conftest import SHARED_DATA

OUTCOMES = {
    "actigraphy/example_01.AWD": "awd",
    "actigraphy/example_02.AWD": "awd",
    "actigraphy/example_03.AWD": "awd",
    "actigraphy/example_01_sleepdiary.ods": "refused: an OpenDocument spreadsheet",
    "actigraphy/sample-timeSeries.csv.gz": "ukb-csv",
    "actigraphy/test_sample.agd": "agd",
    "actigraphy/test_sample.mtn": "mtn",
    "actigraphy/test_sample_atr.txt": "acttrust",
    "actigraphy/test_sample_rpx_eng.csv": "rpx",
    "ankle/GT3XPlus-RawData-Day01-10sec60sec.csv": "actigraph-iso-csv",
    "ankle/GT3XPlus-RawData-Day01.agd": "agd",
    "ankle/GT3XPlus-RawData-Day01.csv": "actigraph-iso-csv",
    "logs/babyconnect_eva.csv": "babyconnect",
    "raw/ActiGraph13.csv": "actilife-csv",
    "raw/ActiGraph61.csv": "actilife-csv",
    "raw/Actical.csv": "actical",
    "raw/Actiwatch.AWD": "awd",
    "raw/Actiwatch.csv": "rpx",
    "raw/GENEActiv_testfile.bin": "geneactiv-bin",
    "raw/actigraph_testfile.gt3x": "gt3x",
    "raw/ax3_data.npz": "refused: a NumPy archive",
    "raw/ax3_sample.cwa": "cwa",
    "raw/ax3_testfile.cwa": "cwa",
    "raw/ax3_testfile_corrupt_blocks_0_13_14_142_143_144.cwa": "cwa",  # its 6 damaged blocks are gaps
    "raw/ax3_testfile_unix_timestamps.csv": "raw-csv",
    "raw/ax6_testfile.cwa": "cwa",
    "raw/ax6_testfile_formatted_timestamps.csv": "raw-csv",
    "raw/neo.csv": "actilife-csv",
    "raw/neo.gt3x": "gt3x",
    "raw/small.gt3x": "gt3x",
}

pytestmark = pytest.mark.skipif(
    not SHARED_DATA.exists(), reason="../shared/data is absent (not a project checkout)"
)


def test_the_table_covers_every_file():
    present = {
        str(p.relative_to(SHARED_DATA))
        for p in SHARED_DATA.rglob("*")
        if p.is_file() and p.name != "README.md"
    }
    assert present == set(OUTCOMES)


@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_file_ingests_or_is_refused_with_its_reason(tmp_path, name):
    lake = Lake(tmp_path / "lake")
    lake.add_subject("s1", "Europe/London")
    expected = OUTCOMES[name]
    if expected.startswith("refused: "):
        with pytest.raises(BadInputError, match=expected.removeprefix("refused: ")):
            ingest_file(lake, SHARED_DATA / name, "s1", tz="Europe/London", limb="left_leg")
        assert not (Path(lake.root) / "manifest.parquet").exists()
        return
    report = ingest_file(lake, SHARED_DATA / name, "s1", tz="Europe/London", limb="left_leg")
    assert report.format == expected and report.result.nights
    assert lake.manifest()["format"].tolist() == [expected]
