"""Labelled epochs -> features, and agreement of a PhaseModel with scored nights.

Labels are ``subject, epoch_start, phase`` (CSV or Parquet; phase as a word or W/R/N/T), the format
``sleepmoves simulate`` writes and a clinician's scored nights can be converted to.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .epochs import night_features
from .nights import night_of, utc_ns
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
    return labels_frame(frame, str(path))


def labels_frame(frame: pd.DataFrame, source: str = "labels") -> pd.DataFrame:
    """Labels in the train / evaluate format (``subject, epoch_start, phase``) checked and normalised: UTC
    ``epoch_start`` on 30-s marks, phase words; a bad row is named by its line in ``source``."""
    missing = {"subject", "epoch_start", "phase"} - set(frame.columns)
    if missing:
        raise SleepmovesError(f"{source}: missing column(s) {', '.join(sorted(missing))}")
    start = pd.to_datetime(frame["epoch_start"], utc=True, errors="coerce", format="ISO8601")
    if start.isna().any():
        line = int(start.isna().to_numpy().argmax()) + 2
        raise SleepmovesError(f"{source}:{line}: column epoch_start: not an ISO 8601 time with offset")
    phase = frame["phase"].map(phase_from_label)
    if phase.isna().any():
        line = int(phase.isna().to_numpy().argmax()) + 2
        raise SleepmovesError(
            f"{source}:{line}: column phase: unknown phase {frame['phase'].iloc[line - 2]!r}"
        )
    return pd.DataFrame(
        {
            "subject": frame["subject"].astype(str).to_numpy(),
            "epoch_start": start.dt.floor(f"{EPOCH_S}s").to_numpy(),
            "phase": phase.to_numpy(),
        }
    )


def labelled_features(
    labels: pd.DataFrame,
    events: dict[str, pd.DataFrame],
    subjects: pd.DataFrame,
    recording: dict[str, pd.DataFrame] | None = None,
    counts: dict[str, pd.DataFrame] | None = None,
    formats: dict | None = None,
    *,
    whole_nights: bool = False,
) -> pd.DataFrame:
    """Features of every labelled epoch the phase model would label, night by night, with ``phase`` joined.

    With ``whole_nights``, every epoch the model would label on a night with labels is kept, ``phase`` missing
    where there is none: the model's HMM then sees each night whole, as ``process`` gives it, not only the
    epochs someone scored.

    Each night is described by :func:`sleepmoves.epochs.night_features` on its full grid, exactly as ``process``
    describes it; labels on epochs ``process`` would not give to the model (no data, or only activity counts)
    are left out.

    Parameters
    ----------
    labels : DataFrame from :func:`read_labels`
    events : dict subject -> that subject's events (all nights)
    subjects : DataFrame ``subject, born, tz``
    recording, counts : dict subject -> that subject's rows of those lake tables, optional
    formats : dict, optional
        Source sha256 -> file format (the manifest's), telling activity counts from raw-sensor coverage.
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
        rows = {
            "events": sub_events,
            "recording": (recording or {}).get(subject),
            "counts": (counts or {}).get(subject),
        }
        by_night = {name: _by_night(frame, tz) for name, frame in rows.items()}
        label_nights = night_of(sub_labels["epoch_start"], tz).to_numpy()
        for night in sorted(set(label_nights)):
            part = {name: split.get(night) for name, split in by_night.items()}
            if part["events"] is None:
                part["events"] = sub_events.iloc[:0]
            described = night_features(
                part["events"], night, tz, born, part["counts"], recording=part["recording"], formats=formats
            )
            feats = described.features[described.labelled]
            lab = sub_labels[label_nights == night]
            how = "left" if whole_nights else "inner"
            feats = feats.merge(lab[["epoch_start", "phase"]], on="epoch_start", how=how)
            feats.insert(0, "night", night)
            feats.insert(0, "subject", subject)
            frames.append(feats)
    if not frames:
        raise SleepmovesError("no labelled epoch has events to learn from")
    return pd.concat(frames, ignore_index=True)


def _by_night(frame: pd.DataFrame | None, tz: str) -> dict[str, pd.DataFrame]:
    """A subject's rows of a lake table split by night (its ``night`` column, else the night of ``start``)."""
    if frame is None or frame.empty:
        return {}
    nights = (
        frame["night"].astype(str)
        if "night" in frame
        else pd.Series(night_of(frame["start"], tz), index=frame.index)
    )
    return {str(n): group for n, group in frame.groupby(nights.to_numpy(), sort=False)}


FEATURE_EXCLUDE = ("subject", "night", "epoch_start", "phase", "valid", "coverage")


def night_groups(frame: pd.DataFrame) -> np.ndarray:
    """``subject/night`` per row: which epochs form one night's sequence."""
    return (frame["subject"].astype(str) + "/" + frame["night"].astype(str)).to_numpy()


def feature_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in FEATURE_EXCLUDE]


MATCH_TOLERANCE_S = 0.25


def _interval(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if frame.empty:
        return np.array([]), np.array([])
    start = utc_ns(frame["start"]) / 1e9
    return start, start + frame["duration_s"].fillna(0).to_numpy(dtype="float64")


def match_events(
    truth: pd.DataFrame,
    detected: pd.DataFrame,
    tolerance_s: float = MATCH_TOLERANCE_S,
    *,
    prefer_same: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Pair detected events with true ones whose time spans overlap (within ``tolerance_s``), one to one.

    Among overlapping candidates the pair with the closest onsets is taken first; with ``prefer_same`` (e.g.
    ``("limb",)``) a candidate agreeing on those columns goes before any that does not. Returns one row per
    true and per detected event: ``true_kind`` (None for a false detection) and ``detected_kind`` (None for a
    missed event), ``true_limb`` / ``detected_limb`` when both tables have a ``limb``, and ``true_index`` /
    ``detected_index`` (positions in the two tables, -1 for none).
    """
    t0, t1 = _interval(truth)
    d0, d1 = _interval(detected)
    same = [
        (truth[c].to_numpy(), detected[c].to_numpy()) for c in prefer_same if c in truth and c in detected
    ]
    pairs = []
    if len(t0) and len(d0):
        order = np.argsort(t0)
        ts, te = t0[order], t1[order]
        longest = float((te - ts).max())
        for j in range(len(d0)):
            lo = np.searchsorted(ts, d0[j] - longest - tolerance_s)
            hi = np.searchsorted(ts, d1[j] + tolerance_s, side="right")
            for k in range(lo, hi):
                if te[k] + tolerance_s >= d0[j]:
                    i = int(order[k])
                    differ = sum(a[i] != b[j] for a, b in same)
                    pairs.append((differ, abs(ts[k] - d0[j]), i, j))
    pairs.sort()
    used_t, used_d, rows = set(), set(), []
    n_true, n_found = len(truth), len(detected)
    columns = ["kind"] + (["limb"] if "limb" in truth and "limb" in detected else [])
    tv = truth[columns].to_numpy(dtype=object) if n_true else np.empty((0, len(columns)), object)
    dv = detected[columns].to_numpy(dtype=object) if n_found else np.empty((0, len(columns)), object)
    none = [None] * len(columns)
    for _, _, i, j in pairs:
        if i in used_t or j in used_d:
            continue
        used_t.add(i)
        used_d.add(j)
        rows.append([*tv[i], *dv[j], i, j])
    rows += [[*tv[i], *none, i, -1] for i in range(n_true) if i not in used_t]
    rows += [[*none, *dv[j], -1, j] for j in range(n_found) if j not in used_d]
    names = (
        [f"true_{c}" for c in columns] + [f"detected_{c}" for c in columns] + ["true_index", "detected_index"]
    )
    return pd.DataFrame(rows, columns=names)


def detection_scores(matches: pd.DataFrame, *, by_limb: bool = False) -> pd.DataFrame:
    """Per-kind precision and recall (same kind required) plus the 'any movement' row (kind ignored).

    With ``by_limb`` (matches from tables with a ``limb``), one row per kind and limb, a hit needing both the
    kind and the limb right; the 'any movement' row still ignores both.
    """
    keys = ["kind", "limb"] if by_limb else ["kind"]
    true_keys = matches[[f"true_{k}" for k in keys]].astype(object).to_numpy()
    found_keys = matches[[f"detected_{k}" for k in keys]].astype(object).to_numpy()
    groups = sorted(
        {tuple(r) for r in true_keys if r[0] is not None and r[0] == r[0]}
        | {tuple(r) for r in found_keys if r[0] is not None and r[0] == r[0]}
    )
    rows = []
    for group in groups:
        is_true = (true_keys == np.array(group, dtype=object)).all(axis=1)
        is_found = (found_keys == np.array(group, dtype=object)).all(axis=1)
        true_n, det_n, hit = int(is_true.sum()), int(is_found.sum()), int((is_true & is_found).sum())
        rows.append(
            {
                **dict(zip(keys, group, strict=True)),
                "true": true_n,
                "detected": det_n,
                "precision": hit / det_n if det_n else np.nan,
                "recall": hit / true_n if true_n else np.nan,
            }
        )
    paired = int((matches["true_kind"].notna() & matches["detected_kind"].notna()).sum())
    true_n, det_n = int(matches["true_kind"].notna().sum()), int(matches["detected_kind"].notna().sum())
    rows.append(
        {
            **{k: "any movement" if k == "kind" else "" for k in keys},
            "true": true_n,
            "detected": det_n,
            "precision": paired / det_n if det_n else np.nan,
            "recall": paired / true_n if true_n else np.nan,
        }
    )
    return pd.DataFrame(rows)


AGE_BANDS = ((0, 1, "0-1 mo"), (1, 3, "1-3 mo"), (3, 6, "3-6 mo"), (6, 12.5, "6-12 mo"))


def age_band(age_weeks) -> np.ndarray:
    """The age band (0-1, 1-3, 3-6, 6-12 months) of each epoch's age in weeks."""
    months = np.asarray(age_weeks, dtype="float64") * 7 / 30.44
    out = np.full(len(months), "unknown", dtype=object)
    for lo, hi, name in AGE_BANDS:
        out[(months >= lo) & (months < hi)] = name
    return out


def brier(y_true, proba: np.ndarray) -> float:
    """Multi-class Brier score: mean squared distance between the probabilities and the one-hot truth."""
    from .schema import PHASES

    onehot = (np.asarray(y_true).astype(str)[:, None] == np.array(PHASES)[None, :]).astype(float)
    return float(((proba - onehot) ** 2).sum(axis=1).mean())


def reliability(y_true, proba: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Reliability curve of the most probable phase: confidence bin -> mean confidence, observed accuracy."""
    from .schema import PHASES

    conf = proba.max(axis=1)
    hit = np.array(PHASES)[proba.argmax(axis=1)] == np.asarray(y_true).astype(str)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(conf, edges) - 1, 0, bins - 1)
    rows = [
        {
            "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
            "epochs": int((which == b).sum()),
            "confidence": float(conf[which == b].mean()),
            "accuracy": float(hit[which == b].mean()),
        }
        for b in range(bins)
        if (which == b).any()
    ]
    return pd.DataFrame(rows)


def expected_calibration_error(y_true, proba: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the most probable phase: the epoch-weighted mean gap between confidence and
    observed accuracy over :func:`reliability`'s bins."""
    table = reliability(y_true, proba, bins)
    if table.empty:
        return float("nan")
    weights = table["epochs"] / table["epochs"].sum()
    return float((weights * (table["accuracy"] - table["confidence"]).abs()).sum())


def active_quiet_kappa(y_true, y_pred) -> float:
    """Cohen's kappa of active vs quiet sleep, over epochs that are active or quiet in both the labels and the
    prediction: the figure published movement-only scoring is judged by (about 0.2-0.4, science.md)."""
    y_true, y_pred = np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str)
    both = np.isin(y_true, ("active", "quiet")) & np.isin(y_pred, ("active", "quiet"))
    return _kappa(_confusion(y_true[both], y_pred[both], ("active", "quiet")))


def _confusion(y_true: np.ndarray, y_pred: np.ndarray, labels) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    out = np.zeros((len(labels), len(labels)))
    np.add.at(out, ([index[t] for t in y_true], [index[p] for p in y_pred]), 1)
    return out


def _kappa(confusion: np.ndarray) -> float:
    """Cohen's kappa from a confusion matrix (as sklearn's ``cohen_kappa_score``, from counts)."""
    n = confusion.sum()
    if n == 0:
        return float("nan")
    observed = np.trace(confusion) / n
    expected = (confusion.sum(axis=0) * confusion.sum(axis=1)).sum() / n**2
    return float((observed - expected) / (1 - expected)) if expected < 1 else float("nan")


BOOTSTRAP = 2000


def kappa_gain(
    y_true, model_pred, rules_pred, babies, resamples: int = BOOTSTRAP, seed: int = 0
) -> pd.DataFrame:
    """The model's kappa minus the rules baseline's (4 phases, and active vs quiet), with a 95 % bootstrap
    interval over babies: babies are drawn with replacement, their epochs pooled, both kappas computed again.
    A baby's epochs are not independent of each other, so babies, not epochs, are what is resampled."""
    from .schema import PHASES

    y_true, babies = np.asarray(y_true).astype(str), np.asarray(babies)
    model_pred, rules_pred = np.asarray(model_pred).astype(str), np.asarray(rules_pred).astype(str)
    names = np.unique(babies)
    rows = []
    for what, labels in (("kappa", tuple(PHASES)), ("active_vs_quiet_kappa", ("active", "quiet"))):
        per_baby = []  # each baby's confusion matrices (model, rules): a resample sums them
        for baby in names:
            mine = babies == baby
            t, m, r = y_true[mine], model_pred[mine], rules_pred[mine]
            if len(labels) == 2:
                keep_m = np.isin(t, labels) & np.isin(m, labels)
                keep_r = np.isin(t, labels) & np.isin(r, labels)
                per_baby.append(
                    (_confusion(t[keep_m], m[keep_m], labels), _confusion(t[keep_r], r[keep_r], labels))
                )
            else:
                per_baby.append((_confusion(t, m, labels), _confusion(t, r, labels)))
        model_cm, rules_cm = np.array([p[0] for p in per_baby]), np.array([p[1] for p in per_baby])
        point = _kappa(model_cm.sum(axis=0)) - _kappa(rules_cm.sum(axis=0))
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, len(names), size=(resamples, len(names)))
        gains = np.array([_kappa(model_cm[d].sum(axis=0)) - _kappa(rules_cm[d].sum(axis=0)) for d in draws])
        low, high = np.nanpercentile(gains, [2.5, 97.5])
        rows.append(
            {
                "figure": what,
                "model": _kappa(model_cm.sum(axis=0)),
                "rules": _kappa(rules_cm.sum(axis=0)),
                "gain": point,
                "gain_low_95": float(low),
                "gain_high_95": float(high),
                "babies": len(names),
            }
        )
    return pd.DataFrame(rows)


def evaluate_model(frame: pd.DataFrame, model) -> dict:
    """Agreement of the model, the classifier alone and the rules-only baseline with labelled epochs.

    Returns ``summary`` (one row per method), ``gain`` (the model's kappa over the rules baseline's, with a 95 %
    bootstrap interval over babies: :func:`kappa_gain`), ``by_age`` (kappa per age band per method),
    ``per_class`` (precision / recall of the model), ``confusion`` and ``reliability`` (of the model).
    """
    from sklearn.base import clone
    from sklearn.metrics import precision_recall_fscore_support

    from .model import RulesBaseline, agreement
    from .schema import PHASES

    groups = night_groups(frame)
    truth = frame["phase"].astype(str).to_numpy()

    def variant(use_hmm: bool):
        copy = clone(model)
        copy.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
        copy.use_hmm_ = use_hmm
        return copy

    chosen = "classifier + HMM" if getattr(model, "use_hmm_", False) else "classifier"
    methods = {"rules only": RulesBaseline(), "classifier": variant(False), "classifier + HMM": variant(True)}
    bands = age_band(frame["age_weeks"])
    summary, by_age, predictions = [], [], {}
    for name, method in methods.items():
        proba = method.predict_proba(frame, groups)
        pred = np.array(PHASES)[proba.argmax(axis=1)]
        predictions[name] = pred
        result = agreement(truth, pred)
        summary.append(
            {
                "method": name,
                "epochs": result["epochs"],
                "accuracy": result["accuracy"],
                "kappa": result["kappa"],
                "active_vs_quiet_kappa": active_quiet_kappa(truth, pred),
                "awake_vs_asleep_accuracy": result["sleep_wake_accuracy"],
                "brier": brier(truth, proba),
                "ece": expected_calibration_error(truth, proba),
            }
        )
        for band in [b for _, _, b in AGE_BANDS] + ["unknown"]:
            mask = bands == band
            if mask.any():
                part = agreement(truth[mask], pred[mask])
                by_age.append(
                    {
                        "method": name,
                        "age_band": band,
                        "epochs": int(mask.sum()),
                        "accuracy": part["accuracy"],
                        "kappa": part["kappa"],
                        "active_vs_quiet_kappa": active_quiet_kappa(truth[mask], pred[mask]),
                    }
                )
        if name == chosen:
            main_proba, main_pred = proba, pred
            confusion = result["confusion"]
    precision, recall, _, support = precision_recall_fscore_support(
        truth, main_pred, labels=list(PHASES), zero_division=0
    )
    per_class = pd.DataFrame(
        {"phase": list(PHASES), "precision": precision, "recall": recall, "epochs": support}
    )
    summary = pd.DataFrame(summary)
    summary["used_by_model"] = summary["method"] == chosen
    babies = frame["subject"].astype(str).to_numpy()
    gain = kappa_gain(truth, predictions[chosen], predictions["rules only"], babies)
    return {
        "summary": summary,
        "gain": gain,
        "by_age": pd.DataFrame(by_age),
        "per_class": per_class,
        "confusion": confusion,
        "reliability": reliability(truth, main_proba),
    }
