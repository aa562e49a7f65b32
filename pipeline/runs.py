"""Run-length encoding: the one helper every stage uses for runs of equal values (bouts, stretches, periods)."""

from __future__ import annotations

import numpy as np


def runs(values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(start index, length, value)`` of each run of equal consecutive values.

    Examples
    --------
    >>> starts, lengths, values = runs(np.array([1, 1, 0, 1]))
    >>> starts.tolist(), lengths.tolist(), values.tolist()
    ([0, 2, 3], [2, 1, 1], [1, 0, 1])
    """
    values = np.asarray(values)
    if len(values) == 0:
        return np.array([], np.int64), np.array([], np.int64), values[:0]
    change = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts = np.r_[0, change].astype(np.int64)
    lengths = np.diff(np.r_[starts, len(values)])
    return starts, lengths, values[starts]
