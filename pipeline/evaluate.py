"""Labelled epochs -> features, and agreement of a PhaseModel with scored nights.

Labels are ``subject, epoch_start, phase`` (CSV or Parquet; phase as a word or W/R/N/T), the format
``sleepmoves simulate`` writes and a clinician's scored nights can be converted to.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .epochs import age_in_weeks, epoch_features
from .nights import night_of
from .schema import EPOCH_S, SleepmovesError, phase_from_label


def read_labels(path: str | Path) -> pd.DataFrame:
    """Read a labels file and normalise it: UTC ``epoch_start`` on 30-s marks, phase words."""
    path = Path(path)
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype=str)
    except FileNotFoundError:
        raise SleepmovesError(f"{path}: no such file") from None
    except Exception as exc:
        raise SleepmovesError(f"{path}: cannot read labels ({exc})") from None
    missing = {"subject", "epoch_start", "phase"} - set(frame.columns)
    if missing:
        raise SleepmovesError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    start = pd.to_datetime(frame["epoch_start"], utc=True, errors="coerce", format="ISO8601")
    if start.isna().any():
        line = int(start.isna().to_numpy().argmax()) + 2
        raise SleepmovesError(f"{path}:{line}: column epoch_start: not an ISO 8601 time with offset")
    phase = frame["phase"].map(phase_from_label)
    if phase.isna().any():
        line = int(phase.isna().to_numpy().argmax()) + 2
        raise SleepmovesError(f"{path}:{line}: column phase: unknown phase {frame['phase'].iloc[line - 2]!r}")
    return pd.DataFrame(
        {
            "subject": frame["subject"].astype(str),
            "epoch_start": start.dt.floor(f"{EPOCH_S}s"),
            "phase": phase,
        }
    )


def labelled_features(
    labels: pd.DataFrame, events: dict[str, pd.DataFrame], subjects: pd.DataFrame
) -> pd.DataFrame:
    """Features for every labelled epoch, night by night, with the ``phase`` column joined.

    Parameters
    ----------
    labels : DataFrame from :func:`read_labels`
    events : dict subject -> that subject's events (all nights)
    subjects : DataFrame ``subject, born, tz``
    """
    info = subjects.set_index("subject")
    frames = []
    for subject, sub_labels in labels.groupby("subject", sort=True):
        if subject not in info.index:
            raise SleepmovesError(f"labels name subject {subject!r}, which is not in the lake")
        tz, born = info.loc[subject, "tz"], info.loc[subject, "born"]
        sub_events = events.get(subject)
        if sub_events is None or sub_events.empty:
            continue
        event_nights = night_of(sub_events["start"], tz).to_numpy()
        label_nights = night_of(sub_labels["epoch_start"], tz).to_numpy()
        for night in sorted(set(label_nights)):
            lab = sub_labels[label_nights == night].sort_values("epoch_start")
            grid = pd.date_range(lab["epoch_start"].iloc[0], lab["epoch_start"].iloc[-1], freq=f"{EPOCH_S}s")
            feats = epoch_features(sub_events[event_nights == night], grid, tz, age_in_weeks(born, night))
            feats = feats.merge(lab[["epoch_start", "phase"]], on="epoch_start", how="inner")
            feats.insert(0, "night", night)
            feats.insert(0, "subject", subject)
            frames.append(feats)
    if not frames:
        raise SleepmovesError("no labelled epoch has events to learn from")
    return pd.concat(frames, ignore_index=True)


FEATURE_EXCLUDE = ("subject", "night", "epoch_start", "phase")


def feature_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in FEATURE_EXCLUDE]
