"""A small progress bar: drawn on a terminal, silent when output is not a terminal (CI, pipes)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], total: int, label: str, stream=None) -> Iterator[T]:
    """Yield ``items``, drawing ``label [#####.....] k/total`` on ``stream`` if it is a terminal."""
    stream = stream or sys.stderr
    show = total > 1 and hasattr(stream, "isatty") and stream.isatty()
    started = time.monotonic()
    for done, item in enumerate(items, start=1):
        yield item
        if show:
            _draw(stream, label, done / total, f"{done}/{total}", time.monotonic() - started)
    if show:
        stream.write("\n")


def progress_hours(label: str, stream=None):
    """A callback ``(seconds done, seconds in all)`` drawing ``label [#####.....] 3.2 of 12.0 h`` on ``stream``
    if it is a terminal (a video's analysis: minutes for a night), ending the line when all is done."""
    stream = stream or sys.stderr
    show = hasattr(stream, "isatty") and stream.isatty()
    started = time.monotonic()

    def report(done: float, total: float) -> None:
        if not show or total <= 0:
            return
        _draw(
            stream,
            label,
            done / total,
            f"{done / 3600:.1f} of {total / 3600:.1f} h",
            time.monotonic() - started,
        )
        if done >= total:
            stream.write("\n")

    return report


def _draw(stream, label: str, fraction: float, said: str, elapsed: float) -> None:
    filled = int(30 * min(max(fraction, 0.0), 1.0))
    stream.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {said} {elapsed:5.1f}s")
    stream.flush()
