"""PNG export through kaleido and Debian's Chromium (nothing downloaded)."""

import re
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sleepmoves.dashboard.export import PAGE, export_night_png
from sleepmoves.schema import SleepmovesError
from sleepmoves.summarize import DEFINITIONS

pytestmark = pytest.mark.skipif(not shutil.which("chromium"), reason="Debian chromium is not installed")


def test_night_png_is_a_legible_page(demo_lake, tmp_path):
    subject = demo_lake.subjects()["subject"].iloc[0]
    night = demo_lake.latest_night(subject)
    out = export_night_png(demo_lake, subject, night, tmp_path / "night.png")
    image = Image.open(out)
    assert image.format == "PNG" and image.size == PAGE
    pixels = np.asarray(image.convert("RGB"), dtype=float)
    assert pixels.std() > 20  # not blank
    # the phase colours are on the page (quiet-sleep blue #0072B2)
    assert (np.abs(pixels - np.array([0, 114, 178])).sum(axis=2) < 30).mean() > 0.01
    assert not list(tmp_path.glob(".*.tmp"))


def test_export_of_unknown_night_is_a_clear_error(demo_lake, tmp_path):
    subject = demo_lake.subjects()["subject"].iloc[0]
    with pytest.raises(SleepmovesError, match="night 1999-01-01 of .* is not in the lake"):
        export_night_png(demo_lake, subject, "1999-01-01", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


@pytest.fixture(scope="module")
def named_lake(demo_lake, tmp_path_factory):
    """A copy of the demo lake whose babies have real-looking names (labels) as well as ids."""
    from sleepmoves.lake import Lake

    root = tmp_path_factory.mktemp("named") / "lake"
    shutil.copytree(demo_lake.root, root)
    lake = Lake(root)
    for i, row in enumerate(lake.subjects().itertuples()):
        lake.add_subject(row.subject, row.tz, label=["Zebedee Quill", "Philippa Marsh", "Oona Tarr"][i])
    return lake


def _texts(fig) -> str:
    """Every text a figure would print (titles, labels, annotations, hover), as one string."""
    import json

    return json.dumps(json.loads(fig.to_json()), ensure_ascii=False)


def test_anonymised_night_export_names_no_one(named_lake):
    from sleepmoves.dashboard.export import night_summary_figure

    row = named_lake.subjects().iloc[0]
    night = named_lake.latest_night(row["subject"])
    named = _texts(night_summary_figure(named_lake, row["subject"], night))
    assert row["label"] in named  # the ordinary export does name the baby
    hidden = _texts(night_summary_figure(named_lake, row["subject"], night, anonymise=True))
    assert (
        row["label"] not in hidden
        and f'"{row["subject"]}' not in hidden
        and f" {row['subject']} " not in hidden
    )
    figure = night_summary_figure(named_lake, row["subject"], night, anonymise=True)
    assert any(a.text.startswith("<b>night of ") and "Baby A" in a.text for a in figure.layout.annotations)


def test_anonymised_weeks_export_names_no_one(named_lake):
    import pandas as pd

    from sleepmoves.dashboard.export import weeks_summary_figure

    subjects = list(named_lake.subjects()["subject"])
    night = named_lake.latest_night(subjects[0])
    week = "{}-W{:02d}".format(*pd.Timestamp(night).isocalendar()[:2])
    named = _texts(weeks_summary_figure(named_lake, subjects, week, week))
    assert all(s in named for s in subjects)
    hidden = _texts(weeks_summary_figure(named_lake, subjects, week, week, anonymise=True))
    labels = list(named_lake.subjects()["label"])
    assert not any(s in hidden for s in subjects + labels)
    assert "Baby A" in hidden and "Baby B" in hidden
    # each baby's age stands on the page, under the anonymous name too
    assert re.search(r"Baby A: \d+ (weeks|months) old in A and in B", hidden)
    # the page stands alone: the weeks' dates, the flags with their nights, the measures in words
    said = hidden.replace("&nbsp;", " ")
    assert re.search(r"W\d\d \(\d+–\d+ \w+ 20\d\d\)", said)
    assert "Review flags" in said and "What the measures mean" in said and "About page" not in said
    assert "sleepmoves 0." in said and "Made 20" in said


def test_cli_export_anonymise_writes_a_png(named_lake, tmp_path):
    from tests.test_cli import run

    subject = named_lake.subjects()["subject"].iloc[0]
    night = named_lake.latest_night(subject)
    out = tmp_path / "anon.png"
    done = run(
        "export",
        "--subject",
        subject,
        "--night",
        night,
        "--out",
        out,
        "--anonymise",
        "--lake",
        named_lake.root,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # a good export prints no one's traceback (kaleido's driver logs at exit)
    assert Image.open(out).size == PAGE


def test_cli_exports_a_trend_over_dates_and_refuses_a_half_range(named_lake, tmp_path):
    from tests.test_cli import run

    subjects = list(named_lake.subjects()["subject"])
    nights = named_lake.nights(subjects[0])
    out = tmp_path / "trend.png"
    common = ["--subject", ",".join(subjects), "--lake", named_lake.root, "--out", out]
    done = run(
        "export", *common, "--from", nights[0], "--to", nights[-1], "--metric", "pct_active", "--anonymise"
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert Image.open(out).size[0] == PAGE[0]
    half = run("export", *common, "--from", nights[0])
    assert half.returncode == 1 and "needs both --from and --to" in half.stderr
    weeks = run("export", *common, "--weeks", "2026-W10,2026-W10")  # a weeks export is no trend
    assert weeks.returncode == 0, weeks.stderr


def test_a_label_with_markup_is_text_and_the_export_fetches_nothing(named_lake, tmp_path):
    """A baby's label is user text: a link or a style URL in it stays characters, and rendering the PNG makes
    no request (a local server stands in for the address a label could point at)."""
    import http.server
    import threading

    from sleepmoves.dashboard.export import night_summary_figure

    hits = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    row = named_lake.subjects().iloc[0]
    label = f'<a href="{url}/link">Zeb</a><span style="fill:url({url}/fill)">x</span><img src="{url}/img">'
    try:
        named_lake.add_subject(row["subject"], row["tz"], label=label)
        night = named_lake.latest_night(row["subject"])
        fig = night_summary_figure(named_lake, row["subject"], night)
        assert "&lt;a href=" in _texts(fig) and "<a href" not in _texts(fig)
        export_night_png(named_lake, row["subject"], night, tmp_path / "night.png")
    finally:
        named_lake.add_subject(row["subject"], row["tz"], label=row["label"])
        server.shutdown()
    assert hits == []


def test_the_night_png_stands_alone(named_lake):
    """Read without the app, the page says whose night (or "Baby A"), how old, which day, the night in a sentence,
    every flag (or how many more), what pale and grey mean, the definitions, the version and when it was made."""
    from sleepmoves.dashboard.export import night_summary_figure

    row = named_lake.subjects().iloc[0]
    night = named_lake.latest_night(row["subject"])
    text = _texts(night_summary_figure(named_lake, row["subject"], night, anonymise=True))
    when = pd.Timestamp(night)
    assert f"{when:%A} {when.day} {when:%B %Y}" in text
    assert "Baby A, " in text and " old. Slept " in text
    assert "pale = the model gives the phase less than 60%" in text and "grey stripes = no data" in text
    assert "Total sleep:" in text and "sleepmoves 0." in text and "Made 20" in text
    assert "review flag" in text.lower() or "⚑" in text


SNAKE = re.compile(r"\b[a-z]+_[a-z0-9_]+\b|<kind>|<phase>")


def _said(fig) -> str:
    """What a reader of a figure sees: titles, annotations, legend names, hovers, tick labels."""
    import json

    data = json.loads(fig.to_json())
    shown = [data["layout"].get("title", {}), data["layout"].get("annotations", [])]
    for axis, value in data["layout"].items():
        if axis.startswith(("xaxis", "yaxis")):
            shown.append([value.get("ticktext"), value.get("title")])
    shown += [
        {k: t.get(k) for k in ("name", "hovertemplate", "customdata", "text", "legendgrouptitle")}
        for t in data["data"]
    ]
    return json.dumps(shown, ensure_ascii=False)


def test_no_programmer_words_where_a_parent_reads(named_lake, monkeypatch):
    from sleepmoves.dashboard import state
    from sleepmoves.dashboard.app import create_app

    for name in ("_lake_path", "_users", "_max_upload_bytes", "_max_upload_rows"):
        monkeypatch.setattr(state, name, getattr(state, name))  # restored after the test
    create_app(named_lake.root)  # the pages register with an app

    from sleepmoves.dashboard.export import night_summary_figure, weeks_summary_figure
    from sleepmoves.dashboard.pages import about
    from sleepmoves.dashboard.views import night_view

    subjects = list(named_lake.subjects()["subject"])
    night = named_lake.latest_night(subjects[0])
    week = "{}-W{:02d}".format(*pd.Timestamp(night).isocalendar()[:2])
    for fig in (
        night_view(named_lake, subjects[0], night)[0],
        night_summary_figure(named_lake, subjects[0], night),
        weeks_summary_figure(named_lake, subjects, week, week),
    ):
        assert not SNAKE.findall(_said(fig))

    def texts(component):
        if isinstance(component, str):
            yield component
        elif isinstance(component, list | tuple):
            for part in component:
                yield from texts(part)
        elif component is not None:
            yield from texts(getattr(component, "children", None))

    # the metrics table names each exported column once, in its own column: that is where they may stand
    cells = [t for t in texts(about.layout()) if t not in DEFINITIONS]
    page = " ".join(cells)
    assert "Fell asleep" in page and "Movements per hour of each phase" in page
    assert not SNAKE.findall(page), SNAKE.findall(page)
