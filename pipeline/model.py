"""PhaseModel: a scikit-learn classifier of 30-s epochs into awake / active / quiet / transition.

Saved with skops (never pickle). Loading checks every type in the file against an explicit list
of the types a PhaseModel is made of, so a crafted file cannot run code on load.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline

from .schema import PHASES, SleepmovesError

MODEL_NAME = "phase-hgb"
MODEL_ATTRIBUTES = (
    "smooth",
    "features_",
    "pipeline_",
    "transition_",
    "prior_",
    "use_hmm_",
    "calibration_power_",
    "temperature_",
)
# The shipped model is package data (sleepmoves.models, the repository's data/models): found the same way from a
# checkout, an editable install or a wheel. Installed as files, so it is a real path skops can open.
DEFAULT_MODEL = Path(str(importlib.resources.files("sleepmoves.models").joinpath("phase_model.skops")))

# Types skops does not trust by itself that a saved PhaseModel contains; anything else is refused.
TRUSTED_TYPES = frozenset(
    {
        "sleepmoves.model.PhaseModel",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)


class PhaseModel(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees over epoch features, calibrated on babies held out of training.

    The classifier gives p(phase | features of the epoch and its neighbourhood). Its probabilities are
    calibrated by a temperature (each raised to 1/T and renormalised) fitted, as a continuous value, to
    out-of-fold probabilities from folds split by baby: no baby's nights are on both sides of a split, as a new
    baby is never in the training data.

    Infant sleep also has structure (active and quiet sleep alternate through transitions, waking is entered from
    sleep through arousal). A 4-state hidden Markov model with the transition matrix learned from labelled nights
    (forward-backward) is fitted too, and used instead of the calibrated classifier only if it predicts one
    fold's held-out nights better (log-likelihood of the true phases): with the +-10-min context features already
    in the classifier, it often does not, and then ``predict_proba`` is the calibrated classifier alone.

    Parameters
    ----------
    max_iter : int
        Boosting iterations.
    learning_rate : float
    max_leaf_nodes : int
    smooth : bool
        Apply the HMM smoothing in ``predict_proba`` (False gives the classifier alone: a baseline).
    random_state : int

    Attributes
    ----------
    features_ : list of str
        Feature columns seen in ``fit``, in order; ``predict_proba`` selects them by name.
    classes_ : ndarray
        Always the four phases in :data:`sleepmoves.schema.PHASES` order.
    transition_ : ndarray (4, 4)
        P(next epoch's phase | this epoch's phase), learned from the labels.
    prior_ : ndarray (4,)
        Phase frequencies in the training labels.
    emission_power_ : float
        Exponent on the classifier's probabilities inside the HMM, fitted on held-out nights.
    temperature_ : float
        The calibration temperature (> 1 softens over-confident probabilities), fitted on held-out babies.
    calibration_power_ : float
        ``1 / temperature_``: the exponent applied when the HMM is not used.
    use_hmm_ : bool
        Whether the HMM improved the held-out log-likelihood (and so is applied).

    Examples
    --------
    Trained on two simulated nights (``sleepmoves train`` does this on scored nights; the shipped model is
    :func:`load_model`):

    >>> import datetime as dt
    >>> import pandas as pd
    >>> from sleepmoves import PhaseModel, epoch_features
    >>> from sleepmoves.epochs import age_in_weeks
    >>> from sleepmoves.simulate import make_babies, simulate_night
    >>> baby = make_babies(1, seed=0)[0]
    >>> frames, phases, nights = [], [], []
    >>> for day in (dt.date(2026, 3, 2), dt.date(2026, 3, 3)):
    ...     events, labels = simulate_night(baby, day)
    ...     grid = pd.DatetimeIndex(labels["epoch_start"])
    ...     frames.append(epoch_features(events, grid, baby.tz, age_weeks=age_in_weeks(baby.born, day)))
    ...     phases += list(labels["phase"])
    ...     nights += [str(day)] * len(labels)
    >>> X = pd.concat(frames, ignore_index=True).drop(columns=["epoch_start", "coverage", "valid"])
    >>> model = PhaseModel(max_iter=20).fit(X, phases, groups=nights)
    >>> proba = model.predict_proba(X)
    >>> proba.shape[1], bool(abs(proba.sum(axis=1) - 1).max() < 1e-9)
    (4, True)
    """

    def __init__(
        self,
        max_iter: int = 150,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        smooth: bool = True,
        random_state: int = 0,
    ):
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.smooth = smooth
        self.random_state = random_state

    def _classifier(self) -> Pipeline:
        return Pipeline(
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

    def fit(self, X: pd.DataFrame, y, groups=None) -> PhaseModel:
        """Fit on a feature frame and phase words.

        Parameters
        ----------
        X : DataFrame of epoch features, each night's epochs in time order
        y : array-like of phase words
        groups : array-like, optional
            Night identifier per row (e.g. ``subject/night``): transitions are counted within nights, and the
            emission exponent is fitted on whole nights held out of the classifier.
        """
        y = np.asarray(y).astype(str)
        unknown = set(y) - set(PHASES)
        if unknown:
            raise SleepmovesError(f"unknown phase labels {sorted(unknown)}: use {', '.join(PHASES)}")
        groups = np.zeros(len(y), dtype=int) if groups is None else np.asarray(groups)
        self.__dict__.pop("version_", None)  # refitted: no longer the model of any saved file
        # a column missing everywhere (e.g. sensor activity in log-only training data) carries nothing to learn
        self.features_ = [str(c) for c in X.columns if X[c].notna().any()]
        self.classes_ = np.array(PHASES)
        codes = pd.Categorical(y, categories=PHASES).codes.astype(np.int64)
        self.prior_ = np.bincount(codes, minlength=4) / len(codes)
        self.transition_ = _transitions(codes, groups)
        self.temperature_, self.calibration_power_, self.emission_power_, self.use_hmm_ = 1.0, 1.0, 1.0, False
        values = X[self.features_].to_numpy(dtype="float64")
        babies = _babies(groups)
        if len(np.unique(babies)) >= 3:
            # out-of-fold probabilities, the folds split by baby: a baby is never on both sides, as a new baby
            # is never in the training data
            folds = GroupKFold(n_splits=min(CALIBRATION_FOLDS, len(np.unique(babies))))
            raw = np.zeros((len(y), len(PHASES)))
            first_fold = None
            for train, test in folds.split(values, y, babies):
                self.pipeline_ = self._classifier().fit(values[train], y[train])
                raw[test] = self._raw_proba(values[test])
                first_fold = test if first_fold is None else first_fold
            self.temperature_ = _fit_temperature(raw, codes)
            self.calibration_power_ = 1.0 / self.temperature_
            calibrated_ll = _log_likelihood(
                _tempered(raw[first_fold], self.calibration_power_), codes[first_fold]
            )
            # whether the HMM beats the calibrated classifier, on one fold's whole nights (forward-backward is a
            # Python loop over epochs: one fold is enough to decide)
            self.emission_power_, smoothed_ll = _best_power(
                lambda w: _smooth_groups(
                    raw[first_fold], groups[first_fold], self.transition_, self.prior_, w
                ),
                codes[first_fold],
            )
            self.use_hmm_ = smoothed_ll > calibrated_ll
            self.heldout_log_likelihood_ = {"calibrated": calibrated_ll, "hmm": smoothed_ll}
        self.pipeline_ = self._classifier().fit(values, y)
        return self

    def _raw_proba(self, values: np.ndarray) -> np.ndarray:
        raw = self.pipeline_.predict_proba(values)
        out = np.zeros((len(values), len(PHASES)))
        for j, cls in enumerate(self.pipeline_.classes_):
            out[:, PHASES.index(str(cls))] = raw[:, j]
        return out / out.sum(axis=1, keepdims=True)

    def predict_proba(self, X: pd.DataFrame, groups=None) -> np.ndarray:
        """Probabilities, shape (n_epochs, 4), columns in ``PHASES`` order; rows sum to 1.

        Rows are one night in time order, or several nights told apart by ``groups``.
        """
        missing = [c for c in self.features_ if c not in X.columns]
        if missing:
            raise SleepmovesError(f"features missing for the model: {', '.join(missing[:5])}")
        raw = self._raw_proba(X[self.features_].to_numpy(dtype="float64"))
        if len(raw) == 0:
            return raw
        if self.smooth and self.use_hmm_:
            groups = np.zeros(len(raw), dtype=int) if groups is None else np.asarray(groups)
            return _smooth_groups(raw, groups, self.transition_, self.prior_, self.emission_power_)
        return _tempered(raw, self.calibration_power_)

    def predict(self, X: pd.DataFrame, groups=None) -> np.ndarray:
        return np.array(PHASES)[self.predict_proba(X, groups).argmax(axis=1)]

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> str:
        """Save with skops; returns the model version (name + content hash)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        # the version a loaded model carries is a hash of its file, not part of the model: never saved with it
        version = self.__dict__.pop("version_", None)
        try:
            sio.dump(self, tmp, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
        except BaseException:
            if version is not None:
                self.version_ = version
            raise
        tmp.replace(path)
        self.version_ = model_version(path)
        return self.version_


def _transitions(codes: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Row-normalised transition counts within groups, with one pseudo-count per cell."""
    same = groups[1:] == groups[:-1]
    counts = np.ones((4, 4))
    np.add.at(counts, (codes[:-1][same], codes[1:][same]), 1)
    return counts / counts.sum(axis=1, keepdims=True)


def forward_backward(emission: np.ndarray, transition: np.ndarray, initial: np.ndarray) -> np.ndarray:
    """Posterior state probabilities of an HMM given per-epoch emission likelihoods (scaled, log-safe)."""
    n, k = emission.shape
    alpha = np.empty((n, k))
    scale = np.empty(n)
    a = initial * emission[0]
    scale[0] = a.sum()
    alpha[0] = a / scale[0]
    for t in range(1, n):
        a = (alpha[t - 1] @ transition) * emission[t]
        scale[t] = a.sum()
        alpha[t] = a / scale[t]
    beta = np.ones((n, k))
    for t in range(n - 2, -1, -1):
        b = transition @ (emission[t + 1] * beta[t + 1])
        beta[t] = b / scale[t + 1]
    post = alpha * beta
    return post / post.sum(axis=1, keepdims=True)


def _smooth_groups(raw, groups, transition, prior, power) -> np.ndarray:
    # classifier posterior / prior = a likelihood up to a constant; the exponent tempers over-confidence
    emission = np.clip(raw, 1e-6, 1) ** power / prior**power
    out = np.empty_like(raw)
    bounds = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        out[a:b] = forward_backward(emission[a:b], transition, prior)
    return out


def _tempered(raw: np.ndarray, power: float) -> np.ndarray:
    """Probabilities raised to a power and renormalised (power < 1 softens over-confident ones)."""
    p = np.clip(raw, 1e-9, 1) ** power
    return p / p.sum(axis=1, keepdims=True)


POWERS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def _log_likelihood(probabilities: np.ndarray, codes: np.ndarray) -> float:
    """Mean log-probability given to the true phases."""
    return float(np.log(np.clip(probabilities[np.arange(len(codes)), codes], 1e-9, 1)).mean())


def _best_power(probabilities, codes: np.ndarray) -> tuple[float, float]:
    """The HMM's emission exponent (and its mean log-likelihood) that best predicts held-out labels."""
    best, best_ll = 1.0, -np.inf
    for power in POWERS:
        ll = _log_likelihood(probabilities(power), codes)
        if ll > best_ll:
            best, best_ll = power, ll
    return best, best_ll


CALIBRATION_FOLDS = 4
TEMPERATURES = (0.05, 20.0)  # the search range: below 1 sharpens, above 1 softens


def _fit_temperature(raw: np.ndarray, codes: np.ndarray) -> float:
    """The temperature T (probabilities raised to 1/T, renormalised) that maximises the likelihood of held-out
    labels: a continuous search, so it can soften over-confident probabilities or sharpen timid ones."""
    from scipy.optimize import minimize_scalar

    lo, hi = np.log(TEMPERATURES[0]), np.log(TEMPERATURES[1])
    found = minimize_scalar(
        lambda log_t: -_log_likelihood(_tempered(raw, float(np.exp(-log_t))), codes),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-3},
    )
    return float(np.exp(found.x))


def _babies(groups: np.ndarray) -> np.ndarray:
    """The baby of each row from night groups named ``subject/night`` (any other group is its own baby)."""
    return np.array([str(g).split("/", 1)[0] for g in groups], dtype=object)


def model_version(path: str | Path) -> str:
    """``phase-hgb-<10 hex>``: a hash of the model's content, equal for equal models.

    skops names the arrays in its zip after Python object ids and stamps entry times, so the file's own
    sha256 changes on every save; the version hashes the array contents and the schema with the ids removed.
    Computed once per file version (path, size and modification time).
    """
    try:
        stat = Path(path).stat()
    except OSError:
        return _model_version(str(path), -1, -1)
    return _model_version(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _model_version(path: str, size: int, mtime_ns: int) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            parts = []
            for name in archive.namelist():
                body = archive.read(name)
                if name.endswith(".json"):  # object ids only: a float's long digits are content
                    body = re.sub(rb'("__id__": )\d+|\d+(\.npy")', rb"\1#\2", body)
                    # the model, not its import name: a model keeps its version across the package's rename,
                    # so no lake relabels its nights for it
                    body = body.replace(_CLASS_PATH, _FORMER_CLASS_PATH)
                parts.append(hashlib.sha256(body).hexdigest())
    except zipfile.BadZipFile:
        raise SleepmovesError(f"{path} is not a skops model file (not a zip archive)") from None
    return f"{MODEL_NAME}-{hashlib.sha256(''.join(sorted(parts)).encode()).hexdigest()[:10]}"


# A model saved before the package was named sleepmoves names its class pipeline.model.PhaseModel: the same class.
_CLASS_PATH = b'"__module__": "sleepmoves.model"'
_FORMER_CLASS_PATH = b'"__module__": "pipeline.model"'


def _renamed(data: bytes) -> bytes:
    """A skops archive whose PhaseModel is named by its former import path, renamed in memory (so models trained
    before the rename still load, through the same list of trusted types); any other archive as it is."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = archive.read("schema.json")
            if _FORMER_CLASS_PATH not in schema:
                return data
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w") as renamed:
                for info in archive.infolist():
                    body = archive.read(info.filename)
                    if info.filename == "schema.json":
                        body = body.replace(_FORMER_CLASS_PATH, _CLASS_PATH)
                    renamed.writestr(info, body)
            return out.getvalue()
    except (zipfile.BadZipFile, KeyError):
        return data  # skops says what is wrong with it


def load_model(path: str | Path | None = None) -> PhaseModel:
    """Load a PhaseModel saved with skops (default: the shipped model), its version in ``version_``.

    Refuses a file containing any type outside :data:`TRUSTED_TYPES`: loading never runs code from the file.

    Parameters
    ----------
    path : str or Path, optional
        A ``.skops`` file saved by ``sleepmoves train`` (default: the model shipped inside the package).

    Returns
    -------
    PhaseModel
        With ``version_``: ``phase-hgb-`` and a hash of the file's content (stored with every labelled epoch).

    Examples
    --------
    >>> from sleepmoves import load_model
    >>> model = load_model()
    >>> model.version_.startswith("phase-hgb-"), model.classes_.tolist()
    (True, ['awake', 'active', 'quiet', 'transition'])
    """
    path = Path(path) if path is not None else DEFAULT_MODEL
    if not path.exists():
        raise SleepmovesError(f"no phase model at {path}: run `make model` or pass --model")
    try:  # one pass: skops refuses, before building anything, a type not on the list
        model = sio.loads(_renamed(path.read_bytes()), trusted=sorted(TRUSTED_TYPES))
    except sio.exceptions.UntrustedTypesFoundException as exc:
        refused = sorted(set(getattr(exc, "unsafe", ())) - TRUSTED_TYPES) or str(exc)
        raise SleepmovesError(
            f"refusing to load {path}: it contains types that are not part of a PhaseModel: {refused}"
        ) from None
    except Exception as exc:  # skops raises many types for a file that is not a skops archive
        raise SleepmovesError(f"{path} is not a skops model file ({exc})") from None
    if not isinstance(model, PhaseModel):
        raise SleepmovesError(f"{path} holds a {type(model).__name__}, not a PhaseModel")
    missing = [a for a in MODEL_ATTRIBUTES if not hasattr(model, a)]
    if missing:
        raise SleepmovesError(
            f"{path} was saved by an older sleepmoves (no {', '.join(missing)}): retrain it with `make model`"
        )
    model.version_ = model_version(path)
    return model


class RulesBaseline:
    """The architecture table of ``science.md`` applied to movement rates, with no learning (a baseline).

    Large movements -- kicks over +-1 min (their centred mean) plus this epoch's own stretches and other
    movements -- at 1/min or more -> awake. Otherwise, twitching over +-2.5 min (centred mean) at 2/min or more ->
    active ("twitching is common"); under 0.5/min -> quiet ("few spontaneous movements"); in between ->
    transition ("twitches and jerks as tone adjusts").
    """

    AWAKE_BIG_PER_MIN, ACTIVE_TWITCH_PER_MIN, QUIET_TWITCH_PER_MIN = 1.0, 2.0, 0.5

    def predict(self, X: pd.DataFrame, groups=None) -> np.ndarray:
        per_min = 60 / 30
        big = (X["n_kick_1m"] + X["n_stretch"].fillna(0) + X["n_other"].fillna(0)).to_numpy() * per_min
        twitch = X["n_twitch_2m5"].to_numpy() * per_min
        out = np.where(
            twitch >= self.ACTIVE_TWITCH_PER_MIN,
            "active",
            np.where(twitch < self.QUIET_TWITCH_PER_MIN, "quiet", "transition"),
        )
        return np.where(big >= self.AWAKE_BIG_PER_MIN, "awake", out).astype(object)

    def predict_proba(self, X: pd.DataFrame, groups=None) -> np.ndarray:
        pred = self.predict(X)
        return (pred[:, None] == np.array(PHASES)[None, :]).astype(float)


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
