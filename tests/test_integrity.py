"""Damage a lake the ways a failing disk, a careless copy or a stray edit do; `check` must find each and
`repair` must bring back a sound lake with the same labels (inputs intact) or say which input was lost."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from sleepmoves.cli import main
from sleepmoves.lake import DamagedData, Lake

pytestmark = pytest.mark.slow


@pytest.fixture
def lake(demo_lake, tmp_path) -> Lake:
    root = tmp_path / "lake"
    shutil.copytree(demo_lake.root, root)
    return Lake(root)


def files(lake: Lake, table: str, subject: str) -> list:
    return sorted((lake.root / table / f"subject={subject}").glob("night=*/*.parquet"))


def phases_of(lake: Lake, subject: str) -> pd.DataFrame:
    return lake.read("phases", [subject]).sort_values(["night", "epoch_start"], ignore_index=True)


def run(capsys, *args) -> tuple[int, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def flip_a_bit(path, offset_from_middle=0) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2 + offset_from_middle] ^= 0x10
    path.write_bytes(bytes(data))


def damage(lake: Lake, how: str, subject: str):
    if how == "truncated phases":
        path = files(lake, "phases", subject)[1]
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "bit flip in phases":
        flip_a_bit(files(lake, "phases", subject)[2])
    elif how == "garbage processing cache":
        (lake.root / "processed.parquet").write_bytes(b"garbage" * 100)
    elif how == "bad journal":
        (lake.root / ".journal").mkdir(exist_ok=True)
        (lake.root / ".journal" / "0123abcd.json").write_text("{not json")
    elif how == "bit flip in events":
        flip_a_bit(files(lake, "events", subject)[0])


@pytest.mark.parametrize(
    "how", ["truncated phases", "bit flip in phases", "garbage processing cache", "bad journal"]
)
def test_check_finds_the_damage_and_repair_rebuilds_the_same_labels(lake, capsys, how):
    subject = lake.subjects()["subject"].iloc[0]
    before = phases_of(lake, subject)
    assert run(capsys, "check", "--lake", str(lake.root))[0] == 0
    damage(lake, how, subject)
    code, out = run(capsys, "check", "--lake", str(lake.root))
    assert code == 1 and "DAMAGED" in out, out
    code, out = run(capsys, "repair", "--lake", str(lake.root))
    assert code == 0, out
    assert "LOST" not in out  # only derived data (or a cache, or a journal) was damaged: nothing is lost
    assert run(capsys, "check", "--lake", str(lake.root))[0] == 0
    pd.testing.assert_frame_equal(phases_of(Lake(lake.root), subject), before)


def test_a_damaged_night_is_named_and_other_nights_still_read(lake, capsys):
    subject = lake.subjects()["subject"].iloc[0]
    nights = lake.nights(subject)
    flip_a_bit(files(lake, "phases", subject)[0])
    bad = files(lake, "phases", subject)[0].parent.name.removeprefix("night=")
    with pytest.raises(DamagedData, match=f"{subject}'s night {bad} data is damaged.*sleepmoves check"):
        Lake(lake.root).phases(subject, bad)
    good = [n for n in nights if n != bad][0]
    assert len(Lake(lake.root).phases(subject, good)) > 100


def test_lost_input_is_named_and_the_same_file_ingested_again_restores_it(lake, capsys, sim_dir):
    subject = lake.subjects()["subject"].iloc[0]
    events_before = lake.read("events", [subject])
    before = phases_of(lake, subject)
    damage(lake, "bit flip in events", subject)
    assert run(capsys, "check", "--lake", str(lake.root))[0] == 1
    code, out = run(capsys, "repair", "--lake", str(lake.root))
    assert code == 0 and "LOST" in out and "ingest that file again" in out, out
    assert run(capsys, "check", "--lake", str(lake.root))[0] == 0
    assert len(Lake(lake.root).read("events", [subject])) < len(events_before)
    source = next(
        p for p in sim_dir.rglob("*") if p.is_file() and subject in p.name and p.suffix in (".csv", ".jsonl")
    )
    code, out = run(capsys, "ingest", str(source), "--subject", subject, "--lake", str(lake.root))
    assert code == 0, out
    restored = Lake(lake.root)
    pd.testing.assert_frame_equal(
        restored.read("events", [subject]).sort_values(["night", "start"], ignore_index=True),
        events_before.sort_values(["night", "start"], ignore_index=True),
    )
    pd.testing.assert_frame_equal(phases_of(restored, subject), before)


def _callback(http, outputs: list[tuple[str, str]], inputs: dict) -> tuple[int, str]:
    body = {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [{"id": k, "property": "value", "value": v} for k, v in inputs.items()],
        "changedPropIds": [f"{k}.value" for k in inputs],
    }
    response = http.post("/_dash-update-component", json=body)
    return response.status_code, response.get_data(as_text=True)


def test_the_dashboard_names_a_damaged_night_and_keeps_serving_the_others(lake, monkeypatch):
    from sleepmoves.dashboard import state
    from sleepmoves.dashboard.app import create_app
    from sleepmoves.summarize import week_nights

    for name in ("_lake_path", "_users", "_max_upload_bytes", "_max_upload_rows"):
        monkeypatch.setattr(state, name, getattr(state, name))  # restored after the test
    subject = lake.subjects()["subject"].iloc[0]
    path = files(lake, "phases", subject)[3]
    bad = path.parent.name.removeprefix("night=")
    path.write_bytes(path.read_bytes()[:-100])  # truncated: whatever columns a page reads, it is noticed
    http = create_app(lake.root).server.test_client()
    night_outputs = [
        ("night-figure", "figure"),
        ("summary-cards", "children"),
        ("flags", "children"),
        ("scoring", "children"),
        ("night-hint", "children"),
        ("night-sentence", "children"),
        ("night-video", "children"),
    ]
    code, text = _callback(http, night_outputs, {"subject": subject, "night": bad})
    assert code == 200 and "This night's data is damaged: run `sleepmoves check`" in text
    good = [n for n in lake.nights(subject) if n != bad][0]
    code, text = _callback(http, night_outputs, {"subject": subject, "night": good})
    assert code == 200 and "damaged" not in text and "Total sleep" in text
    year, week, _ = pd.Timestamp(bad).isocalendar()
    week_name = f"{year}-W{week:02d}"
    first, last = week_nights(week_name)
    code, text = _callback(
        http,
        [
            ("weeks-figure", "figure"),
            ("weeks-table", "children"),
            ("weeks-cycles", "children"),
            ("weeks-message", "children"),
        ],
        {"weeks-subjects": list(lake.subjects()["subject"]), "weeks-a": week_name, "weeks-b": week_name},
    )
    assert code == 200, text
    assert f"{subject}'s night {bad} data is damaged" in text and "sleepmoves check" in text


def test_a_damaged_scoring_is_named_by_its_scorer_and_night_and_the_others_stay(lake, capsys):
    from sleepmoves.labels import night_labels, save_labels

    subject = lake.subjects()["subject"].iloc[0]
    night = lake.nights(subject)[0]
    scored = lake.phases(subject, night)[["epoch_start", "phase"]].iloc[:40]
    save_labels(lake, subject, night, "dr-lee", scored)
    save_labels(lake, subject, night, "nurse-kim", scored)
    damaged = next(p for p in files(lake, "labels", subject) if p.name.startswith("dr-lee-"))
    flip_a_bit(damaged, -40)
    assert run(capsys, "check", "--lake", str(lake.root))[0] == 1
    code, out = run(capsys, "repair", "--lake", str(lake.root))
    assert code == 0 and f"night {night}: dr-lee's labels were lost" in out and "score the night again" in out
    assert run(capsys, "check", "--lake", str(lake.root))[0] == 0
    kept = night_labels(Lake(lake.root), subject, night)
    assert kept["scorer"].unique().tolist() == ["nurse-kim"] and len(kept) == 40
    assert (lake.root / ".quarantine" / "labels").is_dir()  # the damaged file is kept aside, not deleted
