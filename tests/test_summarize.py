import numpy as np
import pandas as pd

from pipeline.periods import SleepPeriods
from pipeline.summarize import night_metrics
from tests.conftest import hypnogram as _phases


def test_night_metrics_on_a_known_hypnogram():
    # W W R W R R R N N N N W W R R T W W  (30-s epochs)
    phases = _phases("WWRWRRRNNNNWWRRTWW")
    events = pd.DataFrame(
        {
            "start": pd.to_datetime(
                ["2026-03-02T19:02:05Z", "2026-03-02T19:02:40Z", "2026-03-02T19:04:10Z"], utc=True
            ),
            "kind": ["twitch", "twitch", "twitch"],
        }
    )
    m = night_metrics(phases, events, periods=SleepPeriods((4, 16)))  # the period: epochs 4..15
    assert m["sleep_onset"] == pd.Timestamp("2026-03-02T19:02:00Z")  # epoch 4
    assert m["sleep_offset"] == pd.Timestamp("2026-03-02T19:08:00Z")  # end of epoch 15
    assert m["total_sleep_min"] == 5.0 and m["waso_min"] == 1.0  # 10 sleep, 2 awake epochs in 4..15
    # phases are counted inside the sleep period (the lone R at epoch 2 is before it)
    assert m["min_active"] == 2.5 and m["min_quiet"] == 2.0 and m["min_transition"] == 0.5
    assert m["pct_active"] == 100 * 5 / 10
    # two twitches in active epochs (4, 5), one in quiet (8): per hour of each phase
    assert m["twitches_per_h_active"] == 2 / (3 / 60) and m["twitches_per_h_quiet"] == 1 / (2 / 60)


def test_night_without_sleep():
    m = night_metrics(_phases("WWWW"), pd.DataFrame({"start": pd.to_datetime([], utc=True), "kind": []}))
    assert pd.isna(m["sleep_onset"]) and m["total_sleep_min"] == 0 and np.isnan(m["twitches_per_h_active"])


def test_no_data_is_neither_sleep_nor_wake_and_breaks_runs():
    """1 h asleep, 4 h without data, 1 h asleep: times are real, the gap is reported beside sleep and wake."""
    hour = 120  # epochs
    phases = _phases("W" * 20 + "N" * hour + "N" * hour)
    phases.loc[20 + hour :, "epoch_start"] += pd.Timedelta(hours=4)  # the second hour comes 4 h later
    grid = pd.date_range(phases["epoch_start"].iloc[0], periods=20 + 6 * hour, freq="30s")
    m = night_metrics(phases, _no_events(), grid=grid, periods=SleepPeriods((20, 20 + 6 * hour)))
    assert m["sleep_period_min"] == 360 and m["total_sleep_min"] == 120 and m["waso_min"] == 0
    assert m["nodata_in_period_min"] == 240 and m["nodata_min"] == 240
    assert m["longest_sleep_min"] == 60  # the gap breaks the stretch
    assert m["recorded_min"] == 130


def _no_events():
    return pd.DataFrame({"start": pd.to_datetime([], utc=True), "kind": []})
