"""Sleep regularity: the SRI against pyActigraphy's published implementation, clock-time variability."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sleepmoves.regularity import DAY_EPOCHS, sleep_regularity_index, sleep_wake, timing


def _reference_sri():
    """pyActigraphy's own ``sri`` (pyActigraphy/sleep/scoring/sri.py, numpy and pandas only), read by path so
    that the package's heavy dependencies need not be installed; the Makefile installs it without them."""
    spec = importlib.util.find_spec("pyActigraphy")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pyActigraphy is not installed (make test installs it)")
    path = Path(spec.submodule_search_locations[0]) / "sleep" / "scoring" / "sri.py"
    module_spec = importlib.util.spec_from_file_location("pyactigraphy_sri", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.sri


def test_sri_equals_pyactigraphy_on_the_demo_lakes_nights(demo_lake):
    reference = _reference_sri()
    for subject in demo_lake.subjects()["subject"]:
        nights = demo_lake.nights(subject)
        phases = demo_lake.read("phases", [subject], nights, columns=["epoch_start", "phase"])
        series = sleep_wake(phases)
        # pyActigraphy wants whole days without gaps: from the first midnight, day times without a record awake
        start = series.index[0].ceil("D")
        days = (series.index[-1] - start) // pd.Timedelta(days=1)
        whole = series[start : start + pd.Timedelta(days=days) - pd.Timedelta(seconds=30)].fillna(0.0)
        assert len(whole) == days * DAY_EPOCHS and days >= 5
        naive = pd.Series(whole.to_numpy(), index=pd.date_range("2026-01-05", periods=len(whole), freq="30s"))
        ours, theirs = sleep_regularity_index(whole), reference(naive)
        assert 0 < ours < 100 and ours == pytest.approx(theirs, abs=1e-9)


def test_the_same_day_every_day_is_100_and_a_coin_is_about_0():
    grid = pd.date_range("2026-03-02", periods=7 * DAY_EPOCHS, freq="30s", tz="UTC")
    day = np.r_[np.ones(DAY_EPOCHS // 2), np.zeros(DAY_EPOCHS // 2)]
    assert sleep_regularity_index(pd.Series(np.tile(day, 7), index=grid)) == 100
    coin = np.random.default_rng(0).integers(0, 2, len(grid)).astype(float)
    assert abs(sleep_regularity_index(pd.Series(coin, index=grid))) < 2
    gaps = pd.Series(np.tile(day, 7), index=grid).where(grid.hour != 3)  # no data is never a state
    assert sleep_regularity_index(gaps) == 100
    assert np.isnan(
        sleep_regularity_index(pd.Series(np.tile(day, 7)[: DAY_EPOCHS + 10], index=grid[: DAY_EPOCHS + 10]))
    )


def test_clock_times_across_midnight_are_minutes_apart_not_hours():
    nights = pd.DataFrame(
        {
            "night": ["2026-03-02", "2026-03-03"],
            "tz": "Europe/London",
            "sleep_onset": pd.to_datetime(["2026-03-02T23:50Z", "2026-03-04T00:10Z"]),
            "sleep_offset": pd.to_datetime(["2026-03-03T07:00Z", "2026-03-04T07:20Z"]),
        }
    )
    said = timing(nights)
    assert said["fell asleep"]["mean"] == "00:00" and said["fell asleep"]["sd_min"] == pytest.approx(
        14.14, abs=0.01
    )
    assert said["woke for the day"]["mean"] == "07:10" and said["midpoint"]["nights"] == 2
