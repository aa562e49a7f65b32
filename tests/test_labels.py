"""People's labels in the lake: saved per scorer and night through transactions, exported in the train format,
gone with the baby, out of reach of a handle limited to other babies."""

from __future__ import annotations

import pandas as pd
import pytest

from sleepmoves import tables
from sleepmoves.evaluate import read_labels
from sleepmoves.labels import export_labels, night_labels, save_labels, scored_nights
from sleepmoves.lake import Lake
from sleepmoves.schema import SleepmovesError

NIGHT = "2026-10-24"  # Europe/London leaves summer time at 01:00 UTC on the 25th: a 25-hour night
EVENING = pd.Timestamp("2026-10-24 20:00", tz="UTC")


def epochs(first: pd.Timestamp, phases: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"epoch_start": [first + pd.Timedelta(seconds=30 * i) for i in range(len(phases))], "phase": phases}
    )


@pytest.fixture
def lake(tmp_path) -> Lake:
    lake = Lake(tmp_path / "lake")
    lake.add_subject("ada", "Europe/London")
    lake.add_subject("bo", "Europe/London")
    return lake


def test_each_scorer_keeps_their_own_labels_of_a_night(lake):
    first = pd.Timestamp("2026-10-24 21:00", tz="UTC")
    save_labels(lake, "ada", NIGHT, "dr-lee", epochs(first, ["quiet", "quiet", "active"]), now=first)
    save_labels(lake, "ada", NIGHT, "nurse.kim", epochs(first, ["quiet", "active"]), now=first)
    later = first + pd.Timedelta(hours=1)
    # dr-lee changes the third epoch and scores a fourth: only dr-lee's file changes
    save_labels(lake, "ada", NIGHT, "dr-lee", epochs(first, ["quiet", "quiet", "quiet", "W"]), now=later)
    lee = night_labels(lake, "ada", NIGHT, scorer="dr-lee")
    assert lee["phase"].tolist() == ["quiet", "quiet", "quiet", "awake"]  # W is awake
    # an epoch scored the same again keeps when it was scored; a changed or new one is stamped now
    assert lee["scored_at"].tolist() == [first, first, later, later]
    assert night_labels(lake, "ada", NIGHT, scorer="nurse.kim")["phase"].tolist() == ["quiet", "active"]
    files = [f.path for f in lake.data_files("labels", "ada")]
    assert sorted(p.split("/")[-1].rsplit("-", 1)[0] for p in files) == ["dr-lee", "nurse.kim"]
    assert all(p.startswith(f"night={NIGHT}/") for p in files)
    summary = scored_nights(lake)
    assert summary[["subject", "night", "scorer", "epochs"]].values.tolist() == [
        ["ada", NIGHT, "dr-lee", 4],
        ["ada", NIGHT, "nurse.kim", 2],
    ]
    # saving nothing takes the scorer's labels of that night away
    save_labels(lake, "ada", NIGHT, "nurse.kim", epochs(first, []))
    assert night_labels(lake, "ada", NIGHT)["scorer"].unique().tolist() == ["dr-lee"]


def test_saving_the_same_labels_again_writes_nothing(lake):
    save_labels(lake, "ada", NIGHT, "dr-lee", epochs(EVENING, ["quiet"] * 3))
    version = tables.version(lake.root / "labels" / "subject=ada")
    save_labels(lake, "ada", NIGHT, "dr-lee", epochs(EVENING, ["quiet"] * 3))
    assert tables.version(lake.root / "labels" / "subject=ada") == version


@pytest.mark.parametrize(
    "bad, message",
    [
        (epochs(EVENING, ["deep"]), "one of awake, active, quiet, transition"),
        (epochs(EVENING + pd.Timedelta(seconds=10), ["quiet"]), "not a 30-s epoch of the night"),
        (epochs(pd.Timestamp("2026-10-26 09:00", tz="UTC"), ["quiet"]), "not a 30-s epoch of the night"),
        (pd.DataFrame({"epoch_start": ["yesterday"], "phase": ["quiet"]}), "label 1"),
    ],
)
def test_bad_labels_are_refused_with_the_label_and_nothing_changes(lake, bad, message):
    save_labels(lake, "ada", NIGHT, "dr-lee", epochs(EVENING, ["active"]))
    before = night_labels(lake, "ada", NIGHT)
    with pytest.raises(SleepmovesError, match=message):
        save_labels(lake, "ada", NIGHT, "dr-lee", bad)
    pd.testing.assert_frame_equal(night_labels(lake, "ada", NIGHT), before)


def test_a_scorer_name_never_becomes_a_path(lake):
    for name in ("../x", "a/b", "", "-lee"):
        with pytest.raises(SleepmovesError, match="invalid scorer name"):
            save_labels(lake, "ada", NIGHT, name, epochs(EVENING, ["quiet"]))
    assert not (lake.root / "labels").exists()


def test_a_save_that_dies_after_its_table_commit_is_undone(lake, monkeypatch):
    """The new file is committed to the labels table, then the process fails before the transaction is: the
    next handle finds the open journal and puts the table back."""
    from sleepmoves import journal

    save_labels(lake, "ada", NIGHT, "dr-lee", epochs(EVENING, ["active", "quiet"]))
    before = night_labels(lake, "ada", NIGHT)
    version = tables.version(lake.root / "labels" / "subject=ada")
    real = journal.Transaction._write_journal

    def dies_when_committing(self, state):
        if state == "committed":
            raise OSError("power cut")
        return real(self, state)

    monkeypatch.setattr(journal.Transaction, "_write_journal", dies_when_committing)
    with pytest.raises(OSError):
        save_labels(lake, "ada", NIGHT, "dr-lee", epochs(EVENING, ["awake", "awake"]))
    monkeypatch.undo()
    assert tables.version(lake.root / "labels" / "subject=ada") == version + 1  # the table had moved on
    reopened = Lake(lake.root)
    pd.testing.assert_frame_equal(night_labels(reopened, "ada", NIGHT), before)


def test_labels_export_in_the_train_format_across_the_clock_change(lake, tmp_path):
    # 00:30 to 02:00 UTC on the 25th: the local clock shows 01:30 twice (BST, then GMT)
    first = pd.Timestamp("2026-10-25 00:30", tz="UTC")
    scored = epochs(first, ["quiet", "active"] * 90)
    save_labels(lake, "ada", NIGHT, "dr-lee", scored)
    exported = export_labels(lake)
    assert exported.columns[:3].tolist() == ["subject", "epoch_start", "phase"]
    assert exported["epoch_start"].iloc[0] == "2026-10-25T01:30:00+01:00"
    assert "2026-10-25T01:30:00+00:00" in set(exported["epoch_start"])
    path = tmp_path / "labels.csv"
    exported.to_csv(path, index=False)
    back = read_labels(path)  # what train and evaluate read
    assert back["epoch_start"].tolist() == scored["epoch_start"].tolist()
    assert back["phase"].tolist() == scored["phase"].tolist()
    assert export_labels(lake, scorer="nobody").empty


def test_labels_go_with_the_baby(lake):
    save_labels(lake, "ada", NIGHT, "dr-lee", epochs(EVENING, ["quiet"]))
    save_labels(lake, "bo", NIGHT, "dr-lee", epochs(EVENING, ["active"]))
    lake.delete_subject("ada")
    assert not (lake.root / "labels" / "subject=ada").exists()
    assert scored_nights(lake)["subject"].tolist() == ["bo"]


def test_a_handle_for_one_baby_cannot_read_or_write_another_babys_labels(lake):
    save_labels(lake, "bo", NIGHT, "dr-lee", epochs(EVENING, ["active"]))
    only_ada = Lake(lake.root, only=["ada"])
    with pytest.raises(SleepmovesError, match="unknown subject 'bo'"):
        night_labels(only_ada, "bo", NIGHT)
    with pytest.raises(SleepmovesError, match="unknown subject 'bo'"):
        save_labels(only_ada, "bo", NIGHT, "dr-lee", epochs(EVENING, ["quiet"]))
    assert export_labels(only_ada).empty and scored_nights(only_ada).empty
    assert night_labels(lake, "bo", NIGHT)["phase"].tolist() == ["active"]


def test_the_command_line_lists_and_exports_the_labels(lake, tmp_path, capsys):
    from sleepmoves.cli import main

    assert main(["labels", "export", "--out", str(tmp_path / "none.csv"), "--lake", str(lake.root)]) == 1
    assert "no scored night to export" in capsys.readouterr().err
    save_labels(lake, "ada", NIGHT, "dr-lee", epochs(EVENING, ["quiet", "active"]))
    assert main(["labels", "list", "--lake", str(lake.root)]) == 0
    assert f"ada {NIGHT}: dr-lee, 2 epochs" in capsys.readouterr().out
    out = tmp_path / "labels.csv"
    assert main(["labels", "export", "--out", str(out), "--subject", "ada", "--lake", str(lake.root)]) == 0
    assert read_labels(out)["phase"].tolist() == ["quiet", "active"]
    assert main(["labels", "export", "--out", str(out), "--subject", "../bo", "--lake", str(lake.root)]) == 1


def _kappa_by_hand(a: list[str], b: list[str]) -> float:
    """Cohen's kappa from its definition: (observed - chance agreement) / (1 - chance agreement)."""
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    chance = sum((a.count(p) / n) * (b.count(p) / n) for p in set(a) | set(b))
    return (observed - chance) / (1 - chance)


def test_two_scorers_agreement_is_cohens_kappa(demo_lake, sim_dir, tmp_path):
    import shutil

    import numpy as np

    from sleepmoves.labels import scorer_agreement

    shutil.copytree(demo_lake.root, tmp_path / "lake")
    lake = Lake(tmp_path / "lake")
    subject = lake.subjects()["subject"].iloc[0]
    nights = lake.nights(subject)[:2]
    truth = read_labels(sim_dir / "labels.csv")
    truth = truth[truth["subject"] == subject]
    rng = np.random.default_rng(4)
    kept = {}
    for night in nights:
        model = lake.phases(subject, night)
        mine = truth[truth["epoch_start"].isin(model["epoch_start"])].reset_index(drop=True)
        other = mine.copy()
        flip = rng.random(len(other)) < 0.2  # the second scorer disagrees on a fifth of the epochs, at random
        other.loc[flip, "phase"] = rng.choice(["awake", "active", "quiet", "transition"], flip.sum())
        other = other.iloc[10:]  # and left the first five minutes unscored
        save_labels(lake, subject, night, "lee", mine, model_version="phase-hgb-x")
        save_labels(lake, subject, night, "kim", other)
        kept[night] = (mine, other, model)
    result = scorer_agreement(lake)
    pair = result["pairs"].iloc[0]
    assert (pair["scorer_a"], pair["scorer_b"], pair["nights"]) == ("kim", "lee", 2)
    a, b, lee_all, model_all = [], [], [], []
    for mine, other, model in kept.values():
        both = other.merge(mine, on="epoch_start")
        a += both["phase_x"].tolist()
        b += both["phase_y"].tolist()
        with_model = mine.merge(model[model["phase"].notna()], on="epoch_start")
        lee_all += with_model["phase_x"].tolist()
        model_all += with_model["phase_y"].tolist()
    assert pair["epochs"] == len(a)
    assert pair["kappa"] == pytest.approx(_kappa_by_hand(a, b))
    confusion = result["confusion"][("kim", "lee")]
    assert int(np.trace(confusion.to_numpy())) == sum(x == y for x, y in zip(a, b, strict=True))
    by_scorer = result["model"].set_index("scorer")
    assert by_scorer.loc["lee", "epochs"] == len(lee_all)
    assert by_scorer.loc["lee", "kappa"] == pytest.approx(_kappa_by_hand(lee_all, model_all))
    assert by_scorer.loc["lee", "model_versions"].startswith("phase-hgb-")


def test_one_key_scores_one_epoch_and_keeps_when_and_beside_which_model_the_others_were_scored(lake):
    from sleepmoves.labels import set_label

    first = pd.Timestamp("2026-10-24 21:00", tz="UTC")
    save_labels(lake, "ada", NIGHT, "dr-lee", epochs(first, ["quiet"] * 3), model_version="m1", now=first)
    later = first + pd.Timedelta(hours=1)
    after = set_label(
        lake,
        "ada",
        NIGHT,
        "dr-lee",
        first + pd.Timedelta(seconds=30),
        "active",
        model_version="m2",
        now=later,
    )
    assert after["phase"].tolist() == ["quiet", "active", "quiet"]
    assert after["model_version"].tolist() == ["m1", "m2", "m1"]
    assert after["scored_at"].tolist() == [first, later, first]
    cleared = set_label(lake, "ada", NIGHT, "dr-lee", first, None)
    assert cleared["epoch_start"].tolist() == [
        first + pd.Timedelta(seconds=30),
        first + pd.Timedelta(seconds=60),
    ]
    with pytest.raises(SleepmovesError, match="not a 30-s epoch"):
        set_label(lake, "ada", NIGHT, "dr-lee", first + pd.Timedelta(seconds=5), "quiet")
