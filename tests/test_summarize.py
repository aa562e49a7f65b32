import numpy as np
import pandas as pd

from pipeline.summarize import night_metrics, sleep_onset_index
from tests.conftest import hypnogram as _phases


def test_onset_needs_three_consecutive_sleep_epochs():
    assert sleep_onset_index(np.array([0, 1, 1, 0, 1, 1, 1, 0], bool)) == 4
    assert sleep_onset_index(np.array([1, 1, 0, 1], bool)) is None


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
    m = night_metrics(phases, events)
    assert m["sleep_onset"] == pd.Timestamp("2026-03-02T19:02:00Z")  # epoch 4
    assert m["sleep_offset"] == pd.Timestamp("2026-03-02T19:08:00Z")  # end of epoch 15
    assert m["total_sleep_min"] == 5.0 and m["waso_min"] == 1.0  # 10 sleep, 2 awake epochs in 4..15
    assert m["min_active"] == 3.0 and m["min_quiet"] == 2.0 and m["min_transition"] == 0.5
    assert m["pct_active"] == 100 * 6 / 11
    # two twitches in active epochs (4, 5), one in quiet (8): per hour of each phase
    assert m["twitches_per_h_active"] == 2 / (3 / 60) and m["twitches_per_h_quiet"] == 1 / (2 / 60)


def test_night_without_sleep():
    m = night_metrics(_phases("WWWW"), pd.DataFrame({"start": pd.to_datetime([], utc=True), "kind": []}))
    assert pd.isna(m["sleep_onset"]) and m["total_sleep_min"] == 0 and np.isnan(m["twitches_per_h_active"])
