"""Night metrics against YASA, week comparisons, sleep-cycle bouts, flags through the lake."""

import warnings

import numpy as np
import pandas as pd
import pytest

from sleepmoves.comparison import compare_periods
from sleepmoves.nights import epoch_grid
from sleepmoves.periods import SleepPeriods
from sleepmoves.summarize import bout_statistics, cycles, night_metrics, phases_on_grid, week_nights
from tests.conftest import hypnogram as _phases

YASA_CODE = {"awake": 0, "transition": 1, "quiet": 2, "active": 4}  # W, N1, N2, REM


@pytest.mark.parametrize("seed", range(5))
def test_shared_definitions_agree_with_yasa(seed):
    yasa = pytest.importorskip("yasa")
    rng = np.random.default_rng(seed)
    # a random hypnogram with runs, starting and ending awake
    runs = (
        [("W", rng.integers(5, 40))]
        + [(rng.choice(list("RNTW")), rng.integers(1, 60)) for _ in range(40)]
        + [("W", 10)]
    )
    codes = "".join(c * int(n) for c, n in runs)
    phases = _phases(codes)
    sleep = np.flatnonzero(phases["phase"].to_numpy() != "awake")
    spt = SleepPeriods((int(sleep[0]), int(sleep[-1]) + 1))  # YASA's period: first to last sleep epoch
    ours = night_metrics(
        phases, pd.DataFrame({"start": pd.to_datetime([], utc=True), "kind": []}), periods=spt
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = yasa.sleep_statistics(np.array([YASA_CODE[p] for p in phases["phase"]]), sf_hyp=1 / 30)
    assert ours["total_sleep_min"] == pytest.approx(theirs["TST"])
    assert ours["waso_min"] == pytest.approx(theirs["WASO"])
    assert ours["sleep_period_min"] == pytest.approx(theirs["SPT"])
    assert ours["min_active"] == pytest.approx(theirs["REM"])
    assert ours["min_quiet"] == pytest.approx(theirs["N2"])
    assert ours["min_transition"] == pytest.approx(theirs["N1"])
    assert ours["pct_active"] == pytest.approx(theirs["%REM"])


def test_wake_bouts_longest_stretch_and_cycles():
    # onset at epoch 2; a 1-epoch wake (not a bout) inside quiet sleep, then a 3-epoch bout
    codes = "WW" + "RRRR" + "T" + "NNN" + "W" + "NNN" + "WWW" + "RRR" + "T" + "NNN" + "WW"
    m = night_metrics(
        _phases(codes),
        pd.DataFrame({"start": pd.to_datetime([], utc=True), "kind": []}),
        periods=SleepPeriods((2, len(codes) - 2)),
    )
    assert m["wake_bouts"] == 1
    assert m["longest_sleep_min"] == 11 * 0.5  # epochs 2-13: the single wake epoch does not break the stretch
    assert (
        m["cycles"] == 2 and m["mean_cycle_min"] == (17 - 2) * 0.5
    )  # active episodes start at epochs 2 and 17
    assert (
        cycles(np.array(["active"] * 3 + ["quiet"] * 2 + ["active"] * 3 + ["quiet"] * 3))[0] == 1
    )  # 2-epoch flicker
    assert cycles(np.array(["active", "awake", "quiet"]))[0] == 0  # a waking between them is not a cycle


def test_left_right_ratio():
    events = pd.DataFrame(
        {
            "start": pd.to_datetime(["2026-03-02T19:00:10Z"] * 6, utc=True),
            "kind": ["twitch"] * 6,
            "limb": ["left_leg", "left_leg", "left_leg", "right_leg", "left_arm", "head"],
        }
    )
    m = night_metrics(_phases("RRRR"), events)
    assert m["lr_ratio_legs"] == 3 and np.isnan(m["lr_ratio_arms"])


def test_iso_weeks_and_ranges():
    assert week_nights("2026-W10") == ("2026-03-02", "2026-03-08")
    assert week_nights("2026-03-01..2026-03-04") == ("2026-03-01", "2026-03-04")


def test_weeks_of_the_demo_lake(demo_lake):
    subject = demo_lake.subjects()["subject"].iloc[0]
    first, last = week_nights("2026-W10")
    week = demo_lake.nights_table([subject], first, last)
    assert len(week) == 7
    table = compare_periods(week, (first, week["night"].iloc[2]), (week["night"].iloc[3], last))
    assert set(table["metric"]) >= {"total_sleep_min", "pct_active", "twitches_per_h_active"}
    assert (table["nights_a"] == 3).all() and (table["nights_b"] == 4).all()
    phases = demo_lake.week_phases(subject, first, last)
    grids = [
        phases_on_grid(part, epoch_grid(night, part["tz"].iloc[0] if "tz" in part else "Europe/London"))
        for night, part in phases.groupby("night")
    ]
    stats = bout_statistics(grids)
    assert len(grids) == 7 and stats["active bouts a night"] > 5 and 20 < stats["cycle, median min"] < 90
    assert list(demo_lake.flags([subject]).columns)[:3] == ["subject", "night", "rule"]


def test_bout_statistics_read_like_a_clinicians_cycle_summary():
    from sleepmoves.summarize import bout_statistics

    # two nights of 20 min active / 40 min quiet, six cycles a night
    night = np.array((["active"] * 40 + ["quiet"] * 80) * 6)
    stats = bout_statistics([night, night.copy()])
    assert stats["active bouts a night"] == 6 and stats["quiet bouts a night"] == 6
    assert stats["active bout, median min"] == 20 and stats["quiet bout, median min"] == 40
    assert stats["cycle, median min"] == 60 and stats["cycle, quartiles min"] == (60, 60)
    hours_asleep = 2 * 6  # two nights of six hours
    assert stats["phase changes per hour of sleep"] == pytest.approx(2 * 11 / hours_asleep)


def test_the_weeks_page_bouts_are_those_of_each_nights_grid(demo_lake):
    """The weeks page places phases on each night's grid by arithmetic (fast); the rows must equal
    bout_statistics over the grids the night page builds (phases_on_grid), per baby and week."""
    from sleepmoves.dashboard.views import BOUT_ROWS, weeks_view

    subjects = list(demo_lake.subjects()["subject"])
    nights = demo_lake.nights(subjects[0])
    weeks = {"A": f"{nights[0]}..{nights[2]}", "B": f"{nights[3]}..{nights[-1]}"}
    _, _, bouts, damaged = weeks_view(demo_lake, subjects, weeks["A"], weeks["B"])
    assert not damaged and len(bouts) == 2 * len(subjects)
    for row in bouts.itertuples(index=False):
        subject = row.baby
        first, last = week_nights(weeks[row.week])
        tz = demo_lake.subject(subject)["tz"]
        phases = demo_lake.week_phases(subject, first, last)
        grids = [phases_on_grid(part, epoch_grid(night, tz)) for night, part in phases.groupby("night")]
        stats = bout_statistics(grids)
        shown = dict(zip(BOUT_ROWS, row[2:-1], strict=True))
        for key, form in BOUT_ROWS.items():
            assert shown[key] == ("—" if not np.isfinite(stats[key]) else form.format(stats[key])), key
