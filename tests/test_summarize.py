import numpy as np
import pandas as pd

from sleepmoves.periods import SleepPeriods
from sleepmoves.summarize import night_metrics
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


def test_phase_minutes_come_with_an_interval_that_holds_the_true_minutes():
    """A night's active and quiet minutes come with a 95 % interval from the epochs' probabilities. On simulated
    nights never seen in training, it holds the true minutes most of the time (an interval treating epochs as
    independent held them 26 % of the time: the model mislabels whole bouts)."""
    from sleepmoves.model import load_model
    from sleepmoves.nights import night_of
    from sleepmoves.process import label_night
    from sleepmoves.simulate import recording_spans, simulate

    model = load_model()
    cohort, events, labels = simulate(babies=6, weeks=1, seed=77)
    spans = recording_spans(labels)
    held, widths = [], []
    for baby in cohort:
        ev = events[baby.subject].assign(source="log")
        nights = night_of(ev["start"], baby.tz)
        rec = spans[baby.subject]
        truth = labels[labels["subject"] == baby.subject].set_index("epoch_start")["phase"]
        for night in sorted(set(nights))[:3]:
            recording = rec[night_of(rec["start"], baby.tz) == night]
            _, phases, m = label_night(
                ev[nights == night], night=night, tz=baby.tz, born=baby.born, model=model, recording=recording
            )
            period = truth[(truth.index >= m["sleep_onset"]) & (truth.index < m["sleep_offset"])]
            for phase in ("active", "quiet"):
                true_min = (period == phase).sum() / 2
                low, high = m[f"min_{phase}_low"], m[f"min_{phase}_high"]
                assert 0 <= low <= high
                held.append(low <= true_min <= high)
                widths.append(high - low)
    print(
        f"\ninterval held the true minutes in {np.mean(held):.0%} of {len(held)}; median width {np.median(widths):.0f} min"
    )
    assert np.mean(held) >= 0.75
    assert np.median(widths) < 180  # a range a parent can use, not "anything"


def test_a_night_scored_from_counts_has_no_phase_interval():
    grid = pd.date_range("2026-03-02T20:00Z", periods=600, freq="30s")
    phases = pd.DataFrame(
        {
            "epoch_start": grid,
            "phase": ["asleep"] * 600,
            "p_awake": 0.0,
            "p_active": np.nan,
            "p_quiet": np.nan,
            "p_transition": np.nan,
        }
    )
    m = night_metrics(phases, pd.DataFrame(columns=["start", "kind", "limb"]), grid=grid)
    assert np.isnan(m["min_active_low"]) and np.isnan(m["min_quiet_high"])


def test_the_per_night_table_says_what_the_night_page_says(demo_lake):
    """Every night of the demo lake: the table's minutes, clock times and rates are the night page's cards."""
    from sleepmoves.dashboard.figures import summary_items
    from sleepmoves.summarize import NIGHT_TABLE, night_table

    for subject in demo_lake.subjects()["subject"]:
        nights = demo_lake.nights_table([subject])
        table = night_table(nights).set_index("night")
        assert list(table.columns) == list(NIGHT_TABLE)[1:] and len(table) == len(nights)
        for night in nights["night"]:
            metrics = demo_lake.night_summary(subject, night)
            cards = {title: value for title, value, _ in summary_items(metrics, metrics["tz"])}
            row = table.loc[night]
            minutes = lambda card: int(card.split(" h ")[0]) * 60 + int(card.split(" h ")[1].split()[0])  # noqa: E731
            assert (
                cards["Fell asleep"] == row["fell asleep"]
                and cards["Woke for the day"] == row["woke for the day"]
            )
            assert minutes(cards["Total sleep"]) == row["total sleep (min)"]
            assert minutes(cards["Awake in the night"]) == row["awake in the night (min)"]
            assert cards["Twitches in active sleep"] == f"{row['twitches / h active']} / h"
            assert cards["Twitches in quiet sleep"] == f"{row['twitches / h quiet']} / h"
