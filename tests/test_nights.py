import pandas as pd
import pytest

from sleepmoves.nights import epoch_grid, night_bounds, night_hours, night_of
from sleepmoves.schema import SleepmovesError


def test_noon_to_noon_named_by_the_evening():
    times = pd.to_datetime(
        [
            "2026-06-10T11:59:59+01:00",
            "2026-06-10T12:00:00+01:00",
            "2026-06-10T23:30:00+01:00",
            "2026-06-11T06:00:00+01:00",
        ]
    )
    assert list(night_of(times, "Europe/London")) == ["2026-06-09", "2026-06-10", "2026-06-10", "2026-06-10"]


def test_same_instant_is_a_different_night_in_another_zone():
    # 2026-06-10 20:00 UTC is 21:00 in London (evening of the 10th) but 06:00 on the 11th in Sydney.
    t = pd.to_datetime(["2026-06-10T20:00:00Z"])
    assert night_of(t, "Europe/London")[0] == "2026-06-10"
    assert night_of(t, "Australia/Sydney")[0] == "2026-06-10"
    # 2026-06-11 03:00 UTC is 13:00 in Sydney: the next night has begun there, not in London.
    t = pd.to_datetime(["2026-06-11T03:00:00Z"])
    assert night_of(t, "Europe/London")[0] == "2026-06-10"
    assert night_of(t, "Australia/Sydney")[0] == "2026-06-11"


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [("Europe/London", "2026-03-28", "2026-10-24"), ("America/New_York", "2026-03-07", "2026-10-31")],
)
def test_dst_nights_are_23_and_25_hours(zone, spring, autumn):
    assert night_hours(spring, zone) == 23
    assert night_hours(autumn, zone) == 25
    assert night_hours("2026-07-01", zone) == 24
    assert len(epoch_grid(spring, zone)) == 23 * 120
    assert len(epoch_grid(autumn, zone)) == 25 * 120


def test_every_instant_of_a_dst_night_belongs_to_it():
    for night in ("2026-03-28", "2026-10-24"):
        start, end = night_bounds(night, "Europe/London")
        minutes = pd.date_range(start, end, freq="1min", inclusive="left")
        assert set(night_of(minutes, "Europe/London")) == {night}
        # and both neighbours start exactly where this one ends
        assert night_of(pd.DatetimeIndex([end]), "Europe/London")[0] > night


def test_repeated_hour_on_autumn_night_stays_in_one_night():
    # 01:30 happens twice in London on 2026-10-25; both instants are in the night of the 24th.
    t = pd.to_datetime(["2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"])
    assert list(night_of(t, "Europe/London")) == ["2026-10-24", "2026-10-24"]


def test_unknown_zone_is_a_clear_error():
    with pytest.raises(SleepmovesError, match="unknown time zone 'Mars/Olympus'"):
        night_of(pd.to_datetime(["2026-01-01T00:00:00Z"]), "Mars/Olympus")
