"""Review flags: each fires on its simulated anomaly; on normal simulated nights they stay quiet."""

import json

import numpy as np
import pandas as pd
import pytest

from sleepmoves.flags import RULES, _series
from sleepmoves.model import load_model
from sleepmoves.nights import night_of
from sleepmoves.process import label_night
from sleepmoves.simulate import simulate


@pytest.fixture(scope="module")
def model():
    return load_model()


def run_nights(cohort, events, model) -> pd.DataFrame:
    """Label every night of every baby in order, as `sleepmoves process` does; one row per night."""
    rows = []
    for baby in cohort:
        ev = events[baby.subject]
        nights = night_of(ev["start"], baby.tz).to_numpy()
        history = pd.DataFrame()
        for night in sorted(set(nights)):
            _, _, metrics = label_night(
                ev[nights == night], night=night, tz=baby.tz, born=baby.born, model=model, history=history
            )
            row = {**metrics, "subject": baby.subject, "night": night, "anomaly": baby.anomaly}
            history = pd.concat([history, pd.DataFrame([row])], ignore_index=True)
            rows.append(row)
    table = pd.DataFrame(rows)
    table["rules"] = [sorted({f["rule"] for f in json.loads(text)}) for text in table["flags"]]
    return table


def test_series_finds_runs_with_gaps_in_range():
    onsets = np.array([0, 10, 20, 30, 200, 210, 400, 410, 420, 430, 440])
    assert _series(onsets, 5, 90, 4) == [(0, 4), (6, 11)]


@pytest.mark.parametrize(
    ("anomaly", "rule", "share"),
    [
        ("rhythmic", "rhythmic_jerking", 0.5),
        ("spasms", "cluster_on_waking", 0.8),
        ("asymmetric", "limb_asymmetry", 0.7),
        ("plm", "periodic_limb_moves", 0.7),
    ],
)
def test_each_flag_fires_on_its_anomaly(model, anomaly, rule, share):
    # three babies with the anomaly (their own rates, realistic setting): one baby's nights say little
    cohort, events, _ = simulate(babies=6, weeks=2, seed=51, anomalies={1: anomaly, 3: anomaly, 5: anomaly})
    nights = run_nights([baby for baby in cohort if baby.anomaly], events, model)
    fired = nights["rules"].map(lambda r: rule in r)
    print(f"\n{anomaly}: {rule} on {fired.mean():.0%} of {len(nights)} nights")
    assert fired.mean() >= share
    flag = next(f for text in nights["flags"] for f in json.loads(text) if f["rule"] == rule)
    assert (
        flag["message"].startswith("Worth showing your pediatrician:")
        and "not a diagnosis" in flag["message"]
    )
    assert pd.Timestamp(flag["start"]).tzinfo is not None


def test_false_flag_rate_on_normal_nights(model):
    cohort, events, _ = simulate(babies=8, weeks=2, seed=41)
    nights = run_nights(cohort, events, model)
    flagged = nights["rules"].map(bool)
    by_rule = pd.Series([r for rules in nights["rules"] for r in rules]).value_counts().to_dict()
    print(
        f"\nfalse flags on {len(nights)} normal simulated nights: {flagged.sum()} nights ({flagged.mean():.1%}) {by_rule}"
    )
    assert len(nights) >= 100
    assert flagged.mean() < 0.02


def test_thresholds_have_sources():
    assert all("source" in rule for rule in RULES.values())


def test_processing_never_repeats_a_flag(tmp_path):
    """Cross-night flags are added once, after the nights are labelled (here: shaking in sleep past 6 months)."""
    from sleepmoves.ingest import ingest_file
    from sleepmoves.lake import Lake
    from sleepmoves.process import process
    from sleepmoves.simulate import _local_iso

    cohort, events, _ = simulate(babies=4, weeks=2, seed=51, anomalies={2: "rhythmic"})
    baby = cohort[2]
    log = events[baby.subject].copy()
    log.insert(0, "time", _local_iso(log.pop("start"), baby.tz))
    log.to_csv(tmp_path / "log.csv", index=False)
    lake = Lake(tmp_path / "lake")
    lake.add_subject(baby.subject, baby.tz, born=baby.born)
    ingest_file(lake, tmp_path / "log.csv", baby.subject)
    process(lake)
    flags = lake.flags([baby.subject])
    assert "rising_shaking" in set(flags["rule"])
    assert not flags.duplicated(["night", "rule", "start"]).any()


def test_an_earlier_week_stored_after_a_later_one_leaves_no_stale_flag(tmp_path):
    """Back-filling: the later week's cross-night flags are judged again once the earlier week arrives, so the
    nights table is the same whichever week was ingested first (here: a baby whose right leg barely moves)."""
    from sleepmoves.ingest import ingest_file
    from sleepmoves.lake import Lake
    from sleepmoves.nights import night_of
    from sleepmoves.process import process
    from sleepmoves.simulate import _local_iso

    cohort, events, _ = simulate(babies=4, weeks=2, seed=51, anomalies={2: "asymmetric"})
    baby = cohort[2]
    log = events[baby.subject].copy()
    nights = pd.Series(night_of(log["start"], baby.tz))
    first_week = nights < sorted(nights.unique())[7]
    files = {}
    for name, mask in (("week1", first_week.to_numpy()), ("week2", ~first_week.to_numpy())):
        part = log[mask].copy()
        part.insert(0, "time", _local_iso(part.pop("start"), baby.tz))
        files[name] = tmp_path / f"{name}.csv"
        part.to_csv(files[name], index=False)

    def nights_table(order: list[str], name: str) -> pd.DataFrame:
        lake = Lake(tmp_path / name)
        lake.add_subject(baby.subject, baby.tz, born=baby.born)
        for week_name in order:
            ingest_file(lake, files[week_name], baby.subject)
            process(lake)
        return lake.nights_table([baby.subject])[["night", "flags", "n_flags"]]

    in_order = nights_table(["week1", "week2"], "in-order")
    back_filled = nights_table(["week2", "week1"], "back-filled")
    later = in_order[in_order["night"] >= sorted(in_order["night"])[7]]
    assert (
        later["flags"].str.contains("limb_asymmetry").any()
    )  # the later week has cross-night flags to judge
    pd.testing.assert_frame_equal(back_filled, in_order)


def test_two_wakings_minutes_apart_flag_their_one_cluster_once():
    from sleepmoves.flags import cluster_on_waking
    from tests.conftest import hypnogram

    phases = hypnogram("N" * 20 + "W" + "N" + "W" * 10 + "N" * 20)  # woke 19:10, dozed, woke again 19:11
    jerk_times = pd.Timestamp("2026-03-02T19:11:05Z") + pd.to_timedelta(np.arange(6) * 8, unit="s")
    events = pd.DataFrame(
        {"start": jerk_times, "duration_s": 1.0, "kind": "startle", "limb": "whole_body", "intensity": 1.0}
    )
    flags = cluster_on_waking(events, phases, "UTC", age_months=5)
    assert len(flags) == 1 and "6 sudden jerks" in flags[0]["message"]
