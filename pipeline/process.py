"""Processing: for each (subject, night), events -> epochs -> phases -> night metrics, written to the lake.

Every night is a pure function of its own inputs, so nights run in any order, incrementally (only nights whose
inputs changed: :func:`inputs_hash`), here or on a Dask cluster; only the flags that look across nights are
computed afterwards, per subject in night order.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from .epochs import age_in_weeks, night_features
from .flags import HISTORY_NIGHTS, HISTORY_RULES, history_flags, night_flags
from .flags import decode as decode_flags
from .flags import encode as encode_flags
from .lake import INPUT_TABLES, Lake
from .model import DEFAULT_MODEL, MODEL_NAME, PhaseModel, load_model, model_version
from .nights import night_bounds
from .periods import DIARY_METHOD, DIARY_SOURCE, diary_sleep_on_grid, sleep_periods
from .progress import progress
from .schema import (
    ASLEEP,
    ASLEEP_PHASES,
    EPOCH_S,
    NO_DATA,
    NOT_WORN,
    PHASES,
    PROBA_COLUMNS,
    SleepmovesError,
)
from .sleepwake import check_algorithm, counts_sleep_on_grid
from .summarize import night_metrics, phases_on_grid


class NightLabels(NamedTuple):
    """What :func:`label_night` gives for one night (a named tuple: ``features, phases, metrics = ...`` works).

    Attributes
    ----------
    features : DataFrame
        One row per 30-s epoch of the night's noon-to-noon grid: the model's inputs and ``valid``.
    phases : DataFrame
        One row per epoch with data: ``epoch_start`` (UTC), ``phase``, ``p_awake``, ``p_active``, ``p_quiet``,
        ``p_transition`` and ``model_version`` (what labelled it).
    metrics : dict
        The night in numbers (see :data:`sleepmoves.summarize.DEFINITIONS`), with its review ``flags`` (JSON).
    """

    features: pd.DataFrame
    phases: pd.DataFrame
    metrics: dict


def label_night(
    events: pd.DataFrame,
    *,
    night: str,
    tz: str,
    born=None,
    model: PhaseModel | None = None,
    version: str | None = None,
    counts: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
    recording: pd.DataFrame | None = None,
    diary: pd.DataFrame | None = None,
    formats: dict | None = None,
    sleepwake: str | None = None,
    baby_sleepwake: str | None = None,
) -> NightLabels:
    """Features, phases, metrics and review flags of one night (pure: no files), on the night's full 30-s grid.

    Every input is placed on the grid by its real time; each epoch is recorded, no data or not worn
    (:func:`sleepmoves.epochs.grid_coverage`). Only recorded epochs get a phase: no data is never quiet sleep.
    Movement events (a log, or detected in raw acceleration) are labelled by the phase model; a night known only
    from activity counts is scored awake / asleep by its device's own algorithm
    (:func:`sleepmoves.sleepwake.counts_sleep_on_grid`): counts cannot tell active from quiet sleep.

    Parameters
    ----------
    events : DataFrame
        The night's movement events: ``start`` (UTC), ``duration_s``, ``limb``, ``kind``, ``intensity``.
    night : str
        The night (``YYYY-MM-DD``: local noon of that day to noon of the next).
    tz : str
        The baby's time zone.
    born : date, optional
        Birth date (the model and the flags use the age; unknown stays unknown).
    model : PhaseModel, optional
        The phase model (default: the shipped one, :func:`sleepmoves.load_model`).
    version : str, optional
        What to record as the labels' model version (default: the model's ``version_``).
    counts, recording, diary : DataFrame, optional
        Activity counts (this night and its neighbours), an event log's recording spans and the parent's diary.
    history : DataFrame, optional
        Metrics of the subject's earlier nights (oldest first); when given, the flags that need them
        (persistent asymmetry, shaking rising week over week) are added as :func:`process` adds them.
    formats : dict, optional
        Source sha256 -> file format, from the manifest (which device wrote the counts).
    sleepwake, baby_sleepwake : str, optional
        A sleep/wake algorithm for this run, and the baby's own setting (see
        :data:`sleepmoves.sleepwake.ALGORITHMS`).

    Returns
    -------
    NightLabels
        ``(features, phases, metrics)``.

    Examples
    --------
    >>> import datetime as dt
    >>> from sleepmoves import label_night
    >>> from sleepmoves.simulate import make_babies, simulate_night
    >>> baby = make_babies(1, seed=0)[0]
    >>> events, _ = simulate_night(baby, dt.date(2026, 3, 2))
    >>> night = label_night(events, night="2026-03-02", tz=baby.tz, born=baby.born)
    >>> sorted(set(night.phases["phase"]))
    ['active', 'awake', 'quiet', 'transition']
    >>> 8 * 60 < night.metrics["total_sleep_min"] < 12 * 60
    True
    """
    if model is None:  # the shipped model, loaded once per process
        model = _cached_model(str(DEFAULT_MODEL), model_version(DEFAULT_MODEL))
    if version is None:
        version = getattr(model, "version_", None) or f"{MODEL_NAME}-unsaved"
    described = night_features(events, night, tz, born, counts, recording=recording, formats=formats)
    grid, feats, coverage = described.grid, described.features, described.coverage
    counts, actigraphy, age_weeks = described.counts, described.actigraphy, age_in_weeks(born, night)
    valid = feats["valid"].to_numpy(dtype=bool)
    # where movement events were watched (a log's spans, a raw sensor's coverage), the phase model labels the
    # epochs; where only activity counts were recorded, the device's algorithm says awake / asleep
    labelled, watched = described.labelled, described.watched
    proba = model.predict_proba(feats[labelled]) if labelled.any() else np.zeros((0, len(PHASES)))
    phases = pd.DataFrame({"epoch_start": grid[labelled], "phase": [PHASES[i] for i in proba.argmax(axis=1)]})
    for j, col in enumerate(PROBA_COLUMNS):
        phases[col] = proba[:, j]
    phases["model_version"] = version
    methods, scale_known = [f"phase model {version}"] if labelled.any() else [], True
    from_counts = valid & ~watched
    if from_counts.any():
        asleep, settings, scale_known = counts_sleep_on_grid(
            grid, counts[actigraphy], formats, sleepwake, baby_sleepwake
        )
        method = "; ".join(settings)
        scored_phases = _asleep_or_awake(grid, np.where(from_counts, asleep, np.nan), "sleepwake:" + method)
        phases = pd.concat([phases, scored_phases], ignore_index=True) if len(phases) else scored_phases
        phases = phases.sort_values("epoch_start", ignore_index=True)
        methods.append(method if not labelled.any() else f"{method} (where only counts were recorded)")
    from_diary = not labelled.any() and not from_counts.any()
    written = diary_sleep_on_grid(grid, diary) if from_diary else np.full(len(grid), np.nan)
    if np.isfinite(written).any():  # nothing measured, but the parent wrote the night down: no phases
        phases = _asleep_or_awake(grid, written, DIARY_SOURCE)
        methods.append(DIARY_METHOD)
    method = "; ".join(methods) or "nothing recorded"
    phases["epoch_start"] = pd.to_datetime(phases["epoch_start"], utc=True)
    on_grid = phases_on_grid(phases, grid)
    asleep_grid = np.where(on_grid == NO_DATA, np.nan, np.isin(on_grid, ASLEEP_PHASES).astype(float))
    periods = sleep_periods(grid, asleep_grid, tz, diary, ends=coverage == NOT_WORN)
    metrics = night_metrics(phases, events, grid=grid, periods=periods)
    metrics["notworn_min"] = float((coverage == NOT_WORN).sum() * EPOCH_S / 60)
    metrics["sleepwake"] = method
    metrics["scored_from_counts"] = bool(from_counts.any() and not labelled.any())
    metrics["scored_from_diary"] = bool(np.isfinite(written).any())
    metrics["counts_scale_known"] = bool(scale_known)
    metrics["naps_json"] = encode_flags(
        [
            {"start": str(grid[a]), "end": str(grid[b - 1] + pd.Timedelta(seconds=EPOCH_S))}
            for a, b in periods.naps
        ]
    )
    metrics["model_version"] = version
    metrics["tz"] = tz
    grid_phases = pd.DataFrame({"epoch_start": grid, "phase": on_grid})
    flags, numbers = night_flags(events, grid_phases, tz, age_weeks * 7 / 30.44)
    metrics.update(numbers)
    metrics["n_flags"], metrics["flags"] = len(flags), encode_flags(flags)
    if (
        history is not None
    ):  # a caller labelling nights in order (tests, notebooks) gets the cross-night flags too
        metrics = add_history_flags(metrics, night, history, tz, born)
    return NightLabels(feats, phases, metrics)


PROCESSING_VERSION = "7"  # bump when processing code changes what a night's outputs are
NIGHT_TIMES = (
    "sleep_onset",
    "sleep_offset",
    "recording_start",
    "recording_end",
)  # what a night's outputs are computed from


def input_files(lake: Lake, subject: str, nights: set[str] | None = None) -> dict[tuple[str, str], list[str]]:
    """``(table, night) -> data file names`` of a subject's inputs (only ``nights`` when given), from the table
    logs (no file is opened)."""
    index: dict[tuple[str, str], list[str]] = {}
    for table in INPUT_TABLES:
        for f in lake.data_files(table, subject, nights):
            index.setdefault((table, f.night), []).append(f.path)
    return index


def with_neighbours(nights) -> set[str]:
    """The nights and the night before and after each (sleep/wake near noon sees the neighbours' counts)."""
    return {str((pd.Timestamp(n) + pd.Timedelta(days=d)).date()) for n in nights for d in (-1, 0, 1)}


def inputs_hash(
    lake: Lake,
    subject: str,
    night: str,
    info: dict,
    version: str,
    sleepwake: str | None = None,
    files: dict[tuple[str, str], list[str]] | None = None,
) -> str:
    """Content hash of everything a night's outputs depend on.

    Every data file is named by the sha256 of its bytes, so the names the table logs list for the night (and
    its neighbours' counts) identify its inputs' contents without reading them. ``files`` is
    :func:`input_files` of the subject (computed here when not given).
    """
    files = input_files(lake, subject) if files is None else files
    parts = [PROCESSING_VERSION, version, str(info["tz"]), str(info.get("born"))]
    parts += [str(sleepwake), str(info.get("sleepwake"))]
    for table in INPUT_TABLES:
        parts += [f"{table}/{p}" for p in sorted(files.get((table, night), []))]
    day = pd.Timestamp(night)
    for d in (-1, 1):  # sleep/wake near local noon sees the neighbouring nights' counts
        neighbour = str((day + pd.Timedelta(days=d)).date())
        parts += [f"counts{d:+d}/{p}" for p in sorted(files.get(("counts", neighbour), []))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=4)
def _cached_model(path: str, version: str):
    return load_model(path)  # once per process (and model file)


class _LazyModel:
    """The phase model, loaded on first use: a night scored from activity counts alone never needs it."""

    def __init__(self, path: str, version: str):
        self.path, self.version = path, version

    def predict_proba(self, features):
        return _cached_model(self.path, self.version).predict_proba(features)


def _asleep_or_awake(grid: pd.DatetimeIndex, asleep: np.ndarray, source: str) -> pd.DataFrame:
    """Phase rows of the grid epochs where ``asleep`` is known (1 asleep, 0 awake, NaN unknown), from a source
    that tells asleep from awake but not the phase (activity counts, a parent's diary)."""
    known = np.isfinite(asleep)
    sleep = asleep[known] > 0.5
    return pd.DataFrame(
        {
            "epoch_start": grid[known],
            "phase": np.where(sleep, ASLEEP, "awake"),
            "p_awake": np.where(sleep, 0.0, 1.0),
            "p_active": np.nan,
            "p_quiet": np.nan,
            "p_transition": np.nan,
            "model_version": source,
        }
    )


def process_night(
    lake_root: str,
    subject: str,
    night: str,
    info: dict,
    model_path: str,
    version: str,
    sleepwake: str | None = None,
) -> dict | None:
    """Label one night: ``(epochs, phases, metrics)``, or None when it has no data. Nothing is written here.

    A top-level function of plain arguments, so it runs the same in this process, a process pool or on a Dask
    worker (which must see the lake folder).
    """
    lake = Lake(lake_root)
    events = lake.events(subject, night)
    day = pd.Timestamp(night)
    # the nights on either side too: a sleep/wake window at local noon sees the counts across it
    around = [str((day + pd.Timedelta(days=d)).date()) for d in (-1, 0, 1)]
    counts = lake.read("counts", [subject], around)
    diary = lake.diary(subject, night)
    written = "activity" in diary and (diary["activity"] == "sleep").any()
    if events.empty and not (counts["night"] == night).any() and not written:
        return None  # nothing recorded, and no sleep written down
    model = _LazyModel(model_path, version)
    manifest = lake.manifest()
    feats, phases, metrics = label_night(
        events,
        night=night,
        tz=info["tz"],
        born=info["born"],
        model=model,
        version=version,
        counts=counts,
        recording=lake.read("recording", [subject], [night]),
        diary=diary,
        formats=dict(zip(manifest["sha256"], manifest["format"], strict=True)),
        sleepwake=sleepwake,
        baby_sleepwake=info.get("sleepwake") if isinstance(info.get("sleepwake"), str) else None,
    )
    return feats, phases, {**metrics, "subject": subject, "night": night}


def _run(
    todo: list,
    lake: Lake,
    model_path: str,
    version: str,
    scheduler: str | None,
    workers: int | None,
    sleepwake: str | None = None,
) -> Iterator:
    """The results of :func:`process_night` for ``todo``, in its order, as they come."""
    args = [(str(lake.root), s, n, info, model_path, version, sleepwake) for s, n, info in todo]
    if scheduler is None and not workers:
        yield from (process_night(*a) for a in progress(args, len(args), "processing nights"))
        return
    from .extras import need

    Client, LocalCluster = need(
        "dask.distributed", "distributed", "processing nights in parallel", "Client", "LocalCluster"
    )

    cluster = (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        if not scheduler
        else None
    )
    with Client(scheduler or cluster) as client:
        futures = client.map(lambda a: process_night(*a), args, pure=False)
        for future in futures:
            yield future.result()
    if cluster is not None:
        cluster.close()


def process(
    lake: Lake,
    subjects: Iterable[str] | None = None,
    nights: dict[str, list[str]] | None = None,
    *,
    model_path: str | Path | None = None,
    force: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    sleepwake: str | None = None,
) -> list[tuple[str, str]]:
    """(Re)build epochs, phases and nights for the given subjects (default all) and nights (default all).

    Only nights whose inputs or model changed since they were last processed are redone. Nights are labelled
    independently; the flags that look across nights are then computed per subject in night order. Exported as
    ``sleepmoves.process_lake`` (the module ``sleepmoves.process`` has this function's name).

    Parameters
    ----------
    lake : Lake
    subjects : list of str, optional
        The babies to process (default: all).
    nights : dict, optional
        Subject -> the nights to look at (default: all of theirs).
    model_path : str or Path, optional
        A phase model file (default: the lake's active model, :func:`sleepmoves.learn.active_model_path`: the
        one ``train --from-lake`` made active, else the shipped one).
    force : bool
        Redo every night, changed or not.
    scheduler : str, optional
        Address of a Dask scheduler to label nights on (its workers must see the lake folder).
    workers : int, optional
        Label nights on a local Dask cluster of this many processes (the ``distributed`` extra).
    sleepwake : str, optional
        Score activity counts with this algorithm in this run, whatever the device or the baby's setting
        (:data:`sleepmoves.sleepwake.ALGORITHMS`); nights it changes are redone by the next plain run.

    Returns
    -------
    list of (str, str)
        The ``(subject, night)`` pairs processed.

    Examples
    --------
    A baby, one night of her movement log, labelled and summed up:

    >>> import datetime as dt, tempfile, pathlib
    >>> from sleepmoves import Lake, ingest_file, process_lake
    >>> from sleepmoves.simulate import make_babies, simulate_night
    >>> baby = make_babies(1, seed=0)[0]
    >>> events, _ = simulate_night(baby, dt.date(2026, 3, 2))
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> events.to_csv(folder / "ada.csv", index=False)
    >>> lake = Lake(folder / "lake")
    >>> lake.add_subject("ada", baby.tz, born=baby.born)
    True
    >>> report = ingest_file(lake, folder / "ada.csv", "ada")
    >>> process_lake(lake)
    [('ada', '2026-03-02')]
    >>> process_lake(lake)  # nothing changed: nothing redone
    []
    >>> night = lake.nights_table(["ada"]).iloc[0]
    >>> night["night"], bool(8 * 60 < night["total_sleep_min"] < 12 * 60)
    ('2026-03-02', True)
    """
    from .learn import active_model_path
    from .model import model_version

    model_path = str(model_path or active_model_path(lake))  # the lake's own model once it has learnt one
    if not Path(model_path).exists():
        raise SleepmovesError(f"no phase model at {model_path}: run `make model` or pass --model")
    version = model_version(model_path)
    if sleepwake is not None and sleepwake != "auto":
        check_algorithm(sleepwake)
    sleepwake = None if sleepwake == "auto" else sleepwake
    subjects = list(subjects) if subjects is not None else list(lake.subjects()["subject"])
    done_whole = lake.processed_state(subjects, [SUBJECT_DONE])
    work, with_events, fingerprints = [], False, {}
    for subject in subjects:
        info = lake.subject(subject)
        fingerprint = subject_fingerprint(lake, subject, info, version, sleepwake)
        if nights is None and not force and done_whole.get((subject, SUBJECT_DONE)) == fingerprint:
            continue  # no input table of the baby changed since all its nights were done: nothing to look at
        done_before = lake.processed_state([subject])
        if nights is None:
            fingerprints[subject] = fingerprint
        event_nights = set(lake.nights(subject, table="events"))
        # a night with only a diary gets a page too: its written sleeps, without phases
        stored = (
            event_nights
            | set(lake.nights(subject, table="counts"))
            | set(lake.nights(subject, table="diary"))
        )
        if nights is not None:
            # a night's sleep/wake sees its neighbours' counts: they are looked at too (redone if changed)
            asked = set(nights.get(subject, []))
            wanted = sorted(asked | (with_neighbours(asked) & stored))
        else:
            wanted = sorted(stored)
        # the nights whose files the hashes read (each night's and its neighbours'), or all of them
        files = input_files(lake, subject, with_neighbours(wanted) if nights is not None else None)
        for night in wanted:
            digest = inputs_hash(lake, subject, night, info, version, sleepwake, files)
            if force or done_before.get((subject, night)) != digest:
                work.append((subject, night, info, digest))
                with_events |= night in event_nights
    if not work:
        if fingerprints:
            with lake.writer(), lake.transaction() as txn:
                lake.update_processed_state(txn, {(s, SUBJECT_DONE): f for s, f in fingerprints.items()})
        return []
    if with_events:  # refuse an untrusted model before any work; nights known from counts alone never load it
        _cached_model(model_path, version)
    work.sort(key=lambda w: (w[0], w[1]))
    processed: list[tuple[str, str]] = []
    with lake.writer():
        results = _run(
            [(s, n, i) for s, n, i, _ in work], lake, model_path, version, scheduler, workers, sleepwake
        )
        batch: list = []
        for item, result in zip(work, results, strict=True):
            batch.append((item, result))
            if len(batch) == COMMIT_EVERY:
                processed += _store(lake, batch)
                batch = []
        processed += _store(lake, batch)
        if fingerprints:  # every night of these babies is done now
            with lake.transaction() as txn:
                lake.update_processed_state(txn, {(s, SUBJECT_DONE): f for s, f in fingerprints.items()})
    return sorted(processed)


SUBJECT_DONE = "*"  # a processed-state "night": the baby's fingerprint once all its nights were processed


def subject_fingerprint(lake: Lake, subject: str, info: dict, version: str, sleepwake: str | None) -> str:
    """What all of a baby's nights depend on, cheaply: the versions of its input tables (a commit to any of
    them changes it), the model, this code's processing version and the baby's settings."""
    parts = [PROCESSING_VERSION, version, str(info["tz"]), str(info.get("born")), str(info.get("sleepwake"))]
    parts += [str(sleepwake)] + [f"{t}:{v}" for t, v in sorted(lake.input_versions(subject).items())]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


# Nights stored per transaction: each commit costs a few milliseconds per table, and a killed run keeps what it
# committed (the next run starts where it stopped).
COMMIT_EVERY = 32


def _store(lake: Lake, batch: list) -> list[tuple[str, str]]:
    """Write a batch of labelled nights (with their cross-night flags) and their processing state, in one
    transaction."""
    if not batch:
        return []
    stored = []
    with lake.transaction() as txn:
        for subject in sorted({item[0] for item, _ in batch}):
            mine = [(item, r) for item, r in batch if item[0] == subject]
            fresh = {(subject, item[1]): r[2] for item, r in mine if r is not None}
            per_night = {item[1]: {"epochs": r[0], "phases": r[1]} for item, r in mine if r is not None}
            rows = _nights_with_history(lake, subject, fresh)
            lake.write_outputs(txn, subject, per_night, rows)
            stored += sorted(fresh)
        # a night without data is done too (else an ingest's "to process" mark would stay for ever)
        lake.update_processed_state(txn, {(s, n): digest for (s, n, _, digest), _ in batch})
    return stored


def finish_pending(lake: Lake, model_path: str | Path | None = None) -> list[tuple[str, str]]:
    """Label the nights an ingest stored and marked "to process" but did not label (killed, or ``--no-process``).

    The server runs this at start, so an upload whose server died mid-way is finished without asking.
    """
    pending = lake.pending()
    if not pending:
        return []
    return process(lake, subjects=sorted(pending), nights=pending, model_path=model_path)


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


def _nights_with_history(lake: Lake, subject: str, fresh: dict) -> pd.DataFrame:
    """The nights rows of the new nights with the cross-night flags (asymmetry, rising shaking) added, judged
    oldest first on the nights before each, and the stored later nights whose cross-night flags look back on a
    new night, judged again: an earlier week stored after a later one leaves no stale flag."""
    info = lake.subject(subject)
    new_nights = sorted(n for s, n in fresh if s == subject)
    # only the last HISTORY_NIGHTS nights before a night can change its flags (flags.HISTORY_NIGHTS): a baby
    # with years of nights costs the same as one with a month
    near = lake.nights_near(subject, new_nights, before=HISTORY_NIGHTS, after=HISTORY_NIGHTS)
    stored = near["night"].astype(str).tolist() if len(near) else []
    later: set[str] = set()  # stored nights with a new night among the HISTORY_NIGHTS nights before them
    for night in new_nights:
        later.update([n for n in stored if n > night][:HISTORY_NIGHTS])
    kept = near[~near["night"].isin(later)] if len(near) else near
    redo = {n: near.loc[near["night"] == n].iloc[0].to_dict() for n in later}
    for metrics in redo.values():  # judged again below, from the night's own flags
        metrics["flags"] = encode_flags(
            [f for f in decode_flags(metrics["flags"]) if f.get("rule") not in HISTORY_RULES]
        )
    rows, done = [], []  # done: the nights judged so far (all earlier than the next, in order)
    for night in sorted(set(new_nights) | later):
        earlier = pd.concat(
            [kept[kept["night"] < night], pd.DataFrame(done[-HISTORY_NIGHTS:])], ignore_index=True
        )
        earlier = (
            earlier.sort_values("night", ignore_index=True).tail(HISTORY_NIGHTS) if len(earlier) else near[:0]
        )
        metrics = fresh[(subject, night)] if (subject, night) in fresh else redo[night]
        metrics = add_history_flags(metrics, night, earlier, info["tz"], info["born"])
        rows.append({k: v for k, v in metrics.items() if k != "subject"})
        done.append(metrics)
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    for column in NIGHT_TIMES:  # UTC even when empty (a night without sleep), so nights read back alike
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[us, UTC]")
    return frame
