import pickle

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from sleepmoves.evaluate import feature_columns, labelled_features, night_groups
from sleepmoves.model import DEFAULT_MODEL, PhaseModel, agreement, forward_backward, load_model
from sleepmoves.schema import PHASES, SleepmovesError
from sleepmoves.simulate import recording_spans, simulate


def cohort_features(babies: int, weeks: int, seed: int) -> pd.DataFrame:
    cohort, events, labels = simulate(babies=babies, weeks=weeks, seed=seed)
    subjects = pd.DataFrame(
        {
            "subject": [b.subject for b in cohort],
            "born": [b.born for b in cohort],
            "tz": [b.tz for b in cohort],
        }
    )
    return labelled_features(labels, events, subjects, recording_spans(labels))


@pytest.fixture(scope="module")
def held_out() -> pd.DataFrame:
    """Babies never seen in training (another seed: other rates and nights), from 2 weeks to 11 months old."""
    return cohort_features(babies=5, weeks=1, seed=22)


@pytest.fixture(scope="module")
def trained() -> PhaseModel:
    train = cohort_features(babies=8, weeks=2, seed=21)
    return PhaseModel(max_iter=120).fit(
        train[feature_columns(train)], train["phase"], groups=night_groups(train)
    )


def _report(name, result):
    print(
        f"\n{name}: {result['epochs']} held-out epochs  accuracy {result['accuracy']:.3f}  "
        f"kappa {result['kappa']:.3f}  sleep/wake accuracy {result['sleep_wake_accuracy']:.3f}\n{result['confusion']}"
    )


def test_trained_model_beats_chance_on_held_out_babies(trained, held_out):
    result = agreement(held_out["phase"], trained.predict(held_out))
    _report("freshly trained PhaseModel", result)
    assert (
        result["kappa"] > 0.5
    )  # chance is 0; published active/quiet from movement is 0.2-0.4 on real infants
    assert result["accuracy"] > 0.7
    assert result["sleep_wake_accuracy"] > 0.9


def test_shipped_model_on_held_out_babies(held_out):
    model = load_model(DEFAULT_MODEL)
    version = model.version_
    assert version.startswith("phase-hgb-")
    result = agreement(held_out["phase"], model.predict(held_out))
    _report(f"shipped model {version}", result)
    assert result["kappa"] > 0.5 and result["sleep_wake_accuracy"] > 0.9


def test_probabilities_are_a_distribution_over_the_four_phases(trained, held_out):
    proba = trained.predict_proba(held_out, night_groups(held_out))
    assert proba.shape == (len(held_out), 4)
    assert np.allclose(proba.sum(axis=1), 1) and (proba >= 0).all()
    assert list(trained.classes_) == list(PHASES)
    # column order is by name: shuffled columns give the same answer
    shuffled = held_out[list(reversed(held_out.columns))]
    assert np.array_equal(trained.predict_proba(shuffled, night_groups(held_out)), proba)


def test_age_matters_to_the_model(trained, held_out):
    """After ~3 months twitches occur in quiet sleep too: the same movements at another age read differently."""
    older = held_out.assign(age_weeks=held_out["age_weeks"] + 30)
    assert not np.allclose(trained.predict_proba(older), trained.predict_proba(held_out))


def test_skops_round_trip_gives_identical_probabilities(trained, held_out, tmp_path):
    version = trained.save(tmp_path / "m.skops")
    loaded = load_model(tmp_path / "m.skops")
    loaded_version = loaded.version_
    assert version == loaded_version
    assert np.array_equal(loaded.predict_proba(held_out.head(500)), trained.predict_proba(held_out.head(500)))


class Gadget:
    """Stands in for an attacker's object: any type outside the PhaseModel's own must be refused."""

    def __reduce__(self):
        return (print, ("this must never run",))


def test_crafted_model_files_are_refused(trained, tmp_path):
    evil = PhaseModel()
    evil.__dict__.update(trained.__dict__)
    evil.extra_ = Gadget()
    sio.dump(evil, tmp_path / "evil.skops")
    with pytest.raises(SleepmovesError, match="refusing to load .*test_model.Gadget"):
        load_model(tmp_path / "evil.skops")

    (tmp_path / "pickled.skops").write_bytes(pickle.dumps(trained))
    with pytest.raises(SleepmovesError, match="not a skops model file"):
        load_model(tmp_path / "pickled.skops")

    with pytest.raises(SleepmovesError, match="no phase model at"):
        load_model(tmp_path / "missing.skops")


def test_hmm_smooths_a_lone_flip_and_keeps_probabilities():
    sticky = np.full((4, 4), 0.01) + np.eye(4) * 0.96
    emission = np.tile([0.1, 0.8, 0.05, 0.05], (21, 1))
    emission[10] = [0.1, 0.3, 0.55, 0.05]  # one epoch mildly says quiet in a run of active
    post = forward_backward(emission, sticky, np.full(4, 0.25))
    assert np.allclose(post.sum(axis=1), 1)
    assert post.argmax(axis=1).tolist() == [1] * 21
    loose = np.full((4, 4), 0.25)
    assert (
        forward_backward(emission, loose, np.full(4, 0.25)).argmax(axis=1)[10] == 2
    )  # no structure: no smoothing


def test_hmm_is_used_only_when_it_helps_on_held_out_nights(trained):
    assert set(trained.heldout_log_likelihood_) == {"calibrated", "hmm"}
    lls = trained.heldout_log_likelihood_
    assert trained.use_hmm_ == (lls["hmm"] > lls["calibrated"])
    assert 0 < trained.calibration_power_ <= 1 and np.allclose(trained.transition_.sum(axis=1), 1)


def test_unknown_training_label_is_refused(held_out):
    with pytest.raises(SleepmovesError, match="unknown phase labels"):
        PhaseModel().fit(held_out[feature_columns(held_out)].head(10), ["sleepy"] * 10)


def test_version_depends_on_content_not_on_the_save(trained, tmp_path):
    first = trained.save(tmp_path / "a.skops")
    reloaded = load_model(tmp_path / "a.skops")
    assert reloaded.save(tmp_path / "b.skops") == first  # new object ids, same model
    other = PhaseModel(max_iter=5).fit(pd.DataFrame({"a": [0.0, 1.0] * 20}), ["awake", "quiet"] * 20)
    assert other.save(tmp_path / "c.skops") != first


def test_training_describes_a_night_exactly_as_processing_does(demo_lake, sim_dir):
    """What ``train`` and ``evaluate`` learn from is what ``process`` gives the model: for every labelled epoch
    of a processed night, the features built from the labels file equal the features stored in the lake."""
    from sleepmoves.cli import _labelled

    frame = _labelled(demo_lake, [sim_dir / "labels.csv"])
    columns = feature_columns(frame)
    assert "hours_in" not in columns and "hours_left" not in columns  # where a recording starts is no feature
    compared = 0
    for subject in sorted(frame["subject"].unique()):
        for night in demo_lake.nights(subject)[:3]:
            trained_on = frame[(frame["subject"] == subject) & (frame["night"] == night)].set_index(
                "epoch_start"
            )
            stored = demo_lake.epochs(subject, night).set_index("epoch_start")
            stored = stored[stored["valid"]]
            assert len(trained_on) > 600 and set(trained_on.index) == set(stored.index)
            pd.testing.assert_frame_equal(
                trained_on[columns].sort_index(),
                stored.loc[trained_on.index, columns].sort_index(),
                check_dtype=False,
                check_freq=False,
            )
            compared += 1
    assert compared >= 4


# What the model card (data/models/README.md) says the shipped model is made of.
SHIPPED_FEATURES = [
    *[f"n_{k}" for k in ("twitch", "kick", "startle", "shake", "stretch", "other", "events")],
    "n_twitch_legs",
    "n_twitch_arms",
    "move_s",
    "max_intensity",
    "n_limbs",
    *[
        f"{c}_{w}"
        for w in ("1m", "2m5", "5m", "10m")
        for c in (
            "n_twitch",
            "n_kick",
            "n_startle",
            "n_events",
            "move_s",
            "max_intensity",
            "n_twitch_legs",
            "n_twitch_arms",
        )
    ],
    "min_since_big",
    "min_to_big",
    "hours_since_settled",
    "clock_sin",
    "clock_cos",
    "age_weeks",
]


def test_the_shipped_model_is_what_its_card_says():
    """The card's feature list, calibration temperature, HMM decision and version match the shipped file."""
    import re
    from pathlib import Path

    card = (Path(DEFAULT_MODEL).parent / "README.md").read_text(encoding="utf-8")
    model = load_model(DEFAULT_MODEL)
    version = model.version_
    assert model.features_ == SHIPPED_FEATURES
    assert f"{len(SHIPPED_FEATURES)} features" in card
    stated = float(re.search(r"\*\*T = ([0-9.]+)\*\*", card).group(1))
    assert round(model.temperature_, 2) == stated and model.calibration_power_ == pytest.approx(
        1 / model.temperature_
    )
    assert not model.use_hmm_ and "it does not, so it is not used" in card
    assert f"Shipped version: `{version}`" in card


def test_a_model_saved_before_the_rename_loads_with_the_same_version(tmp_path):
    """Models trained when the package was named ``pipeline`` still load, and keep their version (no lake
    relabels its nights for the rename)."""
    import zipfile

    old = tmp_path / "old.skops"
    with zipfile.ZipFile(DEFAULT_MODEL) as src, zipfile.ZipFile(old, "w") as out:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "schema.json":
                body = body.replace(b'"__module__": "sleepmoves.model"', b'"__module__": "pipeline.model"')
            out.writestr(info, body)
    assert b"pipeline.model" in zipfile.ZipFile(old).read("schema.json")
    shipped, former = load_model(DEFAULT_MODEL), load_model(old)
    assert isinstance(former, PhaseModel) and former.version_ == shipped.version_


def test_a_refitted_model_is_not_the_saved_one(tmp_path):
    model = load_model(DEFAULT_MODEL)
    model.fit(pd.DataFrame({"a": [0.0, 1.0] * 20}), ["awake", "quiet"] * 20)
    assert not hasattr(model, "version_")  # label_night will not credit the shipped model with its labels
    version = model.save(tmp_path / "refit.skops")
    assert model.version_ == version == load_model(tmp_path / "refit.skops").version_
