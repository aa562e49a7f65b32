"""A metric over weeks and months: rolling medians, weekly quartiles, the age axis and the typical band."""

import pandas as pd
import pytest

from sleepmoves.schema import SleepmovesError
from sleepmoves.trends import check_range, nightly, weekly


def _nights(values, start="2026-03-02"):
    nights = pd.date_range(start, periods=len(values)).strftime("%Y-%m-%d")
    return pd.DataFrame({"night": nights, "total_sleep_min": values})


def test_each_night_its_7_night_median_and_each_week_its_quartiles():
    series = nightly(_nights([600, 660, 540, 600, 720, 600, 480, 630]), "total_sleep_min")
    assert series["value"].iloc[0] == 10  # hours
    assert series["rolling"].isna().tolist()[:2] == [True, True]  # fewer than 3 nights in the window
    assert series["rolling"].iloc[2] == 10  # median of 10, 11, 9
    assert (
        series["rolling"].iloc[7] == pd.Series([11, 9, 10, 12, 10, 8, 10.5]).median()
    )  # the last 7 days only
    week = weekly(series)
    assert week["nights"].tolist() == [7, 1] and week["week"].iloc[0] == pd.Timestamp("2026-03-02")
    assert week["median"].iloc[0] == 10 and (week["q1"].iloc[0], week["q3"].iloc[0]) == (9.5, 10.5)


def test_a_missing_night_leaves_a_gap_not_a_shift():
    frame = _nights([600, 600, 600, None, 900, 900, 900])
    series = nightly(frame, "total_sleep_min")
    assert len(series) == 6 and "2026-03-05" not in series["night"].dt.strftime("%Y-%m-%d").tolist()


def test_a_range_is_in_order_and_at_most_a_year():
    assert check_range("2026-01-01", "2026-12-31") == ("2026-01-01", "2026-12-31")
    with pytest.raises(SleepmovesError, match="at most 366 nights"):
        check_range("2025-01-01", "2026-03-01")
    with pytest.raises(SleepmovesError, match="ends .* before it starts"):
        check_range("2026-03-02", "2026-03-01")
    with pytest.raises(SleepmovesError, match="not a date range"):
        check_range("yesterday", "2026-03-01")


def test_the_trend_figure_names_each_baby_shows_her_age_and_the_typical_band(demo_lake):
    from sleepmoves.dashboard.figures import trend_figure  # noqa: F401  (the view builds it)
    from sleepmoves.dashboard.views import trend_view

    subjects = list(demo_lake.subjects()["subject"])
    first, last = demo_lake.nights(subjects[0])[0], demo_lake.nights(subjects[0])[-1]
    fig = trend_view(
        demo_lake, subjects, first, last, "pct_active", names={s: f"Baby {s[0].upper()}" for s in subjects}
    )
    names = [t.name for t in fig.data]
    assert names.count("typical at this age") == len(subjects)  # the demo babies have birth dates
    assert {a.text for a in fig.layout.annotations} >= {f"Baby {s[0].upper()}" for s in subjects}
    ticks = [
        t for axis in ("xaxis", "xaxis2") if fig.layout[axis].ticktext for t in fig.layout[axis].ticktext
    ]
    assert ticks and all(" wk" in t or " mo" in t for t in ticks)
    dots = next(t for t in fig.data if t.name == "each night")
    assert len(dots.x) == len(demo_lake.nights_table([subjects[0]], first, last))
