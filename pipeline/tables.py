"""The lake's storage engine: Delta Lake tables, one per baby and kind (``<kind>/subject=<id>/``).

Why one table per baby and kind: deleting a baby is removing its tables' folders, so no data file, statistic
or path of it is left in any table log and there is no old version to travel back to. Every table but
``nights`` is partitioned by ``night`` (``night=YYYY-MM-DD/`` folders, as before). ``nights`` holds one row per
night and is kept as one compacted file that each processing run rewrites whole: one file per night made a
lake of 20,000 nights read 20,000 tiny files for every weeks page and history flag (measured: 42 s and 3.4 GB,
against 20 ms for one file).

Data files are written by pyarrow (zstd, Parquet page checksums) and committed by delta-rs
(``create_write_transaction``), instead of ``write_deltalake``, for two reasons:

* every data file is named by the sha256 of its bytes (``[<source>-]<sha256>.parquet``), so ``check`` verifies
  each file against its own name and the size in the Delta log, and a night's inputs hash is a hash of names;
* reads go through pyarrow on the files the log lists; delta-rs's own dataset reader aborted the interpreter
  at exit here ("terminate called without an active exception", delta-io/delta-rs#2184).

Readers outside sleepmoves open any ``<kind>/subject=<id>`` folder as a Delta table (delta-rs, Spark, Polars,
DuckDB's delta extension).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.schema import Schema as DeltaSchema
from deltalake.transaction import (
    AddAction,
    PostCommitHookProperties,
    RemoveAction,
    create_table_with_add_actions,
)

PARTITION = "night"
UNPARTITIONED = ("nights",)
DELTA_LOG = "_delta_log"
# A checkpoint every 10 commits keeps opening a table flat however many commits it has had. Expired log entries
# are never cleaned up by a commit: an unfinished transaction's undo restores the version before it, and that
# version's log must still be there (a commit's own cleanup could delete it).
CONFIGURATION = {"delta.checkpointInterval": "10", "delta.enableExpiredLogCleanup": "false"}
HOOKS = PostCommitHookProperties(create_checkpoint=True, cleanup_expired_logs=False)
CHECKSUMMED = ds.ParquetFileFormat(
    default_fragment_scan_options=ds.ParquetFragmentScanOptions(page_checksum_verification=True)
)


class DamagedData(Exception):
    """A data file the table log lists is missing, truncated or fails its checksums."""


class DataFile(NamedTuple):
    """One data file of a table: its path relative to the table folder, its size in the log, its night.

    A named tuple: a table of years of nights lists tens of thousands, rebuilt after each commit."""

    path: str
    size: int
    night: str | None

    @property
    def sha256(self) -> str:
        """The sha256 of the file's bytes, from its name."""
        return self.path.rsplit("/", 1)[-1].removesuffix(".parquet").rsplit("-", 1)[-1]

    @property
    def source(self) -> str:
        """The source-file prefix of an input table's file name ('' for derived tables)."""
        stem = self.path.rsplit("/", 1)[-1].removesuffix(".parquet")
        return stem.rsplit("-", 1)[0] if "-" in stem else ""


FILE_LIST = pa.schema([("path", pa.string()), ("size", pa.int64()), (PARTITION, pa.string())])


@dataclass(frozen=True)
class Snapshot:
    """A table's current version, data files and Arrow schema (with ``night`` for partitioned tables).

    The file list is kept as an Arrow table (``path, size, night``, sorted by night then path): a baby with years
    of nights has tens of thousands of files a table, and a new night needs only a few of them. Python
    :class:`DataFile` tuples of every file are made only when :attr:`files` is asked for (measured at 5,000
    nights: building them for three tables, and the per-file loops over them, were 30 ms of a new night)."""

    version: int
    file_list: pa.Table
    schema: pa.Schema

    @functools.cached_property
    def files(self) -> tuple[DataFile, ...]:
        """Every data file, by night then path."""
        columns = [self.file_list[c].to_pylist() for c in FILE_LIST.names]
        return tuple(map(DataFile._make, zip(*columns, strict=True)))

    def nights(self) -> list[str]:
        return sorted(n for n in pc.unique(self.file_list[PARTITION]).to_pylist() if n is not None)

    def files_of(self, nights: Iterable[str] | None) -> list[DataFile]:
        """The data files of these nights (all of them when None)."""
        if nights is None:
            return list(self.files)
        wanted = pa.array(sorted(set(nights)), pa.string())
        return _data_files(self.file_list.filter(pc.is_in(self.file_list[PARTITION], value_set=wanted)))

    def files_from(self, prefixes: Iterable[str]) -> list[DataFile]:
        """The data files of an input table named with one of these source prefixes (``<prefix>-<sha>``)."""
        prefixes = sorted(set(prefixes))
        if not prefixes or not self.file_list.num_rows:
            return []
        pattern = f"(^|/)({'|'.join(map(re.escape, prefixes))})-[^/]*$"
        return _data_files(self.file_list.filter(pc.match_substring_regex(self.file_list["path"], pattern)))


def _data_files(file_list: pa.Table) -> list[DataFile]:
    columns = [file_list[c].to_pylist() for c in FILE_LIST.names]
    return list(map(DataFile._make, zip(*columns, strict=True)))


def _sorted_files(file_list: pa.Table) -> pa.Table:
    return file_list.sort_by([(PARTITION, "ascending"), ("path", "ascending")])


_cache: dict[str, tuple[tuple, Snapshot]] = {}
# An open DeltaTable per folder, brought up to date with update_incremental (reads only the new commits)
# instead of being opened again: opening replays the checkpoint, 15 ms at 5,000 nights.
_handles: dict[str, tuple[tuple, DeltaTable]] = {}
_cache_lock = threading.RLock()
_checked: set[str] = set()  # tables whose cached snapshot is known current since the last check_all
_vacuum_due: set[str] = set()  # tables a commit of this process took files out of, not yet vacuumed


def _handle(folder: Path, inode: int) -> DeltaTable:
    """The folder's DeltaTable, current (call holding ``_cache_lock``).

    An open table is brought up to date only if it is the same table: same log folder inode and same first
    commit (a table removed and created again by another process can get the folder's inode back)."""
    try:
        born = (folder / DELTA_LOG / f"{0:020d}.json").stat().st_mtime_ns
    except FileNotFoundError:
        born = None
    identity = (inode, born)
    held = _handles.get(str(folder))
    if held is not None and held[0] == identity and born is not None:
        held[1].update_incremental()
        return held[1]
    table = DeltaTable(str(folder))
    _handles[str(folder)] = (identity, table)
    return table


def partitioned(kind: str) -> bool:
    return kind not in UNPARTITIONED


def version(folder: Path) -> int:
    """The table's current version, -1 when there is no table."""
    snap = snapshot(folder)
    return -1 if snap is None else snap.version


def log_version(folder: Path) -> int:
    """The table's current version from its log folder's listing alone (no log is read), -1 when none."""
    try:
        with os.scandir(folder / DELTA_LOG) as entries:
            commits = [e.name[:-5] for e in entries if e.name.endswith(".json") and e.name[:-5].isdigit()]
    except FileNotFoundError:
        return -1
    return max((int(c) for c in commits), default=-1)


def snapshot(folder: Path) -> Snapshot | None:
    """The table in ``folder`` as of now (cached until its log changes), or None when there is none."""
    log = folder / DELTA_LOG
    try:
        stat = log.stat()
    except FileNotFoundError:
        return None
    key = (stat.st_mtime_ns, stat.st_ino)
    with _cache_lock:
        hit = _cache.get(str(folder))
        if hit is not None and hit[0] == key:
            if str(folder) in _checked or log_version(folder) == hit[1].version:
                _checked.add(str(folder))
                return hit[1]
        return _load(folder, key)


def _load(folder: Path, key: tuple) -> Snapshot:
    table = _handle(folder, key[1])
    actions = pa.table(table.get_add_actions(flatten=True))
    column = f"partition.{PARTITION}"
    nights = actions[column] if column in actions.column_names else pa.nulls(actions.num_rows, pa.string())
    files = pa.Table.from_arrays(
        [actions["path"].cast(pa.string()), actions["size_bytes"].cast(pa.int64()), nights.cast(pa.string())],
        schema=FILE_LIST,
    )
    files = _sorted_files(files)  # by night, then path (sorted by Arrow, not in Python)
    snap = Snapshot(table.version(), files, pa.schema(table.schema().to_arrow()))
    _cache[str(folder)] = (key, snap)
    _checked.add(str(folder))
    return snap


def _table(folder: Path) -> DeltaTable:
    """The folder's current DeltaTable, for a commit or maintenance (the table must exist)."""
    stat = (folder / DELTA_LOG).stat()
    with _cache_lock:
        return _handle(folder, stat.st_ino)


def check_all() -> None:
    """Make each cached snapshot prove it is current before its next use (a writer starts from what is on disk).

    The cache is keyed on the log folder's modification time, which the kernel stamps from a coarse clock: another
    process's commit within the same few milliseconds would not change it. So when a writer takes the lake, each
    snapshot is checked once against the log's newest version (a listing of the log folder) before it is used
    again; reopening every table instead cost 10-15 ms a table at 5,000 nights. An open table is reused only if
    it is the same table (:func:`_handle`) and is brought up to date from the log itself."""
    with _cache_lock:
        _checked.clear()


def forget(folder: Path) -> None:
    """Drop what is cached of ``folder`` (after it was restored or removed)."""
    with _cache_lock:
        _cache.pop(str(folder), None)
        _handles.pop(str(folder), None)


# ---------------------------------------------------------------------------------------------- writing
def delta_types(table: pa.Table) -> pa.Table:
    """``table`` with only types every Delta reader knows: dictionaries decoded, unsigned integers widened,
    timestamps in microseconds, untyped (all-null) columns as strings."""
    widen = {
        pa.uint8(): pa.int16(),
        pa.uint16(): pa.int32(),
        pa.uint32(): pa.int64(),
        pa.uint64(): pa.int64(),
    }
    fields = []
    for f in table.schema:
        t = f.type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_large_string(t):
            t = pa.string()
        if pa.types.is_null(t):
            t = pa.string()
        if pa.types.is_timestamp(t) and t.unit != "us":
            t = pa.timestamp("us", tz=t.tz)
        t = widen.get(t, t)
        fields.append(pa.field(f.name, t))
    target = pa.schema(fields)
    return table if target == table.schema else table.cast(target, safe=False)


def write_file(
    table: pa.Table, staging: Path, folder: Path, night: str | None, prefix: str = ""
) -> AddAction:
    """Write ``table`` as one data file of the table in ``folder`` and return its add action.

    The file is written and fsynced under ``staging`` (thrown away if the process dies there), named by the
    sha256 of its bytes, and renamed into the table folder; it is part of the table only once committed
    (an uncommitted file is removed by the next vacuum).
    """
    staging.mkdir(parents=True, exist_ok=True)
    tmp = staging / f"{uuid.uuid4().hex}.parquet"
    pq.write_table(table, tmp, compression="zstd", write_page_checksum=True)
    digest = hashlib.sha256()
    with open(tmp, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
        os.fsync(fh.fileno())
    name = f"{prefix}-{digest.hexdigest()}.parquet" if prefix else f"{digest.hexdigest()}.parquet"
    relative = f"{PARTITION}={night}/{name}" if night is not None else name
    target = folder / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)
    fsync_folder(target.parent)  # the rename is durable before the commit that names the file
    return AddAction(
        relative,
        target.stat().st_size,
        {PARTITION: night} if night is not None else {},
        int(time.time() * 1000),
        True,
        f'{{"numRecords":{table.num_rows}}}',
    )


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read 1 MB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def fsync_folder(folder: Path) -> None:
    """Make a rename or removal in ``folder`` durable (POSIX: the directory entry is data of the folder)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _delta_schema(schema: pa.Schema, partitioned_by_night: bool) -> DeltaSchema:
    fields = [f for f in schema if f.name != PARTITION] if partitioned_by_night else list(schema)
    if partitioned_by_night:
        fields.append(pa.field(PARTITION, pa.string()))
    return DeltaSchema.from_arrow(pa.schema(fields))


def _commit(folder: Path, actions: list, schema: pa.Schema, mode: str, nights: list[str] | None) -> None:
    by_night = partitioned(folder.parent.name)
    delta_schema = _delta_schema(schema, by_night)
    partition_by = [PARTITION] if by_night else None
    if snapshot(folder) is None:
        create_table_with_add_actions(
            str(folder),
            delta_schema,
            [a for a in actions if isinstance(a, AddAction)],
            mode="error",
            partition_by=partition_by,
            configuration=CONFIGURATION,
        )
    else:
        filters = [(PARTITION, "in", nights)] if nights else None
        with _cache_lock:  # the open table is shared with the server's reading threads: one user at a time
            _table(folder).create_write_transaction(
                actions,
                mode=mode,
                schema=delta_schema,
                partition_by=partition_by,
                partition_filters=filters,
                post_commithook_properties=HOOKS,
            )
    took_out = _remember_commit(folder, actions, mode, nights, delta_schema)
    if took_out is None:  # not known from a snapshot: whether files may have left the table
        took_out = mode == "overwrite" or any(isinstance(a, RemoveAction) for a in actions)
    if took_out:
        _vacuum_due.add(str(folder))


def _remember_commit(
    folder: Path, actions: list, mode: str, nights: list[str] | None, schema: DeltaSchema
) -> bool | None:
    """Cache the snapshot this process's commit made, derived from the one it was made on: re-reading the log
    after each commit listed every file of the table again (16 ms a table at 5,000 nights, a dozen times for one
    new night). Made only when the commit is the very next version (the writer lock keeps other writers out);
    otherwise the next snapshot reads the log. Returns whether the commit took files out (None: not known)."""
    log = folder / DELTA_LOG
    with _cache_lock:
        before = _cache.pop(str(folder), None)
        if before is None:
            return
        old = before[1]
        if (
            not (log / f"{old.version + 1:020d}.json").exists()
            or (log / f"{old.version + 2:020d}.json").exists()
        ):
            return
        replaced = None if mode != "overwrite" else (set(nights) if nights else "all")  # by the commit's mode
        removed = pa.array(sorted({a.path for a in actions if isinstance(a, RemoveAction)}), pa.string())
        listed = old.file_list
        keep = pc.invert(pc.is_in(listed["path"], value_set=removed))  # taken out by name
        if replaced == "all":
            keep = pa.array([False] * listed.num_rows)
        elif replaced is not None:  # or by night
            gone = pc.fill_null(
                pc.is_in(listed[PARTITION], value_set=pa.array(sorted(replaced), pa.string())), False
            )
            keep = pc.and_(keep, pc.invert(gone))
        kept = listed.filter(keep)
        adds = [a for a in actions if isinstance(a, AddAction)]
        added = pa.table(
            [
                pa.array([a.path for a in adds], pa.string()),
                pa.array([a.size for a in adds], pa.int64()),
                pa.array([a.partition_values.get(PARTITION) for a in adds], pa.string()),
            ],
            schema=FILE_LIST,
        )
        snap = Snapshot(
            old.version + 1, _sorted_files(pa.concat_tables([kept, added])), pa.schema(schema.to_arrow())
        )
        stat = log.stat()
        _cache[str(folder)] = ((stat.st_mtime_ns, stat.st_ino), snap)
        _checked.add(str(folder))
        return kept.num_rows < listed.num_rows


def append(folder: Path, parts: Iterable[tuple[str, pa.Table]], staging: Path, prefix: str) -> list[str]:
    """Add one file per night (``(night, rows)`` pairs, each night once) to a partitioned table, in one commit.

    ``parts`` is read one night at a time (each is written to its file before the next is asked for), so a large
    file's nights need never be in memory together. Returns the nights written.
    """
    actions, nights, schema = [], [], None
    for night, rows in parts:
        rows = delta_types(rows)
        schema = schema or rows.schema
        actions.append(write_file(rows, staging, folder, night, prefix))
        nights.append(night)
    if not actions:
        return []
    _commit(folder, actions, schema, "append", None)
    return sorted(nights)


def replace_nights(folder: Path, parts: dict[str, pa.Table | None], staging: Path) -> list[str]:
    """Make each night's partition hold exactly ``parts[night]`` (None or no rows: nothing), in one commit.

    A night whose new file would have the same bytes as the one stored is left as it is. Returns the nights
    that changed.
    """
    current = snapshot(folder)
    held: dict[str, set[str]] = {}
    for f in current.files_of(parts) if current is not None else ():
        held.setdefault(f.night, set()).add(f.path)
    actions, changed, schema = [], [], None
    for night, rows in sorted(parts.items()):
        if rows is None or rows.num_rows == 0:
            if night in held:
                changed.append(night)
            continue
        rows = delta_types(rows)
        schema = rows.schema
        add = write_file(rows, staging, folder, night)
        if held.get(night) == {add.path}:  # the same bytes: nothing to change
            continue
        actions.append(add)
        changed.append(night)
    if not changed:
        return []
    if schema is None:  # only removals
        schema = current.schema
    elif current is not None:  # a table's schema only grows: other nights' files keep every column they have
        old = pa.schema([f for f in current.schema if f.name != PARTITION])
        schema = pa.unify_schemas([old, schema], promote_options="permissive")
    _commit(folder, actions, schema, "overwrite", changed)
    return changed


def replace_prefixed(folder: Path, night: str, rows: pa.Table | None, prefix: str, staging: Path) -> bool:
    """Make the night's files named ``<prefix>-...`` hold exactly ``rows`` (None or no rows: none), leaving the
    night's other files as they are, in one commit (a scorer's labels beside another scorer's). Returns whether
    anything changed."""
    current = snapshot(folder)
    held = [f.path for f in (current.files_of([night]) if current is not None else ()) if f.source == prefix]
    actions: list = []
    schema = current.schema if current is not None else None
    if rows is not None and rows.num_rows:
        rows = delta_types(rows)
        add = write_file(rows, staging, folder, night, prefix)
        if held == [add.path]:  # the same bytes: nothing to change
            return False
        actions.append(add)
        schema = (
            rows.schema
            if schema is None
            else pa.unify_schemas(
                [pa.schema([f for f in schema if f.name != PARTITION]), rows.schema],
                promote_options="permissive",
            )
        )
    if not actions and not held:
        return False
    sizes = {f.path: f.size for f in current.files_of([night])} if current is not None else {}
    now = int(time.time() * 1000)
    actions += [
        RemoveAction(
            path=p,
            data_change=True,
            deletion_timestamp=now,
            size=sizes[p],
            partition_values={PARTITION: night},
        )
        for p in held
    ]
    _commit(folder, actions, schema, "append", None)
    return True


def rewrite(folder: Path, table: pa.Table, staging: Path) -> None:
    """Replace an unpartitioned table's contents with ``table`` (one compacted file), in one commit."""
    table = delta_types(table)
    current = snapshot(folder)
    add = write_file(table, staging, folder, None)
    if current is not None and [f.path for f in current.files] == [add.path]:
        return
    _commit(folder, [add], table.schema, "overwrite", None)


def remove(folder: Path, paths: list[str]) -> None:
    """Take these data files (paths relative to the table) out of the table, in one commit."""
    current = snapshot(folder)
    if current is None or not paths:
        return
    sizes = {f.path: f for f in current.files}
    now = int(time.time() * 1000)
    actions = [
        RemoveAction(
            path=p,
            data_change=True,
            deletion_timestamp=now,
            size=sizes[p].size,
            partition_values={PARTITION: sizes[p].night} if sizes[p].night is not None else None,
        )
        for p in paths
        if p in sizes
    ]
    if actions:
        _commit(folder, actions, current.schema, "append", None)


def restore(folder: Path, to_version: int) -> None:
    """Undo every commit after ``to_version`` (-1: the table did not exist, so it is removed)."""
    forget(folder)
    if to_version < 0:
        shutil.rmtree(folder, ignore_errors=True)
        return
    if version(folder) > to_version:
        with _cache_lock:  # a data file lost since (a damaged one repair took out) does not block the undo
            _table(folder).restore(to_version, ignore_missing_files=True, post_commithook_properties=HOOKS)
    forget(folder)


def vacuum(folder: Path, full: bool = False) -> None:
    """Delete the data files the current version no longer needs (replaced or removed), so plain Parquet readers
    of the folders see only current rows. ``full`` also deletes files no commit ever named (a killed writer's),
    listing every folder of the table: for recovery, not for every write. Without ``full``, only after a commit
    of this process took files out (an append-only commit leaves nothing to delete; a killed writer's leftovers
    go with the next vacuum of the table, or recovery's full one)."""
    if not full and str(folder) not in _vacuum_due:
        return  # no commit of this process took files out of it since its last vacuum
    if snapshot(folder) is None:
        return
    with _cache_lock:
        _vacuum_due.discard(str(folder))
        _table(folder).vacuum(
            retention_hours=0,
            dry_run=False,
            enforce_retention_duration=False,
            full=full,
            post_commithook_properties=HOOKS,
        )  # no commit: the cached snapshot stays right (and is keyed on the log folder anyway)


# ---------------------------------------------------------------------------------------------- reading
def read(folder: Path, nights: list[str] | None = None, columns: list[str] | None = None) -> pa.Table | None:
    """The rows of a table (only ``nights`` when given), with a ``night`` column; None when there is no table.

    Raises :class:`DamagedData` when a listed file has another size than the log says or fails its Parquet
    checksums, and FileNotFoundError when it is missing (vacuumed since the snapshot, or lost: the caller reads
    again to tell).
    """
    snap = snapshot(folder)
    if snap is None:
        return None
    if columns is not None and PARTITION not in columns:  # rows always say their night
        columns = [*columns, PARTITION]
    if not partitioned(folder.parent.name):  # one compacted file: read it, keep the nights asked for
        table = _compacted(folder, snap)
        if columns is not None:
            if missing := [c for c in columns if c not in table.column_names]:
                raise KeyError(f"{folder} has no column {missing[0]!r}")
            table = table.select(columns)
        if nights is None:
            return table
        return table.filter(pc.is_in(table[PARTITION], pa.array(sorted(set(nights)), pa.string())))
    return _scan(folder, snap, snap.files_of(nights), columns)


_COMPACTED_KEPT = 64  # babies whose one-file table stays decoded (a few MB each at years of nights)
_compacted_cache: dict[tuple, pa.Table] = {}


def _compacted(folder: Path, snap: Snapshot) -> pa.Table:
    """The whole of an unpartitioned table (one compacted file), decoded once per version of its file.

    The weeks page, the trend and each night's history flags read a baby's whole nights table, several times
    a page: decoding 5,000 nights' rows was 20 ms a read. The key is the data files' names, which are the
    sha256 of their bytes, so a cached table can never be another version's; the file's size is still checked
    on every read, as :func:`_scan` does."""
    files = list(snap.files)
    key = (str(folder), tuple(files))
    with _cache_lock:
        hit = _compacted_cache.get(key)
    if hit is not None:
        _present(folder, files)
        return hit
    table = _scan(folder, snap, files, None)
    with _cache_lock:
        for old in [k for k in _compacted_cache if k[0] == key[0]]:
            del _compacted_cache[old]  # one version a table
        while len(_compacted_cache) >= _COMPACTED_KEPT:
            del _compacted_cache[next(iter(_compacted_cache))]
        _compacted_cache[key] = table
    return table


def _present(folder: Path, files: list[DataFile]) -> list[str]:
    """The files' paths, each checked to be there with the size the table log says."""
    paths = []
    for f in files:
        path = folder / f.path
        try:
            size = path.stat().st_size
        except FileNotFoundError:  # vacuumed since the snapshot (the caller reads again), or lost
            raise FileNotFoundError(f"{path} is missing") from None
        if size != f.size:
            raise DamagedData(f"{path} has {size} bytes; the table log says {f.size}")
        paths.append(str(path))
    return paths


def _scan(folder: Path, snap: Snapshot, files: list[DataFile], columns: list[str] | None) -> pa.Table:
    schema = snap.schema
    if columns is not None and (missing := [c for c in columns if c not in schema.names]):
        raise KeyError(f"{folder} has no column {missing[0]!r}")
    if not files:
        empty = schema.empty_table()
        return empty.select([c for c in columns if c in schema.names]) if columns is not None else empty
    paths = _present(folder, files)
    by_night = partitioned(folder.parent.name)
    file_schema = pa.schema([f for f in schema if f.name != PARTITION]) if by_night else schema
    partitioning, base = None, None
    if by_night:  # the night comes from the folder name, as in the Delta log
        file_schema = pa.schema([*file_schema, pa.field(PARTITION, pa.string())])
        partitioning = ds.partitioning(pa.schema([(PARTITION, pa.string())]), flavor="hive")
        base = str(folder)
    dataset = ds.dataset(
        paths, schema=file_schema, format=CHECKSUMMED, partitioning=partitioning, partition_base_dir=base
    )
    try:
        # a page reads a few dozen small files: threads cost more than they save there (2-core machines)
        return dataset.to_table(columns=columns, use_threads=len(paths) > 64)
    except FileNotFoundError:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise DamagedData(f"a data file of {folder} is damaged ({str(exc)[:120]})") from None


def verify(folder: Path) -> list[tuple[DataFile, str]]:
    """Every data file of the table checked against the log: present, its size, its sha256 (its name), and
    readable with its Parquet page checksums. Returns ``(file, what is wrong)`` for each damaged one."""
    snap = snapshot(folder)
    problems = []
    for f in snap.files if snap is not None else ():
        path = folder / f.path
        if not path.is_file():
            problems.append((f, "missing"))
            continue
        size = path.stat().st_size
        if size != f.size:
            problems.append((f, f"{size} bytes, the table log says {f.size} (truncated or replaced)"))
            continue
        if file_sha256(path) != f.sha256:
            problems.append((f, "its bytes changed since it was written (checksum mismatch)"))
            continue
        try:
            pq.ParquetFile(path, page_checksum_verification=True).read()
        except (OSError, pa.ArrowException) as exc:
            problems.append((f, f"unreadable ({str(exc)[:80]})"))
    return problems
