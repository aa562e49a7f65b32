"""Processing: for each (subject, night), events -> epochs -> phases -> night metrics, written to the lake.

Every night is a pure function of its own inputs, so nights run in any order, incrementally (only nights whose
inputs changed: :func:`inputs_hash`), here or on a Dask cluster; only the flags that look across nights are
computed afterwards, per subject in night order.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from .epochs import age_in_weeks, epoch_features, observed_epochs
from .flags import decode as decode_flags
from .flags import encode as encode_flags
from .flags import history_flags, night_flags
from .lake import Lake
from .model import COUNTS_MODEL_VERSION, PhaseModel, counts_phase_proba, load_model
from .nights import night_bounds
from .progress import progress
from .schema import EPOCH_S, PHASES, PROBA_COLUMNS, SleepmovesError
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

    ``history`` holds the metrics of the subject's earlier nights (oldest first); when given, the flags that
    need them (persistent asymmetry, shaking rising week over week) are added as :func:`process` adds them.

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
    flags, numbers = night_flags(events, phases, tz, age_in_weeks(born, night) * 7 / 30.44)
    metrics.update(numbers)
    metrics["n_flags"], metrics["flags"] = len(flags), encode_flags(flags)
    if (
        history is not None
    ):  # a caller labelling nights in order (tests, notebooks) gets the cross-night flags too
        metrics = add_history_flags(metrics, night, history, tz, born)
    return feats, phases, metrics


PROCESSING_VERSION = "2"  # bump when processing code changes what a night's outputs are


def inputs_hash(lake: Lake, subject: str, night: str, info: dict, version: str) -> str:
    """Content hash of everything a night's outputs depend on.

    Input partition files are named by the sha256 of their source file, so their names identify their content.
    """
    parts = [PROCESSING_VERSION, version, str(info["tz"]), str(info.get("born"))]
    for table in ("events", "counts"):
        folder = lake.root / table / f"subject={subject}" / f"night={night}"
        parts += [f"{table}/{p.name}" for p in sorted(folder.glob("*.parquet"))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=4)
def _cached_model(path: str, version: str):
    return load_model(path)[0]


def process_night(
    lake_root: str, subject: str, night: str, info: dict, model_path: str, version: str
) -> dict | None:
    """Label one night and write its epochs and phases; returns its metrics (or None when it has no data).

    A top-level function of plain arguments, so it runs the same in this process, a process pool or on a Dask
    worker (which must see the lake folder).
    """
    lake = Lake(lake_root)
    events = lake.events(subject, night)
    counts = lake.read("counts", [subject], [night])
    if events.empty and counts.empty:
        return None
    model = _cached_model(model_path, version)
    feats, phases, metrics = label_night(events, night, info["tz"], info["born"], model, version, counts)
    lake.write_partitions(subject, night, {"epochs": (feats, "epochs"), "phases": (phases, "phases")})
    return {**metrics, "subject": subject, "night": night}


def _run(
    todo: list, lake: Lake, model_path: str, version: str, scheduler: str | None, workers: int | None
) -> list:
    args = [(str(lake.root), s, n, info, model_path, version) for s, n, info in todo]
    if scheduler is None and not workers:
        return [process_night(*a) for a in progress(args, len(args), "processing nights")]
    from dask.distributed import Client, LocalCluster

    cluster = (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        if not scheduler
        else None
    )
    with Client(scheduler or cluster) as client:
        futures = client.map(lambda a: process_night(*a), args, pure=False)
        results = client.gather(futures)
    if cluster is not None:
        cluster.close()
    return results


def process(
    lake: Lake,
    subjects: Iterable[str] | None = None,
    nights: dict[str, list[str]] | None = None,
    model_path: str | Path | None = None,
    force: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
) -> list[tuple[str, str]]:
    """(Re)build epochs, phases and nights for the given subjects (default all) and nights (default all).

    Only nights whose inputs or model changed since they were last processed are redone (``force`` redoes all).
    Nights are labelled independently (here, on a local Dask cluster with ``workers``, or on the Dask scheduler
    at ``scheduler``); the flags that look across nights are then computed per subject in night order.

    Returns the ``(subject, night)`` pairs processed.
    """
    from .model import DEFAULT_MODEL, model_version

    model_path = str(model_path or DEFAULT_MODEL)
    if not Path(model_path).exists():
        raise SleepmovesError(f"no phase model at {model_path}: run `make model` or pass --model")
    version = model_version(model_path)
    subjects = list(subjects) if subjects is not None else list(lake.subjects()["subject"])
    done_before = lake.processed_state()
    work = []
    for subject in subjects:
        info = lake.subject(subject)
        if nights is not None:
            wanted = nights.get(subject, [])
        else:
            wanted = sorted(
                set(lake.nights(subject, table="events")) | set(lake.nights(subject, table="counts"))
            )
        for night in wanted:
            digest = inputs_hash(lake, subject, night, info, version)
            if force or done_before.get((subject, night)) != digest:
                work.append((subject, night, info, digest))
    if not work:
        return []
    load_model(model_path)  # refuse an untrusted model before any work
    work.sort(key=lambda w: (w[0], w[1]))
    with lake.writer():
        results = _run([(s, n, i) for s, n, i, _ in work], lake, model_path, version, scheduler, workers)
        fresh = {(r["subject"], r["night"]): r for r in results if r is not None}
        for subject in sorted({s for s, _ in fresh}):
            _write_nights_with_history(lake, subject, fresh)
        state = dict(done_before)
        state.update({(s, n): d for s, n, _, d in work if (s, n) in fresh})
        lake.write_processed_state(state)
    return sorted(fresh)


def add_history_flags(metrics: dict, night: str, history: pd.DataFrame, tz: str, born) -> dict:
    """``metrics`` of one night with the cross-night flags added, judged on the earlier nights of ``history``."""
    earlier = history[history["night"] < night] if len(history) else history
    current = pd.concat([earlier, pd.DataFrame([{**metrics, "night": night}])], ignore_index=True)
    recorded = (
        metrics["recording_start"] if pd.notna(metrics["recording_start"]) else night_bounds(night, tz)[0]
    )
    flags = decode_flags(metrics["flags"]) + history_flags(
        current, tz, recorded, age_in_weeks(born, night) * 7 / 30.44
    )
    return {**metrics, "flags": encode_flags(flags), "n_flags": len(flags)}


def _write_nights_with_history(lake: Lake, subject: str, fresh: dict) -> None:
    """Add the cross-night flags (asymmetry, rising shaking) to the new nights, oldest first, and write them."""
    info = lake.subject(subject)
    old = lake.nights_table([subject])
    new_nights = sorted(n for s, n in fresh if s == subject)
    history = old[~old["night"].isin(new_nights)] if len(old) else old
    for night in new_nights:
        metrics = add_history_flags(fresh[(subject, night)], night, history, info["tz"], info["born"])
        row = {k: v for k, v in metrics.items() if k not in ("subject", "night")}
        # the nights row is written last: its presence means the night is complete
        lake.write_partition("nights", subject, night, pd.DataFrame([row]), "night")
        history = pd.concat([history, pd.DataFrame([metrics])], ignore_index=True).sort_values(
            "night", ignore_index=True
        )
