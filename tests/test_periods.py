"""Sleep periods and non-wear against ActiLife's own output for the GT3X+ recording, and the night's choice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sleepmoves.nonwear import choi
from sleepmoves.periods import SleepPeriods, rest_periods, sleep_periods
from sleepmoves.runs import runs
from tests.conftest import ROOT

ACTILIFE = ROOT / "tests" / "data" / "actilife"


def actilife_minutes() -> pd.DataFrame:
    table = pd.read_csv(ACTILIFE / "GT3XPlus-RawData-Day01-Sadeh.csv")
    local = pd.to_datetime(table["Date"] + " " + table["Time"], format="%m/%d/%Y %I:%M %p")
    return pd.DataFrame({"minute": local, "axis1": table["Axis1"], "sleep": table["Sleep or Awake?"] == "S"})


def as_text(minutes: pd.Series, periods) -> list[tuple[str, str]]:
    fmt = "%Y-%m-%dT%H:%M:00Z"  # how ActiLife's table (via actigraph.sleepr) writes local times
    return [
        (minutes[a].strftime(fmt), (minutes[b - 1] + pd.Timedelta(minutes=1)).strftime(fmt))
        for a, b in periods
    ]


@pytest.mark.parametrize("setting", ["Tudor-Locke Default", "Tudor-Locke Custom2"])
def test_rest_periods_are_actilifes_tudor_locke_periods(setting):
    reference = pd.read_csv(ACTILIFE / "GT3XPlus-RawData-Day01-sleep-periods.csv")
    reference = reference[reference["period_algorithm"] == setting]
    bedtime, getup, shortest = reference.iloc[0][["n_bedtime_start", "n_wake_time_end", "min_sleep_period"]]
    m = actilife_minutes()
    found = rest_periods(m["sleep"].astype(float), 60, bedtime, getup)
    ours = as_text(m["minute"], [(a, b) for a, b in found if b - a >= shortest])
    assert ours == list(zip(reference["in_bed_time"], reference["out_bed_time"], strict=True))


def test_actilifes_custom_periods_are_all_found():
    """Custom1 also drops periods with few non-zero minutes and one that runs to the end of the data (ActiLife
    quirks sleepmoves does not copy): every period ActiLife reports is one of ours."""
    reference = pd.read_csv(ACTILIFE / "GT3XPlus-RawData-Day01-sleep-periods.csv")
    reference = reference[reference["period_algorithm"] == "Tudor-Locke Custom1"]
    m = actilife_minutes()
    found = [(a, b) for a, b in rest_periods(m["sleep"].astype(float), 60, 5, 5) if b - a >= 20]
    assert set(zip(reference["in_bed_time"], reference["out_bed_time"], strict=True)) <= set(
        as_text(m["minute"], found)
    )


@pytest.mark.parametrize("setting", ["Choi Default", "Choi Custom1", "Choi Custom2"])
def test_choi_gives_actilifes_nonwear_periods(setting):
    reference = pd.read_csv(ACTILIFE / "GT3XPlus-RawData-Day01-Choi-periods.csv")
    reference = reference[(reference["nonwear_algorithm"] == setting) & ~reference["wear"]]
    window, stream, spike = reference.iloc[0][["min_period_len", "min_window_len", "spike_tolerance"]]
    # "Choi Default" is recorded with 60 minutes; Choi's (and sleepmoves') 90 gives the same periods here
    window = 90 if setting == "Choi Default" else window
    m = actilife_minutes()
    off = choi(m["axis1"], window=window, spike=spike, stream=stream)
    starts, lengths, values = runs(off)
    ours = as_text(m["minute"], [(a, a + n) for a, n, v in zip(starts, lengths, values, strict=True) if v])
    assert ours == list(zip(reference["period_start"], reference["period_end"], strict=True))


def test_choi_tolerates_a_short_bump_only_with_zeros_around_it():
    assert choi([5] * 10 + [0] * 60 + [3] + [0] * 40 + [7] * 10).sum() == 101
    assert choi([5] * 10 + [0] * 20 + [3, 3] + [0] * 100 + [7]).sum() == 100  # only 20 zeros before the bump
    assert choi([0] * 200).all()  # a device never worn
    assert not choi([5] * 10 + [0] * 89 + [5]).any()


def night_grid(hours: float = 24) -> pd.DatetimeIndex:
    return pd.date_range("2026-03-10T12:00Z", periods=int(hours * 120), freq="30s")


def series(*parts: tuple[float, float]) -> np.ndarray:
    """(value, hours) parts: 1 sleep, 0 wake, NaN no data."""
    return np.concatenate([np.full(int(h * 120), v) for v, h in parts])


def test_the_night_is_the_long_period_through_the_middle_of_the_night_and_naps_stay_naps():
    grid = night_grid()
    asleep = series(
        (0, 1.5), (1, 1.5), (0, 4.5), (1, 5), (0, 0.4), (1, 6), (0, 5.1)
    )  # nap 13:30, night 19:30
    found = sleep_periods(grid, asleep, "UTC")
    onset, offset = grid[found.night[0]], grid[found.night[1] - 1] + pd.Timedelta(seconds=30)
    assert (onset.hour, onset.minute) == (19, 30) and (offset.hour, offset.minute) == (
        6,
        54,
    )  # a 24-min feed joined
    assert len(found.naps) == 1 and grid[found.naps[0][0]].hour == 13


def test_a_short_night_is_no_night():
    asleep = series((0, 8), (1, 2), (0, 14))  # 2 h of sleep: under Tudor-Locke's 160 minutes
    found = sleep_periods(night_grid(), asleep, "UTC")
    assert found.night is None and len(found.naps) == 1


def _diary_sleeps(*spans: tuple[str, str]) -> tuple[pd.DatetimeIndex, SleepPeriods]:
    """The periods of a night known only from these diary sleeps (UTC start, end)."""
    grid = night_grid()
    diary = pd.DataFrame(
        {
            "start": pd.to_datetime([a for a, _ in spans]),
            "end": pd.to_datetime([b for _, b in spans]),
            "activity": "sleep",
        }
    )
    return grid, sleep_periods(grid, np.full(len(grid), np.nan), "UTC", diary)


def test_the_diary_decides_when_the_parent_wrote_it():
    grid, found = _diary_sleeps(
        ("2026-03-10T19:10Z", "2026-03-11T06:40Z"), ("2026-03-10T14:00Z", "2026-03-10T15:00Z")
    )
    assert grid[found.night[0]] == pd.Timestamp("2026-03-10T19:10Z") and "diary" in found.source
    assert len(found.naps) == 1


def test_two_entries_of_the_same_sleep_are_one_night_not_a_night_and_a_nap():
    # two parents logged the night, minutes apart (the real Baby Connect export has such pairs)
    grid, found = _diary_sleeps(
        ("2026-03-10T19:30Z", "2026-03-11T07:00Z"), ("2026-03-10T19:33Z", "2026-03-11T06:59Z")
    )
    assert grid[found.night[0]] == pd.Timestamp("2026-03-10T19:30Z") and found.naps == []


def test_a_long_gap_ends_a_period_a_short_one_does_not():
    grid = night_grid()
    bridged = series((0, 7), (1, 3), (np.nan, 3), (1, 3), (0, 8))
    assert sleep_periods(grid, bridged, "UTC").night == (7 * 120, 16 * 120)
    split = series((0, 4), (1, 3), (np.nan, 8), (1, 3), (0, 6))  # a sensor off for 8 hours
    found = sleep_periods(grid, split, "UTC")
    assert found.night == (15 * 120, 18 * 120) and found.naps == [(4 * 120, 7 * 120)]


def test_sleep_periods_default_to_an_empty_source_free_result():
    assert SleepPeriods(None).night is None


def test_a_diary_of_naps_only_leaves_the_night_to_the_data():
    grid = night_grid()
    asleep = series((0, 7), (1, 11), (0, 6))  # the data: asleep 19:00-06:00
    diary = pd.DataFrame(
        {
            "start": pd.to_datetime(["2026-03-10T14:00Z"]),
            "end": pd.to_datetime(["2026-03-10T15:30Z"]),
            "activity": ["sleep"],
        }
    )
    found = sleep_periods(grid, asleep, "UTC", diary)
    assert grid[found.night[0]] == pd.Timestamp("2026-03-10T19:00Z") and "Tudor-Locke" in found.source


def test_a_long_time_not_worn_ends_a_period_a_short_one_is_bridged():
    grid = night_grid()
    asleep = series((0, 7), (1, 2), (np.nan, 2), (1, 3), (0, 10))
    off = np.isnan(asleep)
    assert sleep_periods(grid, asleep, "UTC", ends=off).night == (11 * 120, 14 * 120)  # 2 h off: split
    short = series((0, 7), (1, 2), (np.nan, 0.5), (1, 3), (0, 11.5))
    assert sleep_periods(grid, short, "UTC", ends=np.isnan(short)).night == (7 * 120, 12.5 * 120)


def _labelled(phase_by_clock: list[tuple[str, str, str]], source: str = "phase-hgb") -> pd.DataFrame:
    """Phases of a night from ``(from, to, phase)`` in UTC clock times on 2026-03-02/03."""
    rows = []
    for start, end, phase in phase_by_clock:
        for t in pd.date_range(f"2026-03-{start}", f"2026-03-{end}", freq="30s", inclusive="left", tz="UTC"):
            rows.append({"epoch_start": t, "phase": phase, "model_version": source})
    return pd.DataFrame(rows)


DIARY_NIGHT = pd.DataFrame(
    {
        "start": pd.to_datetime(["2026-03-02T19:00Z", "2026-03-03T02:00Z", "2026-03-03T02:50Z"]),
        "end": pd.to_datetime(["2026-03-03T02:00Z", "2026-03-03T02:20Z", "2026-03-03T07:00Z"]),
        "activity": ["sleep", "feed", "sleep"],
        "note": ["", "", ""],
    }
)


def test_where_the_diary_and_the_movement_disagree():
    from sleepmoves.periods import diary_disagreements

    phases = _labelled(
        [
            ("02T19:00", "03T01:00", "quiet"),
            ("03T01:00", "03T01:40", "awake"),  # the diary says asleep: 40 min
            ("03T01:40", "03T02:00", "active"),
            ("03T02:00", "03T02:50", "awake"),  # the feed: both say awake
            ("03T02:50", "03T04:00", "quiet"),
            ("03T04:00", "03T04:05", "awake"),  # 5 min: a rounding, not a disagreement
            ("03T04:05", "03T07:00", "active"),
        ]
    )
    spans = diary_disagreements(phases, DIARY_NIGHT)
    assert len(spans) == 1
    row = spans.iloc[0]
    assert (row.start, row.end) == (pd.Timestamp("2026-03-03T01:00Z"), pd.Timestamp("2026-03-03T01:40Z"))
    assert (row.diary_says, row.movement_says) == ("asleep", "awake")
    # a night labelled from the diary itself has nothing to compare
    assert diary_disagreements(phases.assign(model_version="diary"), DIARY_NIGHT).empty


def test_a_sleep_missing_from_the_diary_is_a_disagreement_the_other_way():
    from sleepmoves.periods import diary_disagreements

    phases = _labelled([("02T19:00", "03T02:00", "quiet"), ("03T02:00", "03T02:50", "quiet")])
    spans = diary_disagreements(phases, DIARY_NIGHT)  # asleep through the feed the diary wrote
    assert spans[["diary_says", "movement_says"]].values.tolist() == [["awake", "asleep"]]
    assert spans.iloc[0].end - spans.iloc[0].start == pd.Timedelta(minutes=50)
