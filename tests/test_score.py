"""The Score page's logic without a server: where the cursor goes, what a key saves, which nights are suggested,
and the chart it draws."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from sleepmoves.dashboard.figures import score_figure, score_overview
from sleepmoves.dashboard.scoring import least_sure_nights, moved, unsure_epochs
from sleepmoves.labels import save_labels
from sleepmoves.lake import Lake
from sleepmoves.schema import PROBA_COLUMNS, UNSURE_BELOW

GRID = pd.Series(pd.date_range("2026-03-02 20:00", periods=6, freq="30s", tz="UTC"))


def test_the_cursor_moves_clamped_and_jumps_to_the_next_unscored_or_unsure_epoch():
    scored = set(GRID.iloc[[0, 1, 3]])
    unsure = np.array([False, False, True, False, False, True])
    assert moved(GRID, scored, unsure, 0, "next") == 1
    assert moved(GRID, scored, unsure, 5, "next") == 5  # the night's last epoch stays
    assert moved(GRID, scored, unsure, 0, "previous") == 0
    assert moved(GRID, scored, unsure, 0, "unscored") == 2
    assert moved(GRID, scored, unsure, 2, "unscored") == 4  # skips the scored one
    assert moved(GRID, scored, unsure, 5, "unscored") == 2  # wraps round
    assert moved(GRID, scored, unsure, 2, "unsure") == 5
    assert moved(GRID, scored, unsure, 5, "unsure") == 2
    assert moved(GRID, set(GRID), unsure, 3, "unscored") == 3  # all scored: stays
    assert moved(GRID.iloc[:0], set(), unsure[:0], 0, "next") == 0


def _phases(sure: list[float]) -> pd.DataFrame:
    rest = [(1 - s) / 3 for s in sure]
    return pd.DataFrame(
        {"epoch_start": GRID.iloc[: len(sure)], "phase": "quiet", **dict.fromkeys(PROBA_COLUMNS, rest)}
    ).assign(p_quiet=sure)


def test_unsure_epochs_are_those_under_the_threshold():
    phases = _phases([0.99, UNSURE_BELOW - 0.01, UNSURE_BELOW + 0.01, 0.3])
    assert unsure_epochs(phases).tolist() == [False, True, False, True]


def test_the_least_sure_nights_not_yet_scored_are_suggested(demo_lake, tmp_path):
    shutil.copytree(demo_lake.root, tmp_path / "lake")
    lake = Lake(tmp_path / "lake")
    suggested = least_sure_nights(lake, "dr-lee", most=3)
    assert len(suggested) == 3 and suggested["unsure"].is_monotonic_decreasing
    subject, night, share = suggested.iloc[0]
    phases = lake.phases(subject, night)
    assert share == pytest.approx(unsure_epochs(phases).mean())
    save_labels(lake, subject, night, "dr-lee", phases[["epoch_start", "phase"]].iloc[:1])
    after = least_sure_nights(lake, "dr-lee", most=3)
    assert (subject, night) not in set(zip(after["subject"], after["night"], strict=True))
    assert (subject, night) in set(
        zip(*least_sure_nights(lake, "kim", most=3).iloc[:, :2].T.values, strict=True)
    )


def test_the_score_chart_shows_yours_the_models_faintly_and_frames_the_cursor():
    phases = _phases([0.9] * 6)
    scored = pd.DataFrame({"epoch_start": GRID.iloc[:2], "phase": ["awake", "quiet"]})
    events = pd.DataFrame(
        {"start": GRID.iloc[[1]], "duration_s": [0.3], "limb": ["left_leg"], "kind": ["twitch"]}
    )
    start = pd.Timestamp("2026-03-02 12:00", tz="UTC")
    fig = score_figure(phases, events, scored, GRID.iloc[2], "UTC", start)
    bars = [t for t in fig.data if t.type == "bar"]
    yours = {t.name: len(t.x) for t in bars if t.opacity == 1.0}
    model = {t.name: len(t.x) for t in bars if t.opacity < 1.0}
    assert yours["Awake"] == 1 and yours["Quiet sleep"] == 1 and yours["Active sleep"] == 0
    assert model["Quiet sleep (model)"] == 6  # the model's suggestion is drawn, apart from the scorer's
    cursor = [s for s in fig.layout.shapes if s.name == "score-cursor"]
    assert len(cursor) == 1 and cursor[0].x0 == pytest.approx(8 + 60 / 3600)
    assert fig.layout.xaxis.range[0] < cursor[0].x0 < fig.layout.xaxis.range[1]
    marks = [t for t in fig.data if t.type == "scatter" and t.x != (None,)]
    assert len(marks) == 1 and marks[0].name == "twitch"


def test_the_score_chart_draws_only_the_window_around_the_cursor_and_the_overview_the_whole_night():
    grid = pd.Series(pd.date_range("2026-03-02 20:00", periods=600, freq="30s", tz="UTC"))  # 5 hours
    phases = pd.DataFrame({"epoch_start": grid, "phase": "quiet"})
    scored = pd.DataFrame({"epoch_start": grid.iloc[:300], "phase": "active"})
    events = pd.DataFrame({"start": grid, "duration_s": 0.3, "limb": "left_leg", "kind": "twitch"})
    start = pd.Timestamp("2026-03-02 12:00", tz="UTC")
    window = score_figure(phases, events, scored, grid.iloc[300], "UTC", start)
    bars = sum(len(t.x) for t in window.data if t.type == "bar")
    # +-5 min of the model's row (about 22 epochs) and the scorer's up to the cursor (11): not the night's 900
    assert 30 <= bars <= 36
    marks = sum(len(t.x) for t in window.data if t.type == "scatter" and t.name == "twitch")
    assert 20 <= marks <= 23
    overview = score_overview(phases, scored, grid.iloc[300], "UTC", start)
    model, yours = (np.asarray(t.z[0], dtype=float) for t in overview.data)
    assert len(model) == len(yours) == 600
    assert (
        np.isnan(yours[300:]).all() and not np.isnan(yours[:300]).any()
    )  # unscored is blank, never the model's
    assert overview.layout.shapes[0].x0 == pytest.approx(8 + 150 / 60)


def test_the_overview_leaves_a_gap_without_data_blank():
    grid = pd.Series(pd.date_range("2026-03-02 20:00", periods=10, freq="30s", tz="UTC"))
    phases = pd.DataFrame({"epoch_start": grid.drop([3, 4, 5]), "phase": "quiet"})  # 90 s without data
    start = pd.Timestamp("2026-03-02 12:00", tz="UTC")
    overview = score_overview(phases, phases.iloc[:0], None, "UTC", start)
    model = np.asarray(overview.data[0].z[0], dtype=float)
    assert len(model) == 10 and np.isnan(model[3:6]).all() and not np.isnan(model[[0, 2, 6, 9]]).any()
