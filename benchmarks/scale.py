"""Lake scale: the pages, the PNG, ingest + process and ``process`` on lakes of 2,000 and 20,000 nights.

Two shapes of lake: a family (4 babies with years of nights) and a clinic (100 babies x 200 nights). A big lake
is made from one processed night: its data files are hard-linked into every night folder (the same bytes, so
the same content-hash name) and each table is committed once; the nights table repeats the night's row.
The processing state is computed as ``process`` would, so "unchanged" means unchanged.

Beside each figure, the per-night-file baseline: plain pyarrow reading the same per-night files the query needs
(no table log, no checks), the way the lake was read before Delta Lake.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake.transaction import AddAction, create_table_with_add_actions

from sleepmoves import tables
from sleepmoves.lake import PENDING, Lake, _processed_table
from sleepmoves.process import input_files, inputs_hash

TABLES = ("events", "recording", "epochs", "phases")


def big_lake(source: Lake, root: Path, subjects: int, nights: int) -> Lake:
    """A lake of ``subjects`` x ``nights`` copies of one processed night of ``source``."""
    from sleepmoves.model import DEFAULT_MODEL, model_version

    subject = source.subjects()["subject"].iloc[0]
    night = source.nights(subject)[1]
    lake = Lake(root)
    for k in range(subjects):
        lake.add_subject(f"s{k:03d}", "Europe/London", born="2026-01-01")
    names = [str((pd.Timestamp("2020-01-01") + pd.Timedelta(days=d)).date()) for d in range(nights)]
    for table in TABLES:
        snap = tables.snapshot(source.root / table / f"subject={subject}")
        if snap is None:
            continue
        mine = [f for f in snap.files if f.night == night]
        for k in range(subjects):
            folder = root / table / f"subject=s{k:03d}"
            adds = []
            for n in names:
                (folder / f"night={n}").mkdir(parents=True, exist_ok=True)
                for f in mine:
                    name = Path(f.path).name
                    os.link(source.root / table / f"subject={subject}" / f.path, folder / f"night={n}" / name)
                    adds.append(
                        AddAction(f"night={n}/{name}", f.size, {"night": n}, 0, True, '{"numRecords":1}')
                    )
            fields = [x for x in snap.schema if x.name != "night"] + [pa.field("night", pa.string())]
            create_table_with_add_actions(
                str(folder),
                tables.DeltaSchema.from_arrow(pa.schema(fields)),
                adds,
                partition_by=["night"],
                configuration=tables.CONFIGURATION,
            )
            tables.DeltaTable(str(folder)).create_checkpoint()
    row = source.read("nights", [subject], [night]).drop(columns=["subject"])
    many = pd.concat([row] * nights, ignore_index=True).assign(night=names)
    staging = root / ".staging" / "bench"
    for k in range(subjects):
        tables.rewrite(
            root / "nights" / f"subject=s{k:03d}", pa.Table.from_pandas(many, preserve_index=False), staging
        )
    version = model_version(str(DEFAULT_MODEL))
    state = {}
    for k in range(subjects):
        s = f"s{k:03d}"
        info, files = lake.subject(s), input_files(lake, s)
        state.update({(s, n): inputs_hash(lake, s, n, info, version, None, files) for n in names})
    pq.write_table(_processed_table(state), root / "processed.parquet")
    assert PENDING not in state.values()
    return lake


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def measure(lake: Lake, log: Path, babies: list[str]) -> dict:
    """The figures the issue asks for, on one lake."""
    from sleepmoves.dashboard.downloads import png_bytes
    from sleepmoves.dashboard.export import weeks_summary_figure
    from sleepmoves.dashboard.views import available_weeks, night_options, night_view, weeks_view
    from sleepmoves.summarize import week_nights

    subject = babies[0]
    nights = lake.nights(subject)
    last = nights[-1]
    weeks = available_weeks(Lake(lake.root), babies)
    # two whole weeks (7 nights each) in every shape: the last week of a lake is often partial, and a clinic's
    # 20 nights a baby would otherwise compare 6 nights against a bigger lake's 12
    week_a, week_b = weeks[-3], weeks[-2]
    weeks_view(Lake(lake.root), babies, week_a, week_b)  # warm, as a running server is
    out = {}
    out["night page ms"] = _median(lambda: night_view(Lake(lake.root), subject, last), 7) * 1000
    out["weeks page ms"] = _median(lambda: weeks_view(Lake(lake.root), babies, week_a, week_b), 5) * 1000

    spans = [week_nights(week_a), week_nights(week_b)]

    def weeks_queries():  # what the weeks page reads (the rest of its time is building the figure)
        fresh = Lake(lake.root)
        for first, final in spans:
            fresh.nights_table(babies, first, final)
            for s in babies:
                fresh.week_phases(s, first, final, ["epoch_start", "phase"])

    out["weeks page queries ms"] = _median(weeks_queries, 5) * 1000
    out["available weeks ms"] = _median(lambda: available_weeks(Lake(lake.root), babies), 5) * 1000
    out["night picker KB"] = len(json.dumps(night_options(Lake(lake.root), subject))) / 1000
    folder = lake.root / "phases" / f"subject={subject}"
    files = [str(folder / f.path) for f in tables.snapshot(folder).files if f.night == last]
    files += [
        str(lake.root / "events" / f"subject={subject}" / f.path)
        for f in tables.snapshot(lake.root / "events" / f"subject={subject}").files
        if f.night == last
    ]
    out["baseline night files ms"] = _median(lambda: [pq.read_table(f) for f in files], 7) * 1000
    recent = {n for n in nights if any(first <= n <= final for first, final in spans)}
    week_files = [
        str(lake.root / "phases" / f"subject={s}" / f.path)
        for s in babies
        for f in tables.snapshot(lake.root / "phases" / f"subject={s}").files
        if f.night in recent
    ]
    out["baseline weeks files ms"] = _median(lambda: [pq.read_table(f) for f in week_files], 3) * 1000
    t = time.perf_counter()
    png_bytes(
        weeks_summary_figure(Lake(lake.root), babies, week_a, week_b),
        1240,
        1754,
        persistent=True,
    )
    out["weeks PNG s (cold)"] = time.perf_counter() - t
    out["weeks PNG s"] = _median(
        lambda: png_bytes(
            weeks_summary_figure(Lake(lake.root), babies, week_a, week_b),
            1240,
            1754,
            persistent=True,
        ),
        3,
    )
    out.update(_in_child(lake.root, log.parent, subject))
    return out


CHILD = """
import sys, time, json
import sleepmoves.cli  # the command line's Arrow allocator, as `sleepmoves ingest` has it
from sleepmoves.lake import Lake
from sleepmoves.process import process
from sleepmoves.ingest import ingest_file
def status(key):
    return int(next(l for l in open("/proc/self/status") if l.startswith(key)).split()[1]) * 1024
root, subject, logs = sys.argv[1], sys.argv[2], sys.argv[3:]
lake = Lake(root)
t = time.perf_counter(); done = process(lake); first = time.perf_counter() - t
assert done == [], done
t = time.perf_counter(); done = process(Lake(root)); unchanged = time.perf_counter() - t
from sleepmoves.model import DEFAULT_MODEL, model_version
from sleepmoves.process import _cached_model
t = time.perf_counter(); _cached_model(str(DEFAULT_MODEL), model_version(str(DEFAULT_MODEL))); load = time.perf_counter() - t
times, redone = [], []
for log in logs:  # the first: as in the server, which keeps the model loaded; the next with its tables open too
    t = time.perf_counter()
    result = ingest_file(lake, log, subject).result
    redone.append(len(process(lake, [subject], {subject: result.nights})))
    times.append(time.perf_counter() - t)
print(json.dumps({"first": first, "unchanged": unchanged, "load": load, "times": times, "redone": redone,
                  "peak": status("VmHWM:") / 1e6}))
"""
CHILDREN = 3  # each figure below is a median: one commit can wait on the disk for a while
OPEN_NIGHTS = 3  # new nights each child stores after its first, with the tables open


def _in_child(root: Path, folder: Path, subject: str) -> dict:
    """``process`` on the unchanged lake, then ingest + process of new nights, in fresh processes (as the CLI
    is): the first night of each (tables not yet open) and the next ones (tables open, as in a running server).
    Peak memory is the largest of the processes'."""
    runs = []
    for child in range(CHILDREN):
        logs = [one_night_log(folder, days=2 + child * 10 + k) for k in range(1 + OPEN_NIGHTS)]
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(root), subject, *map(str, logs)],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    median = statistics.median
    return {
        "process unchanged, first look s": runs[0]["first"],
        "process unchanged s": median(r["unchanged"] for r in runs),
        "model load s": median(r["load"] for r in runs),
        "ingest+process one night s": median(r["times"][0] for r in runs),
        "ingest+process, tables open s": median(t for r in runs for t in r["times"][1:]),
        "ingest+process peak MB": max(r["peak"] for r in runs),
        "nights redone": max(max(r["redone"]) for r in runs),
    }


def one_night_log(folder: Path, days: int = 0) -> Path:
    """A new night (after the big lake's nights, ``days`` later) of twitches every 2 min."""
    first = pd.Timestamp("2080-01-01T19:00Z") + pd.Timedelta(days=days)
    times = pd.date_range(first, first + pd.Timedelta(hours=11), freq="2min")
    path = folder / f"new-night-{days}.csv"
    path.write_text("start,kind,limb\n" + "".join(f"{t.isoformat()},twitch,left_leg\n" for t in times))
    return path


def report(source: Lake) -> None:
    shapes = [("family", 4, 500), ("family", 4, 5000), ("clinic", 100, 20), ("clinic", 100, 200)]
    targets = {
        "night page ms": 150,
        "weeks page ms": 300,  # the whole page: its queries, comparison, bouts and figure
        "weeks page queries ms": 300,
        "weeks PNG s": 3,
        "process unchanged s": 1,
        "ingest+process one night s": 1,
        "ingest+process, tables open s": 1,
        "ingest+process peak MB": 500,
    }
    print("lake scale (medians; targets: night page <= 150 ms, weeks page <= 300 ms, weeks PNG <= 3 s,")
    print("  process of an unchanged lake <= 1 s, ingest + process of one new night <= 1 s and <= 500 MB):")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        log = one_night_log(tmp)
        for shape, babies, nights in shapes:
            t = time.perf_counter()
            lake = big_lake(source, tmp / f"{shape}{babies}x{nights}", babies, nights)
            built = time.perf_counter() - t
            figures = measure(lake, log, [f"s{k:03d}" for k in range(min(babies, 4))])
            rows[(shape, babies * nights)] = figures
            print(
                f"  {shape}: {babies} babies x {nights} nights = {babies * nights} nights (built in {built:.0f} s)"
            )
            for key, value in figures.items():
                target = targets.get(key)
                mark = "" if target is None else ("  ok" if value <= target else f"  OVER {target}")
                shown = f"{value:9.3f}" if key.endswith(" s") else f"{value:9.1f}"  # seconds: to the ms
                print(f"    {key:>28}: {shown}{mark}")
            import shutil

            shutil.rmtree(lake.root)
    print("  from 2,000 to 20,000 nights (target: each within 1.5x):")
    for shape in ("family", "clinic"):
        small, big = rows[(shape, 2000)], rows[(shape, 20000)]
        for key in (
            "night page ms",
            "weeks page ms",
            "weeks page queries ms",
            "weeks PNG s",
            "ingest+process one night s",
            "ingest+process, tables open s",
        ):
            ratio = big[key] / small[key]
            print(f"    {shape:>6} {key:>28}: {ratio:4.2f}x{'  ok' if ratio <= 1.5 else '  OVER 1.5x'}")
