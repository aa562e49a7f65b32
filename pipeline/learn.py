"""The model learns the clinic's own babies: trained on the nights people scored (:mod:`sleepmoves.labels`),
checked against the active model on babies it never saw, and made active only when it agrees better with the
people there.

A lake's active model is ``<lake>/models/active.skops`` when there is one, else the model shipped in the package.
A model that replaces it keeps the old one beside it (``models/<version>.skops``) and a line in
``models/history.json``; processing then relabels every night with the new one, and each epoch's
``model_version`` in the phases table says which model labelled it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from .schema import SleepmovesError
from .tables import fsync_folder as _sync  # a file's bytes or a folder's renames: the same fsync

FOLDER = "models"
ACTIVE = "active.skops"
HISTORY = "history.json"
HELD_OUT_SHARE = 1 / 3  # of the scored babies, kept out of training to compare the two models on


def active_model_path(lake) -> Path:
    """The model that labels this lake's nights: the lake's own active model, else the shipped one."""
    from .model import DEFAULT_MODEL

    own = Path(lake.root) / FOLDER / ACTIVE
    return own if own.exists() else DEFAULT_MODEL


def held_out_babies(babies, seed: int = 0, share: float = HELD_OUT_SHARE, *, unseen=None) -> list[str]:
    """The babies kept out of training: a fixed share of them (at least one, never all), chosen by a hash of the
    seed and the baby's id, so the same lake and seed always hold out the same babies. ``unseen``, when given,
    are the only babies that may be held out (those the active model did not learn from: a model is not judged
    on babies it was trained on)."""
    babies = sorted(set(babies))
    if len(babies) < 2:
        raise SleepmovesError(
            "learning from the lake needs scored nights of at least 2 babies: one is held out to check the new "
            f"model on a baby it never saw (scored so far: {', '.join(babies) or 'none'})"
        )
    eligible = babies if unseen is None else [b for b in babies if b in set(unseen)]
    if not eligible:
        raise SleepmovesError(
            "every scored baby helped train the active model, so none can show whether a new one is better: "
            "score nights of a baby it has not seen, then learn again"
        )
    order = sorted(eligible, key=lambda b: hashlib.sha256(f"{seed}/{b}".encode()).hexdigest())
    return sorted(order[: max(1, min(len(babies) - 1, len(eligible), round(len(babies) * share)))])


def baby_key(subject: str) -> str:
    """How the models' history names a baby: a hash, not the id (the history outlives a deleted baby)."""
    return hashlib.sha256(f"sleepmoves-baby/{subject}".encode()).hexdigest()[:16]


def consensus(labels: pd.DataFrame) -> pd.DataFrame:
    """One phase per epoch from every scorer's (``subject, epoch_start, phase, scorer``): the phase most of them
    gave; an epoch they split evenly on is left out (nobody can say which is right)."""
    counts = labels.groupby(["subject", "epoch_start", "phase"]).size().rename("n").reset_index()
    top = counts.groupby(["subject", "epoch_start"])["n"].transform("max")
    best = counts[counts["n"] == top]
    clear = best.groupby(["subject", "epoch_start"])["phase"].transform("size") == 1
    return best[clear][["subject", "epoch_start", "phase"]].reset_index(drop=True)


MIN_GAIN = 0.01  # kappa the new model must gain on the held-out babies: a tie, or noise, relabels nothing


@dataclass
class LearnReport:
    """What ``train --from-lake`` did: the two models' agreement with people on the held-out babies."""

    epochs: int
    babies: list[str]
    held_out: list[str]
    held_out_epochs: int
    active_version: str
    new_version: str
    active_kappa: float
    new_kappa: float
    replaced: bool
    kept: str | None  # where the model that was active is kept (None: the shipped one, inside the package)


def train_from_lake(lake, *, scorer: str | None = None, seed: int = 0) -> LearnReport:
    """Train a phase model on every scored night of the lake and make it active only if it is better.

    The scored babies are split (:func:`held_out_babies`: only babies the active model did not learn from are
    held out); a model is trained on the rest (its calibration folds grouped by baby, as
    :class:`sleepmoves.PhaseModel` does), and both it and the active model label the held-out babies' nights,
    whole, as ``process`` would. The new model replaces the active one only when its Cohen's kappa with the
    people's labels there is higher by :data:`MIN_GAIN`; the old one is kept. ``scorer`` learns from one scorer's
    labels only (default: every scorer's, one phase per epoch by :func:`consensus`).
    """
    from .evaluate import feature_columns, labels_frame, night_groups
    from .labels import export_labels
    from .model import PhaseModel, agreement, load_model, model_version

    exported = export_labels(lake, scorer=scorer)
    if exported.empty:
        raise SleepmovesError("no scored night in the lake: score nights on the dashboard's Score page first")
    labels = labels_frame(exported, "the lake's labels").assign(scorer=exported["scorer"].to_numpy())
    frame = lake_features(lake, consensus(labels), whole_nights=True)
    scored = frame["phase"].notna().to_numpy()
    babies = sorted(frame.loc[scored, "subject"].unique())
    folder = Path(lake.root) / FOLDER
    active_path = active_model_path(lake)
    active = load_model(active_path)
    seen = _trained_on(folder, active.version_)
    held = held_out_babies(
        babies, seed, unseen=None if seen is None else [b for b in babies if baby_key(b) not in seen]
    )
    test = frame["subject"].isin(held).to_numpy()
    train = ~test & scored
    features = feature_columns(frame)
    model = PhaseModel(random_state=seed)
    model.fit(frame.loc[train, features], frame.loc[train, "phase"], groups=night_groups(frame[train]))
    whole = frame[test]  # the held-out nights, whole: the HMM sees every epoch as process gives it
    judged = scored[test]
    truth = whole["phase"].to_numpy()[judged]
    groups = night_groups(whole)
    new_kappa = agreement(truth, model.predict(whole, groups)[judged])["kappa"]
    active_kappa = agreement(truth, active.predict(whole, groups)[judged])["kappa"]
    replaced = bool(new_kappa >= active_kappa + MIN_GAIN)
    kept = None
    with lake.writer():
        if model_version(active_model_path(lake)) != active.version_:
            raise SleepmovesError(
                "the active model changed while this one was trained (another `train --from-lake`?): run it again"
            )
        folder.mkdir(parents=True, exist_ok=True)
        staged = folder / f".new-{os.getpid()}.skops"
        try:
            new_version = model.save(staged)
            _sync(staged)
            if replaced:
                if active_path == folder / ACTIVE:  # the lake's own model: kept beside, under its version
                    kept_path = folder / f"{active.version_}.skops"
                    if not kept_path.exists():
                        copy = folder / f".{kept_path.name}.tmp"
                        shutil.copyfile(active_path, copy)
                        _sync(copy)
                        os.replace(copy, kept_path)
                    kept = str(kept_path)
                os.replace(staged, folder / ACTIVE)  # atomic: processing sees the old model or the new, whole
            else:
                os.replace(staged, folder / f"{new_version}.skops")  # not active, but kept to look at
            _sync(folder)
        finally:
            staged.unlink(missing_ok=True)
        report = LearnReport(
            epochs=int(scored.sum()),
            babies=babies,
            held_out=held,
            held_out_epochs=int(judged.sum()),
            active_version=active.version_,
            new_version=new_version,
            active_kappa=float(active_kappa),
            new_kappa=float(new_kappa),
            replaced=replaced,
            kept=kept,
        )
        _remember(folder, report, trained_on=sorted(set(frame.loc[train, "subject"])))
    return report


def _trained_on(folder: Path, version: str) -> set[str] | None:
    """The babies (:func:`baby_key`) the lake's model of ``version`` learnt from, from the history; None for a
    model the lake did not train (the shipped one knows none of its babies)."""
    for run in reversed(_history(folder)):
        if run.get("new_version") == version and "trained_on" in run:
            return set(run["trained_on"])
    return None


def _history(folder: Path) -> list[dict]:
    try:
        return json.loads((folder / HISTORY).read_text())
    except (OSError, ValueError):
        return []


def lake_features(lake, labels: pd.DataFrame, *, whole_nights: bool = False) -> pd.DataFrame:
    """Features of the labelled epochs (``subject, epoch_start, phase``), described from the lake's inputs
    exactly as ``process`` describes them (:func:`sleepmoves.evaluate.labelled_features`; ``whole_nights``
    keeps the unlabelled epochs of labelled nights too)."""
    from .evaluate import labelled_features

    subjects = lake.subjects()
    known = sorted(set(labels["subject"]))
    tables = {name: {s: lake.read(name, [s]) for s in known} for name in ("events", "recording", "counts")}
    manifest = lake.manifest()
    formats = dict(zip(manifest["sha256"], manifest["format"], strict=True))
    return labelled_features(
        labels,
        tables["events"],
        subjects,
        tables["recording"],
        tables["counts"],
        formats=formats,
        whole_nights=whole_nights,
    )


def _remember(folder: Path, report: LearnReport, trained_on: list[str]) -> None:
    """Append the run to ``history.json`` (rewritten whole through a temporary file: a crash leaves the old).
    Babies are named by :func:`baby_key`, not by id."""
    history = _history(folder)
    run = asdict(report)
    run["babies"] = [baby_key(b) for b in report.babies]
    run["held_out"] = [baby_key(b) for b in report.held_out]
    run["trained_on"] = [baby_key(b) for b in trained_on]
    history.append({"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **run})
    tmp = folder / f".{HISTORY}.tmp"
    tmp.write_text(json.dumps(history, indent=1))
    _sync(tmp)
    os.replace(tmp, folder / HISTORY)
