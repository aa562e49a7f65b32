"""The Parquet lake: the only place sleepmoves stores data, and the only read API the dashboard uses.

Layout (see ``design.md``)::

    subjects.parquet, manifest.parquet
    <table>/subject=<id>/night=<YYYY-MM-DD>/<name>.parquet     table in events, counts, diary,
                                                              epochs, phases, nights

Guarantees
----------
* Single files (``subjects``, ``manifest``, ``processed``) are written to a hidden temporary file
  beside them and renamed into place, so a reader never sees half a file.
* Writes of several files (an ingest: its partitions and then its manifest row; a subject's
  deletion; a night's outputs) are one *transaction*: every new file is first written under
  ``.staging/``, then a journal listing the renames (and removals) is written under ``.journal/``,
  then the renames are done and the journal removed. A process killed before the journal exists
  leaves only ``.staging/`` files, which are thrown away; killed after, the next :class:`Lake` to
  open the folder finishes the renames. Either way the lake is as before or as after the write.
* A file whose sha256 is in the manifest is not ingested again for the same subject, and is refused for
  another one. A file whose sensor epochs overlap in time those of an earlier file of the same subject and limb
  is refused (one recording is stored once, never summed), or replaces that file with ``replace=True``.
* One writer at a time: writers hold an exclusive ``flock`` on ``<lake>/.lock``.
* Queries open only the partition folders they need (the path is built from the subject and
  night), never the whole lake.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from . import schema
from .nights import utc_ns, zone
from .schema import SleepmovesError, check_night, check_subject_id

log = logging.getLogger("sleepmoves.lake")

DEFAULT_LAKE = Path("data/lake")


def default_lake_path() -> Path:
    """The lake folder: ``$SLEEPMOVES_LAKE`` when set, else ``data/lake``."""
    return Path(os.environ.get("SLEEPMOVES_LAKE") or DEFAULT_LAKE)


def atomic_write_table(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        _write_durably(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_durably(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd")
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


STAGING = ".staging"
JOURNAL = ".journal"


class Transaction:
    """Files to publish and folders to remove together (see the module's guarantees).

    Obtain one from :meth:`Lake.transaction`; :meth:`put` stages a table, :meth:`remove` schedules a folder's
    removal. Nothing in the lake changes until the ``with`` block ends without an error.
    """

    def __init__(self, root: Path):
        self.root = root
        self.id = uuid.uuid4().hex
        self.folder = root / STAGING / self.id
        self.renames: list[tuple[str, str]] = []  # (staged, final), relative to the lake root
        self.removals: list[str] = []

    def put(self, table: pa.Table, final: Path) -> None:
        """Stage ``table`` to become the file ``final`` (inside the lake) when the transaction commits."""
        self.folder.mkdir(parents=True, exist_ok=True)
        staged = self.folder / f"{len(self.renames)}.parquet"
        _write_durably(table, staged)
        self.renames.append((_relative(staged, self.root), _relative(final, self.root)))

    def remove(self, path: Path) -> None:
        """Remove ``path`` (inside the lake: a folder and everything in it, or one file) when the transaction
        commits. Removals happen before the renames, so a file may be put into a folder being removed."""
        self.removals.append(_relative(path, self.root))

    def _commit(self) -> None:
        journal = self.root / JOURNAL / f"{self.id}.json"
        journal.parent.mkdir(parents=True, exist_ok=True)
        tmp = journal.with_suffix(".tmp")
        tmp.write_text(json.dumps({"removals": self.removals, "renames": self.renames}))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, journal)  # from here on, the transaction happens even if this process dies
        _replay(self.root, journal)


def _relative(path: Path, root: Path) -> str:
    relative = Path(os.path.abspath(path)).relative_to(os.path.abspath(root))
    if ".." in relative.parts:
        raise ValueError(f"{path} is outside the lake")
    return relative.as_posix()


# The only places a journal may touch: the lake's tables and its top-level files. Anything else in a journal
# (an absolute path, "..", a symlink out of the lake, another name) means it was not written by sleepmoves.
LAKE_TOP_FILES = ("manifest.parquet", "subjects.parquet", "processed.parquet")
QUARANTINE = "quarantine"


class DamagedJournal(SleepmovesError):
    """A journal that is not valid JSON, or names a path outside the lake's tables: quarantined, not replayed."""


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


def _plan(root: Path, journal: Path) -> tuple[list[Path], list[tuple[Path, Path]]]:
    """The removals and renames of a journal, every path checked (see :func:`_inside`)."""
    try:
        plan = json.loads(journal.read_text())
        removals, renames = plan["removals"], plan["renames"]
        if not isinstance(removals, list) or not isinstance(renames, list):
            raise TypeError("removals and renames must be lists")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise DamagedJournal(f"unreadable ({type(exc).__name__}: {str(exc)[:80]})") from None
    tables = (*schema.PARTITIONED_TABLES, *LAKE_TOP_FILES)
    staged_in = (STAGING,)
    checked_removals = [_inside(root, r, schema.PARTITIONED_TABLES) for r in removals]
    checked_renames = []
    for pair in renames:
        if not isinstance(pair, list) or len(pair) != 2:
            raise DamagedJournal(f"a rename is not a pair of paths: {pair!r}")
        staged, final = _inside(root, pair[0], staged_in), _inside(root, pair[1], tables)
        if staged.parent.name != journal.stem:  # a transaction renames only its own staged files
            raise DamagedJournal(f"{pair[0]!r} is not this transaction's staged file")
        checked_renames.append((staged, final))
    return checked_removals, checked_renames


def _quarantine(root: Path, journal: Path, why: str) -> None:
    """Move a damaged journal aside (never replayed, kept for inspection) and say which one and why."""
    folder = root / JOURNAL / QUARANTINE
    folder.mkdir(parents=True, exist_ok=True)
    os.replace(journal, folder / journal.name)
    raise DamagedJournal(
        f"{journal}: a damaged write journal ({why}); it was moved to {folder / journal.name} and not carried "
        "out, and the lake is as it was before that write. Run the command again."
    )


def _replay(root: Path, journal: Path) -> None:
    """Carry out a committed journal (idempotent: a replay after a crash redoes only what is left).

    Every path is checked before anything is touched; a journal naming anything outside the lake's tables is
    quarantined instead (:func:`_quarantine`).
    """
    try:
        removals, renames = _plan(root, journal)
    except DamagedJournal as exc:
        _quarantine(root, journal, str(exc))
    for target in removals:
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
    for source, target in renames:
        if source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
    journal.unlink()
    shutil.rmtree(root / STAGING / journal.stem, ignore_errors=True)


def _recover(root: Path) -> None:
    """Finish committed transactions and drop uncommitted staging (call holding the writer lock)."""
    journals = root / JOURNAL
    if journals.is_dir():
        for leftover in journals.glob("*.tmp"):  # a journal never finished: its transaction never happened
            leftover.unlink(missing_ok=True)
        for journal in sorted(journals.glob("*.json")):
            _replay(root, journal)
    staging = root / STAGING
    if staging.is_dir():
        for folder in staging.iterdir():
            shutil.rmtree(folder, ignore_errors=True)
    for leftover in root.glob(".*.parquet.*.tmp"):  # a top-level file's write that never reached its rename
        leftover.unlink(missing_ok=True)


def _needs_recovery(root: Path) -> bool:
    if next(root.glob(".*.parquet.*.tmp"), None) is not None:
        return True
    for name in (JOURNAL, STAGING):
        try:
            with os.scandir(root / name) as entries:
                if any(True for _ in entries):
                    return True
        except (FileNotFoundError, NotADirectoryError):
            pass
    return False


@dataclass
class IngestResult:
    """What one ingest did: the nights it touched (for a file already stored for the baby, the nights holding
    it; with a replace, also the nights of the replaced files that still hold data), and the files it replaced."""

    sha256: str
    subject: str
    rows: int
    nights: list[str] = field(default_factory=list)
    already_ingested: bool = False
    replaced: list[str] = field(default_factory=list)


@dataclass
class Overlap:
    """An earlier file of a subject whose stored sensor epochs overlap a new file's in time (same limb)."""

    sha256: str
    path: str  # as in the manifest
    seconds: float  # time covered by both (not counted twice when several limbs overlap)
    first: pd.Timestamp  # UTC: where the overlap begins
    last: pd.Timestamp  # UTC: where it ends
    limbs: list[str]


# Tables process.py writes from a night's inputs (file names epochs/phases/night, not a source file's sha8).
DERIVED_TABLES = ("epochs", "phases", "nights")


class Lake:
    """A sleepmoves lake folder.

    Parameters
    ----------
    path : str or Path
        The lake folder; created on first write.
    only : iterable of str, optional
        The subjects this handle may see (a dashboard user's babies). Every query, ingest and deletion of any
        other subject is refused as if it did not exist, and listings leave them out. None = all subjects.
    """

    def __init__(self, path: str | os.PathLike | None = None, only: Iterable[str] | None = None):
        self.root = Path(path) if path is not None else default_lake_path()
        self.only = frozenset(check_subject_id(s) for s in only) if only is not None else None
        if _needs_recovery(self.root):
            self._try_recover()

    def _try_recover(self) -> None:
        """Finish what a killed writer left, unless a live writer holds the lock (it will finish its own)."""
        with open(self.root / ".lock", "a+") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            try:
                _recover(self.root)
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def __repr__(self) -> str:
        return (
            f"Lake({str(self.root)!r})"
            if self.only is None
            else f"Lake({str(self.root)!r}, only={sorted(self.only)})"
        )

    def _visible(self, table: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``table`` (with a ``subject`` column) this handle may see."""
        if self.only is None:
            return table
        return table[table["subject"].isin(self.only)].reset_index(drop=True)

    def _check(self, subject: str) -> str:
        """A valid subject id this handle may use (else the same error as for an unknown subject)."""
        check_subject_id(subject)
        if self.only is not None and subject not in self.only:
            raise SleepmovesError(f"unknown subject {subject!r}")
        return subject

    # ------------------------------------------------------------------ locking
    @contextlib.contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the lake's writer lock (blocks until any other writer is done)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                _recover(self.root)
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Stage several writes and removals; they all happen when the block ends, or none do."""
        txn = Transaction(self.root)
        try:
            yield txn
        except BaseException:
            shutil.rmtree(txn.folder, ignore_errors=True)
            raise
        txn._commit()

    # ------------------------------------------------------------------ subjects
    def subjects(self) -> pd.DataFrame:
        """All subjects: ``subject, born, tz, label`` (sorted by subject)."""
        return self._visible(self._all_subjects())

    def _all_subjects(self) -> pd.DataFrame:
        path = self.root / "subjects.parquet"
        if not path.exists():
            return schema.SUBJECTS.empty_table().to_pandas()
        table = pq.read_table(path).to_pandas()
        for name in schema.SUBJECTS.names:  # a lake written before a column existed: the column is empty
            if name not in table:
                table[name] = None
        return table[schema.SUBJECTS.names].sort_values("subject", ignore_index=True)

    def subject(self, subject: str) -> dict:
        """One subject's row as a dict; a clear error when it is not in the lake."""
        self._check(subject)
        table = self.subjects()
        row = table[table["subject"] == subject]
        if row.empty:
            raise SleepmovesError(
                f"unknown subject {subject!r}: add it first with "
                f"`sleepmoves subject add {subject} --tz <Area/City>`"
            )
        return row.iloc[0].to_dict()

    def add_subject(
        self,
        subject: str,
        tz: str,
        born: dt.date | str | None = None,
        label: str | None = None,
        sleepwake: str | None = None,
    ) -> bool:
        """Add a subject (idempotent), or change its birth date, label or sleep/wake algorithm.

        Returns True when something changed. Changing the time zone of a subject that already exists is refused:
        it would move every stored event to a different night. ``sleepwake`` names the algorithm that scores
        this baby's activity counts (see :data:`pipeline.sleepwake.ALGORITHMS`; ``"auto"`` = by device).
        """
        from .sleepwake import check_algorithm

        self.check_may_add(subject)
        zone(tz)
        sleepwake_given = sleepwake is not None  # "auto" clears a baby's choice
        if sleepwake is not None:
            sleepwake = None if sleepwake == "auto" else check_algorithm(sleepwake)
        born_date = _parse_date(born) if born not in (None, "") else None
        with self.writer():
            table = self._all_subjects()
            existing = table[table["subject"] == subject]
            if not existing.empty:
                old = existing.iloc[0]
                if old["tz"] != tz:
                    raise SleepmovesError(
                        f"subject {subject!r} already exists with time zone {old['tz']}; "
                        f"its nights are cut in that zone, so it cannot change to {tz}"
                    )
                old_born = old["born"] if pd.notna(old["born"]) else None
                old_sleepwake = old["sleepwake"] if isinstance(old["sleepwake"], str) else None
                new_label = label if label is not None else old["label"]
                new_born = born_date if born_date is not None else old_born
                new_sleepwake = sleepwake if sleepwake is not None or sleepwake_given else old_sleepwake
                if new_born == old_born and new_label == old["label"] and new_sleepwake == old_sleepwake:
                    return False
                table = table[table["subject"] != subject]
            else:
                new_label, new_born, new_sleepwake = label, born_date, sleepwake
            row = pd.DataFrame(
                {
                    "subject": [subject],
                    "born": [new_born],
                    "tz": [tz],
                    "label": [new_label or subject],
                    "sleepwake": [new_sleepwake],
                }
            )
            table = pd.concat([table, row], ignore_index=True) if len(table) else row
            table = table.sort_values("subject", ignore_index=True)
            atomic_write_table(
                pa.Table.from_pandas(table, schema=schema.SUBJECTS, preserve_index=False),
                self.root / "subjects.parquet",
            )
            return True

    def check_may_add(self, subject: str) -> None:
        """Refuse, with a message, a subject this handle may not add (a scoped handle adds none of its own)."""
        check_subject_id(subject)
        if self.only is not None and subject not in self.only:
            raise SleepmovesError(
                f"this account cannot add {subject}: ask whoever runs sleepmoves to add it to your babies"
            )

    def delete_subject(self, subject: str) -> int:
        """Remove a subject everywhere, in one transaction: its row, every partition folder, its manifest rows
        and processing state. Returns the number of data files removed."""
        self._check(subject)
        removed = 0
        with self.writer(), self.transaction() as txn:
            self.subject(subject)  # a clear error when unknown
            for table in schema.PARTITIONED_TABLES:
                folder = self.root / table / f"subject={subject}"
                if folder.is_dir():
                    removed += sum(1 for p in folder.rglob("*") if p.is_file())
                    txn.remove(folder)
            subjects = self._all_subjects()
            txn.put(
                pa.Table.from_pandas(
                    subjects[subjects["subject"] != subject], schema=schema.SUBJECTS, preserve_index=False
                ),
                self.root / "subjects.parquet",
            )
            manifest = self._all_manifest()
            if len(manifest):
                txn.put(
                    pa.Table.from_pandas(
                        manifest[manifest["subject"] != subject], schema=schema.MANIFEST, preserve_index=False
                    ),
                    self.root / "manifest.parquet",
                )
            if (self.root / "processed.parquet").exists():
                state = {k: v for k, v in self.processed_state().items() if k[0] != subject}
                txn.put(_processed_table(state), self.root / "processed.parquet")
        return removed

    # ------------------------------------------------------------------ manifest / ingest
    def manifest(self) -> pd.DataFrame:
        """One row per ingested file: ``sha256, path, format, subject, rows, nights, ingested_at``."""
        return self._visible(self._all_manifest())

    def _all_manifest(self) -> pd.DataFrame:
        path = self.root / "manifest.parquet"
        if not path.exists():
            return schema.MANIFEST.empty_table().to_pandas()
        return pq.read_table(path).to_pandas()

    def has_file(self, sha256: str, subject: str | None = None) -> bool:
        """True when a file with this sha256 has already been ingested (for ``subject``, when given)."""
        manifest = self._all_manifest()
        held = manifest["sha256"] == sha256
        if subject is not None:
            held &= manifest["subject"] == subject
        return bool(held.any())

    def file_nights(self, sha256: str, subject: str) -> list[str]:
        """The nights holding a stored file's rows for ``subject`` (its partitions are named by its sha256)."""
        base = f"subject={self._check(subject)}"
        found = {
            part.parent.name.removeprefix("night=")
            for table in ("events", "counts", "diary", "recording")
            for part in (self.root / table / base).glob(f"night=*/{sha256[:8]}.parquet")
        }
        return sorted(found)

    def check_not_held_by_another(self, sha256: str, subject: str, name: str) -> None:
        """Refuse a file (called ``name`` in the message) already stored for a subject other than ``subject``.

        The message names that subject and the name the file was ingested under, unless this handle may not
        see that subject: then it only says another baby holds it.
        """
        manifest = self._all_manifest()
        others = manifest[(manifest["sha256"] == sha256) & (manifest["subject"] != subject)]
        if others.empty:
            return
        other = others.iloc[0]
        if self.only is not None and other["subject"] not in self.only:
            holder = "another baby"
        else:
            holder = f"{other['subject']} (ingested as {Path(str(other['path'])).name})"
        raise SleepmovesError(
            f"{name}: this file is already stored for {holder}; a recording belongs to one baby, "
            f"so nothing was stored for {subject}"
        )

    def commit_ingest(
        self,
        *,
        sha256: str,
        source_path: str,
        fmt: str,
        subject: str,
        tables: dict[str, pd.DataFrame],
        replace: bool = False,
    ) -> IngestResult:
        """Store one parsed file: its partitions and its manifest row, all or nothing.

        Checked under the writer lock, so two ingests cannot both pass: a file already stored for this subject
        adds nothing; one stored for another subject is refused (:meth:`check_not_held_by_another`); one whose
        ``counts`` epochs overlap in time those of an earlier file of the same subject and limb is refused with
        a message naming that file (one recording is stored once, never summed: see :meth:`overlaps`).

        Parameters
        ----------
        tables : dict
            Lake table name (``events``, ``counts``, ``diary``) to a data frame with a ``night``
            column (the partition) plus the table's columns.
        replace : bool
            Instead of refusing an overlap, remove every overlapping earlier file (all its partitions, its
            manifest row, and the outputs and processing state of its nights) in the transaction that stores
            this one. The result's ``nights`` then include the replaced files' nights that still hold data.
        """
        self._check(subject)
        rows = sum(len(t) for name, t in tables.items() if name != "recording")  # derived spans are not rows
        file_name = Path(str(source_path)).name
        with self.writer():
            if self.has_file(sha256, subject):
                return IngestResult(sha256, subject, rows, already_ingested=True)
            self.check_not_held_by_another(sha256, subject, file_name)
            overlaps = self.overlaps(subject, sha256, tables.get("counts"))
            if overlaps and not replace:
                raise SleepmovesError(self._overlap_message(file_name, subject, overlaps))
            old = {o.sha256 for o in overlaps}
            nights: set[str] = set()
            with self.transaction() as txn:
                still_held = self._remove_files(txn, subject, old) if old else set()
                for name, frame in tables.items():
                    arrow_schema = _table_schema(name)
                    for night, part in frame.groupby("night", sort=True):
                        night = check_night(str(night))
                        nights.add(night)
                        body = part.drop(columns=["night"]).reset_index(drop=True)
                        txn.put(
                            pa.Table.from_pandas(body, schema=arrow_schema, preserve_index=False),
                            self._partition(name, subject, night) / f"{sha256[:8]}.parquet",
                        )
                manifest = self._all_manifest()
                if old:
                    gone = manifest["sha256"].isin(old) & (manifest["subject"] == subject)
                    manifest = manifest[~gone].reset_index(drop=True)
                row = pd.DataFrame(
                    {
                        "sha256": [sha256],
                        "path": [str(source_path)],
                        "format": [fmt],
                        "subject": [subject],
                        "rows": [rows],
                        "nights": [len(nights)],
                        "ingested_at": [pd.Timestamp.now(tz="UTC")],
                    }
                )
                manifest = pd.concat([manifest, row], ignore_index=True) if len(manifest) else row
                # renamed last: the manifest row is what makes the partitions "ingested"
                txn.put(
                    pa.Table.from_pandas(manifest, schema=schema.MANIFEST, preserve_index=False),
                    self.root / "manifest.parquet",
                )
            return IngestResult(
                sha256, subject, rows, sorted(nights | still_held), replaced=[o.path for o in overlaps]
            )

    def overlaps(self, subject: str, sha256: str, counts: pd.DataFrame | None) -> list[Overlap]:
        """Earlier files of ``subject`` whose stored sensor epochs overlap ``counts`` (a new file's rows, with
        their ``night``) in time for the same limb.

        An epoch is the interval ``[start, start + epoch_s)``; only the nights ``counts`` touches are read.
        Overlap of at most one epoch is a seam, not a second copy: a recording split into two files shares at
        most one (partial) epoch where they meet (raw acceleration is summarised on fixed 30-s UTC marks).
        """
        if counts is None or counts.empty:
            return []
        nights = sorted({check_night(str(n)) for n in counts["night"]})
        stored = self.read("counts", [subject], nights, columns=["start", "epoch_s", "limb", "source_sha"])
        stored = stored[stored["source_sha"] != sha256]
        if stored.empty:
            return []
        new = {limb: rows for limb, rows in counts.groupby("limb", sort=True)}
        manifest = self._all_manifest()
        manifest = manifest[manifest["subject"] == subject]
        paths = dict(zip(manifest["sha256"], manifest["path"], strict=True))
        found = []
        for source, earlier in stored.groupby("source_sha", sort=True):
            pieces: list[tuple[int, int]] = []
            limbs, longest = [], 0
            for limb, rows in earlier.groupby("limb", sort=True):
                if limb not in new:
                    continue
                both = _intersection(_merged_intervals(new[limb]), _merged_intervals(rows))
                if both:
                    pieces += both
                    limbs.append(str(limb))
                    longest = max(longest, int(new[limb]["epoch_s"].max()), int(rows["epoch_s"].max()))
            if not pieces:
                continue
            starts, ends = _merge(np.array([a for a, _ in pieces]), np.array([b for _, b in pieces]))
            seconds = float((ends - starts).sum()) / 1e9
            if seconds > longest:
                found.append(
                    Overlap(
                        str(source),
                        str(paths.get(source, source[:8])),
                        seconds,
                        pd.Timestamp(int(starts.min()), tz="UTC"),
                        pd.Timestamp(int(ends.max()), tz="UTC"),
                        limbs,
                    )
                )
        return found

    def _overlap_message(self, name: str, subject: str, overlaps: list[Overlap]) -> str:
        tz = self.subject(subject)["tz"]
        parts = [
            f"{_minutes(o.seconds)} of it overlap {Path(o.path).name}, already stored for {subject} "
            f"(limb {', '.join(o.limbs)}), from {_clock(o.first.tz_convert(tz))} to "
            f"{_clock(o.last.tz_convert(tz))} {tz} ({_clock(o.first)} to {_clock(o.last)} UTC)"
            for o in overlaps
        ]
        return (
            f"{name}: {'; and '.join(parts)}. One recording is stored once, never summed, so nothing was "
            "stored. To store this file instead of the earlier one, ingest it with `sleepmoves ingest "
            "--replace`; if two sensors really were worn at once, ingest each with its own --limb "
            "(e.g. left_leg, right_leg)."
        )

    def _remove_files(self, txn: Transaction, subject: str, shas: set[str]) -> set[str]:
        """Schedule the removal of earlier files of ``subject``: every partition file of theirs in every table,
        and the outputs and processing state of their nights, so ``process`` redoes those nights.

        Returns the nights of theirs that still hold another file's data after the removal.
        """
        names = {f"{sha[:8]}.parquet" for sha in shas}
        changed: set[str] = set()
        held: set[str] = set()
        for table in schema.PARTITIONED_TABLES:
            if table in DERIVED_TABLES:
                continue
            base = self.root / table / f"subject={subject}"
            folders = sorted({p.parent for n in names for p in base.glob(f"night=*/{n}")})
            for folder in folders:
                night = folder.name[len("night=") :]
                changed.add(night)
                files = {p.name for p in folder.glob("*.parquet")}
                if files - names:
                    held.add(night)
                    for file in sorted(files & names):
                        txn.remove(folder / file)
                else:
                    txn.remove(folder)  # no empty night folder is left (it would list as a night)
        for night in sorted(changed):
            for table in DERIVED_TABLES:
                folder = self.root / table / f"subject={subject}" / f"night={night}"
                if folder.is_dir():
                    txn.remove(folder)
        state = self.processed_state()
        if any((subject, n) in state for n in changed):
            kept = {k: v for k, v in state.items() if not (k[0] == subject and k[1] in changed)}
            txn.put(_processed_table(kept), self.root / "processed.parquet")
        return held

    # ------------------------------------------------------------------ processed outputs
    def write_partition(self, table: str, subject: str, night: str, frame: pd.DataFrame, name: str) -> Path:
        """Write one derived partition file (epochs, phases, nights) as a transaction."""
        return self.write_partitions(subject, night, {table: (frame, name)})[0]

    def write_partitions(
        self, subject: str, night: str, frames: dict[str, tuple[pd.DataFrame, str]]
    ) -> list[Path]:
        """Write several derived tables of one night together: ``{table: (frame, file name)}``."""
        self._check(subject)
        check_night(night)
        paths = []
        with self.transaction() as txn:
            for table, (frame, name) in frames.items():
                path = self._partition(table, subject, night) / f"{name}.parquet"
                arrow_schema = _table_schema(table)
                data = frame.drop(columns=[c for c in ("subject", "night") if c in frame.columns])
                if arrow_schema is None:
                    arrow = pa.Table.from_pandas(data, preserve_index=False)
                else:
                    arrow = pa.Table.from_pandas(data, schema=arrow_schema, preserve_index=False)
                txn.put(arrow, path)
                paths.append(path)
        return paths

    def processed_state(self) -> dict[tuple[str, str], str]:
        """(subject, night) -> inputs hash of the last processing (for incremental processing)."""
        path = self.root / "processed.parquet"
        if not path.exists():
            return {}
        try:
            table = pq.read_table(path).to_pandas()[["subject", "night", "inputs_hash"]]
        except (OSError, pa.ArrowException, KeyError):
            # only a cache of what was processed: damaged, every night is simply redone (and it is rewritten)
            log.warning("%s is damaged: every night will be processed again", path)
            return {}
        return {
            (s, n): h for s, n, h in zip(table["subject"], table["night"], table["inputs_hash"], strict=True)
        }

    def write_processed_state(self, state: dict[tuple[str, str], str]) -> None:
        atomic_write_table(_processed_table(state), self.root / "processed.parquet")

    # ------------------------------------------------------------------ queries
    def nights(self, subject: str, table: str = "nights") -> list[str]:
        """Sorted nights (``YYYY-MM-DD``) of a subject that have data in ``table``."""
        folder = self.root / table / f"subject={self._check(subject)}"
        if not folder.is_dir():
            return []
        # one directory listing, not one per night: a night folder exists only once a file is in it
        # (writers remove the folders they created when they fail)
        with os.scandir(folder) as entries:
            return sorted(
                e.name[len("night=") :] for e in entries if e.name.startswith("night=") and e.is_dir()
            )

    def latest_night(self, subject: str) -> str | None:
        """The most recent processed night of a subject, or None."""
        nights = self.nights(subject)
        return nights[-1] if nights else None

    def events(self, subject: str, night: str) -> pd.DataFrame:
        """All events of one night (every source file), sorted by start."""
        frame = self.read("events", [subject], [night])
        return frame.sort_values("start", ignore_index=True) if len(frame) else frame

    def epochs(self, subject: str, night: str) -> pd.DataFrame:
        """The epoch features of one night."""
        return self._sorted_epochs(self.read("epochs", [subject], [night]))

    def phases(self, subject: str, night: str) -> pd.DataFrame:
        """The phase labels and probabilities of one night."""
        return self._sorted_epochs(self.read("phases", [subject], [night]))

    def diary(self, subject: str, night: str) -> pd.DataFrame:
        """Diary entries (sleeps, feeds, visits) that start in one night."""
        frame = self.read("diary", [subject], [night])
        return frame.sort_values("start", ignore_index=True) if len(frame) else frame

    def nodata_epochs(self, subject: str, night: str) -> pd.Series:
        """Start times of the night's epochs without data: gaps inside the recording, and not worn anywhere."""
        try:
            epochs = self.read("epochs", [subject], [night], columns=["epoch_start", "valid", "coverage"])
        except (pa.ArrowInvalid, KeyError):  # a night processed before epochs had a coverage column
            epochs = self.read("epochs", [subject], [night], columns=["epoch_start", "valid"])
        epochs = self._sorted_epochs(epochs)
        if epochs.empty:
            return pd.Series([], dtype="datetime64[us, UTC]")
        valid = epochs["valid"].to_numpy(dtype=bool)
        seen = np.flatnonzero(valid)
        inside = np.zeros(len(epochs), dtype=bool)
        if len(seen):
            inside[seen[0] : seen[-1] + 1] = True
        not_worn = (
            (epochs["coverage"] == schema.NOT_WORN).to_numpy()
            if "coverage" in epochs
            else np.zeros_like(valid)
        )
        return epochs.loc[~valid & (inside | not_worn), "epoch_start"].reset_index(drop=True)

    def counts(self, subject: str, night: str) -> pd.DataFrame:
        """The night's activity counts and sensor coverage rows, by time."""
        frame = self.read("counts", [subject], [night])
        return frame.sort_values("start", ignore_index=True) if len(frame) else frame

    def night_summary(self, subject: str, night: str) -> dict | None:
        """The night-metrics row of one night as a dict, or None when it is not processed."""
        frame = self.read("nights", [subject], [night])
        return frame.iloc[0].to_dict() if len(frame) else None

    def nights_table(
        self,
        subjects: Iterable[str] | None = None,
        start: str | dt.date | None = None,
        end: str | dt.date | None = None,
    ) -> pd.DataFrame:
        """Night metrics of several subjects for nights in ``[start, end]`` (inclusive, either may be open)."""
        subjects = list(subjects) if subjects is not None else list(self.subjects()["subject"])
        lo = str(start) if start is not None else None
        hi = str(end) if end is not None else None
        wanted = {
            s: [n for n in self.nights(s) if (lo is None or n >= lo) and (hi is None or n <= hi)]
            for s in subjects
        }
        frames = [self.read("nights", [s], nights) for s, nights in wanted.items() if nights]
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=["subject", "night"])
        return pd.concat(frames, ignore_index=True).sort_values(["subject", "night"], ignore_index=True)

    def flags(self, subjects: Iterable[str] | None = None, start=None, end=None) -> pd.DataFrame:
        """Review flags of nights in ``[start, end]``: one row per flag (subject, night, rule, start, message, ...)."""
        from .flags import decode

        nights = self.nights_table(subjects, start, end)
        rows = [
            {"subject": r.subject, "night": r.night, **flag}
            for r in nights.itertuples()
            if "flags" in nights
            for flag in decode(r.flags)
        ]
        return pd.DataFrame(
            rows, columns=["subject", "night", "rule", "start", "duration_s", "limbs", "detail", "message"]
        )

    def week_phases(self, subject: str, start: str, end: str) -> pd.DataFrame:
        """Phases of a subject's nights in ``[start, end]`` (for transition matrices and actograms)."""
        nights = [n for n in self.nights(subject) if start <= n <= end]
        return self.read("phases", [subject], nights) if nights else self.read("phases", [subject], [])

    def read(
        self,
        table: str,
        subjects: Iterable[str],
        nights: Iterable[str] | None = None,
        columns: list[str] | None = None,
    ) -> pd.DataFrame:
        """Read the partitions of ``table`` for these subjects (and nights), with ``subject``/``night`` columns."""
        files: list[str] = []
        for subject in subjects:
            base = self.root / table / f"subject={self._check(subject)}"
            if nights is None:
                files += sorted(str(p) for p in base.glob("night=*/*.parquet"))
            else:
                for night in nights:
                    files += sorted(
                        str(p) for p in (base / f"night={check_night(str(night))}").glob("*.parquet")
                    )
        if not files:
            arrow_schema = _table_schema(table)
            names = ["subject", "night"] + (arrow_schema.names if arrow_schema is not None else [])
            if arrow_schema is None:
                return pd.DataFrame(columns=names)
            empty = pa.unify_schemas([schema.PARTITIONING, arrow_schema]).empty_table().to_pandas()
            return empty[columns] if columns else empty
        dataset = ds.dataset(
            files,
            format="parquet",
            partitioning=ds.partitioning(schema.PARTITIONING, flavor="hive"),
            partition_base_dir=str(self.root / table),
        )
        # a page reads a few dozen small files: threads cost more than they save there (2-core machines)
        frame = dataset.to_table(columns=columns, use_threads=len(files) > 64).to_pandas()
        order = ["subject", "night"] + [c for c in frame.columns if c not in ("subject", "night")]
        return frame[[c for c in order if c in frame.columns]]

    # ------------------------------------------------------------------ helpers
    def _partition(self, table: str, subject: str, night: str) -> Path:
        if table not in schema.PARTITIONED_TABLES:
            raise ValueError(f"unknown lake table {table!r}")
        return self.root / table / f"subject={self._check(subject)}" / f"night={check_night(night)}"

    @staticmethod
    def _sorted_epochs(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values("epoch_start", ignore_index=True) if len(frame) else frame


def _processed_table(state: dict[tuple[str, str], str]) -> pa.Table:
    rows = sorted((s, n, h) for (s, n), h in state.items())
    return pa.table(
        {
            "subject": pa.array([r[0] for r in rows], pa.string()),
            "night": pa.array([r[1] for r in rows], pa.string()),
            "inputs_hash": pa.array([r[2] for r in rows], pa.string()),
        }
    )


def _merge(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The union of intervals ``[start, end)`` as sorted, disjoint intervals."""
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    runs = np.flatnonzero(np.r_[True, starts[1:] > reach[:-1]])
    return starts[runs], np.maximum.reduceat(ends, runs)


def _merged_intervals(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The time (ns since 1970, UTC) covered by epoch rows (``start``, ``epoch_s``) as disjoint intervals."""
    starts = utc_ns(rows["start"])
    return _merge(starts, starts + rows["epoch_s"].to_numpy(dtype=np.int64) * 1_000_000_000)


def _intersection(a, b) -> list[tuple[int, int]]:
    """Where two sorted lists of disjoint intervals (``(starts, ends)``) overlap."""
    (a0, a1), (b0, b1) = (a[0].tolist(), a[1].tolist()), (b[0].tolist(), b[1].tolist())
    out, i, j = [], 0, 0
    while i < len(a0) and j < len(b0):
        lo, hi = max(a0[i], b0[j]), min(a1[i], b1[j])
        if lo < hi:
            out.append((lo, hi))
        if a1[i] < b1[j]:
            i += 1
        else:
            j += 1
    return out


def _minutes(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:,.0f} minutes" if minutes >= 10 else f"{minutes:.1f}".removesuffix(".0") + " minutes"


def _clock(time: pd.Timestamp) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S" if time.second else "%Y-%m-%d %H:%M")


def _table_schema(table: str) -> pa.Schema | None:
    """The fixed Arrow schema of a lake table, or None for tables whose columns vary (features, metrics)."""
    return {
        "events": schema.EVENTS,
        "counts": schema.COUNTS,
        "recording": schema.RECORDING,
        "diary": schema.DIARY,
        "phases": schema.PHASE_TABLE,
    }.get(table)


def _parse_date(value) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise SleepmovesError(f"invalid date {value!r}: expected YYYY-MM-DD") from exc
