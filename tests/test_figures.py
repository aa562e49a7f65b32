import pandas as pd

from sleepmoves.dashboard.figures import PHASE_COLOURS, clock_ticks, night_figure, summary_items
from sleepmoves.nights import night_bounds


def _night(demo_lake):
    subject = demo_lake.subjects()["subject"].iloc[0]
    night = demo_lake.nights(subject)[0]
    return subject, night, demo_lake.subject(subject)["tz"]


def test_night_figure_has_ribbon_and_raster_on_one_axis(demo_lake):
    subject, night, tz = _night(demo_lake)
    phases, events = demo_lake.phases(subject, night), demo_lake.events(subject, night)
    fig = night_figure(phases, events, tz, night_bounds(night, tz)[0], "title")
    bars = [t for t in fig.data if t.type == "bar" and t.yaxis in (None, "y")]  # the phase ribbon
    marks = [t for t in fig.data if t.type == "scatter"]
    assert sum(len(t.x) for t in bars) == len(phases)  # every epoch drawn once
    assert sum(len(t.x) for t in marks) == len(events)  # every event drawn once
    assert {t.marker.color for t in bars} <= set(PHASE_COLOURS.values())
    assert fig.layout.xaxis3.matches == "x" or fig.layout.xaxis.matches == "x3"  # shared time axis
    assert set(marks[0].y) <= {  # in words
        "left leg",
        "right leg",
        "left arm",
        "right arm",
        "head",
        "trunk",
        "whole body",
        "unknown",
    }


def test_uncertain_epochs_are_lighter(demo_lake):
    subject, night, tz = _night(demo_lake)
    phases = demo_lake.phases(subject, night)
    sure = phases.assign(p_awake=1.0, p_active=1.0, p_quiet=1.0, p_transition=1.0)
    unsure = phases.assign(p_awake=0.3, p_active=0.3, p_quiet=0.3, p_transition=0.3)
    start = night_bounds(night, tz)[0]
    empty = demo_lake.events(subject, night).head(0)
    op_sure = night_figure(sure, empty, tz, start).data[0].marker.opacity
    op_unsure = night_figure(unsure, empty, tz, start).data[0].marker.opacity
    assert min(op_sure) == 1 and max(op_unsure) < 0.6


def test_the_clock_labels_space_themselves_to_the_recording():
    from sleepmoves.dashboard.figures import MOST_CLOCK_LABELS, clock_step_h

    start, _ = night_bounds("2026-03-02", "UTC")
    for lo, hi, step in [(6.5, 19.5, 2), (0.2, 23.8, 4), (8.9, 9.5, 1 / 6), (10, 13, 0.5)]:
        assert clock_step_h(lo, hi) == step
        values, labels = clock_ticks(start, lo, hi, "UTC", clock_step_h(lo, hi))
        assert 2 <= len(values) <= MOST_CLOCK_LABELS and len(set(labels)) == len(labels)
    assert clock_ticks(start, 8.9, 9.45, "UTC", 1 / 6)[1] == ["21:00", "21:10", "21:20"]


def test_clock_labels_on_a_dst_night_repeat_the_hour_not_the_position():
    start, _ = night_bounds("2026-10-24", "Europe/London")
    values, labels = clock_ticks(start, 0, 25, "Europe/London")
    assert len(values) == 26 and values == sorted(set(values))
    assert labels.count("01:00") == 2 and labels[0] == "12:00" and labels[-1] == "12:00"
    start, _ = night_bounds("2026-03-28", "Europe/London")
    values, labels = clock_ticks(start, 0, 23, "Europe/London")
    assert "01:00" not in labels and labels[-1] == "12:00"


def test_summary_cards_in_plain_words():
    metrics = {
        "sleep_onset": pd.Timestamp("2026-03-02T19:45:00Z"),
        "sleep_offset": pd.Timestamp("2026-03-03T06:30:00Z"),
        "total_sleep_min": 610.0,
        "waso_min": 35.0,
        "min_active": 250.0,
        "min_quiet": 300.0,
        "twitches_per_h_active": 120.4,
        "twitches_per_h_quiet": float("nan"),
    }
    items = {title: value for title, value, _ in summary_items(metrics, "America/New_York")}
    assert items["Fell asleep"] == "14:45" and items["Woke for the day"] == "01:30"
    assert items["Total sleep"] == "10 h 10 min" and items["Awake in the night"] == "0 h 35 min"
    assert items["Twitches in active sleep"] == "120 / h" and items["Twitches in quiet sleep"] == "—"
    assert summary_items(None, "UTC")[0][0] == "No data"


def test_summary_cards_of_a_counts_night_and_of_a_night_without_sleep():
    counts_night = {
        "sleep_onset": pd.Timestamp("2026-03-02T19:45:00Z"),
        "sleep_offset": pd.Timestamp("2026-03-03T06:30:00Z"),
        "total_sleep_min": 610.0,
        "waso_min": 35.0,
        "min_active": float("nan"),  # counts cannot tell the phase
        "naps": 2,
        "nap_min": 75.0,
        "nodata_in_period_min": 40.0,
    }
    items = {title: value for title, value, _ in summary_items(counts_night, "UTC")}
    assert items["Sleep phases"] == "not known" and "Active sleep" not in items
    assert items["Naps"] == "2 · 1 h 15 min" and items["No data in the night"] == "0 h 40 min"
    no_night = {**counts_night, "sleep_onset": pd.NaT, "sleep_offset": pd.NaT, "total_sleep_min": 0.0}
    items = {title: value for title, value, _ in summary_items(no_night, "UTC")}
    assert items["Night's sleep"] == "not found" and "Total sleep" not in items and "Naps" in items


def test_no_data_epochs_are_grey_not_a_phase(demo_lake):
    subject, night, tz = _night(demo_lake)
    phases = demo_lake.phases(subject, night)
    gap = phases["epoch_start"].iloc[100:160]
    fig = night_figure(
        phases.drop(index=range(100, 160)),
        demo_lake.events(subject, night).head(0),
        tz,
        night_bounds(night, tz)[0],
        nodata_starts=gap,
    )
    (nodata,) = [t for t in fig.data if t.name == "No data"]
    assert len(nodata.x) == 60
    assert sum(len(t.x) for t in fig.data if t.type == "bar" and t.name != "No data") == len(phases) - 60


def test_the_night_picker_sends_a_bounded_list_and_the_buttons_reach_every_night(demo_lake, monkeypatch):
    from sleepmoves.dashboard import views

    monkeypatch.setattr(views, "PICKER_NIGHTS", 3)
    subject = demo_lake.subjects()["subject"].iloc[0]
    nights = demo_lake.nights(subject)
    options = views.night_options(demo_lake, subject)
    assert [o["value"] for o in options] == nights[::-1][:3]  # newest first, no more than the bound
    night = nights[-1]
    for _ in range(len(nights) + 2):  # the previous-night button walks past the list to the first night
        night = views.step_night(demo_lake, subject, night, -1)
    assert night == nights[0]
    shown = [o["value"] for o in views.night_options(demo_lake, subject, around=night)]
    assert shown[-1] == nights[0] and len(shown) == 4  # (the oldest, listed last)


def test_a_night_in_one_sentence_with_its_usual_and_what_is_typical():
    from sleepmoves.dashboard.words import age_words, night_sentence, typical, usual_sleep

    night = {
        "sleep_onset": pd.Timestamp("2026-03-08T19:18Z"),
        "sleep_offset": pd.Timestamp("2026-03-09T06:20Z"),
        "total_sleep_min": 650,
        "wake_bouts": 1,
        "waso_min": 12,
        "pct_active": 49.0,
    }
    earlier = pd.DataFrame({"total_sleep_min": [600, 610, 620, 0]})  # a night without sleep is not "usual"
    sentence = night_sentence(night, "Europe/London", "2026-01-25", "2026-03-08", usual_sleep(earlier))
    assert sentence == (
        "Slept 10 h 50 min between 19:18 and 06:20, woke once for 12 min. 40 min more than usual. "
        "Active sleep 49 %, within the 45–55 % typical at 6 weeks."
    )
    assert usual_sleep(earlier.head(2)) is None  # too few nights to know what is usual
    assert night_sentence({**night, "wake_bouts": 0}, "UTC").startswith(
        "Slept 10 h 50 min between 19:18 and 06:20, without waking."
    )
    assert (
        night_sentence({**night, "sleep_onset": pd.NaT}, "UTC")
        == "No night's sleep was found in this night's data."
    )
    assert (age_words("2026-03-01", "2026-03-02"), age_words(None, "2026-03-02")) == ("1 day old", "")
    assert age_words("2025-01-01", "2026-03-02") == "1 year 2 months old"
    low, high = typical("active_share", 8.0)
    assert (low, high) == (25.0, 35.0)


def test_every_colour_means_one_thing():
    """A phase's colour is never reused for a movement or a diary mark (the phases also read by height)."""
    from sleepmoves.dashboard.figures import (
        DIARY_SLEEP_COLOUR,
        DIARY_STYLE,
        DISAGREE_COLOUR,
        FLAG_COLOUR,
        KIND_COLOURS,
        PHASE_COLOURS,
        PHASE_LEVEL,
    )

    phases = set(PHASE_COLOURS.values())
    marks = list(KIND_COLOURS.values()) + [
        DIARY_SLEEP_COLOUR,
        DIARY_STYLE["feed"][0],
        DISAGREE_COLOUR,
        FLAG_COLOUR,
    ]
    assert not phases & set(marks) and len(set(marks)) == len(marks)
    assert len(set(PHASE_LEVEL.values())) == len(PHASE_LEVEL)  # each phase at its own height


def test_the_diary_and_the_movement_disagreeing_is_drawn_and_said():
    from sleepmoves.dashboard.figures import DISAGREE_WORDS, night_figure
    from sleepmoves.dashboard.words import disagreement_sentence

    spans = pd.DataFrame(
        {
            "start": [pd.Timestamp("2026-03-03T01:00Z"), pd.Timestamp("2026-03-03T03:00Z")],
            "end": [pd.Timestamp("2026-03-03T01:40Z"), pd.Timestamp("2026-03-03T03:20Z")],
            "diary_says": ["asleep", "awake"],
            "movement_says": ["awake", "asleep"],
        }
    )
    phases = pd.DataFrame(
        {"epoch_start": pd.date_range("2026-03-02T19:00Z", periods=4, freq="30s"), "phase": "quiet"}
    ).assign(p_awake=0.0, p_active=0.0, p_quiet=1.0, p_transition=0.0)
    events = pd.DataFrame(columns=["start", "duration_s", "limb", "kind", "intensity"])
    fig = night_figure(
        phases, events, "Europe/London", pd.Timestamp("2026-03-02T12:00Z"), disagreements=spans
    )
    trace = next(t for t in fig.data if t.name == DISAGREE_WORDS)
    assert "01:00–01:40: the diary says asleep, the movement says awake" in trace.customdata[0]
    said = disagreement_sentence(spans, "Europe/London")
    assert said == (
        "Your diary and the movement disagree for 1 h: 01:00–01:40 the diary says asleep, the movement awake; "
        "03:00–03:20 the diary says awake, the movement asleep."
    )
