"""Parent diaries: Baby Connect (real export), Huckleberry and the generic diary CSV."""

import datetime as dt
import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sleepmoves.dashboard.figures import night_figure
from sleepmoves.ingest import detect_format, ingest_file
from sleepmoves.ingest.logs import BadInputError
from sleepmoves.lake import Lake
from sleepmoves.nights import night_bounds
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


def test_a_start_and_duration_export_is_a_diary_of_sleeps(lake, tmp_path):
    """The common baby-app shape, one row per sleep with its start and length (``date,duration(min)``): recognised
    by its content, each row a sleep ending start + length."""
    path = write(tmp_path / "sleeps.csv", "date,duration(min)\n2026-03-02 19:40,630\n2026-03-03 13:05,45\n")
    report = ingest_file(lake, path, "eva", tz="America/New_York")
    assert report.format == "diary-csv"
    diary = lake.read("diary", ["eva"]).sort_values("start", ignore_index=True)
    assert list(diary["activity"]) == ["sleep", "sleep"]
    assert diary["start"].iloc[0] == pd.Timestamp("2026-03-03T00:40:00Z")
    assert diary["end"].iloc[0] == pd.Timestamp("2026-03-03T11:10:00Z")  # 630 min later
    assert diary["end"].iloc[1] - diary["start"].iloc[1] == pd.Timedelta(minutes=45)


@pytest.mark.parametrize(
    ("header", "value", "minutes"),
    [
        ("Start Time,Duration", "1:30", 90),
        ("time,length", "75", 75),
        ("from,duration (h)", "1.5", 90),
        ("datetime,Duration(s)", "5400", 90),
        ("start,end", None, 90),
    ],
)
def test_diary_shapes_say_start_and_length_in_their_own_words(lake, tmp_path, header, value, minutes):
    second = value if value is not None else "2026-03-02T21:00:00-05:00"
    path = write(tmp_path / "d.csv", f"{header}\n2026-03-02T19:30:00-05:00,{second}\n")
    ingest_file(lake, path, "eva")
    row = lake.read("diary", ["eva"]).iloc[0]
    assert row["activity"] == "sleep" and row["end"] - row["start"] == pd.Timedelta(minutes=minutes)


def test_a_diary_without_a_start_or_a_length_is_refused_with_what_to_write(lake, tmp_path):
    path = write(tmp_path / "d.csv", "when,what\n2026-03-02T19:30:00Z,sleep\n")
    with pytest.raises(
        BadInputError, match="a diary needs a start column and an end, a duration or an activity"
    ):
        ingest_file(lake, path, "eva", fmt="diary-csv")
    bad = write(
        tmp_path / "bad.csv", "date,duration(min)\n2026-03-02T19:30:00Z,forever\n2026-03-02T21:30:00Z,-5\n"
    )
    with pytest.raises(BadInputError) as info:
        ingest_file(lake, bad, "eva")
    assert "bad.csv:2: column duration(min): not a length of 0 to 24 h: 'forever'" in str(info.value)
    assert "bad.csv:3: column duration(min)" in str(info.value)
    assert lake.read("diary", ["eva"]).empty  # nothing stored


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data is absent (not a project checkout)")
def test_an_app_format_forced_on_another_shape_says_so_once(lake):
    path = SHARED_DATA / "logs" / "babyconnect_eva.csv"
    with pytest.raises(BadInputError) as info:
        ingest_file(lake, path, "eva", tz="America/New_York", fmt="huckleberry")
    message = str(info.value)
    assert "not a huckleberry export: no column Start, End, Type" in message and message.count("\n") < 5


def test_a_movement_log_with_durations_stays_a_movement_log():
    log = b"start,duration_s,limb,kind,intensity\n2026-03-02T20:00:00Z,0.2,left_leg,twitch,0.3\n"
    assert detect_format(log, "log.csv") != "diary-csv"


@given(
    start=st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1)),
    minutes=st.integers(min_value=0, max_value=24 * 60),
    as_clock=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_a_length_in_minutes_or_h_mm_ends_the_entry_that_much_later(start, minutes, as_clock):
    from sleepmoves.ingest.diary import read_diary

    length = f"{minutes // 60}:{minutes % 60:02d}" if as_clock else str(minutes)
    text = f"start,duration\n{start.replace(second=0, microsecond=0).isoformat()},{length}\n"
    rows = read_diary(text.encode(), "d.csv", "diary-csv")
    assert rows["end"].iloc[0] - rows["start"].iloc[0] == pd.Timedelta(minutes=minutes)


def test_a_night_known_only_from_a_diary_gets_a_page_without_phases(lake, tmp_path):
    """A parent's records alone (no movement data) give a night: its sleeps as written, wakings between them,
    naps and the 24-hour total, and no sleep phases claimed."""
    from sleepmoves.dashboard.figures import summary_items
    from sleepmoves.dashboard.views import night_view
    from sleepmoves.process import process

    path = write(
        tmp_path / "sleeps.csv",
        "start,end,activity\n"
        "2026-03-02T13:00:00-05:00,2026-03-02T14:30:00-05:00,nap\n"
        "2026-03-02T19:30:00-05:00,2026-03-03T01:00:00-05:00,sleep\n"
        "2026-03-03T01:00:00-05:00,,feed\n"
        "2026-03-03T01:20:00-05:00,2026-03-03T06:30:00-05:00,sleep\n",
    )
    ingest_file(lake, path, "eva")
    process(lake)
    assert lake.nights("eva") == ["2026-03-02"]
    metrics = lake.night_summary("eva", "2026-03-02")
    assert metrics["scored_from_diary"] and "diary" in metrics["sleepwake"]
    assert metrics["total_sleep_min"] == 330 + 310  # 19:30-01:00 and 01:20-06:30, as written
    assert metrics["waso_min"] == 20 and metrics["naps"] == 1 and metrics["nap_min"] == 90
    assert pd.isna(metrics["min_active"])  # a diary says asleep, never which phase
    figure, shown, tz, _ = night_view(lake, "eva", "2026-03-02")
    words = {title: value for title, value, _ in summary_items(shown, tz)}
    assert words["Total sleep"] == "10 h 40 min" and words["Sleep phases"] == "not known"
    assert len(figure.data) > 0


# Sleep exports of four more baby apps, written from the columns and time forms their exports show in public
# repositories (the README lists where): each is recognised by content and read as a diary of sleeps.
APP_SLEEP_EXPORTS = {
    # Baby Tracker (babytrackers.com): one file per activity; sleep.csv starts and lengths, "M/D/YY, HH:MM"
    "baby-tracker": (
        'Baby,Time,Duration(minutes),Note\nBaby,"3/2/26, 19:40",630,\nBaby,"3/3/26, 13:05",45\n',
        [("2026-03-02 19:40", 630), ("2026-03-03 13:05", 45)],
    ),
    # Glow Baby: glow_sleep.csv, begin and end, "MM/DD/YYYY h:mm:ss AM/PM"
    "glow": (
        "Begin time,End time\n03/02/2026 7:40:00 PM,03/03/2026 6:10:00 AM\n03/03/2026 1:05:00 PM,03/03/2026 1:50:00 PM\n",
        [("2026-03-02 19:40", 630), ("2026-03-03 13:05", 45)],
    ),
    # Baby Buddy (open source): the Sleep model's export, ISO times without an offset, nap 0/1
    "baby-buddy": (
        "id,child_id,child_first_name,child_last_name,start,end,nap,notes,tags\n"
        "1,4,Eva,Doe,2026-03-02 19:40:00,2026-03-03 06:10:00,0,,\n2,4,Eva,Doe,2026-03-03 13:05:00,2026-03-03 13:50:00,1,,\n",
        [("2026-03-02 19:40", 630), ("2026-03-03 13:05", 45)],
    ),
    # Feed Baby: sleeps.csv, "h:mmAM MM-DD-YYYY", an approximate length beside the end
    "feed-baby": (
        "id,Start Time,End Time,Notes,Approximate Duration (Minutes)\n"
        "1,07:40PM 03-02-2026,06:10AM 03-03-2026,,630\n2,01:05PM 03-03-2026,01:50PM 03-03-2026,,45\n",
        [("2026-03-02 19:40", 630), ("2026-03-03 13:05", 45)],
    ),
}


@pytest.mark.parametrize("app", sorted(APP_SLEEP_EXPORTS))
def test_baby_app_sleep_exports_get_in(lake, tmp_path, app):
    text, expected = APP_SLEEP_EXPORTS[app]
    path = write(tmp_path / f"{app}.csv", text)
    assert detect_format(path.read_bytes(), str(path)) == "diary-csv"
    ingest_file(lake, path, "eva", tz="America/New_York")
    diary = lake.read("diary", ["eva"]).sort_values("start", ignore_index=True)
    assert list(diary["activity"]) == ["sleep", "sleep"]
    for (start, minutes), row in zip(expected, diary.itertuples(), strict=True):
        assert row.start == pd.Timestamp(start, tz="America/New_York").tz_convert("UTC")
        assert row.end - row.start == pd.Timedelta(minutes=minutes)


@pytest.mark.parametrize("app", sorted(APP_SLEEP_EXPORTS))
def test_a_damaged_app_export_names_its_bad_line(lake, tmp_path, app):
    text, _ = APP_SLEEP_EXPORTS[app]
    lines = text.splitlines()
    lines.insert(2, lines[1].replace(":", "x", 1))  # a garbled copy of the first row
    path = write(tmp_path / f"{app}.csv", "\n".join(lines) + "\n")
    with pytest.raises(BadInputError) as info:
        ingest_file(lake, path, "eva", tz="America/New_York")
    assert f"{app}.csv:3: column " in str(info.value) and "not a time" in str(info.value)
    assert lake.read("diary", ["eva"]).empty


def _zipped(names: list[str]) -> bytes:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            archive.writestr(name, "<x/>" * 100)
    return out.getvalue()


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (
            lambda: _zipped(
                ["[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/worksheets/sheet1.xml"]
            ),
            "an Excel workbook (.xlsx): save the sheet as CSV",
        ),
        (
            lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512),
            "an Excel workbook (.xls): save the sheet as CSV",
        ),
        (
            lambda: _zipped(["Index/Document.iwa", "Metadata/Properties.plist"]),
            "an Apple Numbers file: export it as CSV",
        ),
        (
            lambda: b"time;kind;limb\n2026-03-02T20:00:00Z;twitch;left_leg\n",
            "values are separated by semicolons",
        ),
        (
            lambda: b"start;end;activity\n2026-03-02T19:30:00Z;2026-03-03T06:00:00Z;sleep\n",
            "values are separated by semicolons",
        ),
    ],
)
def test_a_spreadsheet_or_a_semicolon_csv_is_refused_with_what_to_do(lake, tmp_path, content, said):
    path = write(tmp_path / "from-a-spreadsheet", content())
    fmt = "diary-csv" if b"activity" in content() else "auto"
    with pytest.raises(BadInputError, match=re.escape(said)):
        ingest_file(lake, path, "eva", fmt=fmt)
    assert lake.read("events", ["eva"]).empty and lake.read("diary", ["eva"]).empty


TWICE = """start,end,activity,note
2026-03-02T19:00:00,2026-03-02T23:00:00,sleep,
2026-03-02T23:10:00,2026-03-02T23:30:00,feed,
2026-03-02T23:10:00,2026-03-02T23:30:00,feed,
2026-03-02T23:40:00,2026-03-03T03:00:00,sleep,
2026-03-03T02:30:00,2026-03-03T06:00:00,sleep,
2026-03-03T04:00:00,,diaper,
"""


def test_entries_written_twice_are_stored_once_and_overlaps_are_named(lake, tmp_path):
    report = ingest_file(lake, write(tmp_path / "d.csv", TWICE), "eva", tz="America/New_York")
    said = " | ".join(report.notes)
    assert (
        "1 entry written twice, stored once: line 4 repeats line 3 (feed Mon 2 Mar 2026 23:10–23:30)" in said
    )
    assert "1 sleep overlapping an earlier one" in said and "lines 5 and 6" in said
    stored = lake.read("diary", ["eva"])
    assert len(stored) == 5 and (stored["activity"] == "feed").sum() == 1
    assert (stored["activity"] == "sleep").sum() == 3  # an overlap is stored as written


def test_a_later_export_over_a_longer_span_does_not_store_the_same_entries_twice(lake, tmp_path):
    ingest_file(lake, write(tmp_path / "march.csv", TWICE), "eva", tz="America/New_York")
    longer = TWICE + "2026-03-03T19:30:00,2026-03-04T06:00:00,sleep,\n"
    report = ingest_file(lake, write(tmp_path / "march-again.csv", longer), "eva", tz="America/New_York")
    assert report.result.rows == 1
    assert any("5 entries already stored from march.csv: not stored twice" in n for n in report.notes)
    stored = lake.read("diary", ["eva"])
    assert len(stored) == 6 and not stored.duplicated(["start", "end", "activity"]).any()


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data is absent (not a project checkout)")
def test_the_real_baby_connect_export_has_two_parents_logging_the_same_sleep(lake):
    # lines 2030/2031 are one nap logged by two caregivers ("…,U" and "…,A"); 4151/4153 the same night sleep
    # with ends two minutes apart
    report = ingest_file(lake, SHARED_DATA / "logs" / "babyconnect_eva.csv", "eva", tz="America/New_York")
    said = " | ".join(report.notes)
    assert "line 2031 repeats line 2030 (sleep Wed 6 May 2020 16:17–17:11)" in said
    assert "lines 4153 and 4151" in said
    assert not lake.read("diary", ["eva"]).duplicated(["start", "end", "activity"]).any()
