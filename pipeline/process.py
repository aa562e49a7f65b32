"""Processing: for each (subject, night), events -> epochs -> phases -> night metrics, written to the lake.

Every night is a pure function of its own inputs, so nights run in any order.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from .epochs import age_in_weeks, epoch_features, observed_epochs
from .flags import encode as encode_flags
from .flags import history_flags, night_flags
from .lake import Lake
from .model import COUNTS_MODEL_VERSION, PhaseModel, counts_phase_proba, load_model
from .nights import night_bounds
from .progress import progress
from .schema import EPOCH_S, PHASES, PROBA_COLUMNS
from .summarize import night_metrics


def label_night(
    events: pd.DataFrame,
    night: str,
    tz: str,
    born,
    model: PhaseModel,
    version: str,
    counts: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
):
    """Features, phases, metrics and review flags of one night (pure: no files).

    ``history`` holds the metrics of the subject's earlier nights (oldest first), for the flags that need
    them (persistent asymmetry, shaking rising week over week).

    Epochs without usable sensor data get no phase: they are no data, never quiet sleep.

    Returns
    -------
    (epochs, phases, metrics) : DataFrame, DataFrame, dict
    """
    start, end = night_bounds(night, tz)
    grid = observed_epochs(events, start, end, counts)
    feats = epoch_features(events, grid, tz, age_in_weeks(born, night), counts)
    valid = feats["valid"].to_numpy(dtype=bool)
    if events.empty and counts is not None and len(counts):
        # activity counts only: sleep/wake from Sadeh, active vs quiet only as the age prior
        age_months = age_in_weeks(born, night) * 7 / 30.44
        proba = counts_phase_proba(pd.DatetimeIndex(grid[valid]), counts, age_months)
        version = COUNTS_MODEL_VERSION
    else:
        proba = model.predict_proba(feats[valid]) if valid.any() else np.zeros((0, len(PHASES)))
    phases = pd.DataFrame(
        {
            "epoch_start": feats.loc[valid, "epoch_start"].to_numpy(),
            "phase": [PHASES[i] for i in proba.argmax(axis=1)],
        }
    )
    phases["epoch_start"] = pd.to_datetime(phases["epoch_start"], utc=True)
    for j, col in enumerate(PROBA_COLUMNS):
        phases[col] = proba[:, j]
    phases["model_version"] = version
    metrics = night_metrics(phases, events)
    metrics["nodata_min"] = float((~valid).sum() * EPOCH_S / 60)
    metrics["model_version"] = version
    metrics["tz"] = tz
    age_months = age_in_weeks(born, night) * 7 / 30.44
    flags, numbers = night_flags(events, phases, tz, age_months)
    metrics.update(numbers)
    metrics["night"] = night
    past = history[history["night"] < night] if history is not None and len(history) else pd.DataFrame()
    flags += history_flags(
        pd.concat([past, pd.DataFrame([metrics])], ignore_index=True), tz, start, age_months
    )
    metrics.pop("night")
    metrics["n_flags"] = len(flags)
    metrics["flags"] = encode_flags(flags)
    return feats, phases, metrics


def process(
    lake: Lake,
    subjects: Iterable[str] | None = None,
    nights: dict[str, list[str]] | None = None,
    model_path: str | Path | None = None,
) -> list[tuple[str, str]]:
    """(Re)build epochs, phases and nights for the given subjects (default all) and nights (default all).

    Returns the ``(subject, night)`` pairs processed.
    """
    model, version = load_model(model_path)
    subjects = list(subjects) if subjects is not None else list(lake.subjects()["subject"])
    work = []
    for subject in subjects:
        info = lake.subject(subject)
        if nights is not None:
            wanted = nights.get(subject, [])
        else:
            wanted = sorted(
                set(lake.nights(subject, table="events")) | set(lake.nights(subject, table="counts"))
            )
        work += [(subject, night, info) for night in wanted]
    done = []
    history: dict[str, pd.DataFrame] = {}
    with lake.writer():
        for subject, night, info in progress(
            sorted(work, key=lambda w: (w[0], w[1])), len(work), "processing nights"
        ):
            events = lake.events(subject, night)
            counts = lake.read("counts", [subject], [night])
            if events.empty and counts.empty:
                continue
            if subject not in history:
                history[subject] = lake.nights_table([subject])
            feats, phases, metrics = label_night(
                events, night, info["tz"], info["born"], model, version, counts, history[subject]
            )
            lake.write_partition("epochs", subject, night, feats, "epochs")
            lake.write_partition("phases", subject, night, phases, "phases")
            # the nights row is written last: its presence means the night is complete
            lake.write_partition("nights", subject, night, pd.DataFrame([metrics]), "night")
            row = pd.DataFrame([{**metrics, "subject": subject, "night": night}])
            past = history[subject]
            past = past[past["night"] != night] if len(past) else past
            history[subject] = pd.concat([past, row], ignore_index=True).sort_values(
                "night", ignore_index=True
            )
            done.append((subject, night))
    return done
