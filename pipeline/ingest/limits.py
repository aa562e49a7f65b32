"""How much one file may hold: its size, its size once decompressed, and its rows (lines, samples or epochs).

The limits keep a mistaken or hostile file (a 50 GB export, a gzip "bomb") from exhausting the machine: each is
checked before the work it guards, and exceeding one is a clear error naming the limit and how to raise it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..schema import SleepmovesError

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Per-file limits for :func:`sleepmoves.ingest.ingest_file`.

    Parameters
    ----------
    max_bytes : int
        Largest file, and largest content once a ``.gz`` is decompressed (default 2 GB).
    max_rows : int
        Most rows: lines of a log or CSV, samples of a raw recording, epochs of a counts file (default 100 M,
        eleven days of one sensor at 100 Hz).
    how_to_raise : str
        What the error suggests to lift the limit (the CLI and the dashboard differ).
    """

    max_bytes: int = 2048 * MB
    max_rows: int = 100_000_000
    how_to_raise: str = "raise it with --max-mb / --max-rows"

    def check_size(self, path: str, size: int, what: str = "the file is") -> None:
        if size > self.max_bytes:
            raise SleepmovesError(
                f"{path}: {what} {format_size(size)}, over the limit of {format_size(self.max_bytes)} ({self.how_to_raise})"
            )

    def check_rows(self, path: str, rows: int) -> None:
        if rows > self.max_rows:
            raise SleepmovesError(
                f"{path}: more than {self.max_rows:,} rows, over the limit ({self.how_to_raise})"
            )


def format_size(size: int) -> str:
    """``12 MB`` or, below a megabyte, ``900 bytes``."""
    return f"{size / MB:,.0f} MB" if size >= MB else f"{size:,} bytes"


DEFAULT_LIMITS = Limits()
