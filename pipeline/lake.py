"""The lake: the only place sleepmoves stores data, and the only read API the dashboard uses.

Layout (see ``design.md`` and the README's "Data safety")::

    subjects.parquet, manifest.parquet, processed.parquet      plain Parquet files, replaced by rename
    <kind>/subject=<id>/                                       a Delta Lake table per baby and kind
        _delta_log/                                            its commits (relative paths, sizes)
        night=<YYYY-MM-DD>/[<source>-]<sha256>.parquet         kinds events, counts, recording, diary,
                                                               epochs, phases
        <sha256>.parquet                                       kind nights: one row per night, one file

Guarantees
----------
* Every write is one :class:`~sleepmoves.journal.Transaction` across the Delta tables and top-level files it
  touches: a process killed at any point leaves the lake as before or as after (see :mod:`sleepmoves.journal`).
* Every data file is named by the sha256 of its bytes and written with Parquet page checksums, and the Delta log
  holds its size: ``sleepmoves check`` verifies them, reads refuse a damaged file (:class:`DamagedData`).
* A file whose sha256 is in the manifest for the same subject is not ingested again (another baby may hold the
  same file). A file whose sensor epochs overlap in time those of an earlier file of the same subject and limb
  is refused (one recording is stored once, never summed), or replaces that file with ``replace=True``.
* One writer at a time: writers hold an exclusive ``flock`` on ``<lake>/.lock``.
* Queries read only the files the table logs list for the nights they need, never the whole lake.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import schema, videos
from . import tables as store
from .journal import Transaction, atomic_write_table, needs_recovery, recover
from .nights import utc_ns, zone
from .schema import SleepmovesError, check_night, check_subject_id, read_only_lake
from .spill import by_night, clear_stale
from .upgrade import mark_current, needs_upgrade, upgrade

log = logging.getLogger("sleepmoves.lake")

DEFAULT_LAKE = Path("data/lake")
PENDING = "to process"  # a processed-state hash: an ingest stored new data for the night, labelling is due


def default_lake_path() -> Path:
    """The lake folder: ``$SLEEPMOVES_LAKE`` when set, else ``data/lake``."""
    return Path(os.environ.get("SLEEPMOVES_LAKE") or DEFAULT_LAKE)


class DamagedData(SleepmovesError):
    """Stored data that fails its checks (missing, truncated, changed bytes): ``sleepmoves check`` tells more."""


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


class Lake:
    """A sleepmoves lake folder.

    Parameters
    ----------
    path : str or Path
        The lake folder; created on first write.
    only : iterable of str, optional
        The subjects this handle may see (a dashboard user's babies). Every query, ingest and deletion of any
        other subject is refused as if it did not exist, and listings leave them out. None = all subjects.

    Notes
    -----
    Each table is a Delta Lake table per baby (``<table>/subject=<id>/``), readable by any Delta reader. The
    queries a notebook uses: :meth:`subjects`, :meth:`nights`, :meth:`events`, :meth:`phases`,
    :meth:`nights_table` (one row of metrics per night), :meth:`flags`, :meth:`read`.

    Examples
    --------
    >>> import tempfile
    >>> from sleepmoves import Lake
    >>> lake = Lake(tempfile.mkdtemp())
    >>> lake.add_subject("ada", "Europe/London", born="2026-01-01")
    True
    >>> lake.subjects()[["subject", "tz"]].values.tolist()
    [['ada', 'Europe/London']]
    >>> lake.nights("ada")  # nothing ingested yet
    []
    >>> Lake(lake.root, only=["ben"]).subjects().empty  # a handle scoped to another baby sees nothing of ada
    True
    """

    def __init__(self, path: str | os.PathLike | None = None, only: Iterable[str] | None = None):
        self.root = Path(path) if path is not None else default_lake_path()
        self.only = frozenset(check_subject_id(s) for s in only) if only is not None else None
        if needs_recovery(self.root) or needs_upgrade(self.root):
            self._try_recover()

    def _try_recover(self) -> None:
        """Finish what a killed writer left, unless a live writer holds the lock (it will finish its own)."""
        try:
            fh = open(self.root / ".lock", "a+")  # noqa: SIM115 - closed below
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                return  # a read-only lake: it is read as it is; a write says so (see writer)
            raise
        with fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            try:
                self._recover()
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _recover(self) -> None:
        """Undo or finish a killed writer's transaction; bring a lake from before Delta Lake onto it."""
        recover(self.root)
        clear_stale(self.root)
        if needs_upgrade(self.root):
            upgrade(self.root)
        mark_current(self.root)

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
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fh = open(self.root / ".lock", "a+")  # noqa: SIM115 - closed below
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise read_only_lake(self.root, exc) from None
            raise
        with fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                store.check_all()
                self._recover()
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
            txn.abort()
            raise
        txn.commit()
        for folder in txn.touched():  # the files replaced or removed by this write go now
            if folder.is_dir():
                store.vacuum(folder)

    # ------------------------------------------------------------------ subjects
    def subjects(self) -> pd.DataFrame:
        """All subjects: ``subject, born, tz, label`` (sorted by subject)."""
        return self._visible(self._all_subjects())

    def _all_subjects(self) -> pd.DataFrame:
        table = _read_top(self.root / "subjects.parquet")
        if table is None:
            return schema.SUBJECTS.empty_table().to_pandas()
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
        this baby's activity counts (see :data:`sleepmoves.sleepwake.ALGORITHMS`; ``"auto"`` = by device).
        """
        from .sleepwake import check_algorithm

        self.check_may_add(subject)
        zone(tz)
        sleepwake_given = sleepwake is not None  # "auto" clears a baby's choice
        if sleepwake is not None:
            sleepwake = None if sleepwake == "auto" else check_algorithm(sleepwake)
        born_date = check_born(_parse_date(born)) if born not in (None, "") else None
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
                if folder.is_dir():  # the whole table, its log with it: nothing of the baby is left
                    snap = store.snapshot(folder)
                    removed += snap.file_list.num_rows if snap is not None else 0
                    txn.remove(folder)
            if videos.folder(self.root, subject).is_dir():  # the baby's videos go with the rest
                txn.remove(videos.folder(self.root, subject))
            subjects = self._all_subjects()
            txn.put(
                pa.Table.from_pandas(
                    subjects[subjects["subject"] != subject], schema=schema.SUBJECTS, preserve_index=False
                ),
                self.root / "subjects.parquet",
            )
            manifest = self._all_manifest()
            if len(manifest):
                self.put_manifest(txn, manifest[manifest["subject"] != subject])
            if (self.root / "processed.parquet").exists():
                self.update_processed_state(txn, without_subjects=[subject])
        return removed

    # ------------------------------------------------------------------ manifest / ingest
    def manifest(self) -> pd.DataFrame:
        """One row per ingested file: ``sha256, path, format, subject, rows, nights, ingested_at``."""
        return self._visible(self._all_manifest())

    def _all_manifest(self) -> pd.DataFrame:
        table = _read_top(self.root / "manifest.parquet")
        return table if table is not None else schema.MANIFEST.empty_table().to_pandas()

    def has_file(self, sha256: str, subject: str | None = None) -> bool:
        """True when a file with this sha256 has already been ingested (for ``subject``, when given)."""
        manifest = self._all_manifest()
        held = manifest["sha256"] == sha256
        if subject is not None:
            held &= manifest["subject"] == subject
        return bool(held.any())

    def file_nights(self, sha256: str, subject: str) -> list[str]:
        """The nights holding a stored file's rows for ``subject`` (its data files are named by its sha256)."""
        return sorted({f.night for _, f in self._source_files(subject, {sha256})})

    def _source_files(self, subject: str, shas: set[str]) -> list[tuple[str, store.DataFile]]:
        """``(table, data file)`` of every stored file of ``subject`` that came from one of these sources."""
        prefixes = {source_prefix(sha) for sha in shas}
        found = []
        for table in INPUT_TABLES:
            snap = store.snapshot(self._folder(table, subject))
            found += [(table, f) for f in (snap.files_from(prefixes) if snap is not None else ())]
        return found

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
        files: dict[str, Path] | None = None,
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
        files : dict, optional
            Files to keep in the baby's video folder (:mod:`sleepmoves.videos`): name there -> a staged file on
            the lake's disk, moved into place by the same transaction.
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
            if self._source_files(
                subject, {sha256}
            ):  # rows of this file left without a manifest row (repair)
                old.add(sha256)
            nights: set[str] = set()
            with self.transaction() as txn:
                txn.tables(sorted(tables), subject)  # every table this ingest writes, in one journal entry
                gone, still_held = self._remove_files(txn, subject, old) if old else (set(), set())
                for name, table_rows in tables.items():
                    arrow_schema = _table_schema(name)

                    def parts(
                        table_rows=table_rows, arrow_schema=arrow_schema
                    ):  # one night in memory at a time
                        for night, body in by_night(table_rows):
                            nights.add(check_night(night))
                            yield night, pa.Table.from_pandas(body, schema=arrow_schema, preserve_index=False)

                    store.append(txn.table(name, subject), parts(), txn.staging, source_prefix(sha256))
                for kept_name, staged in (files or {}).items():
                    txn.put_file(staged, videos.folder(self.root, subject) / kept_name)
                manifest = self._all_manifest()
                if old:
                    gone_rows = manifest["sha256"].isin(old) & (manifest["subject"] == subject)
                    manifest = manifest[~gone_rows].reset_index(drop=True)
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
                self.put_manifest(txn, manifest)
                # the nights are marked "to process" in the same transaction: whoever opens the lake next
                # (a command, the server) finishes their labelling even if this process dies right after
                self._mark_to_process(txn, subject, gone, nights | still_held)
            return IngestResult(
                sha256, subject, rows, sorted(nights | still_held), replaced=[o.path for o in overlaps]
            )

    def remove_file(self, subject: str, which: str) -> tuple[str, list[str], list[str]]:
        """Take one stored file (named by its sha256, at least 8 hex digits of it, or its file name) and every row
        of it out of ``subject``'s data, with the outputs of its nights, in one transaction.

        Returns ``(file name, nights now without data, nights still holding other data)``; the latter are
        marked "to process".
        """
        self._check(subject)
        with self.writer():
            self.subject(subject)
            manifest = self._all_manifest()
            mine = manifest[manifest["subject"] == subject]
            which = which.strip()
            by_sha = len(which) >= 8 and all(c in "0123456789abcdef" for c in which.lower())
            hits = mine[mine["sha256"].str.startswith(which.lower())] if by_sha else mine[:0]
            if hits.empty:
                hits = mine[[Path(str(p)).name == which for p in mine["path"]]]
            if hits.empty:
                raise SleepmovesError(
                    f"{subject} has no stored file {which!r}: give its name or sha256 as "
                    "`sleepmoves ingest` printed them (the Data page lists them)"
                )
            if len(hits) > 1:
                listed = "; ".join(f"{r.sha256[:12]} {Path(str(r.path)).name}" for r in hits.itertuples())
                raise SleepmovesError(
                    f"{which!r} names {len(hits)} files of {subject} ({listed}): give its sha256"
                )
            sha = str(hits["sha256"].iloc[0])
            with self.transaction() as txn:
                gone, held = self._remove_files(txn, subject, {sha})
                kept = manifest[~((manifest["sha256"] == sha) & (manifest["subject"] == subject))]
                self.put_manifest(txn, kept)
                self._mark_to_process(txn, subject, gone, held)
        return Path(str(hits["path"].iloc[0])).name, sorted(gone), sorted(held)

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

    def _mark_to_process(self, txn: Transaction, subject: str, gone: set[str], due: set[str]) -> None:
        """In ``txn``: forget the processing of ``subject``'s nights now without data, mark ``due`` "to process"."""
        changes: dict[tuple[str, str], str | None] = {(subject, n): None for n in gone}
        self.update_processed_state(txn, {**changes, **{(subject, n): PENDING for n in due}})

    def _remove_files(self, txn: Transaction, subject: str, shas: set[str]) -> tuple[set[str], set[str]]:
        """Take earlier files of ``subject`` out in ``txn``: every data file of theirs in every input table, and
        the outputs of their nights, so ``process`` redoes those nights.

        Returns ``(gone, held)``: the nights left without any data, and those still holding another file's.
        """
        by_table: dict[str, list[str]] = {}
        changed: set[str] = set()
        for table, f in self._source_files(subject, shas):
            by_table.setdefault(table, []).append(f.path)
            changed.add(f.night)
        for table, paths in by_table.items():
            store.remove(txn.table(table, subject), paths)
        for kept in videos.removals(self.root, subject, shas):
            txn.remove(kept)
        stored = set().union(*(self.nights(subject, t) for t in INPUT_TABLES))  # after the removals
        held = changed & stored
        self._drop_outputs(txn, subject, changed)
        return changed - held, held

    def _drop_outputs(self, txn: Transaction, subject: str, nights: set[str]) -> None:
        """Remove the epochs, phases and nights rows of these nights in ``txn``."""
        if not nights:
            return
        for table in ("epochs", "phases"):
            folder = self._folder(table, subject)
            if store.snapshot(folder) is not None:
                store.replace_nights(txn.table(table, subject), dict.fromkeys(nights), txn.staging)
        folder = self._folder("nights", subject)
        if store.snapshot(folder) is not None:
            kept = store.read(folder)
            kept = kept.filter(pc.invert(pc.is_in(kept["night"], pa.array(sorted(nights)))))
            store.rewrite(txn.table("nights", subject), kept, txn.staging)

    # ------------------------------------------------------------------ processed outputs
    def write_outputs(
        self,
        txn: Transaction,
        subject: str,
        per_night: dict[str, dict[str, pd.DataFrame]],
        night_rows: pd.DataFrame,
    ) -> None:
        """Store processed nights in ``txn``: ``per_night[night]["epochs" | "phases"]`` replace those nights'
        partitions, and ``night_rows`` (one row per night, with ``night``) replace their rows of ``nights``."""
        self._check(subject)
        txn.tables(["epochs", "phases", "nights"], subject)  # one journal entry for the three
        for table in ("epochs", "phases"):
            arrow_schema = _table_schema(table)
            parts = {}
            for night, frames in per_night.items():
                data = frames[table].drop(columns=[c for c in ("subject", "night") if c in frames[table]])
                parts[check_night(night)] = pa.Table.from_pandas(
                    data, schema=arrow_schema, preserve_index=False
                )
            if parts:
                store.replace_nights(txn.table(table, subject), parts, txn.staging)
        if len(night_rows):
            store.rewrite(txn.table("nights", subject), self._nights_with(subject, night_rows), txn.staging)

    def _nights_with(self, subject: str, night_rows: pd.DataFrame) -> pa.Table:
        """``subject``'s nights table with ``night_rows`` in place of its rows of the same nights, by night.

        Merged in Arrow: the years of nights already stored are not turned into a data frame and back (70 ms of
        a new night's 0.5 s at 5,000 nights)."""
        rows = night_rows.drop(columns=[c for c in ("subject",) if c in night_rows])
        new = pa.Table.from_pandas(rows, preserve_index=False)
        old = store.read(self._folder("nights", subject))
        if old is not None and old.num_rows:
            old = old.filter(pc.invert(pc.is_in(old["night"], value_set=new["night"])))
            try:
                new = pa.concat_tables([old, new], promote_options="permissive")
            except (pa.ArrowInvalid, pa.ArrowTypeError):  # types Arrow will not unify: as pandas would
                both = pd.concat([old.to_pandas(), rows], ignore_index=True)
                new = pa.Table.from_pandas(both, preserve_index=False)
        return new.sort_by("night")

    def put_manifest(self, txn: Transaction, manifest: pd.DataFrame) -> None:
        """In ``txn``: the manifest becomes ``manifest`` (its rows, in the manifest's schema)."""
        txn.put(
            pa.Table.from_pandas(manifest, schema=schema.MANIFEST, preserve_index=False),
            self.root / "manifest.parquet",
        )

    def update_processed_state(
        self,
        txn: Transaction,
        changes: dict[tuple[str, str], str | None] | None = None,
        *,
        without_subjects: Iterable[str] = (),
        clear: bool = False,
    ) -> None:
        """In ``txn``: set the processing state of the ``(subject, night)`` keys of ``changes`` (None: forget
        it), forget every key of ``without_subjects`` (or, with ``clear``, every key).

        Done in Arrow on the stored table: a lake of 20,000 nights is not turned into a dict and back for each
        night stored (35 ms a commit, measured)."""
        changes = changes or {}
        path = self.root / "processed.parquet"
        current = None if clear else txn.staged.get(path)
        if current is None and not clear:
            current = self._processed_arrow()
        set_rows = _processed_table({k: v for k, v in changes.items() if v is not None})
        if current is not None and current.num_rows:
            gone = pc.is_in(
                _state_keys(current["subject"], current["night"]),
                value_set=pa.array([_state_key(s, n) for s, n in changes], pa.string()),
            )
            if without_subjects:
                dropped = pa.array(sorted(set(without_subjects)), pa.string())
                gone = pc.or_(gone, pc.is_in(current["subject"], value_set=dropped))
            kept = (
                current.select(["subject", "night", "inputs_hash"])
                .filter(pc.invert(gone))
                .cast(set_rows.schema)
            )
            set_rows = pa.concat_tables([kept, set_rows])
        txn.put(set_rows.sort_by([("subject", "ascending"), ("night", "ascending")]), path)

    def _processed_arrow(self) -> pa.Table | None:
        """processed.parquet as stored (None when absent); damaged, it is treated as empty (it is a cache)."""
        path = self.root / "processed.parquet"
        try:
            return _read_top(path, ["subject", "night", "inputs_hash"], frame=False)
        except (OSError, pa.ArrowException, KeyError):
            # only a cache of what was processed: damaged, every night is simply redone (and it is rewritten)
            log.warning("%s is damaged: every night will be processed again", path)
            return None

    def processed_state(
        self, subjects: Iterable[str] | None = None, nights: Iterable[str] | None = None
    ) -> dict[tuple[str, str], str]:
        """(subject, night) -> inputs hash of the last processing (for incremental processing), of ``subjects``
        and ``nights`` (default all). Filtered in Arrow first: a baby's nights cost the same in any lake."""
        table = self._processed_arrow()
        if table is None:
            return {}
        for column, wanted in (("subject", subjects), ("night", nights)):
            if wanted is not None:
                table = table.filter(
                    pc.is_in(table[column], value_set=pa.array(sorted(set(wanted)), pa.string()))
                )
        columns = [table[c].to_pylist() for c in ("subject", "night", "inputs_hash")]
        return {(s, n): h for s, n, h in zip(*columns, strict=True)}

    def pending(self) -> dict[str, list[str]]:
        """Nights an ingest stored data for that are not labelled yet: ``{subject: [night, ...]}``."""
        table = self._processed_arrow()
        if table is None:
            return {}
        table = table.filter(pc.equal(table["inputs_hash"], PENDING))
        out: dict[str, list[str]] = {}
        for subject, night in sorted(
            zip(table["subject"].to_pylist(), table["night"].to_pylist(), strict=True)
        ):
            if self.only is None or subject in self.only:
                out.setdefault(subject, []).append(night)
        return out

    # ------------------------------------------------------------------ queries
    def input_versions(self, subject: str) -> dict[str, int]:
        """The current version of each input table of a baby (-1: none), from the log listings alone."""
        return {t: store.log_version(self._folder(t, subject)) for t in INPUT_TABLES}

    def data_files(
        self, table: str, subject: str, nights: Iterable[str] | None = None
    ) -> list[store.DataFile]:
        """The data files a baby's table holds now (from its log), of ``nights`` when given."""
        snap = store.snapshot(self._folder(table, subject))
        return snap.files_of(nights) if snap is not None else []

    def nights(self, subject: str, table: str = "nights") -> list[str]:
        """Sorted nights (``YYYY-MM-DD``) of a subject that have data in ``table``."""
        folder = self._folder(table, subject)
        if store.partitioned(table):
            snap = store.snapshot(folder)  # from the table log: no data file is opened
            return snap.nights() if snap is not None else []
        data = self._read_table(folder, subject, None, ["night"])
        return sorted(data["night"].to_pylist()) if data is not None else []

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
        frames = []
        for subject in subjects:
            data = self._read_table(self._folder("nights", subject), subject, None, None)
            if data is None or not data.num_rows:
                continue
            # picked in Arrow: a baby with years of nights converts only the weeks asked for to pandas
            if lo is not None:
                data = data.filter(pc.greater_equal(data["night"], lo))
            if hi is not None:
                data = data.filter(pc.less_equal(data["night"], hi))
            if data.num_rows:
                frames.append(data.to_pandas().assign(subject=subject))
        if not frames:
            return pd.DataFrame(columns=["subject", "night"])
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        order = ["subject", "night"] + [c for c in frame.columns if c not in ("subject", "night")]
        return frame[order].sort_values(["subject", "night"], ignore_index=True)

    def nights_near(self, subject: str, nights: Iterable[str], before: int, after: int = 0) -> pd.DataFrame:
        """The stored night rows of ``subject`` among the ``before`` nights before and the ``after`` nights after
        any of ``nights`` (those nights themselves left out), by night: what the cross-night flags of ``nights``
        look back on, and the later nights whose flags look back on them. Picked in Arrow, so a baby with years
        of nights costs what one with a month does."""
        nights = sorted(set(nights))
        data = self._read_table(self._folder("nights", subject), subject, None, None)
        if data is None or not data.num_rows:
            return pd.DataFrame(columns=["subject", "night"])
        data = data.filter(pc.invert(pc.is_in(data["night"], value_set=pa.array(nights, pa.string()))))
        data = data.sort_by("night")
        stored = np.asarray(data["night"].to_pylist(), dtype=str)
        picked: set[int] = set()
        for night in nights:
            at = int(np.searchsorted(stored, night))
            picked.update(range(max(0, at - before), min(len(stored), at + after)))
        frame = data.take(pa.array(sorted(picked), pa.int64())).to_pandas().assign(subject=subject)
        return frame[["subject", "night"] + [c for c in frame.columns if c not in ("subject", "night")]]

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

    def week_phases(
        self, subject: str, start: str, end: str, columns: list[str] | None = None
    ) -> pd.DataFrame:
        """Phases of a subject's nights in ``[start, end]`` (for sleep-cycle bouts and actograms)."""
        nights = [n for n in self.nights(subject, "phases") if start <= n <= end]
        return self.read("phases", [subject], nights, columns)

    def read(
        self,
        table: str,
        subjects: Iterable[str],
        nights: Iterable[str] | None = None,
        columns: list[str] | None = None,
    ) -> pd.DataFrame:
        """Read ``table`` for these subjects (and nights), with ``subject``/``night`` columns."""
        nights = [check_night(str(n)) for n in nights] if nights is not None else None
        frames = []
        for subject in subjects:
            folder = self._folder(table, subject)
            data = self._read_table(folder, subject, nights, columns)
            if data is not None and data.num_rows:
                frames.append(data.to_pandas().assign(subject=subject))
        if not frames:
            arrow_schema = _table_schema(table)
            if arrow_schema is None:
                return pd.DataFrame(columns=["subject", "night"])
            empty = pa.unify_schemas([schema.PARTITIONING, arrow_schema]).empty_table().to_pandas()
            return empty[columns] if columns else empty
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        order = ["subject", "night"] + [c for c in frame.columns if c not in ("subject", "night")]
        return frame[[c for c in order if c in frame.columns]]

    def _read_table(self, folder: Path, subject: str, nights, columns) -> pa.Table | None:
        """One baby's table through its log; a damaged file becomes :class:`DamagedData` naming the baby and
        night, and a file removed by a writer's vacuum while this read listed it is read again."""
        for attempt in (1, 2):
            try:
                return store.read(folder, nights, columns)
            except FileNotFoundError as exc:
                store.forget(folder)
                if attempt == 2:  # still missing from the table's current version: lost
                    raise DamagedData(
                        f"{subject}'s data is damaged ({folder.parent.name}: {exc}): run `sleepmoves check`"
                    ) from None
            except store.DamagedData as exc:
                where = f"night {nights[0]}" if nights and len(nights) == 1 else "nights"
                raise DamagedData(
                    f"{subject}'s {where} data is damaged ({folder.name} {folder.parent.name}: {exc}): "
                    "run `sleepmoves check`"
                ) from None
        return None

    # ------------------------------------------------------------------ helpers
    def _folder(self, table: str, subject: str) -> Path:
        if table not in schema.PARTITIONED_TABLES:
            raise ValueError(f"unknown lake table {table!r}")
        return self.root / table / f"subject={self._check(subject)}"

    @staticmethod
    def _sorted_epochs(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values("epoch_start", ignore_index=True) if len(frame) else frame


INPUT_TABLES = ("events", "counts", "recording", "diary")  # what ingest stores; the rest process derives


def source_prefix(sha256: str) -> str:
    """The part of a source file's sha256 that names its data files in the input tables."""
    return sha256[:16]


_top_cache: dict[str, tuple[tuple, pa.Table]] = {}


def _read_top(path: Path, columns: list[str] | None = None, frame: bool = True):
    """A top-level file as a new data frame (or the Arrow table), None when absent. Read once per version of the
    file: pages and ``process`` ask for it many times, and each write replaces the file (a new inode)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    hit = _top_cache.get(str(path))
    if hit is None or hit[0] != key:
        hit = (key, pq.read_table(path))
        _top_cache[str(path)] = hit
    table = hit[1].select(columns) if columns is not None else hit[1]
    return table.to_pandas() if frame else table


def _state_key(subject: str, night: str) -> str:
    return f"{subject}\x00{night}"  # NUL: in neither a subject id nor a night


def _state_keys(subjects: pa.ChunkedArray, nights: pa.ChunkedArray) -> pa.ChunkedArray:
    """:func:`_state_key` of each row, in Arrow."""
    return pc.binary_join_element_wise(subjects, nights, "\x00")


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


BORN_YEARS_BACK = 5  # an infant sleep tool: a birth date older than this is a typo (1800, a parent's own)


def check_born(born: dt.date, today: dt.date | None = None) -> dt.date:
    """A birth date in the last 5 years and not in the future, else a clear error."""
    today = today or dt.date.today()
    earliest = today.replace(year=today.year - BORN_YEARS_BACK, day=min(today.day, 28))
    if born > today:
        raise SleepmovesError(f"birth date {born} is in the future")
    if born < earliest:
        raise SleepmovesError(
            f"birth date {born} is more than {BORN_YEARS_BACK} years ago: sleepmoves is for infants. "
            "For an archived recording of a baby born earlier, leave the birth date out"
        )
    return born


def _parse_date(value) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise SleepmovesError(f"invalid date {value!r}: expected YYYY-MM-DD") from exc
