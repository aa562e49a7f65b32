"""Incremental processing, the Dask path, and the lake read by another engine."""

import shutil

import pandas as pd
import pytest

from sleepmoves.ingest import ingest_file
from sleepmoves.lake import Lake
from sleepmoves.process import process
from tests.conftest import write
from tests.test_lake import snapshot


@pytest.fixture
def lake(demo_lake, tmp_path) -> Lake:
    copy = Lake(tmp_path / "lake")
    shutil.copytree(demo_lake.root, copy.root)
    return copy


def test_unchanged_lake_is_not_reprocessed(lake):
    before = snapshot(lake.root)
    assert process(lake) == []
    after = snapshot(lake.root)
    # the first look may remember each baby's fingerprint (its processing state); nothing else changes
    assert {k: v for k, v in after.items() if k != "processed.parquet"} == {
        k: v for k, v in before.items() if k != "processed.parquet"
    }
    assert process(lake) == []
    assert snapshot(lake.root) == after  # and from then on, nothing at all


def test_only_the_night_with_new_input_is_redone(lake, tmp_path):
    subject = lake.subjects()["subject"].iloc[0]
    night = lake.nights(subject)[2]
    tz = lake.subject(subject)["tz"]
    start = pd.Timestamp(f"{night}T23:00:00").tz_localize(tz)
    extra = write(tmp_path / "extra.csv", "time,kind,limb\n" + f"{start.isoformat()},kick,left_leg\n")
    ingest_file(lake, extra, subject)
    assert process(lake) == [(subject, night)]
    assert process(lake) == []


def test_force_and_a_new_model_redo_everything(lake, tmp_path):
    n = sum(len(lake.nights(s)) for s in lake.subjects()["subject"])
    assert len(process(lake, force=True)) == n
    from sleepmoves.model import DEFAULT_MODEL, load_model, model_version

    model = load_model(DEFAULT_MODEL)
    model.calibration_power_ = model.calibration_power_ * 0.99  # a different model
    other = tmp_path / "other.skops"
    model.save(other)
    assert len(process(lake, model_path=other)) == n
    subject = lake.subjects()["subject"].iloc[0]
    assert set(lake.phases(subject, lake.nights(subject)[0])["model_version"]) == {model_version(other)}


def test_dask_local_cluster_gives_the_same_lake(lake, tmp_path):
    pytest.importorskip("dask.distributed")
    serial = Lake(tmp_path / "serial")
    shutil.copytree(lake.root, serial.root)
    process(serial, force=True)
    process(lake, force=True, workers=2)
    for table in ("nights", "phases", "epochs"):
        for subject in lake.subjects()["subject"]:
            a = serial.read(table, [subject]).sort_values(
                [c for c in ("night", "epoch_start") if c in serial.read(table, [subject])], ignore_index=True
            )
            b = lake.read(table, [subject]).sort_values(
                [c for c in ("night", "epoch_start") if c in a], ignore_index=True
            )
            pd.testing.assert_frame_equal(a, b)


def test_duckdb_reads_the_lake_as_it_is(lake):
    duckdb = pytest.importorskip("duckdb")
    root = lake.root
    con = duckdb.connect()
    nights = con.execute(
        f"select subject, count(*) as n, avg(total_sleep_min) as tst from read_parquet('{root}/nights/*/*.parquet', hive_partitioning=true) group by subject order by subject"
    ).df()
    ours = lake.nights_table()
    assert list(nights["subject"]) == sorted(ours["subject"].unique())
    assert nights["n"].sum() == len(ours)
    assert (
        nights["tst"].round(6).tolist() == ours.groupby("subject")["total_sleep_min"].mean().round(6).tolist()
    )
    events = con.execute(
        f"select count(*) from read_parquet('{root}/events/*/*/*.parquet', hive_partitioning=true)"
    ).fetchone()[0]
    assert events == sum(len(lake.read("events", [s])) for s in lake.subjects()["subject"])
