"""People's scoring of nights: the phase a clinician gave each 30-s epoch, kept in the lake beside the model's.

Layout: the Delta table ``labels/subject=<id>/``, partitioned by night, one file per scorer and night
(``night=<date>/<scorer>-<sha256>.parquet``: :data:`sleepmoves.schema.LABELS`, one row per epoch scored). Saving a
scorer's night replaces that scorer's file in one commit of a lake transaction, never another scorer's; the table
goes with the baby (``subject delete``), and a handle limited to some babies reads and writes only theirs.

Labels leave the lake in the train / evaluate format (:func:`export_labels`: ``subject, epoch_start, phase``,
plus ``scorer``), and ``sleepmoves train --from-lake`` learns from them (:mod:`sleepmoves.learn`).
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from . import schema
from . import tables as store
from .nights import night_bounds
from .schema import EPOCH_S, PHASES, SleepmovesError, check_night, check_scorer

TABLE = "labels"


def save_labels(
    lake,
    subject: str,
    night: str,
    scorer: str,
    scored: pd.DataFrame,
    *,
    model_version: str | None = None,
    now: pd.Timestamp | None = None,
) -> int:
    """Store ``scorer``'s labels of one night: ``scored`` (``epoch_start``, ``phase``) becomes all that scorer
    has scored of it (an epoch left out is unscored). Returns the number of epochs stored.

    Epochs scored before with the same phase keep their ``scored_at``; new or changed ones get ``now``. Every
    epoch must lie in the night (local noon to noon) on a 30-s mark, with one of the four phase words.

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> from sleepmoves import Lake
    >>> from sleepmoves.labels import save_labels, night_labels
    >>> lake = Lake(tempfile.mkdtemp())
    >>> _ = lake.add_subject("ada", "Europe/London")
    >>> at = pd.Timestamp("2026-03-02 21:00", tz="UTC")
    >>> scored = pd.DataFrame({"epoch_start": [at, at + pd.Timedelta("30s")], "phase": ["quiet", "active"]})
    >>> save_labels(lake, "ada", "2026-03-02", "dr-lee", scored)
    2
    >>> night_labels(lake, "ada", "2026-03-02")[["phase", "scorer"]].values.tolist()
    [['quiet', 'dr-lee'], ['active', 'dr-lee']]
    """
    lake._check(subject)
    check_night(night)
    check_scorer(scorer)
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now).tz_convert("UTC")
    rows = _checked(scored, night, lake.subject(subject)["tz"])
    with lake.writer():
        _store(lake, subject, night, scorer, rows, model_version, now)
    return len(rows)


def set_label(
    lake,
    subject: str,
    night: str,
    scorer: str,
    epoch: pd.Timestamp,
    phase: str | None,
    *,
    model_version: str | None = None,
    now: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Score one epoch (``phase`` None: clear it) among ``scorer``'s labels of the night, read and written under
    the lake's writer lock, so two keys arriving together never undo each other. Returns the scorer's labels of
    the night after it (as :func:`night_labels`)."""
    lake._check(subject)
    check_night(night)
    check_scorer(scorer)
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now).tz_convert("UTC")
    tz = lake.subject(subject)["tz"]
    epoch = pd.Timestamp(epoch)
    with lake.writer():
        before = night_labels(lake, subject, night, scorer=scorer)
        rows = before[before["epoch_start"] != epoch][["epoch_start", "phase"]]
        if phase is not None:
            rows = pd.concat(
                [rows, pd.DataFrame({"epoch_start": [epoch], "phase": [phase]})], ignore_index=True
            )
        _store(lake, subject, night, scorer, _checked(rows, night, tz), model_version, now, before)
        return night_labels(lake, subject, night, scorer=scorer)


def _store(lake, subject, night, scorer, rows, model_version, now, before=None) -> None:
    """Write ``rows`` as the scorer's labels of the night (call holding the writer lock). An epoch scored before
    with the same phase keeps when it was scored and the model it was scored beside; a new or changed one gets
    ``now`` and ``model_version``."""
    before = night_labels(lake, subject, night, scorer=scorer) if before is None else before
    rows = rows.copy()
    rows["scored_at"], rows["model_version"] = now, model_version
    if len(before):
        kept = before.set_index("epoch_start")
        same = rows["epoch_start"].map(kept["phase"]).eq(rows["phase"]).to_numpy()
        rows.loc[same, "scored_at"] = rows.loc[same, "epoch_start"].map(kept["scored_at"])
        rows.loc[same, "model_version"] = rows.loc[same, "epoch_start"].map(kept["model_version"])
    rows["scorer"] = scorer
    table = pa.Table.from_pandas(rows[schema.LABELS.names], schema=schema.LABELS, preserve_index=False)
    with lake.transaction() as txn:
        store.replace_prefixed(txn.table(TABLE, subject), night, table, scorer, txn.staging)


def _checked(scored: pd.DataFrame, night: str, tz: str) -> pd.DataFrame:
    """``scored`` as UTC 30-s epochs of ``night`` with phase words, one row each (the last of repeats)."""
    missing = {"epoch_start", "phase"} - set(scored.columns)
    if missing:
        raise SleepmovesError(f"labels need the column(s) {', '.join(sorted(missing))}")
    start = pd.to_datetime(scored["epoch_start"], utc=True, errors="coerce", format="ISO8601")
    phase = scored["phase"].map(lambda v: schema.phase_from_label(v) if isinstance(v, str) else None)
    bad = start.isna() | phase.isna() | ~phase.isin(PHASES)
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise SleepmovesError(
            f"label {i + 1}: {scored['epoch_start'].iloc[i]!r} {scored['phase'].iloc[i]!r} is not an epoch time "
            f"and one of {', '.join(PHASES)}"
        )
    begin, end = night_bounds(night, tz)
    off_grid = (start != start.dt.floor(f"{EPOCH_S}s")) | (start < begin) | (start >= end)
    if off_grid.any():
        raise SleepmovesError(
            f"label {int(off_grid.to_numpy().argmax()) + 1}: {start[off_grid].iloc[0]} is not a 30-s epoch of "
            f"the night of {night}"
        )
    rows = pd.DataFrame({"epoch_start": start.reset_index(drop=True), "phase": phase.to_numpy()})
    return rows.drop_duplicates("epoch_start", keep="last").sort_values("epoch_start", ignore_index=True)


def night_labels(lake, subject: str, night: str, *, scorer: str | None = None) -> pd.DataFrame:
    """The labels of one night (every scorer's, or one's): ``epoch_start, phase, scorer, scored_at,
    model_version``, by scorer and time."""
    frame = lake.read(TABLE, [subject], [check_night(night)])
    if scorer is not None and len(frame):
        frame = frame[frame["scorer"] == check_scorer(scorer)]
    if frame.empty:
        return pd.DataFrame({n: pd.Series(dtype=t) for n, t in _empty_types().items()})
    return frame[schema.LABELS.names].sort_values(["scorer", "epoch_start"], ignore_index=True)


def _empty_types() -> dict[str, str]:
    return {
        "epoch_start": "datetime64[us, UTC]",
        "phase": "object",
        "scorer": "object",
        "scored_at": "datetime64[us, UTC]",
        "model_version": "object",
    }


def _scored_frames(lake, subjects=None, columns: list[str] | None = None):
    """``(subject, labels)`` of each baby (default: every one the handle sees) with scored nights, read from the
    table logs and the scored nights' files only."""
    subjects = list(subjects) if subjects is not None else list(lake.subjects()["subject"])
    for subject in subjects:
        nights = lake.nights(subject, TABLE)
        if nights:
            yield subject, lake.read(TABLE, [subject], nights, columns=columns)


def scored_nights(lake, subjects=None) -> pd.DataFrame:
    """Who scored what: one row per subject, night and scorer with ``epochs`` scored and the last ``scored_at``.

    Read from the table logs and the files of scored nights only."""
    frames = [frame for _, frame in _scored_frames(lake, subjects, ["scorer", "scored_at"])]
    columns = ["subject", "night", "scorer", "epochs", "scored_at"]
    if not frames:
        return pd.DataFrame(columns=columns)
    rows = pd.concat(frames, ignore_index=True)
    grouped = rows.groupby(["subject", "night", "scorer"], sort=True)
    return grouped.agg(epochs=("scored_at", "size"), scored_at=("scored_at", "max")).reset_index()[columns]


def export_labels(lake, subjects=None, *, scorer: str | None = None) -> pd.DataFrame:
    """Every stored label in the train / evaluate format: ``subject, epoch_start`` (ISO 8601 in the baby's own
    zone, with its offset), ``phase``, and ``scorer``, ``scored_at``, ``model_version`` after them."""
    frames = []
    for subject, frame in _scored_frames(lake, subjects):
        if scorer is not None:
            frame = frame[frame["scorer"] == check_scorer(scorer)]
        if frame.empty:
            continue
        frame = frame.sort_values(["scorer", "epoch_start"], ignore_index=True)  # in time, before the clock
        local = frame["epoch_start"].dt.tz_convert(
            lake.subject(subject)["tz"]
        )  # repeats an hour at DST's end
        frames.append(frame.assign(epoch_start=[t.isoformat() for t in local]))
    columns = ["subject", "epoch_start", "phase", "scorer", "scored_at", "model_version"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def scorer_agreement(lake, subjects=None) -> dict:
    """How far people agree with each other and with the model, on the nights they scored.

    Returns
    -------
    dict with
        ``pairs``: one row per pair of scorers who scored some epochs of the same nights: ``scorer_a, scorer_b,
        nights, epochs`` (scored by both), ``accuracy``, ``kappa`` (Cohen's, the four phases) -- the human
        ceiling any model is judged against;
        ``confusion``: ``{(scorer_a, scorer_b): DataFrame}`` (rows a, columns b);
        ``model``: one row per scorer: ``scorer, nights, epochs`` (scored and labelled by the model),
        ``accuracy, kappa`` of the model's phases against the scorer's, ``model_versions`` (which labelled them).

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> from sleepmoves import Lake
    >>> from sleepmoves.labels import save_labels, scorer_agreement
    >>> lake = Lake(tempfile.mkdtemp())
    >>> _ = lake.add_subject("ada", "UTC")
    >>> at = pd.date_range("2026-03-02 21:00", periods=4, freq="30s", tz="UTC")
    >>> _ = save_labels(lake, "ada", "2026-03-02", "lee", pd.DataFrame({"epoch_start": at, "phase": list("NNRR")}))
    >>> _ = save_labels(lake, "ada", "2026-03-02", "kim", pd.DataFrame({"epoch_start": at, "phase": list("NRRR")}))
    >>> scorer_agreement(lake)["pairs"][["scorer_a", "scorer_b", "epochs", "kappa"]].values.tolist()
    [['kim', 'lee', 4, 0.5]]
    """
    from .model import agreement  # the kappa train --from-lake judges models by: one definition

    scored = [frame for _, frame in _scored_frames(lake, subjects, ["epoch_start", "phase", "scorer"])]
    pair_rows, confusions, model_rows = [], {}, []
    if scored:
        labels = pd.concat(scored, ignore_index=True)
        keys = ["subject", "night", "epoch_start"]
        names = sorted(labels["scorer"].unique())
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                both = labels[labels["scorer"] == a].merge(
                    labels[labels["scorer"] == b], on=keys, suffixes=("_a", "_b")
                )
                if both.empty:
                    continue
                found = agreement(both["phase_a"], both["phase_b"])
                confusions[(a, b)] = found["confusion"]
                pair_rows.append(_agreement_row({"scorer_a": a, "scorer_b": b}, both, found))
        model = _model_phases(lake, labels[["subject", "night"]].drop_duplicates())
        for name in names:
            mine = labels[labels["scorer"] == name].merge(model, on=keys, suffixes=("_a", "_b"))
            if mine.empty:
                continue
            row = _agreement_row({"scorer": name}, mine, agreement(mine["phase_a"], mine["phase_b"]))
            row["model_versions"] = ", ".join(sorted(mine["model_version"].dropna().unique()))
            model_rows.append(row)
    pair_columns = ["scorer_a", "scorer_b", "nights", "epochs", "accuracy", "kappa"]
    model_columns = ["scorer", "nights", "epochs", "accuracy", "kappa", "model_versions"]
    return {
        "pairs": pd.DataFrame(pair_rows, columns=pair_columns),
        "confusion": confusions,
        "model": pd.DataFrame(model_rows, columns=model_columns),
    }


def _agreement_row(names: dict, both: pd.DataFrame, found: dict) -> dict:
    return {
        **names,
        "nights": both[["subject", "night"]].drop_duplicates().shape[0],
        "epochs": found["epochs"],
        "accuracy": found["accuracy"],
        "kappa": found["kappa"],
    }


def _model_phases(lake, nights: pd.DataFrame) -> pd.DataFrame:
    """The model's phase of every epoch of these (subject, night) pairs."""
    frames = [
        lake.read(
            "phases", [subject], list(group["night"]), columns=["epoch_start", "phase", "model_version"]
        )
        for subject, group in nights.groupby("subject")
    ]
    frames = [f[f["phase"].isin(PHASES)] for f in frames if len(f)]  # epochs the model labelled
    if not frames:
        return pd.DataFrame(columns=["subject", "night", "epoch_start", "phase", "model_version"])
    return pd.concat(frames, ignore_index=True)
