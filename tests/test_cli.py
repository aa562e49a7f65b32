"""The command line as a user meets it: real subprocesses, exit codes and messages."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sleepmoves.lake import Lake
from tests.conftest import write

HEADER = "time,duration_s,limb,kind,intensity\n"


def run(*args, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "sleepmoves.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
    )


@pytest.fixture
def lake_dir(tmp_path) -> Path:
    lake = tmp_path / "lake"
    assert (
        run(
            "subject", "add", "ada", "--tz", "Europe/London", "--born", "2026-01-20", "--lake", lake
        ).returncode
        == 0
    )
    return lake


def test_bad_row_exit_1_names_file_line_column_and_writes_nothing(lake_dir, tmp_path):
    log = write(
        tmp_path / "night.csv",
        HEADER
        + "2026-03-02T20:00:00Z,0.3,left_leg,twitch,0.2\n2026-03-02T20:00:05Z,0.3,left_foot,twitch,0.2\n",
    )
    result = run("ingest", log, "--subject", "ada", "--lake", lake_dir)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{log}:3: column limb: unknown limb 'left_foot'" in result.stderr
    assert "nothing was written" in result.stderr
    assert not (lake_dir / "events").exists() and not (lake_dir / "manifest.parquet").exists()


def test_skip_bad_writes_good_rows_and_lists_the_rest(lake_dir, tmp_path):
    log = write(
        tmp_path / "night.csv",
        HEADER
        + "2026-03-02T20:00:00Z,0.3,left_leg,twitch,0.2\n2026-03-02T20:00:05Z,0.3,left_foot,twitch,0.2\n",
    )
    result = run("ingest", log, "--subject", "ada", "--skip-bad", "--lake", lake_dir)
    assert result.returncode == 0, result.stderr
    assert "skipped 1 bad row" in result.stderr and ":3: column limb" in result.stderr
    assert len(Lake(lake_dir).events("ada", "2026-03-02")) == 1
    assert Lake(lake_dir).nights("ada") == ["2026-03-02"]  # processed too


def test_naive_times_need_tz(lake_dir, tmp_path):
    log = write(tmp_path / "naive.csv", HEADER + "2026-03-02 20:00:00,0.3,left_leg,twitch,0.2\n")
    refused = run("ingest", log, "--subject", "ada", "--lake", lake_dir)
    assert refused.returncode == 1 and "pass --tz ZONE" in refused.stderr
    accepted = run("ingest", log, "--subject", "ada", "--tz", "Europe/London", "--lake", lake_dir)
    assert accepted.returncode == 0, accepted.stderr


def test_usage_errors_exit_2(lake_dir):
    assert run("ingest", "--lake", lake_dir).returncode == 2
    assert run("frobnicate").returncode == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "missing.csv", "--subject", "ada"], "missing.csv: no such file"),
        (["ingest", "x.csv", "--subject", "../etc"], "invalid subject id '../etc'"),
        (["ingest", "x.csv", "--subject", "nobody"], "unknown subject 'nobody'"),
        (["subject", "add", "ben", "--tz", "Nowhere/Land"], "unknown time zone 'Nowhere/Land'"),
        (["subject", "add", "ben", "--tz", "UTC", "--born", "last week"], "invalid date 'last week'"),
        (["subject", "add", "ben", "--tz", "UTC", "--born", "1800-01-01"], "more than 5 years ago"),
        (["subject", "add", "ben", "--tz", "UTC", "--born", "2999-01-01"], "is in the future"),
        (
            ["export", "--subject", "ada", "--night", "2026-03-02", "--out", "x.png"],
            "night 2026-03-02 of ada is not in the lake",
        ),
    ],
)
def test_bad_input_is_a_message_not_a_traceback(lake_dir, args, message):
    result = run(*args, "--lake", lake_dir)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_end_to_end_simulate_ingest_process_reingest(tmp_path):
    sim, lake = tmp_path / "sim", tmp_path / "lake"
    assert run("simulate", "--out", sim, "--babies", "1", "--weeks", "1", "--seed", "4").returncode == 0
    subjects = pd.read_csv(sim / "subjects.csv", dtype=str)
    (row,) = subjects.itertuples()
    assert (
        run("subject", "add", row.subject, "--tz", row.tz, "--born", row.born, "--lake", lake).returncode == 0
    )
    first = run("ingest", sim / "logs" / f"{row.subject}.csv", "--subject", row.subject, "--lake", lake)
    assert first.returncode == 0, first.stderr
    assert "over 7 nights" in first.stdout and "processed 7 nights" in first.stdout
    again = run("ingest", sim / "logs" / f"{row.subject}.csv", "--subject", row.subject, "--lake", lake)
    assert "already ingested" in again.stdout and "processed" not in again.stdout
    unchanged = run("process", "--lake", lake)
    assert unchanged.returncode == 0 and "every night is up to date" in unchanged.stdout
    reprocess = run("process", "--force", "--lake", lake)
    assert reprocess.returncode == 0 and "processed 7 nights" in reprocess.stdout
    phases = Lake(lake).phases(row.subject, Lake(lake).nights(row.subject)[0])
    assert set(phases["phase"]) <= {"awake", "active", "quiet", "transition"}


def test_lake_from_environment_variable(tmp_path):
    env_lake = tmp_path / "envlake"
    result = subprocess.run(
        [sys.executable, "-m", "sleepmoves.cli", "subject", "add", "kim", "--tz", "UTC"],
        capture_output=True,
        text=True,
        env={**os.environ, "SLEEPMOVES_LAKE": str(env_lake)},
    )
    assert result.returncode == 0 and (env_lake / "subjects.parquet").exists()


def test_evaluate_prints_agreement_and_writes_csv_and_png(demo_lake, sim_dir, tmp_path):
    result = run(
        "evaluate",
        sim_dir / "labels.csv",
        "--lake",
        demo_lake.root,
        "--csv",
        tmp_path / "eval",
        "--png",
        tmp_path / "eval.png",
    )
    assert result.returncode == 0, result.stderr
    for words in ("rules only", "kappa by age band", "per phase", "confusion", "reliability"):
        assert words in result.stdout
    summary = pd.read_csv(tmp_path / "eval" / "summary.csv")
    assert (
        list(summary["method"]) == ["rules only", "classifier", "classifier + HMM"]
        and summary["used_by_model"].sum() == 1
    )
    assert set(pd.read_csv(tmp_path / "eval" / "by_age.csv")["age_band"]) <= {
        "0-1 mo",
        "1-3 mo",
        "3-6 mo",
        "6-12 mo",
    }
    assert (tmp_path / "eval.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_then_evaluate_with_the_new_model(demo_lake, sim_dir, tmp_path):
    trained = run("train", sim_dir / "labels.csv", "--lake", demo_lake.root, "--out", tmp_path / "m.skops")
    assert trained.returncode == 0, trained.stderr
    assert "phase-hgb-" in trained.stdout and "held-out nights" in trained.stdout
    evaluated = run(
        "evaluate", sim_dir / "labels.csv", "--lake", demo_lake.root, "--model", tmp_path / "m.skops"
    )
    assert evaluated.returncode == 0 and "phase-hgb-" in evaluated.stdout


def test_server_defaults_to_loopback():
    from sleepmoves.cli import build_parser

    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"
    assert build_parser().parse_args(["demo"]).host == "127.0.0.1"


CONTRACT_CHECK = Path(__file__).resolve().parents[2] / "shared" / "tools" / "contract-check"


# design.md: when the storage becomes Delta Lake "the folder layout above is then per table, and this section
# changes with it". The nights table is one compacted file per baby (nights/subject=<id>/<sha256>.parquet), not
# one file per night folder: that one check of the pre-Delta layout is expected to fail, and only that one.
PRE_DELTA_LAYOUT = "FAIL  lake/nights/subject=…/night=YYYY-MM-DD/*.parquet"


@pytest.mark.skipif(
    not CONTRACT_CHECK.exists(), reason="../shared/tools/contract-check is absent (not a project checkout)"
)
def test_design_contract_holds():
    """The shared contract check drives the CLI end to end: simulate, ingest, lake layout, export, serve."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", str(CONTRACT_CHECK)], cwd=root, capture_output=True, text=True, env=env, timeout=300
    )
    failed = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("FAIL")]
    assert failed in ([], [PRE_DELTA_LAYOUT]), result.stdout + result.stderr
    assert " 0 failed" in result.stdout or " 1 failed" in result.stdout


def test_serve_refuses_a_network_address(tmp_path):
    result = run("serve", "--host", "0.0.0.0", "--lake", tmp_path / "lake")
    assert result.returncode == 1 and "refusing to serve on 0.0.0.0" in result.stderr


def test_subject_delete_removes_every_trace(demo_lake, tmp_path):
    import shutil

    lake_dir = tmp_path / "lake"
    shutil.copytree(demo_lake.root, lake_dir)
    lake = Lake(lake_dir)
    gone, kept = list(lake.subjects()["subject"])[:2]
    result = run("subject", "delete", gone, "--lake", lake_dir)
    assert result.returncode == 0, result.stderr
    assert not list(lake_dir.rglob(f"subject={gone}"))
    assert gone not in set(lake.subjects()["subject"]) and gone not in set(lake.manifest()["subject"])
    assert lake.nights(kept) and not any(s == gone for s, _ in lake.processed_state())
    assert run("subject", "delete", gone, "--lake", lake_dir).returncode == 1


def test_the_same_ingest_again_labels_what_a_killed_run_left(tmp_path, capsys):
    """Stored but never labelled (as when a run is killed while labelling): running the same command again says
    the file is already there and labels its nights, instead of leaving them stale."""
    from sleepmoves.cli import main
    from sleepmoves.lake import Lake

    log = tmp_path / "night.csv"
    times = pd.date_range("2026-03-02T19:00Z", "2026-03-03T06:00Z", freq="2min")
    log.write_text("start,kind,limb\n" + "".join(f"{t.isoformat()},twitch,left_leg\n" for t in times))
    lake = str(tmp_path / "lake")
    assert main(["subject", "add", "ada", "--tz", "Europe/London", "--lake", lake]) == 0
    assert main(["ingest", str(log), "--subject", "ada", "--no-process", "--lake", lake]) == 0
    assert Lake(lake).nights("ada") == []  # stored, not labelled
    capsys.readouterr()
    assert main(["ingest", str(log), "--subject", "ada", "--lake", lake]) == 0
    said = capsys.readouterr().out
    assert "already ingested" in said and "processed 1 night" in said
    assert Lake(lake).nights("ada") == ["2026-03-02"]
    assert main(["ingest", str(log), "--subject", "ada", "--lake", lake]) == 0
    assert "up to date" in capsys.readouterr().out


def test_the_lake_is_readable_by_its_owner_only(tmp_path):
    """Files 0600 and folders 0700, as the users file (and PostgreSQL's data folder) are."""
    import os
    import stat

    log = tmp_path / "night.csv"
    log.write_text("start,kind,limb\n2026-03-02T20:00:00+00:00,twitch,left_leg\n")
    lake = tmp_path / "lake"
    done = run("subject", "add", "ada", "--tz", "Europe/London", "--lake", lake)
    assert done.returncode == 0
    assert run("ingest", log, "--subject", "ada", "--lake", lake).returncode == 0
    for folder, dirs, files in os.walk(lake):
        for name in dirs:
            assert stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode) & 0o077 == 0, name
        for name in files:
            assert stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode) & 0o077 == 0, name


def test_the_server_start_labels_what_an_ingest_stored_and_clears_dead_uploads(tmp_path):
    """An ingest marks its nights "to process" in the transaction that stores them; if nothing labels them
    (a killed upload, --no-process), the next server start does, and drops half-received uploads."""
    import random
    import time

    log = tmp_path / "night.csv"
    times = pd.date_range("2026-03-02T19:00Z", "2026-03-03T06:00Z", freq="2min")
    log.write_text("start,kind,limb\n" + "".join(f"{t.isoformat()},twitch,left_leg\n" for t in times))
    lake = tmp_path / "lake"
    assert run("subject", "add", "ada", "--tz", "Europe/London", "--lake", lake).returncode == 0
    assert run("ingest", log, "--subject", "ada", "--no-process", "--lake", lake).returncode == 0
    assert Lake(lake).pending() == {"ada": ["2026-03-02"]} and Lake(lake).nights("ada") == []
    dead = lake / ".uploads" / "tmpabc"
    dead.mkdir(parents=True)
    (dead / "half.csv").write_bytes(b"x" * 1000)
    port = random.randint(20000, 40000)
    server = subprocess.Popen(
        [sys.executable, "-m", "sleepmoves.cli", "serve", "--lake", str(lake), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any("dashboard on" in line for line in lines):
            lines.append(server.stdout.readline())
            if not lines[-1]:  # the server ended
                break
        assert any("1 nights labelled" in line for line in lines), lines
    finally:
        server.kill()
        server.wait()
    assert Lake(lake).nights("ada") == ["2026-03-02"] and Lake(lake).pending() == {}
    assert not (lake / ".uploads").exists()


def test_remove_file_takes_one_file_out_cleanly_and_it_can_go_to_the_right_baby(tmp_path, capsys):
    """A file ingested under the wrong baby: remove-file takes it and its rows out (by name or sha256), the
    nights it alone held go, the nights it shared are labelled again, and it can then be ingested for the
    right baby."""
    from sleepmoves.cli import main

    def night_log(path, day, kind):
        times = pd.date_range(f"2026-03-0{day}T19:00Z", f"2026-03-0{day + 1}T06:00Z", freq="3min")
        path.write_text("start,kind,limb\n" + "".join(f"{t.isoformat()},{kind},left_leg\n" for t in times))
        return path

    lake = str(tmp_path / "lake")
    for baby in ("ada", "ben"):
        assert main(["subject", "add", baby, "--tz", "Europe/London", "--lake", lake]) == 0
    mine = night_log(tmp_path / "ada-2.csv", 2, "twitch")
    wrong = night_log(tmp_path / "ben-2-3.csv", 3, "kick")
    wrong.write_text(
        wrong.read_text() + night_log(tmp_path / "x.csv", 2, "startle").read_text().split("\n", 1)[1]
    )
    assert main(["ingest", str(mine), "--subject", "ada", "--lake", lake]) == 0
    assert main(["ingest", str(wrong), "--subject", "ada", "--lake", lake]) == 0
    assert Lake(lake).nights("ada") == ["2026-03-02", "2026-03-03"]
    shared_before = Lake(lake).night_summary("ada", "2026-03-02")
    capsys.readouterr()
    assert main(["remove-file", "nothing.csv", "--subject", "ada", "--lake", lake]) == 1
    assert "ada has no stored file 'nothing.csv'" in capsys.readouterr().err
    assert main(["remove-file", wrong.name, "--subject", "ada", "--lake", lake]) == 0
    said = capsys.readouterr().out
    assert (
        f"removed {wrong.name} from ada: 1 nights left without data" in said and "1 nights that hold" in said
    )
    lake_now = Lake(lake)
    assert lake_now.nights("ada") == ["2026-03-02"] and lake_now.nights("ada", "events") == ["2026-03-02"]
    assert set(lake_now.events("ada", "2026-03-02")["kind"]) == {"twitch"}
    assert list(lake_now.manifest()["path"].map(lambda p: Path(p).name)) == [mine.name]
    assert lake_now.night_summary("ada", "2026-03-02") != shared_before  # relabelled without the startles
    assert lake_now.pending() == {}
    assert main(["ingest", str(wrong), "--subject", "ben", "--lake", lake]) == 0
    assert Lake(lake).nights("ben") == ["2026-03-02", "2026-03-03"]
    sha = Lake(lake).manifest().set_index("subject").loc["ben", "sha256"]
    assert main(["remove-file", sha[:10], "--subject", "ben", "--lake", lake]) == 0
    assert Lake(lake).nights("ben", "events") == [] and Lake(lake).nights("ben") == []
