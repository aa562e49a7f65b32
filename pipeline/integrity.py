"""``sleepmoves check`` and ``sleepmoves repair``: find damaged stored files, put them aside, rebuild.

``check`` verifies every data file of every table against its table log (present, the size the log records, the
sha256 its name records, readable with its Parquet page checksums) and reads the top-level files. ``repair``
moves damaged data files to ``.quarantine/``, takes them out of their tables, says which source file's data was
lost (so it can be ingested again), and rebuilds every derived table (epochs, phases, nights) and the
processing state from the stored inputs.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import schema, tables
from .journal import DamagedJournal
from .lake import Lake

QUARANTINE = ".quarantine"
DERIVED = ("epochs", "phases", "nights")


@dataclass
class Problem:
    """One damaged thing in a lake."""

    where: str  # path relative to the lake
    what: str
    table: str = ""
    subject: str = ""
    night: str | None = None
    data_file: tables.DataFile | None = None


@dataclass
class RepairReport:
    quarantined: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # input data lost: which source file, which nights
    rebuilt: int = 0
    unrepairable: list[str] = field(default_factory=list)


def check(root: Path) -> list[Problem]:
    """Every damaged file of the lake at ``root`` (an empty list: the lake is sound)."""
    problems = [Problem(".journal", what) for what in settle(root)]
    for name in ("subjects.parquet", "manifest.parquet", "processed.parquet"):
        path = root / name
        if path.exists():
            try:
                pq.ParquetFile(path, page_checksum_verification=True).read()
            except (OSError, pa.ArrowException) as exc:
                problems.append(Problem(name, f"unreadable ({str(exc)[:80]})"))
    for kind in schema.PARTITIONED_TABLES:
        for folder in sorted((root / kind).glob("subject=*")) if (root / kind).is_dir() else ():
            subject = folder.name.removeprefix("subject=")
            where = f"{kind}/{folder.name}"
            if not (folder / tables.DELTA_LOG).is_dir():
                problems.append(Problem(where, "not a table (no _delta_log)", kind, subject))
                continue
            try:
                damaged = tables.verify(folder)
            except Exception as exc:  # noqa: BLE001 - a damaged log: delta-rs raises its own errors
                problems.append(
                    Problem(where, f"its table log is unreadable ({str(exc)[:80]})", kind, subject)
                )
                continue
            for data_file, what in damaged:
                problems.append(
                    Problem(f"{where}/{data_file.path}", what, kind, subject, data_file.night, data_file)
                )
    return problems


def settle(root: Path) -> list[str]:
    """Finish or undo killed writes; quarantine every damaged journal. Returns what each quarantine said."""
    said = []
    for _ in range(1000):
        try:
            Lake(root)
            return said
        except DamagedJournal as exc:
            said.append(str(exc))
    return said


def repair(root: Path, model_path: str | None = None) -> RepairReport:
    """Quarantine damaged files, take them out of their tables, rebuild every derived table."""
    from .process import process

    report = RepairReport()
    report.quarantined += settle(root)  # a damaged journal is put aside here, not raised
    lake = Lake(root)
    with lake.writer():
        problems = check(root)
        for p in problems:
            if p.where in ("subjects.parquet", "manifest.parquet"):
                report.unrepairable.append(
                    f"{p.where} is damaged ({p.what}): it cannot be rebuilt from the tables; restore it from a backup"
                )
            elif p.data_file is None and p.table:
                report.unrepairable.append(f"{p.where}: {p.what}")
        if report.unrepairable:
            return report
        manifest = lake._all_manifest()
        lost_sources: set[str] = set()
        with lake.transaction() as txn:
            for p in problems:
                if p.data_file is None or p.table in DERIVED:
                    continue
                folder = txn.table(p.table, p.subject)
                _quarantine(root, folder / p.data_file.path)
                tables.remove(folder, [p.data_file.path])
                report.quarantined.append(f"{p.where}: {p.what}")
                mine = manifest[(manifest["subject"] == p.subject)]
                held = (
                    mine[mine["sha256"].str.startswith(p.data_file.source)]
                    if p.data_file.source
                    else mine[:0]
                )
                if p.table == "labels":  # people's work: said as whose scoring of which night
                    report.lost.append(
                        f"{p.subject}, night {p.night}: {p.data_file.source}'s labels were lost (a copy is in "
                        f"{QUARANTINE}/); score the night again"
                    )
                    continue
                name = Path(str(held["path"].iloc[0])).name if len(held) else "a file no longer listed"
                lost_sources |= set(held["sha256"])
                report.lost.append(
                    f"{p.subject}, night {p.night}: the {p.table} rows of {name} were lost; ingest that file "
                    "again to restore them"
                )
            for p in problems:
                if p.data_file is not None and p.table in DERIVED:
                    path = Path(root) / p.where
                    if path.exists():
                        _quarantine(root, path)
                    report.quarantined.append(f"{p.where}: {p.what}")
            for kind in DERIVED:  # derived tables are rebuilt whole from the inputs
                for folder in sorted((root / kind).glob("subject=*")) if (root / kind).is_dir() else ():
                    txn.remove(folder)
            if (
                lost_sources
            ):  # a file that lost rows is no longer "ingested": ingesting it again restores them
                kept = manifest[~manifest["sha256"].isin(lost_sources)]
                lake.put_manifest(txn, kept)
            lake.update_processed_state(txn, clear=True)
    report.rebuilt = len(process(lake, model_path=model_path, force=True))
    return report


def _quarantine(root: Path, path: Path) -> None:
    """Copy a damaged file out of the tables (kept for inspection under ``.quarantine/``, same relative path).

    A copy: the file stays where it is until the transaction that takes it out of its table has committed (its
    vacuum then deletes it), so an interrupted repair can still be undone."""
    target = root / QUARANTINE / path.relative_to(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        shutil.copy2(path, target)


def describe(problems: list[Problem]) -> pd.DataFrame:
    return pd.DataFrame([{"where": p.where, "what": p.what} for p in problems], columns=["where", "what"])
