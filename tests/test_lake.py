import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sleepmoves.ingest import ingest_file
from sleepmoves.lake import DamagedData, Lake
from sleepmoves.schema import SleepmovesError
from tests.conftest import write

LOG = """time,duration_s,limb,kind,intensity
2026-03-02T20:00:00+00:00,0.3,left_leg,twitch,0.2
2026-03-02T20:00:04+00:00,1.5,right_leg,kick,0.7
2026-03-03T02:10:00+00:00,0.8,whole_body,startle,0.9
2026-03-03T21:00:00+00:00,0.2,left_arm,twitch,
"""


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of a lake (lock file aside) and its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture
def lake(tmp_path) -> Lake:
    lake = Lake(tmp_path / "lake")
    lake.add_subject("ada", "Europe/London", born="2026-02-01")
    return lake


def test_round_trip_events_by_night(lake, tmp_path):
    report = ingest_file(lake, write(tmp_path / "ada.csv", LOG), "ada")
    assert report.result.nights == ["2026-03-02", "2026-03-03"]
    assert lake.nights("ada", table="events") == ["2026-03-02", "2026-03-03"]
    night = lake.events("ada", "2026-03-02")
    assert list(night["kind"]) == ["twitch", "kick", "startle"]
    assert night["start"].iloc[0] == pd.Timestamp("2026-03-02T20:00:00Z")
    assert str(night["start"].dt.tz) == "UTC"
    assert set(night["subject"]) == {"ada"} and set(night["night"]) == {"2026-03-02"}
    assert night["source_sha"].iloc[0] == report.result.sha256
    assert night["intensity"].notna().all()
    assert lake.events("ada", "2026-03-03")["intensity"].isna().all()  # empty stays missing
    files = list((lake.root / "events" / "subject=ada").rglob("*.parquet"))
    # each data file is named by its source file and the sha256 of its own bytes
    assert len(files) == 2
    for f in files:
        assert f.name.startswith(report.result.sha256[:16] + "-")
        assert f.stem.split("-")[1] == hashlib.sha256(f.read_bytes()).hexdigest()
    manifest = lake.manifest()
    assert list(manifest["rows"]) == [4] and list(manifest["nights"]) == [2]


def test_reingest_same_content_is_idempotent(lake, tmp_path):
    first = ingest_file(lake, write(tmp_path / "a.csv", LOG), "ada")
    before = snapshot(lake.root)
    again = ingest_file(lake, write(tmp_path / "copy-of-a.csv", LOG), "ada")  # same bytes, other name
    assert again.result.already_ingested and not first.result.already_ingested
    assert snapshot(lake.root) == before
    assert len(lake.events("ada", "2026-03-02")) == 3


def test_failed_ingest_leaves_lake_unchanged(lake, tmp_path):
    ingest_file(lake, write(tmp_path / "good.csv", LOG), "ada")
    before = snapshot(lake.root)
    bad = LOG + "2026-03-04T20:00:00+00:00,0.3,left_leg,wiggle,0.2\n"
    with pytest.raises(SleepmovesError, match="unknown kind 'wiggle'"):
        ingest_file(lake, write(tmp_path / "bad.csv", bad), "ada")
    assert snapshot(lake.root) == before


@pytest.mark.parametrize("fail_at", ["file", "commit"])
def test_a_failed_ingest_leaves_no_partial_files(lake, tmp_path, monkeypatch, fail_at):
    """A failure while writing a table's files, or after one table was already committed, leaves the lake as
    it was: the committed table is restored, staged files are thrown away."""
    import sleepmoves.tables as tables_module

    name = "write_file" if fail_at == "file" else "append"
    real, calls = getattr(tables_module, name), []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    ingest_file(lake, write(tmp_path / "first.csv", LOG.replace("twitch", "kick")), "ada")
    monkeypatch.setattr(tables_module, name, flaky)
    before = snapshot(lake.root)
    with pytest.raises(OSError, match="disk full"):
        ingest_file(lake, write(tmp_path / "a.csv", LOG), "ada")
    assert not list((lake.root / ".staging").rglob("*.parquet"))
    assert not list((lake.root / ".journal").glob("*.json"))
    assert len(calls) == 2
    monkeypatch.undo()
    assert {k: v for k, v in snapshot(lake.root).items() if "_delta_log" not in k} == {
        k: v for k, v in before.items() if "_delta_log" not in k
    }
    assert len(Lake(lake.root).manifest()) == 1
    assert list(Lake(lake.root).events("ada", "2026-03-02")["kind"]) == ["kick", "kick", "startle"]


def test_queries_open_only_their_partitions(demo_lake, tmp_path):
    """Corrupting every other night must not disturb a query for one night."""
    lake = Lake(tmp_path / "copy")
    shutil.copytree(demo_lake.root, lake.root)
    subject = lake.subjects()["subject"].iloc[0]
    nights = lake.nights(subject)
    keep = nights[2]
    for table in ("events", "phases"):  # (nights is one file per baby)
        for night in nights:
            if night != keep:
                for f in (lake.root / table / f"subject={subject}" / f"night={night}").glob("*.parquet"):
                    f.write_bytes(b"not parquet")
    assert len(lake.events(subject, keep)) > 100
    assert len(lake.phases(subject, keep)) > 100
    assert lake.night_summary(subject, keep)["total_sleep_min"] > 0
    assert list(lake.nights_table([subject], keep, keep)["night"]) == [keep]


def test_nights_table_filters_subjects_and_range(demo_lake):
    subjects = list(demo_lake.subjects()["subject"])
    all_nights = demo_lake.nights_table()
    assert set(all_nights["subject"]) == set(subjects) and len(all_nights) == 14
    nights = demo_lake.nights(subjects[0])
    part = demo_lake.nights_table([subjects[0]], nights[1], nights[3])
    assert list(part["night"]) == nights[1:4]


def test_a_nights_table_read_again_is_never_an_old_version_or_a_damaged_file(demo_lake, tmp_path):
    """The one-file nights table is kept decoded between reads (a weeks page reads it several times): a new
    version is read anew, and a file damaged after it was read is still refused."""
    root = tmp_path / "lake"
    shutil.copytree(demo_lake.root, root)
    lake = Lake(root)
    subject = list(lake.subjects()["subject"])[0]
    first = lake.nights_table([subject])
    assert lake.nights_table([subject]).equals(first)  # the kept table, the same rows
    from sleepmoves.process import process

    log = "time,duration_s,limb,kind\n" + "".join(
        f"2026-09-01T{20 + m // 60:02d}:{m % 60:02d}:00+00:00,0.3,left_leg,twitch\n" for m in range(0, 180, 2)
    )
    result = ingest_file(lake, write(tmp_path / "later.csv", log), subject).result
    process(lake, [subject], {subject: result.nights})
    changed = lake.nights_table([subject])
    assert len(changed) == len(first) + 1 and "2026-09-01" in set(changed["night"])
    (file,) = (root / "nights" / f"subject={subject}").glob("*.parquet")
    with open(file, "r+b") as fh:
        fh.truncate(file.stat().st_size // 2)
    with pytest.raises(DamagedData, match=f"{subject}'s nights data is damaged"):
        Lake(root).nights_table([subject])


def test_subject_ids_never_become_paths(tmp_path):
    lake = Lake(tmp_path / "lake")
    for bad in ["../evil", "a/b", "", ".hidden", "x" * 65, "ada\n"]:
        with pytest.raises(SleepmovesError, match="invalid subject id"):
            lake.add_subject(bad, "Europe/London")
        with pytest.raises(SleepmovesError, match="invalid subject id"):
            lake.events(bad, "2026-03-02")
    with pytest.raises(SleepmovesError, match="invalid night"):
        lake.events("ada", "../../etc")
    assert not (tmp_path / "evil").exists()


def test_subject_add_is_idempotent_and_refuses_zone_change(lake):
    assert lake.add_subject("ada", "Europe/London", born="2026-02-01") is False
    with pytest.raises(SleepmovesError, match="cannot change to Asia/Tokyo"):
        lake.add_subject("ada", "Asia/Tokyo")
    with pytest.raises(SleepmovesError, match="unknown time zone"):
        lake.add_subject("ben", "Europe/Londn")
    assert list(lake.subjects()["subject"]) == ["ada"]


def test_unknown_subject_tells_how_to_add_it(lake, tmp_path):
    with pytest.raises(SleepmovesError, match="sleepmoves subject add zed --tz"):
        ingest_file(lake, write(tmp_path / "z.csv", LOG), "zed")


def test_files_are_hive_partitioned_parquet_without_partition_columns(lake, tmp_path):
    ingest_file(lake, write(tmp_path / "ada.csv", LOG), "ada")
    f = next((lake.root / "events").rglob("*.parquet"))
    assert f.parent.name.startswith("night=") and f.parent.parent.name == "subject=ada"
    assert "subject" not in pq.read_schema(f).names


# ---------------------------------------------------------------------- journals name only paths in the lake
def _journal(root, name: str, plan) -> None:
    folder = root / ".journal"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(plan if isinstance(plan, str) else json.dumps(plan))


@pytest.mark.parametrize(
    "plan",
    [
        {"removals": ["../../victim"], "renames": []},
        {"removals": ["/tmp/victim"], "renames": []},
        {"removals": ["events/../../victim"], "renames": []},
        {"removals": [], "renames": [[".staging/evil/0.parquet", "../PWNED.txt"]]},
        {"removals": [], "renames": [[".staging/evil/0.parquet", "events/../../PWNED.txt"]]},
        {"removals": [], "renames": [["../outside.parquet", "manifest.parquet"]]},
        "{not json",
    ],
    ids=[
        "dotdot",
        "absolute",
        "dotdot-inside",
        "rename-out",
        "rename-dotdot",
        "rename-from-outside",
        "not-json",
    ],
)
def test_a_hostile_or_damaged_journal_is_quarantined_never_replayed(tmp_path, plan):
    root = tmp_path / "deep" / "lake"
    lake = Lake(root)
    lake.add_subject("ada", "Europe/London")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    (tmp_path / "outside.parquet").write_text("outside")
    staged = root / ".staging" / "evil"
    staged.mkdir(parents=True)
    (staged / "0.parquet").write_text("PWNED")
    _journal(root, "evil", plan)
    with pytest.raises(SleepmovesError, match=r"evil\.json: a damaged write journal") as caught:
        Lake(root)
    assert "quarantine" in str(caught.value)
    assert (victim / "precious.txt").read_text() == "keep me"
    assert not (tmp_path / "deep" / "PWNED.txt").exists() and not (tmp_path / "PWNED.txt").exists()
    assert (tmp_path / "outside.parquet").read_text() == "outside"
    assert (root / ".journal" / "quarantine" / "evil.json").exists()
    assert list(Lake(root).subjects()["subject"]) == ["ada"]  # the next open works, the lake as it was


def test_a_journal_never_follows_a_symlink_out_of_the_lake(tmp_path):
    root = tmp_path / "lake"
    lake = Lake(root)
    lake.add_subject("ada", "Europe/London")
    elsewhere = tmp_path / "elsewhere" / "subject=ada"
    elsewhere.mkdir(parents=True)
    (elsewhere / "precious.txt").write_text("keep me")
    (root / "events").symlink_to(tmp_path / "elsewhere")
    _journal(root, "link", {"removals": ["events/subject=ada"], "renames": []})
    with pytest.raises(SleepmovesError, match="symbolic link"):
        Lake(root)
    assert (elsewhere / "precious.txt").read_text() == "keep me"


def test_a_damaged_processing_cache_only_means_every_night_is_redone(tmp_path):
    from sleepmoves.cli import main

    log = tmp_path / "night.csv"
    log.write_text(
        "start,kind,limb\n2026-03-02T20:00:00+00:00,twitch,left_leg\n2026-03-02T20:30:00+00:00,kick,left_leg\n"
    )
    lake = str(tmp_path / "lake")
    assert main(["subject", "add", "ada", "--tz", "Europe/London", "--lake", lake]) == 0
    assert main(["ingest", str(log), "--subject", "ada", "--lake", lake]) == 0
    (tmp_path / "lake" / "processed.parquet").write_bytes(b"garbage, not parquet")
    assert main(["process", "--lake", lake]) == 0  # redone, not "unexpected error"
    assert Lake(lake).processed_state() != {}  # and the cache is whole again


def test_processing_state_updates_touch_only_their_keys(lake):
    """What ``process`` remembers per night decides what it redoes: an update changes its own keys, keeps every
    other baby's, and a second update in the same transaction sees the first (nothing is redone twice or lost)."""
    with lake.writer(), lake.transaction() as txn:
        lake.update_processed_state(
            txn, {("ada", "2026-03-01"): "a1", ("ada", "2026-03-02"): "a2", ("ben", "2026-03-01"): "b1"}
        )
    with lake.writer(), lake.transaction() as txn:
        lake.update_processed_state(txn, {("ada", "2026-03-02"): None, ("ada", "2026-03-03"): "a3"})
        lake.update_processed_state(txn, {("ben", "2026-03-01"): "b1*"})
    assert lake.processed_state() == {
        ("ada", "2026-03-01"): "a1",
        ("ada", "2026-03-03"): "a3",
        ("ben", "2026-03-01"): "b1*",
    }
    assert lake.processed_state(["ben"]) == {("ben", "2026-03-01"): "b1*"}
    assert lake.processed_state(nights=["2026-03-01"]) == {
        ("ada", "2026-03-01"): "a1",
        ("ben", "2026-03-01"): "b1*",
    }
    with lake.writer(), lake.transaction() as txn:
        lake.update_processed_state(txn, without_subjects=["ada"])
    assert lake.processed_state() == {("ben", "2026-03-01"): "b1*"}
    with lake.writer(), lake.transaction() as txn:
        lake.update_processed_state(txn, clear=True)
    assert lake.processed_state() == {}


def test_a_top_level_write_killed_before_its_rename_leaves_nothing_behind(tmp_path):
    """subjects.parquet and processed.parquet are written through a temporary file and a rename; a writer
    killed between the two leaves that file, which the next open of the lake removes."""
    root = tmp_path / "lake"
    Lake(root).add_subject("ada", "Europe/London")
    stray = root / ".processed.parquet.0123456789abcdef.tmp"
    stray.write_bytes(b"half written")
    assert list(Lake(root).subjects()["subject"]) == ["ada"]
    assert not stray.exists()


def test_a_lake_from_before_delta_is_upgraded_in_place(tmp_path):
    """A lake written by the per-night-file layout (no table logs) opens with every stored input row, and
    the next process rebuilds its nights."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sleepmoves import schema
    from sleepmoves.process import process

    root = tmp_path / "old"
    fresh = Lake(tmp_path / "fresh")
    fresh.add_subject("ada", "Europe/London")
    ingest_file(fresh, write(tmp_path / "a.csv", LOG), "ada")
    events = fresh.read("events", ["ada"])
    # the old layout: top-level files as they were, one <sha8>.parquet per night folder, derived files too
    root.mkdir()
    for name in ("subjects.parquet", "manifest.parquet"):
        shutil.copy(fresh.root / name, root / name)
    for night, rows in events.groupby("night"):
        folder = root / "events" / "subject=ada" / f"night={night}"
        folder.mkdir(parents=True)
        body = rows.drop(columns=["subject", "night"]).reset_index(drop=True)
        pq.write_table(
            pa.Table.from_pandas(body, schema=schema.EVENTS, preserve_index=False),
            folder / f"{rows['source_sha'].iloc[0][:8]}.parquet",
        )
        (root / "nights" / "subject=ada" / f"night={night}").mkdir(parents=True)
        pq.write_table(
            pa.table({"total_sleep_min": [1.0]}),
            root / "nights" / "subject=ada" / f"night={night}" / "night.parquet",
        )
    old = Lake(root)
    assert old.nights("ada", "events") == ["2026-03-02", "2026-03-03"]
    pd.testing.assert_frame_equal(old.read("events", ["ada"]), events)
    assert old.nights("ada") == []  # derived tables go: they are rebuilt from the inputs
    assert (root / "lake-format").read_text().strip() == "delta-1"
    assert process(old) == [("ada", "2026-03-02"), ("ada", "2026-03-03")]
    assert old.nights("ada") == ["2026-03-02", "2026-03-03"]


def test_a_read_only_lake_reads_and_refuses_writes_with_its_name(lake, tmp_path, monkeypatch):
    """A lake on a read-only disk (or owned by someone else): queries work, a write is a clear message naming
    the folder. (Tests run as root, whom permission bits do not stop: the refusal is the OS's, simulated.)"""
    import builtins
    import errno

    ingest_file(lake, write(tmp_path / "a.csv", LOG), "ada")
    real_open = builtins.open

    def read_only_open(path, mode="r", *args, **kwargs):
        if str(path).startswith(str(lake.root)) and any(c in mode for c in "wa+"):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", read_only_open)
    again = Lake(lake.root)
    assert len(again.events("ada", "2026-03-02")) == 3
    with pytest.raises(SleepmovesError, match=f"the lake folder {lake.root} is read-only for this user"):
        again.add_subject("ben", "UTC")


def test_readers_in_other_threads_meet_no_error_while_this_process_writes(lake, tmp_path):
    """The server reads on several threads while an upload writes in another: the open tables they share are
    used by one at a time, and a file vacuumed under a reader is read again from the new version."""
    import threading

    from sleepmoves.process import process

    ingest_file(lake, write(tmp_path / "first.csv", LOG), "ada")
    process(lake)
    errors, stop = [], threading.Event()

    def read():
        while not stop.is_set():
            try:
                mine = Lake(lake.root)
                for night in mine.nights("ada", "events"):
                    mine.events("ada", night)
                    mine.phases("ada", night)
                mine.nights_table(["ada"])
            except Exception as exc:  # noqa: BLE001 - any error is the failure this test looks for
                errors.append(repr(exc))

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        for k in range(6):
            extra = LOG.replace("20:00:00", f"20:{k + 10:02d}:00").replace("twitch", "kick")
            ingest_file(lake, write(tmp_path / f"more{k}.csv", extra), "ada")
            process(lake)
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert errors == []


def test_a_commit_with_fewer_columns_hides_no_column_of_other_nights(tmp_path):
    """A table's schema only grows: labelling one night with fewer feature columns keeps every column of the
    nights stored before (found by review: the commit's schema had replaced the table's)."""
    import pyarrow as pa

    from sleepmoves import tables

    folder, staging = tmp_path / "epochs" / "subject=ada", tmp_path / ".staging"
    tables.replace_nights(folder, {"2026-03-01": pa.table({"x": [1], "y": [2.5]})}, staging)
    tables.replace_nights(folder, {"2026-03-02": pa.table({"x": [3]})}, staging)
    rows = tables.read(folder).to_pydict()
    assert rows["night"] == ["2026-03-01", "2026-03-02"]
    assert rows["y"][0] == 2.5 and rows["y"][1] is None


# ---------------------------------------------------------------------- a large log, a batch at a time
def _long_log(path: Path, nights: int, per_night: int) -> Path:
    """A log of ``nights`` nights, ``per_night`` events each, written out of time order (last night first)."""
    rows = []
    for night in reversed(range(nights)):
        day = pd.Timestamp("2026-03-02T20:00:00Z") + pd.Timedelta(days=night)
        rows += [
            f"{(day + pd.Timedelta(seconds=7 * i)).isoformat()},0.3,left_leg,twitch,0.2\n"
            for i in range(per_night)
        ]
    path.write_text("time,duration_s,limb,kind,intensity\n" + "".join(rows))
    return path


def test_a_log_read_in_batches_stores_what_the_whole_file_says(lake, tmp_path, monkeypatch):
    """Rows of a night that fall in several batches (and files on disk) are stored as one sorted night, equal to
    the log parsed whole; the scratch folder is gone afterwards, and a killed ingest's is removed."""
    import sleepmoves.ingest.logs as logs
    from sleepmoves.spill import SCRATCH

    monkeypatch.setattr(logs, "BATCH_ROWS", 100)  # 7 nights of 130 events: each night spans two batches
    log = _long_log(tmp_path / "week.csv", 7, 130)
    dead = lake.root / SCRATCH / "999999999-killed"  # no such process
    dead.mkdir(parents=True)
    (dead / "1.arrow").write_bytes(b"left by a killed ingest")
    report = ingest_file(lake, log, "ada")
    assert report.result.rows == 910 and len(report.result.nights) == 7
    whole = logs.parse_log(log.read_bytes(), "week.csv").events
    stored = pd.concat([lake.events("ada", night) for night in report.result.nights], ignore_index=True)
    pd.testing.assert_frame_equal(stored[list(whole.columns)], whole, check_dtype=False)
    assert list((lake.root / SCRATCH).iterdir()) == []


def test_a_large_log_is_ingested_in_bounded_memory(tmp_path):
    """The break: a 60 MB log peaked at 1.1 GB (18x the file): bytes, text and rows each held whole. Now it is
    read a batch of rows at a time and stored a night at a time: an 8 MB log costs little more than a one-event
    log (the old way: 40 MB more)."""
    import subprocess
    import sys

    one = tmp_path / "one.csv"
    one.write_text("time,duration_s,limb,kind,intensity\n2026-03-02T20:00:00+00:00,0.3,left_leg,twitch,0.2\n")
    big = _long_log(tmp_path / "big.csv", 14, 12_000)
    assert big.stat().st_size > 8_000_000

    def peak(log: Path) -> int:
        lake = tmp_path / f"lake-{log.stem}"
        code = f"""
from sleepmoves.cli import main
assert main(["subject", "add", "ada", "--tz", "UTC", "--lake", {str(lake)!r}]) == 0
assert main(["ingest", {str(log)!r}, "--subject", "ada", "--no-process", "--lake", {str(lake)!r}]) == 0
print(int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1]) * 1024)
"""
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return int(run.stdout.split()[-1])

    growth = peak(big) - peak(one)
    assert growth < 24 * 1024 * 1024, f"{growth / 1e6:.0f} MB more for an 8 MB log"


def test_the_table_snapshots_kept_after_commits_are_those_the_logs_say(lake, tmp_path, monkeypatch):
    """After its own commit a process derives the table's new file list from the old one instead of reading the
    log again: after appends, replaced nights, rewrites and removals, each matches a fresh read of the log."""
    from sleepmoves import tables
    from sleepmoves.process import process

    derived = tables._remember_commit
    checked = []

    def compare(folder, *args):
        derived(folder, *args)
        kept = tables._cache.get(str(folder))
        if kept is None:
            return
        with tables._cache_lock:
            stat = (folder / tables.DELTA_LOG).stat()
            fresh = tables._load(folder, (stat.st_mtime_ns, stat.st_ino))  # caches itself: put ours back
            tables._cache[str(folder)] = kept
        assert (kept[1].version, kept[1].files, kept[1].schema) == (fresh.version, fresh.files, fresh.schema)
        checked.append(folder.parent.name)

    monkeypatch.setattr(tables, "_remember_commit", compare)
    ingest_file(lake, write(tmp_path / "a.csv", LOG), "ada")
    process(lake, ["ada"])
    later = LOG.replace("2026-03-0", "2026-03-1")
    ingest_file(lake, write(tmp_path / "b.csv", later), "ada")
    process(lake, ["ada"])
    lake.remove_file("ada", "a.csv")
    process(lake, ["ada"])
    assert set(checked) >= {"events", "recording", "epochs", "phases", "nights"}
    assert lake.nights("ada", table="events") == ["2026-03-12", "2026-03-13"]
    assert lake.nights("ada") == ["2026-03-12", "2026-03-13"]
