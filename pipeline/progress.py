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
            filled = int(30 * done / total)
            elapsed = time.monotonic() - started
            stream.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total} {elapsed:5.1f}s")
            stream.flush()
    if show:
        stream.write("\n")
