"""Real recordings through the product path: `sleepmoves ingest` + `process`, then the lake is compared with what
the device's own software made of the same recording (Actiware's Sleep/Wake column, ActiLife's Sadeh and Choi).

Agreement figures are printed (`pytest -s`) and asserted; the README's sensor section quotes them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sleepmoves.cli import main
from sleepmoves.ingest.counts import localise, read_counts
from sleepmoves.lake import Lake
from tests.conftest import ROOT, SHARED_DATA

pytestmark = pytest.mark.skipif(
    not SHARED_DATA.exists(), reason="../shared/data is absent (not a project checkout)"
)
ACTILIFE = ROOT / "tests" / "data" / "actilife"
RPX = SHARED_DATA / "actigraphy" / "test_sample_rpx_eng.csv"
AGD = SHARED_DATA / "ankle" / "GT3XPlus-RawData-Day01.agd"
CSV60 = SHARED_DATA / "ankle" / "GT3XPlus-RawData-Day01-10sec60sec.csv"
AWD = SHARED_DATA / "actigraphy" / "example_01.AWD"


def ingest(tmp_path, path, tz: str, subject: str = "baby", *extra) -> Lake:
    """A fresh lake holding one file for one baby, processed: exactly what a user's two commands make."""
    lake = tmp_path / "lake"
    assert main(["subject", "add", subject, "--tz", tz, "--lake", str(lake)]) == 0
    assert main(["ingest", str(path), "--subject", subject, "--tz", tz, "--lake", str(lake), *extra]) == 0
    return Lake(lake)


def sleep_in_lake(lake: Lake, subject: str, times: pd.Series) -> pd.Series:
    """Sleep (True) / wake (False) / no label (NaN) in the lake's phases at each UTC time."""
    phases = lake.read("phases", [subject]).set_index("epoch_start")["phase"]
    found = phases.reindex(pd.DatetimeIndex(times))
    return pd.Series(np.where(found.isna(), np.nan, found.isin(["asleep", "active", "quiet", "transition"])))


def actilife_minutes(tz: str) -> pd.DataFrame:
    """ActiLife's own 60-s epochs and Sadeh scoring of the GT3X+ recording (local clock times)."""
    table = pd.read_csv(ACTILIFE / "GT3XPlus-RawData-Day01-Sadeh.csv")
    local = pd.to_datetime(table["Date"] + " " + table["Time"], format="%m/%d/%Y %I:%M %p")
    return pd.DataFrame(
        {"minute": local.dt.tz_localize(tz).dt.tz_convert("UTC"), "sleep": table["Sleep or Awake?"] == "S"}
    )


def test_actiware_sleep_wake_of_the_english_rpx_is_reproduced(tmp_path):
    tz = "Europe/London"
    lake = ingest(tmp_path, RPX, tz)
    read = read_counts(RPX.read_bytes(), str(RPX), "rpx")
    scored = np.isfinite(read.device_sleep)  # Actiware leaves the first epochs unscored
    times = localise(read.times, tz, str(RPX))[scored]
    theirs = read.device_sleep[scored] == 1
    ours = sleep_in_lake(lake, "baby", times)
    agree = float((ours.to_numpy() == theirs).mean())  # an epoch the lake left unlabelled counts against us
    print(f"\nActiware Sleep/Wake, English RPX: {agree:.2%} of {scored.sum()} scored epochs")
    assert agree >= 0.99
    night = lake.nights_table(["baby"]).iloc[3]
    assert "Actiware, wake threshold 40, 30-s epochs" in night["sleepwake"]  # the file's own threshold


@pytest.mark.parametrize("path", [AGD, CSV60], ids=["agd-10s", "actilife-60s-csv"])
def test_actilife_sadeh_of_the_gt3x_recording_on_worn_minutes(tmp_path, path):
    tz = "Europe/Berlin"  # the recording's zone is not stated; any zone places both files alike
    lake = ingest(tmp_path, path, tz)
    reference = actilife_minutes(tz)
    ours = sleep_in_lake(lake, "baby", reference["minute"])
    worn = ours.notna().to_numpy()
    agree = float((ours[worn].astype(bool).to_numpy() == reference["sleep"].to_numpy()[worn]).mean())
    print(f"\nActiLife Sadeh, {path.name}: {agree:.3%} of {worn.sum()} worn minutes")
    assert agree >= 0.999
    # not worn = ActiLife's Choi period (00:00-02:37 local, 157 min), and nothing else is left unlabelled
    assert (~worn).sum() == 157
    gap = reference["minute"][~worn].dt.tz_convert(tz)
    assert gap.min().strftime("%H:%M") == "00:00" and gap.max().strftime("%H:%M") == "02:36"
    epochs = lake.read("epochs", ["baby"], columns=["epoch_start", "coverage"])
    assert (epochs["coverage"] == "not_worn").sum() == 2 * 157
    nights = lake.nights_table(["baby"])
    assert nights["notworn_min"].sum() == 157
    assert nights["sleepwake"].str.startswith("Sadeh 1994 as ActiLife runs it").all()


def test_a_60s_file_has_no_nodata_epoch_where_no_count_is_missing(tmp_path):
    lake = ingest(tmp_path, AWD, "Europe/Brussels")
    counts = lake.read("counts", ["baby"])
    assert (counts["epoch_s"] == 60).all() and counts["count"].notna().all()
    epochs = lake.read("epochs", ["baby"], columns=["epoch_start", "coverage"]).sort_values("epoch_start")
    first, last = counts["start"].min(), counts["start"].max() + pd.Timedelta(seconds=60)
    inside = epochs[(epochs["epoch_start"] >= first) & (epochs["epoch_start"] < last)]
    assert len(inside) == 2 * len(counts)
    assert not (inside["coverage"] == "no_data").any()
    # every worn minute is two labelled 30-s epochs
    phases = lake.read("phases", ["baby"])
    assert len(phases) == 2 * int(counts["worn"].sum())


def test_a_gap_keeps_every_label_at_its_true_time(tmp_path):
    """Two hours cut out of a 60-s export: every label outside the gap's reach stays at its time."""
    whole = ingest(tmp_path / "whole", CSV60, "Europe/Berlin")
    lines = CSV60.read_text().splitlines(keepends=True)
    cut = tmp_path / "with-gap.csv"
    cut.write_text("".join(lines[:301] + lines[421:]))  # minutes 300-419 (2 h) missing
    gapped = ingest(tmp_path / "gapped", cut, "Europe/Berlin")
    a = whole.read("phases", ["baby"]).set_index("epoch_start")["phase"]
    b = gapped.read("phases", ["baby"]).set_index("epoch_start")["phase"]
    start = pd.Timestamp(lines[301].split(",")[0]).tz_localize(None).tz_localize("Europe/Berlin")
    gap = (a.index >= start.tz_convert("UTC")) & (a.index < (start + pd.Timedelta(hours=2)).tz_convert("UTC"))
    assert not b.index.isin(a.index[gap]).any()  # the gap has no label at all
    reach = pd.Timedelta(minutes=6)  # Sadeh's window reaches 5 minutes on each side
    far = (a.index < start.tz_convert("UTC") - reach) | (
        a.index >= (start + pd.Timedelta(hours=2)).tz_convert("UTC") + reach
    )
    assert (b.reindex(a.index[far]) == a[far]).all()
    epochs = gapped.read("epochs", ["baby"], columns=["epoch_start", "coverage"]).set_index("epoch_start")
    assert (epochs["coverage"].reindex(a.index[gap]) == "no_data").all()


def test_a_device_on_a_table_is_no_data_not_sleep(tmp_path):
    """An Actiwatch left on a table for 18 h records zeros: Choi calls it not worn, and it is never sleep."""
    lines = AWD.read_text().splitlines()
    body = lines[7:]
    table_from, table_to = 3 * 24 * 60, 3 * 24 * 60 + 18 * 60  # day 3 at the start time, for 18 hours
    body[table_from:table_to] = ["0"] * (table_to - table_from)
    path = tmp_path / "on-the-table.AWD"
    path.write_text("\n".join(lines[:7] + body) + "\n")
    lake = ingest(tmp_path, path, "Europe/Brussels")
    counts = lake.read("counts", ["baby"]).sort_values("start", ignore_index=True)
    assert not counts["worn"].iloc[table_from + 5 : table_to - 5].any()
    start = counts["start"].iloc[table_from]
    phases = lake.read("phases", ["baby"]).set_index("epoch_start")
    on_table = phases[(phases.index >= start) & (phases.index < start + pd.Timedelta(hours=18))]
    assert len(on_table) < 20  # only the epochs Choi's window cannot reach at its edges
    assert lake.nights_table(["baby"])["notworn_min"].sum() >= 17 * 60


def test_a_normal_nights_sleep_period_starts_in_the_evening(tmp_path):
    lake = ingest(tmp_path, RPX, "Europe/London")
    nights = lake.nights_table(["baby"])
    full = nights[nights["recorded_min"] > 20 * 60]  # nights recorded from noon to noon
    onsets = pd.to_datetime(full["sleep_onset"], utc=True).dt.tz_convert("Europe/London")
    hours = onsets.dt.hour
    print("\nsleep onsets:", ", ".join(onsets.dt.strftime("%H:%M")))
    assert len(full) >= 4
    assert ((hours >= 17) | (hours < 2)).all()  # evening or around midnight, never the window's noon
    offsets = pd.to_datetime(full["sleep_offset"], utc=True).dt.tz_convert("Europe/London").dt.hour
    assert ((offsets >= 4) & (offsets < 11)).all()


def test_the_sleep_wake_algorithm_can_be_chosen_per_recording_per_baby_and_per_run(tmp_path):
    lake_dir = str(tmp_path / "lake")
    assert (
        main(
            [
                "subject",
                "add",
                "kim",
                "--tz",
                "Europe/London",
                "--sleepwake",
                "cole-kripke",
                "--lake",
                lake_dir,
            ]
        )
        == 0
    )
    assert main(["ingest", str(RPX), "--subject", "kim", "--tz", "Europe/London", "--lake", lake_dir]) == 0
    lake = Lake(lake_dir)
    assert (
        lake.nights_table(["kim"])["sleepwake"].str.startswith("Cole-Kripke 1992 as ActiLife").all()
    )  # the baby's
    assert (
        main(["process", "--sleepwake", "actiware-low", "--lake", lake_dir]) == 0
    )  # this run's, over the baby's
    assert (lake.nights_table(["kim"])["sleepwake"] == "Actiware, wake threshold 20, 30-s epochs").all()
    assert (
        main(["subject", "add", "kim", "--tz", "Europe/London", "--sleepwake", "auto", "--lake", lake_dir])
        == 0
    )
    assert main(["process", "--lake", lake_dir]) == 0  # back to the device's own, with the file's threshold
    assert (lake.nights_table(["kim"])["sleepwake"] == "Actiware, wake threshold 40, 30-s epochs").all()
    other = str(tmp_path / "other")
    assert main(["subject", "add", "kim", "--tz", "Europe/London", "--lake", other]) == 0
    args = ["ingest", str(RPX), "--subject", "kim", "--tz", "Europe/London", "--sleepwake", "actiware-high"]
    assert main([*args, "--lake", other]) == 0  # kept with the recording
    assert (
        Lake(other).nights_table(["kim"])["sleepwake"] == "Actiware, wake threshold 80, 30-s epochs"
    ).all()


def test_the_gt3x_nights_period_ends_where_actilifes_tudor_locke_period_ends(tmp_path):
    """ActiLife's default Tudor-Locke period is 00:03-07:38 with 13 min awake; 00:00-02:37 was not worn (Choi),
    which is no data here, so the lake's period starts when the sensor is back on and ends where ActiLife's does."""
    tz = "Europe/Berlin"
    lake = ingest(tmp_path, AGD, tz)
    night = lake.night_summary("baby", "2012-06-27")
    local = {
        k: pd.Timestamp(night[k]).tz_convert(tz).strftime("%H:%M") for k in ("sleep_onset", "sleep_offset")
    }
    assert local == {"sleep_onset": "02:37", "sleep_offset": "07:38"}
    assert night["waso_min"] == 13.0 and night["notworn_min"] == 157.0
    assert night["naps"] >= 1  # the evening dozes are naps, not the night's onset


def test_a_log_beside_actigraphy_counts_labels_only_what_the_log_watched(tmp_path):
    """A parent's log of one night beside a week of Actiwatch counts: outside the log's hours the counts say
    awake / asleep; nothing the log did not watch becomes quiet sleep."""
    tz = "Europe/London"
    lake = ingest(tmp_path, RPX, tz)
    counts_only = lake.phases("baby", "2015-07-05").set_index("epoch_start")["phase"]
    times = pd.date_range("2015-07-05T19:00", "2015-07-06T06:00", freq="2min", tz=tz)
    log = tmp_path / "log.csv"
    log.write_text("start,kind,limb\n" + "".join(f"{t.isoformat()},twitch,left_leg\n" for t in times))
    assert main(["ingest", str(log), "--subject", "baby", "--lake", str(lake.root)]) == 0
    phases = lake.phases("baby", "2015-07-05").set_index("epoch_start")
    afternoon = phases.loc[pd.Timestamp("2015-07-05T13:00", tz=tz) : pd.Timestamp("2015-07-05T17:00", tz=tz)]
    # the device's scoring where only counts were, exactly as without the log
    assert (afternoon["phase"] == counts_only.reindex(afternoon.index)).all()
    night = lake.night_summary("baby", "2015-07-05")
    onset = pd.Timestamp(night["sleep_onset"]).tz_convert(tz)
    assert 17 <= onset.hour <= 23 and night["total_sleep_min"] < 14 * 60
    assert "phase model" in night["sleepwake"] and "where only counts were recorded" in night["sleepwake"]


def test_a_raw_sensor_on_the_next_night_does_not_change_a_counts_night(tmp_path):
    tz = "Europe/Berlin"
    lake = ingest(tmp_path, CSV60, tz)
    before = lake.night_summary("baby", "2012-06-27")
    start = pd.Timestamp("2012-06-28T14:00", tz=tz)
    rows = "".join(
        f"{(start + pd.Timedelta(seconds=i / 25)).isoformat()},0.01,0.02,0.99\n" for i in range(25 * 600)
    )
    raw = tmp_path / "ankle.csv"
    raw.write_text("timestamp,x,y,z\n" + rows)
    assert (
        main(["ingest", str(raw), "--subject", "baby", "--limb", "right_leg", "--lake", str(lake.root)]) == 0
    )
    after = lake.night_summary("baby", "2012-06-27")
    for key in ("sleep_onset", "sleep_offset", "total_sleep_min", "waso_min", "sleepwake"):
        assert after[key] == before[key], key


def test_sub_minute_epochs_off_the_minute_are_summed_into_their_minute(tmp_path):
    """The 10-s GT3X+ export with every time moved 5 s later scores as the original (ActiLife sums the epochs
    into the minute they start in)."""
    tz = "Europe/Berlin"
    base = ingest(tmp_path / "a", SHARED_DATA / "ankle" / "GT3XPlus-RawData-Day01.csv", tz)
    lines = (SHARED_DATA / "ankle" / "GT3XPlus-RawData-Day01.csv").read_text().splitlines()
    shifted = [lines[0]] + [
        (pd.Timestamp(line.split(",", 1)[0].rstrip("Z")) + pd.Timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        + "," + line.split(",", 1)[1]
        for line in lines[1:]
    ]  # fmt: skip
    path = tmp_path / "shifted.csv"
    path.write_text("\n".join(shifted) + "\n")
    moved = ingest(tmp_path / "b", path, tz)
    a = base.read("phases", ["baby"]).set_index("epoch_start")["phase"]
    b = moved.read("phases", ["baby"]).set_index("epoch_start")["phase"]
    both = a.index.intersection(b.index)
    assert len(both) > 0.95 * len(a) and (a[both] == b[both]).mean() > 0.99
    for key in ("sleep_onset", "sleep_offset", "total_sleep_min"):
        assert base.night_summary("baby", "2012-06-27")[key] == moved.night_summary("baby", "2012-06-27")[key]


def test_a_device_file_across_a_clock_change_runs_on_in_real_time(tmp_path):
    """An Actiwatch started two days before the clocks go forward: its epochs follow in real time."""
    lines = AWD.read_text().splitlines()
    lines[1] = "27-Mar-2026"
    path = tmp_path / "spring.AWD"
    path.write_text("\n".join(lines) + "\n")
    lake = ingest(tmp_path, path, "Europe/London")
    epochs = lake.read("epochs", ["baby"], ["2026-03-28"], columns=["epoch_start", "coverage"])
    assert len(epochs) == 2760  # a 23-hour night
    assert not (epochs["coverage"] == "no_data").any()
    counts = lake.read("counts", ["baby"]).sort_values("start")
    assert (counts["start"].diff().dropna() == pd.Timedelta(minutes=1)).all()
