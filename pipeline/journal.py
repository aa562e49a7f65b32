"""Transactions across the lake's tables and top-level files, and recovery after a killed writer.

A Delta commit is atomic for one table; an ingest touches several (events, counts, diary, recording of one
baby) and the top-level ``manifest.parquet`` and ``processed.parquet``. A transaction makes them one:

1. Before its first commit to a table, the transaction writes its journal (``.journal/<id>.json``, state
   ``open``) with the version every table it touches had before: an *undo* record.
2. It commits to the Delta tables, and stages new top-level files under ``.staging/<id>/``.
3. It rewrites the journal as ``committed``, with the renames of the staged files (and folders to remove, such
   as a deleted baby's tables): a *redo* record. From here on the write happens even if the process dies.
4. It carries out the renames and removals and deletes the journal.

Recovery (the next writer, or the next :class:`~sleepmoves.lake.Lake` to open the folder) restores the tables of
an ``open`` journal to their versions before (Delta time travel) and finishes a ``committed`` one, so the lake is
as before or as after every write, even under SIGKILL. Every path in a journal is checked before anything is
touched; a journal that is not valid JSON or names anything outside the lake's tables is quarantined.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import schema, tables
from .schema import SleepmovesError
from .tables import fsync_folder

log = logging.getLogger("sleepmoves.journal")

STAGING = ".staging"
JOURNAL = ".journal"
QUARANTINE = "quarantine"
# The only places a journal may touch: the lake's tables, its top-level files and its folders of kept files (a
# baby's videos). Anything else in a journal (an absolute path, "..", a symlink out of the lake, another name)
# means it was not written by sleepmoves.
LAKE_TOP_FILES = ("manifest.parquet", "subjects.parquet", "processed.parquet")
FILE_FOLDERS = ("video",)  # folders of kept files (a baby's videos), written and removed by transactions too


class DamagedJournal(SleepmovesError):
    """A journal that is not valid JSON, or names a path outside the lake's tables: quarantined, not replayed."""


def write_durably(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd", write_page_checksum=True)
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def atomic_write_table(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        write_durably(table, tmp)
        os.replace(tmp, path)
        fsync_folder(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


class Transaction:
    """Commits to several Delta tables plus top-level files and folder removals, all or nothing.

    Obtain one from :meth:`sleepmoves.lake.Lake.transaction`. :meth:`table` names a table before the first
    commit to it (and returns its folder); :meth:`put` stages a top-level file; :meth:`remove` schedules a
    folder's removal. If the ``with`` block fails, the tables go back to their versions before.
    """

    def __init__(self, root: Path):
        self.root = root
        self.id = uuid.uuid4().hex
        self.staging = root / STAGING / self.id
        self.journal = root / JOURNAL / f"{self.id}.json"
        self.versions: dict[str, int] = {}  # table folder (relative) -> version before this transaction
        self.renames: list[tuple[str, str]] = []  # (staged, final), relative to the lake root
        self.removals: list[str] = []
        self.staged: dict[Path, pa.Table] = {}  # top-level file -> what it will hold (the latest put)

    def table(self, kind: str, subject: str) -> Path:
        """The folder of a baby's table, recorded (with its version) so a failure can undo commits to it."""
        return self.tables([kind], subject)[0]

    def tables(self, kinds: list[str], subject: str) -> list[Path]:
        """:meth:`table` for several tables at once (one journal write: each is an fsync)."""
        folders, new = [], False
        for kind in kinds:
            if kind not in schema.PARTITIONED_TABLES:
                raise ValueError(f"unknown lake table {kind!r}")
            relative = f"{kind}/subject={schema.check_subject_id(subject)}"
            if relative not in self.versions:
                self.versions[relative] = tables.version(self.root / relative)
                new = True
            folders.append(self.root / relative)
        if new:
            self._write_journal("open")
        return folders

    def put(self, table: pa.Table, final: Path) -> None:
        """Stage ``table`` to become the top-level file ``final`` when the transaction commits."""
        self.staging.mkdir(parents=True, exist_ok=True)
        staged = self.staging / f"top-{len(self.renames)}.parquet"
        write_durably(table, staged)
        self.staged[final] = table
        self.renames.append((_relative(staged, self.root), _relative(final, self.root)))

    def put_file(self, source: Path, final: Path) -> None:
        """Move ``source`` (a file on the lake's disk, e.g. in its scratch folder) to become ``final`` (under one
        of :data:`FILE_FOLDERS`) when the transaction commits; if it does not, the file goes with the staging."""
        self.staging.mkdir(parents=True, exist_ok=True)
        staged = self.staging / f"file-{len(self.renames)}{Path(final).suffix}"
        os.replace(source, staged)
        with open(staged, "rb") as fh:
            os.fsync(fh.fileno())
        self.renames.append((_relative(staged, self.root), _relative(final, self.root)))

    def remove(self, path: Path) -> None:
        """Remove ``path`` (a table folder, or a file in one) when the transaction commits."""
        self.removals.append(_relative(path, self.root))

    def touched(self) -> list[Path]:
        return [self.root / r for r in self.versions]

    def _write_journal(self, state: str) -> None:
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.journal.with_suffix(".tmp")
        body = {"state": state, "tables": self.versions, "removals": self.removals, "renames": self.renames}
        tmp.write_text(json.dumps(body))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.journal)
        fsync_folder(self.journal.parent)

    def commit(self) -> None:
        if not self.versions and not self.renames and not self.removals:
            shutil.rmtree(self.staging, ignore_errors=True)
            return
        self._write_journal("committed")  # from here on, the transaction happens even if this process dies
        replay(self.root, self.journal)

    def abort(self) -> None:
        if self.journal.exists():
            replay(self.root, self.journal)  # an open journal: restores the tables
        shutil.rmtree(self.staging, ignore_errors=True)


def _relative(path: Path, root: Path) -> str:
    relative = Path(os.path.abspath(path)).relative_to(os.path.abspath(root))
    if ".." in relative.parts:
        raise ValueError(f"{path} is outside the lake")
    return relative.as_posix()


def _inside(root: Path, relative, allowed: tuple[str, ...]) -> Path:
    """``root / relative`` when ``relative`` is a normalised relative path under ``allowed`` that stays in the
    lake (no symlink on the way), else :class:`DamagedJournal`."""
    if not isinstance(relative, str) or not relative or "\\" in relative or "\x00" in relative:
        raise DamagedJournal(f"not a lake path: {relative!r}")
    parts = relative.split("/")
    if relative.startswith("/") or any(p in ("", ".", "..") for p in parts) or parts[0] not in allowed:
        raise DamagedJournal(f"not a lake path: {relative!r}")
    target, here = root / relative, root
    for part in parts[:-1]:  # the lake never follows a symlink out of itself
        here = here / part
        if here.is_symlink():
            raise DamagedJournal(f"{relative!r} goes through a symbolic link")
    if target.is_symlink():
        raise DamagedJournal(f"{relative!r} is a symbolic link")
    return target


def _table_folder(root: Path, relative) -> Path:
    """A baby's table folder (``<kind>/subject=<id>``), checked."""
    folder = _inside(root, relative, schema.PARTITIONED_TABLES)
    parts = relative.split("/")
    if len(parts) != 2 or not parts[1].startswith("subject="):
        raise DamagedJournal(f"not a table folder: {relative!r}")
    try:
        schema.check_subject_id(parts[1].removeprefix("subject="))
    except SleepmovesError:
        raise DamagedJournal(f"not a table folder: {relative!r}") from None
    return folder


def _plan(root: Path, journal: Path) -> dict:
    """A journal's state, tables, removals and renames, every path checked (see :func:`_inside`)."""
    try:
        plan = json.loads(journal.read_text())
        state = plan.get("state", "committed")
        versions, removals, renames = plan.get("tables", {}), plan["removals"], plan["renames"]
        if state not in ("open", "committed"):
            raise ValueError(f"unknown state {state!r}")
        if not isinstance(versions, dict) or not isinstance(removals, list) or not isinstance(renames, list):
            raise TypeError("tables must be an object, removals and renames lists")
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise DamagedJournal(f"unreadable ({type(exc).__name__}: {str(exc)[:80]})") from None
    checked_tables = {}
    for relative, before in versions.items():
        if not isinstance(before, int) or isinstance(before, bool) or before < -1:
            raise DamagedJournal(f"not a table version: {before!r}")
        checked_tables[_table_folder(root, relative)] = before
    checked_removals = [_inside(root, r, (*schema.PARTITIONED_TABLES, *FILE_FOLDERS)) for r in removals]
    checked_renames = []
    for pair in renames:
        if not isinstance(pair, list) or len(pair) != 2:
            raise DamagedJournal(f"a rename is not a pair of paths: {pair!r}")
        staged = _inside(root, pair[0], (STAGING,))
        final = _inside(root, pair[1], (*schema.PARTITIONED_TABLES, *LAKE_TOP_FILES, *FILE_FOLDERS))
        if staged.parent.name != journal.stem:  # a transaction renames only its own staged files
            raise DamagedJournal(f"{pair[0]!r} is not this transaction's staged file")
        checked_renames.append((staged, final))
    return {
        "state": state,
        "tables": checked_tables,
        "removals": checked_removals,
        "renames": checked_renames,
    }


def _quarantine(root: Path, journal: Path, why: str) -> None:
    """Move a damaged journal aside (never replayed, kept for inspection) and say which one and why."""
    folder = root / JOURNAL / QUARANTINE
    folder.mkdir(parents=True, exist_ok=True)
    os.replace(journal, folder / journal.name)
    raise DamagedJournal(
        f"{journal}: a damaged write journal ({why}); it was moved to {folder / journal.name} and not carried "
        "out, and the lake is as it was before that write. Run the command again."
    )


def replay(root: Path, journal: Path) -> None:
    """Undo an open journal or finish a committed one (idempotent: a replay after a crash redoes what is left)."""
    try:
        plan = _plan(root, journal)
    except DamagedJournal as exc:
        _quarantine(root, journal, str(exc))
    if plan["state"] == "open":
        for folder, before in plan["tables"].items():
            tables.restore(folder, before)
            if before >= 0:
                tables.vacuum(folder, full=True)  # files of the undone commits, and any never committed
    else:
        for target in plan["removals"]:
            if target.is_dir():
                shutil.rmtree(target, ignore_errors=True)
            else:
                target.unlink(missing_ok=True)
            tables.forget(target)
        for source, target in plan["renames"]:
            if source.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
        for folder in {t.parent for _, t in plan["renames"]} | {t.parent for t in plan["removals"]}:
            if folder.is_dir():
                fsync_folder(folder)
    journal.unlink()
    shutil.rmtree(root / STAGING / journal.stem, ignore_errors=True)


def recover(root: Path) -> None:
    """Undo or finish transactions a killed writer left, drop its staging (call holding the writer lock)."""
    journals = root / JOURNAL
    if journals.is_dir():
        for leftover in journals.glob("*.tmp"):  # a journal never finished: what it would have said is undone
            leftover.unlink(missing_ok=True)
        for journal in sorted(journals.glob("*.json")):
            replay(root, journal)
    staging = root / STAGING
    if staging.is_dir():
        for folder in staging.iterdir():
            shutil.rmtree(folder, ignore_errors=True)
    for leftover in root.glob(".*.parquet.*.tmp"):  # a top-level file's write that never reached its rename
        leftover.unlink(missing_ok=True)


def needs_recovery(root: Path) -> bool:
    if next(root.glob(".*.parquet.*.tmp"), None) is not None:
        return True
    for name in (JOURNAL, STAGING):
        try:
            with os.scandir(root / name) as entries:
                if any(e.name != QUARANTINE for e in entries):
                    return True
        except (FileNotFoundError, NotADirectoryError):
            pass
    return False
