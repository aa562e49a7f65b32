"""PhaseModel: a scikit-learn classifier of 30-s epochs into awake / active / quiet / transition.

Saved with skops (never pickle). Loading checks every type in the file against an explicit list
of the types a PhaseModel is made of, so a crafted file cannot run code on load.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix
from sklearn.pipeline import Pipeline

from .schema import PHASES, SleepmovesError

MODEL_NAME = "phase-hgb"
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "data" / "models" / "phase_model.skops"

# Types skops does not trust by itself that a saved PhaseModel contains; anything else is refused.
TRUSTED_TYPES = frozenset(
    {
        "pipeline.model.PhaseModel",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)


class PhaseModel(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees over epoch features, with probabilities for every phase.

    Parameters
    ----------
    max_iter : int
        Boosting iterations.
    learning_rate : float
    max_leaf_nodes : int
    random_state : int

    Attributes
    ----------
    features_ : list of str
        Feature columns seen in ``fit``, in order; ``predict_proba`` selects them by name.
    classes_ : ndarray
        Always the four phases in :data:`pipeline.schema.PHASES` order.
    """

    def __init__(
        self, max_iter: int = 150, learning_rate: float = 0.1, max_leaf_nodes: int = 31, random_state: int = 0
    ):
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y) -> PhaseModel:
        """Fit on a feature frame and phase words."""
        y = np.asarray(y).astype(str)
        unknown = set(y) - set(PHASES)
        if unknown:
            raise SleepmovesError(f"unknown phase labels {sorted(unknown)}: use {', '.join(PHASES)}")
        # a column missing everywhere (e.g. sensor activity in log-only training data) carries nothing to learn
        self.features_ = [str(c) for c in X.columns if X[c].notna().any()]
        self.classes_ = np.array(PHASES)
        self.pipeline_ = Pipeline(
            [
                (
                    "hgb",
                    HistGradientBoostingClassifier(
                        max_iter=self.max_iter,
                        learning_rate=self.learning_rate,
                        max_leaf_nodes=self.max_leaf_nodes,
                        l2_regularization=1.0,
                        random_state=self.random_state,
                    ),
                )
            ]
        )
        self.pipeline_.fit(X[self.features_].to_numpy(dtype="float64"), y)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities, shape (n_epochs, 4), columns in ``PHASES`` order; rows sum to 1."""
        missing = [c for c in self.features_ if c not in X.columns]
        if missing:
            raise SleepmovesError(f"features missing for the model: {', '.join(missing[:5])}")
        raw = self.pipeline_.predict_proba(X[self.features_].to_numpy(dtype="float64"))
        out = np.zeros((len(X), len(PHASES)))
        for j, cls in enumerate(self.pipeline_.classes_):
            out[:, PHASES.index(str(cls))] = raw[:, j]
        return out / out.sum(axis=1, keepdims=True)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.array(PHASES)[self.predict_proba(X).argmax(axis=1)]

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> str:
        """Save with skops; returns the model version (name + content hash)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        sio.dump(self, tmp, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
        tmp.replace(path)
        return model_version(path)


def model_version(path: str | Path) -> str:
    """``phase-hgb-<10 hex>``: a hash of the model's content, equal for equal models.

    skops names the arrays in its zip after Python object ids and stamps entry times, so the file's own
    sha256 changes on every save; the version hashes the array contents and the schema with the ids removed.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            parts = []
            for name in archive.namelist():
                body = archive.read(name)
                if name.endswith(".json"):
                    body = re.sub(rb"\d{9,}", b"#", body)
                parts.append(hashlib.sha256(body).hexdigest())
    except zipfile.BadZipFile:
        raise SleepmovesError(f"{path} is not a skops model file (not a zip archive)") from None
    return f"{MODEL_NAME}-{hashlib.sha256(''.join(sorted(parts)).encode()).hexdigest()[:10]}"


def load_model(path: str | Path | None = None) -> tuple[PhaseModel, str]:
    """Load a PhaseModel saved with skops; returns ``(model, version)``.

    Refuses a file containing any type outside :data:`TRUSTED_TYPES`.
    """
    path = Path(path) if path is not None else DEFAULT_MODEL
    if not path.exists():
        raise SleepmovesError(f"no phase model at {path}: run `make model` or pass --model")
    try:
        untrusted = set(sio.get_untrusted_types(file=path))
    except Exception as exc:  # skops raises many types for a file that is not a skops archive
        raise SleepmovesError(f"{path} is not a skops model file ({exc})") from None
    refused = sorted(untrusted - TRUSTED_TYPES)
    if refused:
        raise SleepmovesError(
            f"refusing to load {path}: it contains types that are not part of a PhaseModel: {refused}"
        )
    model = sio.load(path, trusted=sorted(untrusted))
    if not isinstance(model, PhaseModel):
        raise SleepmovesError(f"{path} holds a {type(model).__name__}, not a PhaseModel")
    return model, model_version(path)


def agreement(y_true, y_pred) -> dict:
    """Epoch-by-epoch accuracy, Cohen's kappa and the confusion matrix (rows true, columns predicted)."""
    y_true, y_pred = np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str)
    awake_true, awake_pred = y_true == "awake", y_pred == "awake"
    return {
        "epochs": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "kappa": float(cohen_kappa_score(y_true, y_pred, labels=list(PHASES))),
        "sleep_wake_accuracy": float(np.mean(awake_true == awake_pred)),
        "confusion": pd.DataFrame(
            confusion_matrix(y_true, y_pred, labels=list(PHASES)), index=list(PHASES), columns=list(PHASES)
        ),
    }


COUNTS_MODEL_VERSION = "counts-sadeh+age-prior-1"
SADEH_WAKE_P, SADEH_SLEEP_P = (
    0.85,
    0.9,
)  # infant Sadeh: high sensitivity, low specificity for wake (science.md)


def counts_phase_proba(epoch_starts: pd.DatetimeIndex, counts: pd.DataFrame, age_months: float) -> np.ndarray:
    """Phase probabilities for epochs known only from activity counts (no movement events).

    Sleep vs wake comes from Sadeh (ActiLife variant) on 60-s sums of the valid counts. Counts cannot tell
    active from quiet sleep, so within sleep the probabilities are the age prior of ``science.md``
    (active, quiet and transition shares of sleep): the ribbon shows them as uncertain, as they are.
    """
    from .simulate import age_parameters
    from .sleepwake import sadeh

    n = len(epoch_starts)
    out = np.zeros((n, len(PHASES)))
    if n == 0:
        return out
    origin = epoch_starts[0]
    ok = counts["valid"].to_numpy(dtype=bool)
    minute = ((pd.to_datetime(counts["start"], utc=True) - origin).dt.total_seconds() // 60).to_numpy()
    inside = ok & (minute >= 0)
    n_min = int(np.ceil(n / 2))
    keep = inside & (minute < n_min)
    per_minute = np.bincount(
        minute[keep].astype(np.int64),
        weights=counts["count"].to_numpy(dtype="float64")[keep],
        minlength=n_min,
    )
    asleep = np.repeat(sadeh(per_minute), 2)[:n]
    params = age_parameters(age_months if np.isfinite(age_months) else 3.0)
    shares = np.array([params["active_share"], params["quiet_share"], params["transition_share"]])
    sleep_row = np.r_[1 - SADEH_SLEEP_P, SADEH_SLEEP_P * shares]
    wake_row = np.r_[SADEH_WAKE_P, (1 - SADEH_WAKE_P) * shares]
    out[:] = np.where(asleep[:, None], sleep_row, wake_row)
    return out
