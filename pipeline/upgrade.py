"""Bring a lake written before Delta Lake (one plain Parquet file per night folder) onto Delta tables.

The stored inputs (events, counts, recording, diary) are adopted where they lie: each file is renamed in its
night folder to the name the Delta tables use (its source and the sha256 of its bytes) and the table is
committed from them. Renames are idempotent and the commit is the last step, so a process killed during the
upgrade leaves a lake the next open upgrades again, and no input row is copied or lost. The derived tables
(epochs, phases, nights) are removed with the processing state: the next ``process`` rebuilds them.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake.transaction import AddAction, create_table_with_add_actions

from . import schema, tables
from .journal import fsync_folder

log = logging.getLogger("sleepmoves.upgrade")

FORMAT_FILE = "lake-format"
FORMAT = "delta-1"  # what this code writes: Delta tables per baby and kind
INPUTS = ("events", "counts", "recording", "diary")
DERIVED = ("epochs", "phases", "nights")


def needs_upgrade(root: Path) -> bool:
    """True for a lake that holds data but was not written as Delta tables (no format file)."""
    return (root / "subjects.parquet").exists() and not (root / FORMAT_FILE).exists()


def mark_current(root: Path) -> None:
    """Say this lake's format (a new lake, or an upgraded one)."""
    path = root / FORMAT_FILE
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".{FORMAT_FILE}.tmp"
        tmp.write_text(FORMAT + "\n")
        os.replace(tmp, path)
        fsync_folder(root)


def upgrade(root: Path) -> list[str]:
    """Upgrade every old-layout table folder of the lake (call holding the writer lock). Returns what was done."""
    done = []
    for kind in schema.PARTITIONED_TABLES:
        for folder in sorted((root / kind).glob("subject=*")) if (root / kind).is_dir() else ():
            if (folder / tables.DELTA_LOG).exists() or not folder.is_dir():
                continue
            if kind in DERIVED:
                shutil.rmtree(folder)
                done.append(f"{kind}/{folder.name}: removed (rebuilt by the next process)")
            else:
                count = _adopt(folder)
                done.append(f"{kind}/{folder.name}: {count} files adopted")
    if any(d.startswith(DERIVED) for d in done):
        (root / "processed.parquet").unlink(missing_ok=True)
    mark_current(root)
    for line in done:
        log.info("lake upgrade: %s", line)
    return done


def _adopt(folder: Path) -> int:
    """Rename an input table's old files to Delta names and commit the table from them."""
    adds = []
    arrow_schema = None
    for path in sorted(folder.glob("night=*/*.parquet")):
        night = schema.check_night(path.parent.name.removeprefix("night="))
        data = pq.read_table(path)
        arrow_schema = arrow_schema or data.schema
        source = data["source_sha"][0].as_py() if data.num_rows and "source_sha" in data.column_names else ""
        digest = tables.file_sha256(path)
        name = f"{source[:16]}-{digest}.parquet" if source else f"{digest}.parquet"
        target = path.parent / name
        if path != target:
            os.replace(path, target)
        adds.append(
            AddAction(
                f"night={night}/{name}",
                target.stat().st_size,
                {tables.PARTITION: night},
                int(time.time() * 1000),
                True,
                f'{{"numRecords":{data.num_rows}}}',
            )
        )
    if not adds:
        shutil.rmtree(folder)
        return 0
    fields = [f for f in arrow_schema if f.name != tables.PARTITION] + [
        pa.field(tables.PARTITION, pa.string())
    ]
    create_table_with_add_actions(
        str(folder),
        tables.DeltaSchema.from_arrow(pa.schema(fields)),
        adds,
        mode="error",
        partition_by=[tables.PARTITION],
        configuration=tables.CONFIGURATION,
    )
    tables.forget(folder)
    return len(adds)
