"""Parent diaries: Baby Connect (real export), Huckleberry and the generic diary CSV."""

import pandas as pd
import pytest

from dashboard.figures import night_figure
from pipeline.ingest import detect_format, ingest_file
from pipeline.ingest.logs import BadInputError
from pipeline.lake import Lake
from pipeline.nights import night_bounds
from tests.conftest import SHARED_DATA, write

HUCKLEBERRY = """Type,Start,End,Duration,Start Condition,Start Location,End Condition,Notes
Sleep,2026-03-02 19:40,2026-03-03 06:10,10:30,Upset,Crib,Woke up child,
Feed,2026-03-03 02:15,2026-03-03 02:35,00:20,Bottle,,,4oz
Diaper,2026-03-03 02:40,,,Wet,,,
"""


@pytest.fixture
def lake(tmp_path) -> Lake:
    lake = Lake(tmp_path / "lake")
    lake.add_subject("eva", "America/New_York", born="2025-12-01")
    return lake


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data is absent (not a project checkout)")
def test_baby_connect_export(lake):
    path = SHARED_DATA / "logs" / "babyconnect_eva.csv"
    assert detect_format(path.read_bytes(), str(path)) == "babyconnect"
    with pytest.raises(BadInputError, match="pass --tz"):
        ingest_file(lake, path, "eva")
    report = ingest_file(lake, path, "eva", tz="America/New_York")
    assert report.format == "babyconnect" and len(report.result.nights) > 300
    # "12/12/20 7:47 PM,12/13/20 7:20 AM,693,Sleep,,,Eva slept in her crib (11h33m)"
    night = lake.diary("eva", "2020-12-12")
    sleep = night[night["note"] == "Eva slept in her crib (11h33m)"].iloc[0]
    assert sleep["activity"] == "sleep"
    assert sleep["start"] == pd.Timestamp("2020-12-13T00:47:00Z") and sleep["end"] == pd.Timestamp(
        "2020-12-13T12:20:00Z"
    )
    assert set(lake.read("diary", ["eva"])["activity"]) == {"sleep", "feed", "other"}


def test_huckleberry_export(lake, tmp_path):
    path = write(tmp_path / "huck.csv", HUCKLEBERRY)
    report = ingest_file(lake, path, "eva", tz="America/New_York")
    assert report.format == "huckleberry" and report.result.nights == ["2026-03-02"]
    diary = lake.diary("eva", "2026-03-02")
    assert list(diary["activity"]) == ["sleep", "feed", "diaper"]
    assert diary["start"].iloc[0] == pd.Timestamp("2026-03-03T00:40:00Z")


def test_generic_diary_with_offsets_needs_no_tz(lake, tmp_path):
    path = write(
        tmp_path / "d.csv",
        "start,end,activity,note\n2026-03-02T19:30:00-05:00,2026-03-03T06:00:00-05:00,sleep,\n2026-03-03T01:10:00-05:00,,Visit,rocked back\n",
    )
    ingest_file(lake, path, "eva")
    diary = lake.diary("eva", "2026-03-02")
    assert list(diary["activity"]) == ["sleep", "visit"] and diary["note"].iloc[1] == "rocked back"


def test_bad_diary_rows_are_named(lake, tmp_path):
    path = write(
        tmp_path / "d.csv",
        "start,end,activity\n2026-03-02T19:30:00Z,2026-03-02T18:00:00Z,sleep\nlater,,feed\n",
    )
    with pytest.raises(BadInputError) as info:
        ingest_file(lake, path, "eva")
    assert "d.csv:2: column end: ends before it starts" in str(info.value)
    assert "d.csv:3: column start: not a time: 'later'" in str(info.value)


def test_diary_is_drawn_on_its_own_row(lake, tmp_path):
    ingest_file(lake, write(tmp_path / "huck.csv", HUCKLEBERRY), "eva", tz="America/New_York")
    diary = lake.diary("eva", "2026-03-02")
    events = pd.DataFrame(
        {"start": pd.to_datetime([], utc=True), "duration_s": [], "limb": [], "kind": [], "intensity": []}
    )
    fig = night_figure(
        events.iloc[:0].rename(columns={"start": "epoch_start"}).assign(phase=[]),
        events,
        "America/New_York",
        night_bounds("2026-03-02", "America/New_York")[0],
        diary=diary,
    )
    names = {t.name for t in fig.data}
    assert {"diary: asleep", "diary: feed", "diary: nappy"} <= names
    assert "diary" in fig.layout.yaxis3.categoryarray
