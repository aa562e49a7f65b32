"""Sadeh, Cole-Kripke and Webster against hand-computed values and independent loop implementations."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sleepmoves.sleepwake import cole_kripke, cole_kripke_d, sadeh, sadeh_ps, webster


def sadeh_loop(counts, cap, threshold, strict):
    """Straight from science.md, one epoch at a time (the reference)."""
    a = [min(c, cap) if cap else c for c in counts]
    n, out = len(a), []
    for i in range(n):
        w = [a[j] if 0 <= j < n else 0.0 for j in range(i - 5, i + 6)]
        last6 = [a[j] if j >= 0 else 0.0 for j in range(i - 5, i + 1)]
        ps = (
            7.601
            - 0.065 * np.mean(w)
            - 1.08 * sum(50 <= x < 100 for x in w)
            - 0.056 * np.std(last6, ddof=1)
            - 0.703 * np.log(a[i] + 1)
        )
        out.append(ps > threshold if strict else ps >= threshold)
    return np.array(out)


def cole_kripke_loop(counts, actilife):
    a = [min(c / 100, 300) for c in counts] if actilife else list(counts)
    n, w = len(a), [106, 54, 58, 76, 230, 74, 67]
    return np.array(
        [
            0.001 * sum(w[k] * (a[i - 4 + k] if 0 <= i - 4 + k < n else 0) for k in range(7)) < 1
            for i in range(n)
        ]
    )


counts_strategy = st.lists(st.integers(0, 2000).map(float), min_size=1, max_size=120)


@settings(max_examples=200, deadline=None)
@given(counts_strategy)
def test_sadeh_matches_the_reference_loop(counts):
    assert np.array_equal(sadeh(counts), sadeh_loop(counts, 300, -4, strict=True))
    assert np.array_equal(sadeh(counts, variant="published"), sadeh_loop(counts, None, 0, strict=False))


@settings(max_examples=200, deadline=None)
@given(counts_strategy)
def test_cole_kripke_matches_the_reference_loop(counts):
    assert np.array_equal(cole_kripke(counts), cole_kripke_loop(counts, True))
    assert np.array_equal(cole_kripke(counts, variant="published"), cole_kripke_loop(counts, False))


def test_sadeh_by_hand():
    # one epoch of 0: mean 0, NAT 0, SD of six zeros 0, ln(1) = 0 -> PS = 7.601
    assert sadeh_ps([0.0])[0] == pytest.approx(7.601)
    # a lone 60 among zeros: window mean 60/11, NAT 1, SD of [0,0,0,0,0,60] = sqrt(600), ln(61)
    ps = sadeh_ps([0, 0, 0, 0, 0, 60, 0, 0, 0, 0, 0])[5]
    assert ps == pytest.approx(7.601 - 0.065 * 60 / 11 - 1.08 - 0.056 * np.sqrt(600) - 0.703 * np.log(61))
    # ActiLife caps at 300: 300 and 5000 give the same score
    assert sadeh_ps([5000.0])[0] == sadeh_ps([300.0])[0]
    assert sadeh_ps([5000.0], "published")[0] < sadeh_ps([300.0], "published")[0]


def test_cole_kripke_by_hand():
    # ActiLife: 500 counts -> 5; D = 0.001 * 230 * 5 = 1.15 for the epoch itself -> wake
    d = cole_kripke_d([0, 0, 0, 0, 500, 0, 0])
    assert d[4] == pytest.approx(1.15) and d[0] == pytest.approx(0.001 * 106 * 0)
    assert d[5] == pytest.approx(0.001 * 76 * 5) and d[2] == pytest.approx(0.001 * 67 * 5)
    assert list(cole_kripke([0, 0, 0, 0, 500, 0, 0])) == [True, True, True, True, False, True, True]


def _series(spec: str) -> np.ndarray:
    return np.array([c == "S" for c in spec])


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("WWWWSSSSS", "WWWWWSSSS"),  # >= 4 min wake -> next 1 min
        ("WWWSSSS", "WWWSSSS"),  # 3 min wake: nothing
        ("W" * 10 + "S" * 8, "W" * 13 + "S" * 5),  # >= 10 min -> next 3 min
        ("W" * 15 + "S" * 8, "W" * 19 + "S" * 4),  # >= 15 min -> next 4 min
        ("W" * 15 + "S" * 6 + "W" * 15, "W" * 36),  # <= 6 min island between >= 15 min wake
        ("W" * 20 + "S" * 10 + "W" * 20, "W" * 50),  # <= 10 min island between >= 20 min wake
        ("W" * 15 + "S" * 10 + "W" * 15, "W" * 19 + "S" * 6 + "W" * 15),  # 10-min island needs 20 min wake
        ("SSSS", "SSSS"),
    ],
)
def test_webster_rules(before, after):
    assert "".join("S" if x else "W" for x in webster(_series(before))) == after


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), max_size=200))
def test_webster_only_turns_sleep_into_wake(sleep):
    out = webster(sleep)
    assert len(out) == len(sleep)
    assert not (out & ~np.array(sleep, dtype=bool)).any()


def test_bad_counts_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        sadeh([1.0, np.nan])
    with pytest.raises(ValueError, match=">= 0"):
        cole_kripke([-1.0])
    with pytest.raises(ValueError, match="unknown variant"):
        sadeh([1.0], variant="fast")


# ---------------------------------------------------------------------- Actiware and the choice by device
def actiware_loop(counts, epoch_s, threshold):
    """The Actiware manual's weighted sum, one epoch at a time (the reference): near neighbours 1/5, far 1/25."""
    reach, centre = (
        {15: (4, 8, 4.0), 30: (2, 4, 2.0), 60: (1, 2, 1.0)}[epoch_s][:2],
        {15: 4.0, 30: 2.0, 60: 1.0},
    )
    near, far = reach
    n, out = len(counts), []
    for i in range(n):
        total = centre[epoch_s] * counts[i]
        for d in range(1, far + 1):
            weight = 1 / 5 if d <= near else 1 / 25
            total += weight * sum(counts[j] for j in (i - d, i + d) if 0 <= j < n)
        out.append(total <= threshold)
    return np.array(out)


@settings(max_examples=60, deadline=None)
@given(counts_strategy, st.sampled_from([15, 30, 60]), st.sampled_from([20.0, 40.0, 80.0]))
def test_actiware_matches_the_loop_reference(counts, epoch_s, threshold):
    from sleepmoves.sleepwake import actiware

    assert (
        actiware(counts, epoch_s=epoch_s, threshold=threshold) == actiware_loop(counts, epoch_s, threshold)
    ).all()


def test_score_counts_sums_short_epochs_for_sadeh_and_keeps_actiwares_own_length():
    from sleepmoves.sleepwake import score_counts

    ten_s = np.r_[np.zeros(60), np.full(60, 100.0)]  # 10 min still, then 10 min moving, in 10-s epochs
    sleep, length, setting = score_counts(ten_s, 10, "sadeh")
    assert length == 60 and len(sleep) == 20 and sleep[:4].all() and not sleep[-4:].any()
    assert setting.startswith("Sadeh 1994 as ActiLife runs it")
    sleep, length, setting = score_counts(np.zeros(10), 30, "actiware", threshold=80.0)
    assert length == 30 and sleep.all() and setting == "Actiware, wake threshold 80, 30-s epochs"
    _, length, setting = score_counts(np.zeros(10), 30, "actiware")  # the file states none: medium
    assert "wake threshold 40" in setting
    _, length, _ = score_counts(np.zeros(12), 5, "actiware-low")  # MotionWatch 5-s epochs: summed to 15 s
    assert length == 15


def test_actiware_auto_threshold_is_scale_free():
    from sleepmoves.sleepwake import actiware_auto_threshold

    counts = np.r_[np.zeros(100), np.arange(10, 110.0)]  # moving epochs above the mobility floor either way
    assert actiware_auto_threshold(counts * 10, 60) == pytest.approx(
        10 * actiware_auto_threshold(counts * 1, 60)
    )


def grid_and_counts(fmt_sha: str, epoch_s: int = 60, **columns):
    import pandas as pd

    grid = pd.date_range("2026-03-10T12:00Z", periods=2880, freq="30s")
    n = 600
    counts = pd.DataFrame(
        {
            "start": grid[120] + pd.to_timedelta(np.arange(n) * epoch_s, unit="s"),
            "epoch_s": epoch_s,
            "count": np.where(np.arange(n) % 100 < 50, 0.0, 500.0),
            "valid": True,
            "limb": "unknown",
            "source_sha": fmt_sha,
            **columns,
        }
    )
    return grid, counts


def test_each_recording_is_scored_by_its_device_unless_told_otherwise():
    from sleepmoves.sleepwake import counts_sleep_on_grid

    grid, counts = grid_and_counts("a")
    _, settings_, known = counts_sleep_on_grid(grid, counts, {"a": "agd"})
    assert (
        settings_ == ["Sadeh 1994 as ActiLife runs it (60-s counts capped at 300, sleep if PS > -4)"]
        and known
    )
    _, settings_, _ = counts_sleep_on_grid(grid, counts, {"a": "awd"})
    assert settings_ == ["Actiware, wake threshold 40, 60-s epochs"]
    _, settings_, _ = counts_sleep_on_grid(grid, counts, {"a": "awd"}, baby="cole-kripke")
    assert settings_[0].startswith("Cole-Kripke 1992 as ActiLife runs it")
    grid, chosen = grid_and_counts("a", sleepwake="actiware-high")
    _, settings_, _ = counts_sleep_on_grid(grid, chosen, {"a": "awd"}, baby="cole-kripke")
    assert settings_ == ["Actiware, wake threshold 80, 60-s epochs"]  # the recording's choice over the baby's
    _, settings_, _ = counts_sleep_on_grid(grid, chosen, {"a": "awd"}, override="sadeh-published")
    assert settings_[0].startswith("Sadeh 1994 as published")  # this run's over all


def test_counts_of_unknown_scale_say_so():
    from sleepmoves.sleepwake import counts_sleep_on_grid

    grid, counts = grid_and_counts("a")
    asleep, settings_, known = counts_sleep_on_grid(grid, counts, {"a": "acttrust"})
    assert not known and settings_[0].endswith("counts of unknown scale") and "automatic" in settings_[0]
    assert np.isnan(asleep[:120]).all() and np.isfinite(asleep[120 : 120 + 1200]).all()
