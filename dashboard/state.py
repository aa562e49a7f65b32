"""Which lake the running dashboard shows (set once by :func:`dashboard.app.create_app`)."""

from __future__ import annotations

from pathlib import Path

from pipeline.lake import Lake

_lake_path: Path | None = None


def set_lake(path) -> None:
    global _lake_path
    _lake_path = Path(path)


def lake() -> Lake:
    """The dashboard's lake (a fresh handle: it holds no open files)."""
    return Lake(_lake_path)
