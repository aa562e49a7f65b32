"""Each baby against herself: a known difference is found in the baby that has it, and nowhere else."""

import numpy as np
import pandas as pd

from sleepmoves.comparison import block_length, cohort_difference, compare_periods

A = ("2026-03-02", "2026-03-08")
B = ("2026-03-09", "2026-03-15")


def _nights(subject: str, twitch_shift_in_b: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    nights = pd.date_range("2026-03-02", "2026-03-15").strftime("%Y-%m-%d")
    in_b = np.arange(len(nights)) >= 7
    return pd.DataFrame(
        {
            "subject": subject,
            "night": nights,
            "twitches_per_h_active": 240 + rng.normal(0, 15, len(nights)) + twitch_shift_in_b * in_b,
            "total_sleep_min": 600 + rng.normal(0, 30, len(nights)),
        }
    )


def test_a_difference_in_one_baby_is_found_in_her_and_not_in_the_other():
    nights = pd.concat([_nights("ada", 80, 1), _nights("ben", 0, 2)])
    table = compare_periods(nights, A, B, metrics=("twitches_per_h_active", "total_sleep_min")).set_index(
        ["subject", "metric"]
    )
    ada = table.loc[("ada", "twitches_per_h_active")]
    assert ada["change"] == "higher" and ada["low"] > 30 and 60 < ada["difference"] < 100
    assert table.loc[("ben", "twitches_per_h_active"), "change"] == "no clear change"
    assert set(table.index.get_level_values("subject")) == {"ada", "ben"}  # side by side, never pooled
    again = compare_periods(nights, A, B, metrics=("twitches_per_h_active",))
    assert again.equals(compare_periods(nights, A, B, metrics=("twitches_per_h_active",)))  # the same twice


def test_a_baby_with_nights_only_in_one_period_is_not_compared():
    late = _nights("cy", 0, 3).iloc[7:]
    row = compare_periods(late, A, B, metrics=("total_sleep_min",)).iloc[0]
    assert row["nights_a"] == 0 and row["nights_b"] == 7 and row["change"] == "too few nights"
    assert np.isnan(row["difference"])


def test_the_interval_widens_when_nights_follow_each_other():
    # a slow drift within each period (bad nights follow bad nights) is more uncertain than shuffled nights:
    # the block bootstrap sees it, resampling single nights would not
    nights = pd.date_range("2026-03-02", periods=60).strftime("%Y-%m-%d")
    drift = np.r_[np.linspace(-40, 40, 30), np.linspace(-40, 40, 30)]
    frame = pd.DataFrame({"subject": "ada", "night": nights, "total_sleep_min": 600 + drift})
    periods = (nights[0], nights[29]), (nights[30], nights[59])
    ordered = compare_periods(frame, *periods, metrics=("total_sleep_min",)).iloc[0]
    shuffled = frame.assign(
        total_sleep_min=np.r_[np.random.default_rng(0).permutation(drift[:30]), drift[30:]] + 600
    )
    mixed = compare_periods(shuffled, *periods, metrics=("total_sleep_min",)).iloc[0]
    assert block_length(30) == 3
    assert (ordered["high"] - ordered["low"]) > (mixed["high"] - mixed["low"])


def test_the_cohort_row_takes_the_baby_as_the_unit():
    nights = pd.concat([_nights(s, 50, i) for i, s in enumerate(["ada", "ben", "cy", "dee"])])
    per_baby = compare_periods(nights, A, B, metrics=("twitches_per_h_active",))
    cohort = cohort_difference(per_baby).iloc[0]
    assert cohort["babies"] == 4 and cohort["change"] == "higher"
    two = cohort_difference(per_baby[per_baby["subject"].isin(["ada", "ben"])]).iloc[0]
    assert two["change"] == "too few babies"


def test_through_the_lake_a_change_in_one_baby_is_hers_alone(tmp_path):
    """Two babies of different ages, two weeks simulated; in the second week one baby's twitches are doubled in
    her log (each repeated 0.4 s later). Ingested and processed as any log, the weeks page's comparison and her
    visit report find more twitches in her, and neither finds it in the other baby; one table per baby."""
    from sleepmoves.dashboard.views import weeks_view
    from sleepmoves.ingest import ingest_file
    from sleepmoves.lake import Lake
    from sleepmoves.process import process
    from sleepmoves.simulate import write_simulation

    write_simulation(tmp_path / "sim", babies=2, weeks=2, seed=5)
    subjects = pd.read_csv(tmp_path / "sim" / "subjects.csv", dtype=str)
    changed, other = subjects["subject"].tolist()[:2]
    log = pd.read_csv(tmp_path / "sim" / "logs" / f"{changed}.csv", dtype=str)
    when = pd.to_datetime(log["time"], utc=True)
    second_week = (when >= pd.Timestamp("2026-03-09T12:00Z")) & (log["kind"] == "twitch")
    again = log[second_week].assign(
        time=(when[second_week] + pd.Timedelta(seconds=0.4)).dt.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    )
    pd.concat([log, again]).to_csv(tmp_path / "sim" / "logs" / f"{changed}.csv", index=False)
    lake = Lake(tmp_path / "lake")
    for row in subjects.itertuples():
        lake.add_subject(row.subject, row.tz, born=row.born)
        ingest_file(lake, tmp_path / "sim" / "logs" / f"{row.subject}.csv", row.subject)
    process(lake)
    _, comparison, _, _ = weeks_view(lake, [changed, other], "2026-W10", "2026-W11")
    table = comparison.set_index(["subject", "metric"])
    assert table.loc[(changed, "twitches_per_h_active"), "change"] == "higher"
    assert table.loc[(other, "twitches_per_h_active"), "change"] != "higher"
    assert set(comparison["subject"]) == {changed, other}  # each baby her own rows: nothing pooled
    # and each baby's visit report over the two weeks says so of her (its last page, as text)
    from sleepmoves.dashboard.report import report_pages

    for subject, found in ((changed, True), (other, False)):
        said = report_pages(lake, subject, "2026-03-02", "2026-03-15")[-1].layout.annotations[0].text
        line = next(x for x in said.split("<br>") if x.startswith("Twitches per hour of active sleep:"))
        assert line.endswith(": higher") == found, line
