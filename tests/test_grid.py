"""One time grid: event logs, silences, naps and coverage, through `sleepmoves ingest` + `process`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sleepmoves.cli import main
from sleepmoves.epochs import MAX_SILENCE_MIN, grid_coverage
from sleepmoves.lake import Lake
from sleepmoves.nights import epoch_grid, on_grid

TZ = "Europe/London"


def log_night(rows: list[tuple[str, str]]) -> str:
    """An event log (start with offset, kind, limb) in the user log format."""
    return "start,kind,limb\n" + "".join(f"{t},{k},left_leg\n" for t, k in rows)


def movements(start: str, end: str, every_s: int, kind: str = "twitch") -> list[tuple[str, str]]:
    times = pd.date_range(start, end, freq=f"{every_s}s", inclusive="left")
    return [(t.isoformat(), kind) for t in times]


def lake_with(tmp_path, text: str, name: str = "log.csv") -> Lake:
    path = tmp_path / name
    path.write_text(text)
    lake = tmp_path / "lake"
    assert main(["subject", "add", "baby", "--tz", TZ, "--born", "2026-01-01", "--lake", str(lake)]) == 0
    assert main(["ingest", str(path), "--subject", "baby", "--lake", str(lake)]) == 0
    return Lake(lake)


def a_night(evening: str = "2026-03-10", silence: tuple[str, str] | None = None) -> list[tuple[str, str]]:
    """19:00-07:00: awake kicking, then sleep with twitches every 2 min; optionally a silent stretch."""
    day = pd.Timestamp(evening)
    rows = movements(f"{evening}T19:00:00+00:00", f"{evening}T19:30:00+00:00", 20, "kick")
    night_end = (day + pd.Timedelta(days=1)).strftime("%Y-%m-%dT07:00:00+00:00")
    sleep = movements(f"{evening}T19:35:00+00:00", night_end, 120)
    if silence:
        lo, hi = pd.Timestamp(silence[0]), pd.Timestamp(silence[1])
        sleep = [(t, k) for t, k in sleep if not (lo <= pd.Timestamp(t) < hi)]
    return rows + sleep + movements(night_end, night_end.replace("07:00", "07:20"), 20, "kick")


def test_a_silent_monitor_is_no_data_not_quiet_sleep(tmp_path):
    silence = ("2026-03-11T00:00:00+00:00", "2026-03-11T03:30:00+00:00")  # 3.5 h without one event
    lake = lake_with(tmp_path, log_night(a_night(silence=silence)))
    epochs = lake.read("epochs", ["baby"], ["2026-03-10"]).set_index("epoch_start")
    inside = epochs.loc[pd.Timestamp("2026-03-11T00:05Z") : pd.Timestamp("2026-03-11T03:25Z")]
    assert (inside["coverage"] == "no_data").all()
    phases = lake.phases("baby", "2026-03-10").set_index("epoch_start")
    assert not phases.index.isin(inside.index).any()  # no phase at all there, quiet or otherwise
    night = lake.night_summary("baby", "2026-03-10")
    assert night["nodata_in_period_min"] == pytest.approx(3.5 * 60, abs=2)
    assert night["total_sleep_min"] < 12 * 60 - 3.5 * 60
    # a silence shorter than the bound is just a still baby
    short = ("2026-03-11T00:00:00+00:00", "2026-03-11T01:00:00+00:00")
    (tmp_path / "b").mkdir()
    other = lake_with(tmp_path / "b", log_night(a_night(silence=short)))
    assert other.night_summary("baby", "2026-03-10")["nodata_in_period_min"] == 0


def test_an_afternoon_nap_is_a_nap_not_the_nights_onset(tmp_path):
    nap = movements("2026-03-10T13:40:00+00:00", "2026-03-10T15:10:00+00:00", 120)
    woke = movements("2026-03-10T15:10:00+00:00", "2026-03-10T15:30:00+00:00", 20, "kick")
    play = movements("2026-03-10T13:00:00+00:00", "2026-03-10T13:40:00+00:00", 20, "kick")
    lake = lake_with(tmp_path, log_night(play + nap + woke + a_night()))
    night = lake.night_summary("baby", "2026-03-10")
    onset = pd.Timestamp(night["sleep_onset"]).tz_convert(TZ)
    assert onset.hour == 19, onset  # the night starts in the evening
    assert night["naps"] == 1 and 60 <= night["nap_min"] <= 95
    assert night["sleep_24h_min"] == night["total_sleep_min"] + night["nap_min"]
    assert night["total_sleep_min"] < 12 * 60  # not "15 h" from a nap at 13:40


def test_recording_rows_say_when_the_monitor_was_on(tmp_path):
    rows = [("2026-03-10T18:00:00+00:00", "recording_start")] + a_night()
    rows += [("2026-03-11T08:00:00+00:00", "recording_stop")]  # 40 min after the last movement
    lake = lake_with(tmp_path, log_night(rows))
    epochs = lake.read("epochs", ["baby"], ["2026-03-10"]).set_index("epoch_start")
    recorded = epochs.index[epochs["coverage"] == "recorded"]
    assert recorded.min() == pd.Timestamp("2026-03-10T18:00Z")  # from the start row, not the first event
    assert recorded.max() == pd.Timestamp("2026-03-11T07:59:30Z")  # to the stop row, not the last event
    assert lake.read("events", ["baby"])["kind"].isin(["twitch", "kick"]).all()  # not stored as movements


def test_counts_of_any_epoch_length_cover_every_30s_epoch_they_overlap():
    grid = epoch_grid("2026-03-10", TZ)
    start = grid[100]
    for epoch_s in (10, 15, 30, 60, 120):
        n = 3600 // epoch_s  # one hour
        counts = pd.DataFrame(
            {
                "start": start + pd.to_timedelta(np.arange(n) * epoch_s, unit="s"),
                "epoch_s": epoch_s,
                "count": 6.0 * epoch_s,  # 6 counts a second
                "valid": True,
            }
        )
        coverage, activity = grid_coverage(grid, counts)
        assert (coverage[100:220] == "recorded").all() and (coverage[220:] == "no_data").all(), epoch_s
        assert activity[100:220] == pytest.approx(np.full(120, 180.0)), (
            epoch_s
        )  # 6/s x 30 s, whatever the length


def test_a_count_epoch_off_the_grid_marks_both_epochs_it_overlaps():
    grid = epoch_grid("2026-03-10", TZ)
    counts = pd.DataFrame(
        {"start": [grid[10] + pd.Timedelta(seconds=15)], "epoch_s": [60], "count": [60.0], "valid": [True]}
    )
    coverage, activity = grid_coverage(grid, counts)
    assert list(np.flatnonzero(coverage == "recorded")) == [10, 11, 12]
    assert activity[10:13] == pytest.approx([15.0, 30.0, 15.0])  # shared by time overlap


def test_on_grid_splits_intervals_by_real_time():
    grid = pd.date_range("2026-03-10T12:00Z", periods=10, freq="30s")
    row, epoch, overlap = on_grid(
        grid, [grid[0] - pd.Timedelta(seconds=40)], [grid[2] + pd.Timedelta(seconds=10)]
    )
    assert list(epoch) == [0, 1, 2] and list(overlap) == [30, 30, 10] and list(row) == [0, 0, 0]


def test_silence_bound_comes_from_the_sleep_cycle():
    # science.md: a cycle (with its active sleep and twitches) lasts 47-50 min, 30-70 min in newborns
    assert 70 < MAX_SILENCE_MIN <= 120
