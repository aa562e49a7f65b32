"""Shared fixtures: a small simulated cohort and a processed lake built through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sleepmoves.cli import main
from sleepmoves.lake import Lake
from sleepmoves.simulate import write_simulation

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory) -> Path:
    """Two babies, one week (seed 3): logs, labels.csv, subjects.csv."""
    out = tmp_path_factory.mktemp("sim")
    write_simulation(out, babies=2, weeks=1, seed=3)
    return out


def build_lake(sim: Path, lake_dir: Path) -> Lake:
    """Add every simulated subject and ingest its log with the CLI (which also processes)."""
    for row in pd.read_csv(sim / "subjects.csv", dtype=str).itertuples():
        assert (
            main(["subject", "add", row.subject, "--tz", row.tz, "--born", row.born, "--lake", str(lake_dir)])
            == 0
        )
        assert (
            main(
                [
                    "ingest",
                    str(sim / "logs" / f"{row.subject}.csv"),
                    "--subject",
                    row.subject,
                    "--lake",
                    str(lake_dir),
                ]
            )
            == 0
        )
    return Lake(lake_dir)


@pytest.fixture(scope="session")
def demo_lake(sim_dir, tmp_path_factory) -> Lake:
    """A processed lake of the simulated cohort (read-only for tests: copy it before changing it)."""
    return build_lake(sim_dir, tmp_path_factory.mktemp("lake"))


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def hypnogram(codes: str) -> pd.DataFrame:
    """Phases from letters (W awake, R active, N quiet, T transition), 30-s epochs from 19:00 UTC."""
    import numpy as np

    names = {"W": "awake", "R": "active", "N": "quiet", "T": "transition"}
    start = pd.Timestamp("2026-03-02T19:00:00Z")
    return pd.DataFrame(
        {
            "epoch_start": start + pd.to_timedelta(np.arange(len(codes)) * 30, unit="s"),
            "phase": [names[c] for c in codes],
        }
    )
