"""A parsed file's rows held by night until they are stored: in memory, or on disk for a large file.

A large log is parsed a batch at a time (:class:`~sleepmoves.ingest.logs.LogReader`); each batch is split by night
and written here as Arrow record batches, so memory holds one batch while the file is read and one night while it
is stored. Nothing here is part of the lake: the folder is scratch space (:func:`scratch_folder`), removed when the
ingest ends; a killed ingest's folder is removed when a writer next takes the lake (:func:`clear_stale`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa

from .schema import read_only_lake

SCRATCH = ".scratch"


class NightPieces:
    """Rows of one lake table, by night, in the order they were added.

    Parameters
    ----------
    folder : Path, optional
        Where the pieces are written (one Arrow IPC file per :meth:`add`); None keeps them in memory.
    constants : dict
        Columns with one value for every row (``source``, ``source_sha``), added when the rows are read back.
    """

    def __init__(self, folder: Path | None = None, constants: dict | None = None):
        self.folder = folder
        self.constants = dict(constants or {})
        self._pieces: dict[str, list] = {}  # night -> record batches, or (file, batch number) on disk
        self._rows = 0
        self._files = 0

    def __len__(self) -> int:
        return self._rows

    @property
    def nights(self) -> list[str]:
        return sorted(self._pieces)

    def add(self, frame: pd.DataFrame) -> None:
        """Keep ``frame``'s rows (it has a ``night`` column), split by night."""
        if frame.empty:
            return
        self._rows += len(frame)
        groups = [
            (str(night), pa.RecordBatch.from_pandas(part.drop(columns=["night"]), preserve_index=False))
            for night, part in frame.groupby("night", sort=True)
        ]
        if self.folder is None:
            for night, batch in groups:
                self._pieces.setdefault(night, []).append(batch)
            return
        self._files += 1
        path = self.folder / f"{self._files}.arrow"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, groups[0][1].schema) as writer:
            for number, (night, batch) in enumerate(groups):
                writer.write_batch(batch)
                self._pieces.setdefault(night, []).append((path, number))

    def night(self, night: str) -> pd.DataFrame:
        """One night's rows, sorted by ``start`` (rows at the same instant stay in file order)."""
        batches = [self._batch(piece) for piece in self._pieces[night]]
        frame = pa.Table.from_batches(batches).to_pandas()
        frame = frame.sort_values("start", kind="stable", ignore_index=True)
        return frame.assign(**self.constants)

    def by_night(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """``(night, rows)`` for each night, in night order, one night in memory at a time."""
        for night in self.nights:
            yield night, self.night(night)

    def frame(self) -> pd.DataFrame:
        """Every row, with its ``night`` (for small files and tests: this holds them all)."""
        parts = [rows.assign(night=night) for night, rows in self.by_night()]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    @staticmethod
    def _batch(piece) -> pa.RecordBatch:
        if isinstance(piece, pa.RecordBatch):
            return piece
        path, number = piece
        with pa.OSFile(str(path)) as source:
            return pa.ipc.open_file(source).get_batch(number)


def by_night(rows) -> Iterator[tuple[str, pd.DataFrame]]:
    """``(night, rows without the night column)`` of a data frame with a ``night`` column, or of
    :class:`NightPieces`, in night order."""
    if isinstance(rows, NightPieces):
        yield from rows.by_night()
        return
    for night, part in rows.groupby("night", sort=True):
        yield str(night), part.drop(columns=["night"]).reset_index(drop=True)


@contextlib.contextmanager
def scratch_folder(lake_root: Path) -> Iterator[Path]:
    """A private folder in ``<lake>/.scratch`` for one ingest, removed when it ends.

    It lives in the lake (same disk, same permissions) rather than in the system's temp folder, and is named
    after this process: the folders of processes that no longer run (a killed ingest) are removed here and
    whenever a writer takes the lake (:func:`clear_stale`).
    """
    base = Path(lake_root) / SCRATCH
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise read_only_lake(lake_root, exc) from None
        raise
    clear_stale(lake_root)
    folder = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def clear_stale(lake_root: Path) -> None:
    """Remove the scratch folders of processes that no longer run (a killed ingest's rows)."""
    base = Path(lake_root) / SCRATCH
    if not base.is_dir():
        return
    for old in base.iterdir():
        pid = old.name.split("-", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(old, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
