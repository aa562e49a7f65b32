"""The Score page's logic, apart from the page so tests call it without a server: where the cursor goes on a
key, what a key saves, which epochs and nights the model is least sure of (active learning, simply)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sleepmoves.schema import PROBA_COLUMNS, UNSURE_BELOW

MOVES = ("next", "previous", "unscored", "unsure")
SUGGESTED_NIGHTS = 5  # least-sure nights offered
RECENT_NIGHTS = 60  # of each baby, looked through for them (bounded whatever the lake's length)


def moved(grid: pd.Series, scored: set, unsure: np.ndarray, at: int, move: str) -> int:
    """The epoch index the cursor goes to from ``at`` on ``move``: ``next`` / ``previous`` (clamped to the night),
    ``unscored`` (the next epoch not in ``scored``, wrapping round; ``at`` when all are) or ``unsure`` (the next
    one whose ``unsure`` is True, wrapping round)."""
    n = len(grid)
    if n == 0:
        return 0
    if move == "next":
        return min(at + 1, n - 1)
    if move == "previous":
        return max(at - 1, 0)
    order = np.r_[np.arange(at + 1, n), np.arange(0, at + 1)]
    wanted = ~grid.iloc[order].isin(scored).to_numpy() if move == "unscored" else unsure[order]
    hits = order[wanted]
    return int(hits[0]) if len(hits) else at


def unsure_epochs(phases: pd.DataFrame) -> np.ndarray:
    """True where the model's most probable phase is under :data:`UNSURE_BELOW`."""
    if phases.empty:
        return np.zeros(0, bool)
    return phases[list(PROBA_COLUMNS)].max(axis=1).to_numpy() < UNSURE_BELOW


def least_sure_nights(lake, scorer: str | None, most: int = SUGGESTED_NIGHTS) -> pd.DataFrame:
    """The nights (of the latest :data:`RECENT_NIGHTS` of each baby) with the largest share of unsure epochs
    that ``scorer`` has not scored: ``subject, night, unsure`` (share), most unsure first."""
    from sleepmoves.labels import scored_nights

    done = scored_nights(lake)
    if scorer and len(done):
        done = done[done["scorer"] == scorer]
    seen = set(zip(done["subject"], done["night"], strict=True)) if scorer else set()
    rows = []
    for subject in lake.subjects()["subject"]:
        nights = [n for n in lake.nights(subject, "phases")[-RECENT_NIGHTS:] if (subject, n) not in seen]
        if not nights:
            continue
        phases = lake.read("phases", [subject], nights, columns=list(PROBA_COLUMNS))
        if phases.empty:
            continue
        share = phases.assign(unsure=unsure_epochs(phases)).groupby("night")["unsure"].mean()
        rows += [{"subject": subject, "night": n, "unsure": float(v)} for n, v in share.items()]
    frame = pd.DataFrame(rows, columns=["subject", "night", "unsure"])
    return frame.sort_values(["unsure", "subject", "night"], ascending=[False, True, True]).head(most)
