"""Crash safety: an ingest killed with SIGKILL at any point leaves the lake as before or as after it.

The kills are real (``SIGKILL`` to a child ``sleepmoves`` process): at every file write and every rename the
ingest makes, and at random moments. After each kill a fresh :class:`Lake` must read, and its content must be
exactly the content before the ingest or the content after an uninterrupted one; ingesting again must then
reach the "after" state (nothing lost, nothing doubled).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sleepmoves.cli import main
from sleepmoves.lake import Lake
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

# Runs the CLI in a child that SIGKILLs itself just before its k-th fsync or just after its k-th rename
# (the two kinds of step a lake write is made of); k = 0 runs to the end and prints how many steps there were.
KILLER = """
import os, signal, sys
kind, k = sys.argv[1], int(sys.argv[2])
seen = {"fsync": 0, "replace": 0}
real_fsync, real_replace = os.fsync, os.replace

def fsync(fd):
    seen["fsync"] += 1
    if kind == "fsync" and seen["fsync"] == k:
        os.kill(os.getpid(), signal.SIGKILL)
    real_fsync(fd)

def replace(a, b):
    real_replace(a, b)
    seen["replace"] += 1
    if kind == "replace" and seen["replace"] == k:
        os.kill(os.getpid(), signal.SIGKILL)

os.fsync, os.replace = fsync, replace
from sleepmoves.cli import main
code = main(sys.argv[3:])
print("STEPS", seen["fsync"], seen["replace"])
sys.exit(code)
"""

NIGHTS_LOG = "time,duration_s,limb,kind,intensity\n" + "".join(
    f"2026-03-0{d}T{h:02d}:{m:02d}:00+00:00,0.3,left_leg,twitch,0.2\n"
    for d in (2, 3, 4)
    for h in (20, 23)
    for m in range(0, 60, 7)
)


INGESTED = ("events", "counts", "diary")
DERIVED = ("epochs", "phases", "nights")


def lake_content(root: Path, tables=INGESTED + DERIVED) -> dict[str, str]:
    """What a reader of the lake sees, as text (ingest times left out: they differ between runs)."""
    lake = Lake(root)  # opening the lake is what finishes a killed writer's committed transaction
    subjects = list(lake.subjects()["subject"])
    content = {
        "subjects": lake.subjects().to_csv(index=False),
        "manifest": lake.manifest().drop(columns=["ingested_at", "path"]).to_csv(index=False),
    }
    for table in tables:
        frame = lake.read(table, subjects)
        if len(frame):
            frame = frame.sort_values(list(frame.columns[:3]), ignore_index=True)
        content[table] = frame.to_csv(index=False)
        for subject in subjects:
            content[f"{table}/{subject}/nights"] = ",".join(lake.nights(subject, table=table))
    return content


def stray_files(root: Path) -> list[str]:
    """Files outside the lake's known places (a half-written file left where readers look)."""
    return [
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file()
        and p.name not in (".lock", "lake-format")
        and not p.name.endswith(".parquet")
        and not str(p.relative_to(root)).startswith((".staging", ".journal", ".scratch"))
        and "_delta_log" not in p.parts  # a table's commits (written atomically by delta-rs)
    ]


@pytest.fixture(scope="module")
def base_lake(tmp_path_factory) -> Path:
    """A lake with one baby and one earlier file (so "before" is not empty)."""
    root = tmp_path_factory.mktemp("crash") / "lake"
    earlier = root.parent / "earlier.csv"
    earlier.write_text(
        "time,duration_s,limb,kind,intensity\n2026-03-01T21:00:00+00:00,1.5,right_leg,kick,0.7\n"
    )
    assert main(["subject", "add", "ada", "--tz", "Europe/London", "--lake", str(root)]) == 0
    assert main(["ingest", str(earlier), "--subject", "ada", "--lake", str(root)]) == 0
    (root.parent / "new.csv").write_text(NIGHTS_LOG)
    return root


def _killable(kind: str, k: int, *args: str) -> subprocess.CompletedProcess:
    """``sleepmoves *args`` in a child that kills itself at step ``k`` of ``kind`` (see KILLER)."""
    return subprocess.run(
        [sys.executable, "-c", KILLER, kind, str(k), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _run(lake: Path, kind: str, k: int, *extra: str) -> subprocess.CompletedProcess:
    return _killable(
        kind, k, "ingest", str(lake.parent / "new.csv"), "--subject", "ada", "--lake", str(lake), *extra
    )


def _steps(done: subprocess.CompletedProcess) -> list[tuple[str, int]]:
    assert done.returncode == 0, done.stderr
    fsyncs, renames = (int(x) for x in done.stdout.split("STEPS")[1].split())
    return [("fsync", k) for k in range(1, fsyncs + 1)] + [("replace", k) for k in range(1, renames + 1)]


@pytest.fixture(scope="module")
def reference(base_lake, tmp_path_factory):
    """Content before the ingest, after ``ingest --no-process``, after ``ingest``; the steps of each command."""
    runs = {}
    for name, extra in (("stored", ("--no-process",)), ("processed", ())):
        lake = tmp_path_factory.mktemp(name) / "lake"
        shutil.copytree(base_lake, lake)
        (lake.parent / "new.csv").write_text(NIGHTS_LOG)
        steps = _steps(_run(lake, "none", 0, *extra))
        runs[name] = (lake_content(lake), steps)
    return {"before": lake_content(base_lake), **runs}


def _killed_copy(base_lake: Path, folder: Path, kind: str, k: int, *extra: str) -> Path:
    lake = folder / "lake"
    shutil.copytree(base_lake, lake)
    (folder / "new.csv").write_text(NIGHTS_LOG)
    killed = _run(lake, kind, k, *extra)
    assert killed.returncode == -signal.SIGKILL, (kind, k, killed.stdout, killed.stderr)
    return lake


def _ingested_part(content: dict) -> dict:
    return {k: v for k, v in content.items() if k.split("/")[0] not in DERIVED}


def test_sigkill_at_every_step_of_an_ingest_leaves_before_or_after(base_lake, reference, tmp_path):
    before = reference["before"]
    after, steps = reference["stored"]
    assert _ingested_part(before) != _ingested_part(after)
    seen = set()
    for kind, k in steps:
        lake = _killed_copy(base_lake, tmp_path / f"{kind}{k}", kind, k, "--no-process")
        content = lake_content(lake)
        assert content in (before, after), (kind, k)
        assert stray_files(lake) == []
        seen.add("before" if content == before else "after")
        # the same command again finishes the job: the after state, nothing doubled
        assert (
            main(
                [
                    "ingest",
                    str(lake.parent / "new.csv"),
                    "--subject",
                    "ada",
                    "--lake",
                    str(lake),
                    "--no-process",
                ]
            )
            == 0
        )
        assert lake_content(lake) == after
        assert [p for p in (lake / ".scratch").rglob("*") if p.is_file()] == []  # the killed ingest's rows
    assert seen == {"before", "after"}  # kills landed on both sides of the commit point


def _assert_whole_nights(lake_root: Path) -> None:
    """Every night a reader is shown has its epochs, phases and summary."""
    lake = Lake(lake_root)
    for night in lake.nights("ada"):
        assert len(lake.phases("ada", night)) and len(lake.epochs("ada", night))
        assert lake.night_summary("ada", night) is not None


def test_sigkill_while_labelling_keeps_the_ingest_and_the_next_run_completes(base_lake, reference, tmp_path):
    stored, _ = reference["stored"]
    processed, steps = reference["processed"]
    ingest_steps = len(reference["stored"][1])
    # the labelling steps come after the ingest's; sample them (each kill is a child process)
    later = [(kind, k) for kind, k in steps if k > ingest_steps // 2]
    for kind, k in random.Random(8).sample(later, 6):
        lake = _killed_copy(base_lake, tmp_path / f"{kind}{k}", kind, k)
        content = lake_content(lake)
        assert _ingested_part(content) == _ingested_part(stored), (kind, k)
        assert stray_files(lake) == []
        _assert_whole_nights(lake)
        assert main(["process", "--lake", str(lake)]) == 0
        assert lake_content(lake) == processed


def test_sigkill_at_random_moments(base_lake, reference, tmp_path):
    before = reference["before"]
    processed, _ = reference["processed"]
    stored, _ = reference["stored"]
    probe = tmp_path / "probe" / "lake"
    shutil.copytree(base_lake, probe)
    (probe.parent / "new.csv").write_text(NIGHTS_LOG)
    started = time.monotonic()
    assert _run(probe, "none", 0).returncode == 0
    duration = time.monotonic() - started
    rng = random.Random(20261125)
    for attempt in range(6):
        lake = tmp_path / f"random{attempt}" / "lake"
        shutil.copytree(base_lake, lake)
        (lake.parent / "new.csv").write_text(NIGHTS_LOG)
        args = ["ingest", str(lake.parent / "new.csv"), "--subject", "ada", "--lake", str(lake)]
        child = subprocess.Popen(
            [sys.executable, "-m", "sleepmoves.cli", *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.4, 1.0) * duration)
        child.send_signal(signal.SIGKILL)
        child.wait()
        content = lake_content(lake)
        assert _ingested_part(content) in (_ingested_part(before), _ingested_part(stored))
        assert stray_files(lake) == []
        _assert_whole_nights(lake)
        assert main(args) == 0
        assert main(["process", "--lake", str(lake)]) == 0
        assert lake_content(lake) == processed


def test_two_concurrent_ingests_both_land(tmp_path):
    root = tmp_path / "lake"
    assert main(["subject", "add", "ada", "--tz", "Europe/London", "--lake", str(root)]) == 0
    assert main(["subject", "add", "bo", "--tz", "America/New_York", "--lake", str(root)]) == 0
    files = {"ada": tmp_path / "ada.csv", "bo": tmp_path / "bo.csv"}
    files["ada"].write_text(NIGHTS_LOG)
    files["bo"].write_text(NIGHTS_LOG.replace("left_leg", "right_arm"))
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sleepmoves.cli",
                "ingest",
                str(path),
                "--subject",
                subject,
                "--lake",
                str(root),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for subject, path in files.items()
    ]
    for child in children:
        _, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
    lake = Lake(root)
    manifest = lake.manifest()
    assert sorted(manifest["subject"]) == ["ada", "bo"]
    expected = NIGHTS_LOG.count("\n") - 1
    for subject in ("ada", "bo"):
        events = lake.read("events", [subject])
        assert len(events) == expected  # nothing lost, nothing doubled
        assert lake.nights(subject) == lake.nights(subject, table="events")
    assert set(lake.read("events", ["bo"])["limb"]) == {"right_arm"}
    assert os.listdir(root / ".journal") == []


def test_sigkill_during_subject_delete_leaves_the_baby_or_removes_every_trace(base_lake, tmp_path):
    """Deleting a baby is one transaction too: killed at any step, the baby is all there or all gone."""
    before = lake_content(base_lake)

    def delete(lake: Path, kind: str, k: int) -> subprocess.CompletedProcess:
        return _killable(kind, k, "subject", "delete", "ada", "--lake", str(lake))

    reference = tmp_path / "reference" / "lake"
    shutil.copytree(base_lake, reference)
    steps = _steps(delete(reference, "none", 0))
    after = lake_content(reference)
    assert (
        after["subjects"].strip() == "subject,born,tz,label,sleepwake"
        and after["events"].strip().count("\n") == 0
    )
    seen = set()
    for kind, k in steps:
        lake = tmp_path / f"{kind}{k}" / "lake"
        shutil.copytree(base_lake, lake)
        killed = delete(lake, kind, k)
        assert killed.returncode == -signal.SIGKILL, (kind, k, killed.stderr)
        content = lake_content(lake)
        assert content in (before, after), (kind, k)
        assert stray_files(lake) == []
        seen.add("before" if content == before else "after")
    assert seen == {"before", "after"}
