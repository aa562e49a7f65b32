"""``sleepmoves train --from-lake``: the model learns a clinic's scored nights, and takes over only when it agrees
better with the scorers on babies it never saw.

The clinic is simulated (realistic setting) with the one difference the shipped model cannot know: its app logs
every movement as a "kick" (parent apps often do), so the shipped model reads active sleep's twitching as
kicking. SIMULATED: a logic check of the learning loop, not a claim about babies.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from sleepmoves.cli import main
from sleepmoves.evaluate import read_labels
from sleepmoves.ingest import ingest_file
from sleepmoves.labels import save_labels
from sleepmoves.lake import Lake
from sleepmoves.learn import ACTIVE, FOLDER, HISTORY, baby_key, consensus, held_out_babies
from sleepmoves.nights import night_of
from sleepmoves.process import process
from sleepmoves.simulate import write_simulation

SHIPPED = "phase-hgb-3bfe385b7e"


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """Three babies, a week each, logged by an app that calls twitches kicks; every night scored twice: by
    ``dr-sim`` (the truth) and by ``dr-swap`` (who swapped the active and quiet keys on the training babies)."""
    root = tmp_path_factory.mktemp("clinic")
    write_simulation(root / "sim", babies=3, weeks=1, seed=11, setting="realistic")
    lake = Lake(root / "lake")
    subjects = pd.read_csv(root / "sim" / "subjects.csv", dtype=str)
    for row in subjects.itertuples():
        lake.add_subject(row.subject, row.tz, born=row.born)
        log = pd.read_csv(root / "sim" / "logs" / f"{row.subject}.csv", dtype=str)
        log.loc[log["kind"] == "twitch", "kind"] = "kick"
        log.to_csv(root / f"{row.subject}.csv", index=False)
        ingest_file(lake, root / f"{row.subject}.csv", row.subject)
    process(lake)
    truth = read_labels(root / "sim" / "labels.csv")
    held = held_out_babies(subjects["subject"])
    swapped = {"active": "quiet", "quiet": "active"}
    for row in subjects.itertuples():
        mine = truth[truth["subject"] == row.subject]
        nights = night_of(mine["epoch_start"], row.tz).to_numpy()
        for night in sorted(set(nights)):
            scored = mine[nights == night]
            save_labels(lake, row.subject, night, "dr-sim", scored)
            if row.subject not in held:
                scored = scored.assign(phase=scored["phase"].replace(swapped))
            save_labels(lake, row.subject, night, "dr-swap", scored)
    return lake


def _copy(lake: Lake, tmp_path) -> Lake:
    shutil.copytree(lake.root, tmp_path / "lake")
    return Lake(tmp_path / "lake")


def _versions(lake: Lake) -> set[str]:
    return {
        v
        for s in lake.subjects()["subject"]
        for v in lake.read("phases", [s], columns=["model_version"])["model_version"].unique()
    }


def test_the_clinics_model_takes_over_when_it_agrees_better_with_its_scorers(clinic, tmp_path, capsys):
    lake = _copy(clinic, tmp_path)
    assert _versions(lake) == {SHIPPED}
    assert main(["train", "--from-lake", "--scorer", "dr-sim", "--lake", str(lake.root)]) == 0
    said = capsys.readouterr().out
    assert "the new model is now active" in said and "relabelled 21 nights" in said
    history = json.loads((lake.root / FOLDER / HISTORY).read_text())
    run = history[-1]
    assert run["replaced"] and run["new_kappa"] > run["active_kappa"] + 0.1
    held = held_out_babies(lake.subjects()["subject"])
    assert run["active_version"] == SHIPPED and run["held_out"] == [baby_key(b) for b in held]
    assert set(lake.subjects()["subject"]).isdisjoint(json.dumps(history))  # babies are named by a hash only
    assert (lake.root / FOLDER / ACTIVE).exists()
    # every night was relabelled by the new model, and says so
    assert _versions(lake) == {run["new_version"]}
    # a second run is judged against the lake's own model, on the baby it did not learn from: the same model
    # again gains nothing, so nothing changes
    assert main(["train", "--from-lake", "--scorer", "dr-sim", "--lake", str(lake.root)]) == 0
    again = json.loads((lake.root / FOLDER / HISTORY).read_text())[-1]
    assert again["active_version"] == run["new_version"] and again["held_out"] == run["held_out"]
    assert not again["replaced"] and _versions(lake) == {run["new_version"]}
    # with only babies it learnt from left, no fair comparison is possible: said, nothing changes
    for subject in held:
        lake.delete_subject(subject)
    assert main(["train", "--from-lake", "--scorer", "dr-sim", "--lake", str(lake.root)]) == 1
    assert "every scored baby helped train the active model" in capsys.readouterr().err


def test_a_model_that_is_not_better_on_babies_it_never_saw_is_refused(clinic, tmp_path, capsys):
    lake = _copy(clinic, tmp_path)
    assert main(["train", "--from-lake", "--scorer", "dr-swap", "--lake", str(lake.root)]) == 0
    said = capsys.readouterr().out
    assert "the active model stays" in said
    run = json.loads((lake.root / FOLDER / HISTORY).read_text())[-1]
    assert not run["replaced"] and run["new_kappa"] < run["active_kappa"]
    assert not (lake.root / FOLDER / ACTIVE).exists()
    assert (lake.root / FOLDER / f"{run['new_version']}.skops").exists()  # kept to look at, not used
    assert _versions(lake) == {SHIPPED}  # no night relabelled


def test_learning_needs_two_scored_babies(clinic, tmp_path, capsys):
    lake = _copy(clinic, tmp_path)
    first = lake.subjects()["subject"].iloc[0]
    for subject in lake.subjects()["subject"].iloc[1:]:
        lake.delete_subject(subject)
    assert main(["train", "--from-lake", "--lake", str(lake.root)]) == 1
    err = capsys.readouterr().err
    assert "at least 2 babies" in err and first in err


def test_scorers_who_split_evenly_on_an_epoch_teach_nothing_there():
    at = pd.date_range("2026-03-02 20:00", periods=3, freq="30s", tz="UTC")
    labels = pd.DataFrame(
        {
            "subject": "ada",
            "epoch_start": np.repeat(at, 3)[:8],
            "phase": ["quiet", "quiet", "active", "awake", "active", "quiet", "quiet", "active"],
            "scorer": ["a", "b", "c"] * 2 + ["a", "b"],
        }
    )
    agreed = consensus(labels)
    assert agreed["phase"].tolist() == ["quiet"]  # 2 of 3; the second epoch 1-1-1, the third 1-1
    assert agreed["epoch_start"].tolist() == [at[0]]
