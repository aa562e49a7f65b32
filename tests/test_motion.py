"""Movement from video (issue 18, in progress): a rendered infant night clip whose every movement is known, its
zone motion and events measured against that truth, and a light switch, a parent's visit and a camera nudge
kept as no data, never as movement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("av", reason="the video extra (PyAV) is not installed")

from sleepmoves.ingest.video import frames, probe  # noqa: E402
from sleepmoves.motion import _recorded, frame_motion, motion_events  # noqa: E402
from sleepmoves.video_render import render  # noqa: E402

START = pd.Timestamp("2026-03-02T20:00Z")


def _truth(seconds: float, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows, t = [], 2.0
    while t < seconds - 10:
        kind = rng.choice(["twitch", "kick", "startle"], p=[0.6, 0.3, 0.1])
        limb = (
            "whole_body"
            if kind == "startle"
            else rng.choice(["left_arm", "right_arm", "left_leg", "right_leg"])
        )
        rows.append(
            (START + pd.Timedelta(seconds=t), {"twitch": 0.25, "kick": 1.2, "startle": 0.6}[kind], limb, kind)
        )
        t += rng.uniform(2.5, 6)
    return pd.DataFrame(rows, columns=["start", "duration_s", "limb", "kind"])


def _scores(truth, found, keep) -> dict:
    """Per kind: (precision, recall, truth count) matching kind and limb within 0.6 s, over the data stretches."""
    out = {}
    t_off = (truth["start"] - START).dt.total_seconds().to_numpy()
    f_off = (found["start"] - START).dt.total_seconds().to_numpy()
    for kind in ("twitch", "kick", "startle"):
        want = [i for i in range(len(truth)) if truth["kind"].iloc[i] == kind and keep(t_off[i])]
        got = [j for j in range(len(found)) if found["kind"].iloc[j] == kind and keep(f_off[j])]
        used, hits = set(), 0
        for i in want:
            match = [
                j
                for j in got
                if j not in used
                and abs(f_off[j] - t_off[i]) < 0.6
                and (kind == "startle" or found["limb"].iloc[j] == truth["limb"].iloc[i])
            ]
            if match:
                used.add(match[0])
                hits += 1
        out[kind] = (hits / max(len(got), 1), hits / max(len(want), 1), len(want))
    return out


def test_a_rendered_night_clip_gives_its_movements_and_keeps_lights_visits_and_a_nudge_as_no_data(tmp_path):
    truth = _truth(180)
    clip = render(
        tmp_path / "clip.mp4", truth, START, 180, light_switch_s=100.0, visit_s=(140.0, 150.0), nudge_s=160.0
    )
    info = probe(clip, tz="UTC")
    assert info.start == START and info.start_from == "the file's creation time"
    motion = frame_motion(frames(clip, fps=5))
    states = pd.Series(motion.state)
    # the light switch and the camera nudge are single frame pairs; the visit lasts while hands are in view
    assert set(motion.times[states == "lights"].round()) <= {100.0, 101.0}
    assert set(motion.times[states == "camera"].round()) <= {160.0, 161.0} and (states == "camera").any()
    assert (states == "visit").sum() >= 10 and motion.times[states == "visit"].min() >= 139.0
    data = motion.times[_recorded(motion)]
    found = motion_events(motion, info.start)

    def kept(t):  # truth inside no data (and a second around it) is not expected
        return bool(np.any(np.abs(data - t) < 0.3)) and not np.any(
            np.abs(motion.times[~_recorded(motion)] - t) < 1
        )

    scores = _scores(truth, found, kept)
    print({k: tuple(round(x, 2) for x in v) for k, v in scores.items()})
    for kind in ("twitch", "kick", "startle"):
        precision, recall, count = scores[kind]
        assert count >= 3 and precision >= 0.8 and recall >= 0.8, (kind, scores[kind])
    during_visit = found[
        (found["start"] >= START + pd.Timedelta(seconds=139))
        & (found["start"] < START + pd.Timedelta(seconds=151))
    ]
    assert during_visit.empty  # a parent's hands are never the baby's movement


def test_a_video_goes_through_ingest_and_process_like_a_sensor(tmp_path, capsys):
    """The product path: `sleepmoves ingest clip.mp4` stores exactly the movements the video analysis finds and
    the clip's coverage (a visit as no data), says where the start came from, and `process` labels the night."""
    from sleepmoves.cli import main
    from sleepmoves.ingest.video import read_video
    from sleepmoves.lake import Lake

    truth = _truth(120, seed=4)
    clip = render(tmp_path / "nursery.mp4", truth, START, 120, visit_s=(60.0, 82.0))
    lake_dir = tmp_path / "lake"
    assert (
        main(
            [
                "subject",
                "add",
                "ada",
                "--tz",
                "Europe/London",
                "--born",
                "2026-01-10",
                "--lake",
                str(lake_dir),
            ]
        )
        == 0
    )
    assert main(["ingest", str(clip), "--subject", "ada", "--lake", str(lake_dir)]) == 0
    said = capsys.readouterr().out
    assert "the start taken from the file's creation time" in said and "a visit (hands in the cot)" in said

    lake = Lake(lake_dir)
    (night,) = lake.nights("ada")
    stored = lake.events("ada", night).sort_values("start", ignore_index=True)
    expected, coverage, *_ = read_video(clip, tz="Europe/London")
    assert len(stored) == len(expected) > 10
    assert (stored["start"].to_numpy() == expected["start"].sort_values().to_numpy()).all()
    assert set(stored["kind"]) <= {"twitch", "kick", "startle"} and (stored["source"] == "video").all()
    assert not coverage["valid"].all() and coverage["valid"].any()  # the visit's epochs are no data
    phases = lake.phases("ada", night)
    assert len(phases) and set(phases["phase"]) <= {"awake", "active", "quiet", "transition"}
    # the same file again adds nothing
    assert main(["ingest", str(clip), "--subject", "ada", "--lake", str(lake_dir)]) == 0
    assert "already" in capsys.readouterr().out


def test_held_out_simulated_night_clips_meet_the_issue_s_detection_targets(tmp_path):
    """Rendered clips of held-out simulated nights (seed 31; thresholds were set on seed 7): kicks that can be
    told apart on a camera and every startle at precision >= 0.9 and recall >= 0.8, twitches reported; a waking
    baby's thrashing is never called rhythmic shaking."""
    from sleepmoves.evaluate import detection_scores
    from sleepmoves.video_render import rendered_clip_scores

    matches = rendered_clip_scores(31, babies=3, seconds=150, folder=tmp_path)
    told = detection_scores(matches[matches["separable"]]).set_index("kind")
    every = detection_scores(matches).set_index("kind")
    print("\n" + told.round(2).to_string() + "\n" + every.round(2).to_string())
    assert told.loc["kick", "true"] >= 20
    assert told.loc["kick", "precision"] >= 0.9 and told.loc["kick", "recall"] >= 0.8, told.loc["kick"]
    # a startle is followed by the waking's kicks within a second or two: scored over every true startle
    assert every.loc["startle", "true"] >= 3
    assert every.loc["startle", "precision"] >= 0.9 and every.loc["startle", "recall"] >= 0.8
    assert told.loc["twitch", "precision"] >= 0.9 and told.loc["twitch", "recall"] >= 0.7
    assert every.loc["shake", "detected"] <= every.loc["shake", "true"] + 1  # thrashing is not shaking


def test_a_camera_placed_once_per_baby_finds_a_baby_lying_elsewhere_in_the_picture(tmp_path, capsys):
    """A cot filmed the other way round (her head at the bottom, her left on the picture's left): with the
    built-in template her limbs are read wrong; placed once (`sleepmoves camera place`), every later video of
    that camera finds her kicks on the right limbs. The placement is drawn on a frame to check it."""
    from PIL import Image

    from sleepmoves.cli import main
    from sleepmoves.evaluate import detection_scores, match_events
    from sleepmoves.lake import Lake
    from sleepmoves.motion import placed_template

    rng = np.random.default_rng(9)
    rows, t = [], 2.0
    while t < 110:
        limb = rng.choice(["left_arm", "right_arm", "left_leg", "right_leg"])
        rows.append((START + pd.Timedelta(seconds=t), 1.2, limb, "kick"))
        t += rng.uniform(3, 5)
    truth = pd.DataFrame(rows, columns=["start", "duration_s", "limb", "kind"])
    turned = placed_template((0.1, 0.05, 0.9, 0.95), "bottom")
    lake_dir = str(tmp_path / "lake")
    main(["subject", "add", "ada", "--tz", "UTC", "--born", "2026-01-10", "--lake", lake_dir])

    def kicks_found(name, *options):
        clip = render(
            tmp_path / name, truth, START, 120, template=turned, seed=hash(name) % 1000
        )  # own noise
        command = ["ingest", str(clip), "--subject", "ada", "--no-process", "--lake", lake_dir, *options]
        assert main(command) == 0
        stored = Lake(lake_dir).events("ada", "2026-03-02")
        scores = detection_scores(match_events(truth, stored, 0.3, prefer_same=("limb",)), by_limb=True)
        kicks = scores[scores["kind"] == "kick"]
        return round(float((kicks["recall"].fillna(0) * kicks["true"]).sum())), int(kicks["true"].sum())

    right, total = kicks_found("before.mp4")
    assert right < total / 2  # the built-in template reads her left leg as her right arm
    placing = [
        "camera",
        "place",
        "nursery",
        "--subject",
        "ada",
        "--box",
        "0.1,0.05,0.9,0.95",
        "--head",
        "bottom",
    ]
    preview = ["--preview", str(tmp_path / "before.mp4"), "--out", str(tmp_path / "zones.png")]
    assert main([*placing, *preview, "--lake", lake_dir]) == 0
    assert Image.open(tmp_path / "zones.png").size[0] == 640
    main(["camera", "list", "--subject", "ada", "--lake", lake_dir])
    assert "nursery: box 0.1, 0.05, 0.9, 0.95, head at the bottom" in capsys.readouterr().out
    # the same night filmed again, read with the placed camera (it replaces the first file's movements)
    right, total = kicks_found("after.mp4", "--camera", "nursery", "--replace")
    assert right >= 0.8 * total
    # or found from where she moved (her limbs; the head's place follows from the template's proportions)
    found = ["camera", "place", "found", "--subject", "ada", "--box", "auto", "--head", "bottom"]
    assert main([*found, *preview, "--lake", lake_dir]) == 0
    box = Lake(lake_dir).root / "video" / "subject=ada" / "cameras.json"
    assert np.allclose(
        __import__("json").loads(box.read_text())["found"]["box"], [0.1, 0.05, 0.9, 0.95], atol=0.12
    )
    right, total = kicks_found("again.mp4", "--camera", "found", "--replace")
    assert right >= 0.8 * total
    assert main(
        ["ingest", str(tmp_path / "before.mp4"), "--subject", "ada", "--camera", "hall", "--lake", lake_dir]
    )
    assert "no camera 'hall' (placed: found, nursery)" in capsys.readouterr().err
