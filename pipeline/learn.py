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

import numpy as np
import pandas as pd

from .schema import SleepmovesError

FOLDER = "models"
ACTIVE = "active.skops"
HISTORY = "history.json"
HELD_OUT_SHARE = 1 / 3  # of the scored babies, kept out of training to compare the two models on


def active_model_path(lake) -> Path:
    """The model that labels this lake's nights: the lake's own active model, else the shipped one."""
    from .model import DEFAULT_MODEL

    own = Path(lake.root) / FOLDER / ACTIVE
    return own if own.exists() else DEFAULT_MODEL


def held_out_babies(babies, seed: int = 0, share: float = HELD_OUT_SHARE) -> list[str]:
    """The babies kept out of training: a fixed share of them (at least one), chosen by a hash of the seed and
    the baby's id, so the same lake and seed always hold out the same babies."""
    babies = sorted(set(babies))
    if len(babies) < 2:
        raise SleepmovesError(
            "learning from the lake needs scored nights of at least 2 babies: one is held out to check the new "
            f"model on a baby it never saw (scored so far: {', '.join(babies) or 'none'})"
        )
    order = sorted(babies, key=lambda b: hashlib.sha256(f"{seed}/{b}".encode()).hexdigest())
    return sorted(order[: max(1, min(len(babies) - 1, round(len(babies) * share)))])


def consensus(labels: pd.DataFrame) -> pd.DataFrame:
    """One phase per epoch from every scorer's (``subject, epoch_start, phase, scorer``): the phase most of them
    gave; an epoch they split evenly on is left out (nobody can say which is right)."""
    counts = labels.groupby(["subject", "epoch_start", "phase"]).size().rename("n").reset_index()
    top = counts.groupby(["subject", "epoch_start"])["n"].transform("max")
    best = counts[counts["n"] == top]
    clear = best.groupby(["subject", "epoch_start"])["phase"].transform("size") == 1
    return best[clear][["subject", "epoch_start", "phase"]].reset_index(drop=True)


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

    The scored babies are split (:func:`held_out_babies`); a model is trained on the rest (its validation folds
    grouped by baby, as :class:`sleepmoves.PhaseModel` does) and both it and the active model label the held-out
    babies' scored epochs. The new model replaces the active one only when its Cohen's kappa with the people's
    labels there is higher; the old one is kept. ``scorer`` learns from one scorer's labels only (default: every
    scorer's, one phase per epoch by :func:`consensus`).
    """
    from .evaluate import feature_columns, labels_frame, night_groups
    from .labels import export_labels
    from .model import PhaseModel, agreement, load_model

    exported = export_labels(lake, scorer=scorer)
    if exported.empty:
        raise SleepmovesError("no scored night in the lake: score nights on the dashboard's Score page first")
    labels = labels_frame(exported, "the lake's labels").assign(scorer=exported["scorer"].to_numpy())
    frame = lake_features(lake, consensus(labels))
    babies = sorted(frame["subject"].unique())
    held = held_out_babies(babies, seed)
    test = frame["subject"].isin(held).to_numpy()
    features = feature_columns(frame)
    model = PhaseModel(random_state=seed)
    model.fit(frame.loc[~test, features], frame.loc[~test, "phase"], groups=night_groups(frame[~test]))
    active_path = active_model_path(lake)
    active = load_model(active_path)
    truth = frame.loc[test, "phase"].to_numpy()
    groups = night_groups(frame[test])
    new_kappa = agreement(truth, model.predict(frame.loc[test], groups))["kappa"]
    active_kappa = agreement(truth, active.predict(frame.loc[test], groups))["kappa"]
    folder = Path(lake.root) / FOLDER
    replaced = bool(new_kappa > active_kappa)
    kept = None
    with lake.writer():
        folder.mkdir(parents=True, exist_ok=True)
        staged = folder / f".new-{os.getpid()}.skops"
        new_version = model.save(staged)
        if replaced:
            if active_path == folder / ACTIVE:  # the lake's own model: kept beside, by its version
                kept_path = folder / f"{active.version_}.skops"
                if not kept_path.exists():
                    shutil.copyfile(active_path, kept_path.with_name(f".{kept_path.name}.tmp"))
                    os.replace(kept_path.with_name(f".{kept_path.name}.tmp"), kept_path)
                kept = str(kept_path)
            os.replace(staged, folder / ACTIVE)  # atomic: processing sees the old model or the new, whole
        else:
            kept_new = folder / f"{new_version}.skops"  # not active, but kept to look at
            os.replace(staged, kept_new)
        report = LearnReport(
            epochs=len(frame),
            babies=babies,
            held_out=held,
            held_out_epochs=int(test.sum()),
            active_version=active.version_,
            new_version=new_version,
            active_kappa=float(active_kappa),
            new_kappa=float(new_kappa),
            replaced=replaced,
            kept=kept,
        )
        _remember(folder, report)
    return report


def lake_features(lake, labels: pd.DataFrame) -> pd.DataFrame:
    """Features of the labelled epochs (``subject, epoch_start, phase``), described from the lake's inputs
    exactly as ``process`` describes them (:func:`sleepmoves.evaluate.labelled_features`)."""
    from .evaluate import labelled_features

    subjects = lake.subjects()
    known = sorted(set(labels["subject"]))
    tables = {name: {s: lake.read(name, [s]) for s in known} for name in ("events", "recording", "counts")}
    manifest = lake.manifest()
    formats = dict(zip(manifest["sha256"], manifest["format"], strict=True))
    return labelled_features(
        labels, tables["events"], subjects, tables["recording"], tables["counts"], formats=formats
    )


def _remember(folder: Path, report: LearnReport) -> None:
    """Append the run to ``history.json`` (rewritten whole through a temporary file: a crash leaves the old)."""
    path = folder / HISTORY
    try:
        history = json.loads(path.read_text()) if path.exists() else []
    except ValueError:
        history = []
    history.append({"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **asdict(report)})
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(
        json.dumps(history, indent=1, default=lambda v: v.item() if isinstance(v, np.generic) else v)
    )
    os.replace(tmp, path)
