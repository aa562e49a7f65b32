"""Real headless Chromium (Debian's /usr/bin/chromium) driving the dashboard served on 127.0.0.1."""

from __future__ import annotations

import re
import shutil
import threading

import pandas as pd
import pytest

from sleepmoves.summarize import week_nights

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def server(demo_lake):
    from werkzeug.serving import make_server

    from sleepmoves.dashboard.app import create_app

    app = create_app(demo_lake.root)
    httpd = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not shutil.which("chromium") and not shutil.which("/usr/bin/chromium"):
        pytest.skip("Debian chromium is not installed (make test installs it when run as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


def _figure_counts(page) -> dict:
    """Points drawn per trace type, read from the live Plotly graph (after Plotly decoded the arrays)."""
    return page.evaluate(
        """() => {
            const gd = document.querySelector('#night-figure .js-plotly-plot');
            const out = {bar: 0, scatter: 0};
            for (const t of gd._fullData) {
                if (t.yaxis !== 'y' && t.type === 'bar') continue;  // the movement-per-epoch row
                out[t.type] = (out[t.type] || 0) + t._length;
            }
            return out;
        }"""
    )


def _wait_title(page, text):
    page.wait_for_function(
        "t => { const e = document.querySelector('#night-figure .gtitle'); return e && e.textContent.includes(t); }",
        arg=text,
        timeout=15000,
    )


def test_night_page_shows_latest_night_and_switches(server, browser, demo_lake):
    errors = []
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server + "/")
    subjects = list(demo_lake.subjects()["subject"])
    first = subjects[0]
    nights = demo_lake.nights(first)

    # default: the first baby's latest night, with its summary and every event drawn
    _wait_title(page, f"night of {nights[-1]}")
    assert page.text_content("#night-figure .gtitle") == f"{first} · night of {nights[-1]}"
    counts = _figure_counts(page)
    assert counts["scatter"] == len(demo_lake.events(first, nights[-1]))
    # one ribbon bar per labelled epoch, and one per epoch without data while the log was not watching
    shown = len(demo_lake.phases(first, nights[-1])) + len(demo_lake.nodata_epochs(first, nights[-1]))
    assert counts["bar"] == shown
    assert "Fell asleep" in page.text_content("#summary-cards")

    # switch to the first night: the figure changes to that night's data
    page.click("#night")
    page.get_by_role("option", name=nights[0]).click()
    _wait_title(page, f"night of {nights[0]}")
    page.wait_for_function(
        "n => { const gd = document.querySelector('#night-figure .js-plotly-plot');"
        " return gd._fullData.filter(t => t.type === 'scatter').reduce((s, t) => s + t._length, 0) === n; }",
        arg=len(demo_lake.events(first, nights[0])),
        timeout=15000,
    )
    assert _figure_counts(page) != counts

    # switch baby: the night picker resets to that baby's latest night
    other = subjects[1]
    page.click("#subject")
    page.get_by_role("option", name=other).click()
    _wait_title(page, f"{other} · night of {demo_lake.nights(other)[-1]}")
    assert errors == []
    page.close()


def test_phone_width_keeps_the_figure_visible(server, browser, demo_lake):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(server + "/")
    _wait_title(page, "night of")
    box = page.locator("#night-figure").bounding_box()
    assert box is not None and box["width"] <= 390
    # the night in one sentence, with the baby's age, above the cards and on the first screen
    page.wait_for_function("() => document.querySelector('#night-sentence').textContent.includes('Slept')")
    sentence = page.text_content("#night-sentence")
    first = demo_lake.subjects()["subject"].iloc[0]
    assert sentence.startswith(f"{first}, ") and " old. Slept " in sentence
    where = page.locator("#night-sentence").bounding_box()
    assert where["y"] + where["height"] <= 844 and where["x"] + where["width"] <= 390
    page.close()


@pytest.fixture(scope="module")
def sensor_lake(tmp_path_factory):
    """One ankle-sensor night with a 10-minute gap, ingested and processed like a user's file."""
    import gzip

    from sleepmoves.ingest import ingest_file
    from sleepmoves.lake import Lake
    from sleepmoves.process import process
    from tests.test_ingest_raw import T0, _csv, _signal

    root = tmp_path_factory.mktemp("sensor")
    lake = Lake(root / "lake")
    lake.add_subject("sam", "Europe/London", born="2026-01-01")
    text = _csv(_signal(1800, seed=1)) + _csv(_signal(1800, seed=2), t0=T0 + 2400, header="")
    (root / "ankle.csv.gz").write_bytes(gzip.compress(text.encode()))
    ingest_file(lake, root / "ankle.csv.gz", "sam", limb="left_leg")
    process(lake, ["sam"])
    return lake


def test_sensor_night_shows_like_a_log_night_with_no_data_marked(server, browser, sensor_lake, demo_lake):
    from sleepmoves.dashboard import state

    state.set_lake(sensor_lake.root)
    try:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(server + "/")
        _wait_title(page, "sam · night of 2026-03-02")
        names = page.evaluate(
            "() => document.querySelector('#night-figure .js-plotly-plot')._fullData.map(t => t.name)"
        )
        assert "No data" in names and {"kick", "twitch"} & set(names)
        counts = _figure_counts(page)
        assert counts["scatter"] == len(sensor_lake.events("sam", "2026-03-02"))
        page.close()
    finally:
        state.set_lake(demo_lake.root)


@pytest.fixture(scope="module")
def spasm_lake(tmp_path_factory):
    """A baby with spasm-like clusters on waking (review flags), from its movement log."""
    from sleepmoves.ingest import ingest_file
    from sleepmoves.lake import Lake
    from sleepmoves.process import process
    from sleepmoves.simulate import _local_iso, simulate

    cohort, events, _ = simulate(babies=3, weeks=1, seed=51, anomalies={2: "spasms"})
    baby = cohort[2]
    root = tmp_path_factory.mktemp("flags")
    log = events[baby.subject].copy()
    log.insert(0, "time", _local_iso(log.pop("start"), baby.tz))
    log.to_csv(root / "log.csv", index=False)
    lake = Lake(root / "lake")
    lake.add_subject(baby.subject, baby.tz, born=baby.born)
    ingest_file(lake, root / "log.csv", baby.subject)
    process(lake, [baby.subject])
    return lake, baby


def test_night_page_lists_review_flags(server, browser, demo_lake, spasm_lake):
    """A baby with spasm-like clusters on waking: the page says so, with the time, and not as a diagnosis."""
    from sleepmoves.dashboard import state
    from sleepmoves.flags import decode
    from sleepmoves.nights import night_bounds

    lake, baby = spasm_lake
    state.set_lake(lake.root)
    try:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(server + "/")
        page.wait_for_selector("#flags .flag", timeout=15000)
        text = page.text_content("#flags")
        assert (
            "Worth showing your pediatrician" in text and "cluster of" in text and "not a diagnosis" in text
        )
        # each flag is also a mark on the timeline, at its time, its sentence on hover
        night = lake.nights(baby.subject)[-1]
        flags = decode(lake.night_summary(baby.subject, night)["flags"])
        start = night_bounds(night, baby.tz)[0]
        expected = sorted(round((pd.Timestamp(f["start"]) - start).total_seconds() / 3600, 4) for f in flags)
        marks = page.evaluate(
            "() => document.querySelector('#night-figure .js-plotly-plot')._fullData"
            ".filter(t => t.name === 'review flag').flatMap(t => Array.from(t.x))"
        )
        assert flags and sorted(round(x, 4) for x in marks) == expected
        # and drawn: each mark (the flag colour is used by nothing else) has a size on the screen, in the chart
        drawn = page.evaluate(
            """() => {
                const gd = document.querySelector('#night-figure .js-plotly-plot');
                const chart = gd.getBoundingClientRect();
                return [...gd.querySelectorAll('.scatterlayer path.point')]
                    .filter(p => p.style.fill === 'rgb(204, 51, 17)')
                    .map(p => {
                        const b = p.getBoundingClientRect();
                        return b.width > 0 && b.height > 0 && b.top >= chart.top && b.bottom <= chart.bottom;
                    });
            }"""
        )
        assert len(drawn) == len(flags) and all(drawn)
        page.close()
    finally:
        state.set_lake(demo_lake.root)


def test_a_video_night_plays_beside_its_chart_and_a_flag_or_a_click_seeks_it(
    server, browser, demo_lake, spasm_lake, tmp_path
):
    """The night's video (H.264, as monitors and phones write) in a player beside the chart: a flag's button
    seeks it to the flag's moment, a click on the chart to the clicked moment, and a cursor on the chart follows
    it; another baby's video is not served; the night's PNG has no video in it."""
    pytest.importorskip("av", reason="the video extra (PyAV) is not installed")
    import shutil

    from sleepmoves.cli import main
    from sleepmoves.dashboard import state
    from sleepmoves.flags import decode
    from sleepmoves.lake import Lake
    from sleepmoves.video_render import render

    source, baby = spasm_lake
    lake = Lake(shutil.copytree(source.root, tmp_path / "lake"))
    night = lake.nights(baby.subject)[-1]
    flag = decode(lake.night_summary(baby.subject, night)["flags"])[0]
    begun = pd.Timestamp(flag["start"]).floor("s") - pd.Timedelta(seconds=40)
    clip = render(
        tmp_path / "nursery.mp4",
        lake.events(baby.subject, night).iloc[:0],
        begun,
        90,
        codec="libx264",
        bit_rate=300_000,
    )
    assert main(["ingest", str(clip), "--subject", baby.subject, "--lake", str(lake.root)]) == 0
    assert main(["process", "--lake", str(lake.root)]) == 0
    state.set_lake(lake.root)
    try:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(server + f"/?subject={baby.subject}&night={night}")
        page.wait_for_selector("#night-player", timeout=15000)
        page.wait_for_function("() => document.getElementById('night-player').readyState >= 1", timeout=15000)
        assert page.evaluate("() => document.getElementById('night-player').duration") == pytest.approx(
            90, abs=1
        )
        page.click("#flags button.seek")
        page.wait_for_function(
            "() => Math.abs(document.getElementById('night-player').currentTime - 40) < 1.5"
        )
        # the cursor on the chart stands where the video is
        cursor = page.wait_for_function(
            """() => {
                const gd = document.querySelector('#night-figure .js-plotly-plot');
                const s = (gd.layout.shapes || []).find(s => s.name === 'video-cursor');
                return s ? s.x0 : null;
            }""",
            timeout=10000,
        ).json_value()
        offset = float(page.get_attribute("#night-player", "data-offset-hours"))
        assert cursor == pytest.approx(offset + 40 / 3600, abs=2 / 3600)
        # a click on the chart, 70 s into the video: the plot area's pixel for that hour
        target = offset + 70 / 3600
        page.evaluate(
            """x => {
                const gd = document.querySelector('#night-figure .js-plotly-plot');
                gd.emit('plotly_click', {points: [{x: x, curveNumber: 0, pointNumber: 0}], event: {}});
            }""",
            target,
        )
        page.wait_for_function(
            "() => Math.abs(document.getElementById('night-player').currentTime - 70) < 1.5"
        )
        # the video is served to this page; a made-up or another baby's URL is not
        url = page.get_attribute("#night-player", "src")
        assert page.request.get(server + url, headers={"Range": "bytes=0-99"}).status == 206
        assert page.request.get(server + url.replace(baby.subject, "nobody")).status == 404
        assert page.request.get(server + url[:-1] + "0").status == 404
        page.close()
        from sleepmoves.dashboard.export import night_summary_figure

        summary = night_summary_figure(lake, baby.subject, night)  # the PNG's figure: the chart, no video
        assert not summary.layout.images and all(t.type != "image" for t in summary.data)
    finally:
        state.set_lake(demo_lake.root)


def test_previous_and_next_night_buttons(server, browser, demo_lake):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(server + "/")
    first = demo_lake.subjects()["subject"].iloc[0]
    nights = demo_lake.nights(first)
    _wait_title(page, f"night of {nights[-1]}")
    page.click("#prev-night")
    _wait_title(page, f"night of {nights[-2]}")
    page.click("#prev-night")
    _wait_title(page, f"night of {nights[-3]}")
    page.click("#next-night")
    _wait_title(page, f"night of {nights[-2]}")
    page.close()


def test_night_png_download_is_a_real_image(server, browser, demo_lake, tmp_path):
    import numpy as np
    from PIL import Image

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(server + "/")
    _wait_title(page, "night of")
    with page.expect_download(timeout=60000) as info:
        page.click("#night-png")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    image = Image.open(path)
    from sleepmoves.dashboard.export import PAGE

    assert path.name.startswith("sleepmoves-") and image.format == "PNG" and image.size == PAGE
    assert np.asarray(image.convert("L"), dtype=float).std() > 20  # not blank
    page.close()


def test_weeks_page_compares_two_babies(server, browser, demo_lake):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(server + "/weeks")
    page.wait_for_selector("#weeks-figure .gtitle", timeout=20000)
    subjects = list(demo_lake.subjects()["subject"])[:2]
    assert page.text_content("#weeks-figure .gtitle").startswith(", ".join(subjects))
    labels = page.evaluate("() => document.querySelector('#weeks-figure .js-plotly-plot')._fullData[0].y")
    assert {label.split(" ")[2] for label in labels} == set(subjects)  # "A · ada 2026-03-02"
    page.wait_for_selector("#weeks-table td", timeout=15000)
    table = page.text_content("#weeks-table")
    assert "Total sleep (min)" in table and "B − A (95 % interval)" in table
    for subject in subjects:  # one table per baby, each baby against herself; nothing pooled, no p-values
        assert "Total sleep (min)" in page.text_content(f"#weeks-table-{subject}")
    assert "Mann-Whitney" not in page.content()
    page.close()


def test_the_weeks_page_lists_every_night_sorts_it_opens_it_and_downloads_it(
    server, browser, demo_lake, tmp_path
):
    from sleepmoves.dashboard.views import available_weeks

    subjects = list(demo_lake.subjects()["subject"])[:2]
    weeks = available_weeks(demo_lake, subjects)  # the page opens on the first and the last week
    shown = sorted(
        {n for w in (weeks[0], weeks[-1]) for n in pd.date_range(*week_nights(w)).strftime("%Y-%m-%d")}
    )
    expected = sum(
        len(demo_lake.nights_table([s], shown[0], shown[-1]).query("night in @shown")) for s in subjects
    )
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server + "/weeks")
    page.wait_for_selector("#weeks-nights tbody tr td", timeout=20000)
    rows = lambda: page.evaluate("() => document.querySelectorAll('#weeks-nights tbody tr:has(td)').length")  # noqa: E731
    page.wait_for_function(
        f"() => document.querySelectorAll('#weeks-nights tbody tr:has(td)').length >= {expected}"
    )
    assert rows() == expected  # each night of both weeks, once
    column = page.evaluate(
        """() => [...document.querySelectorAll('#weeks-nights th')].findIndex(t => t.textContent.includes('total sleep'))"""
    )

    def total_sleep():
        return page.evaluate(
            f"() => [...document.querySelectorAll('#weeks-nights tbody tr:has(td)')].map(r => Number(r.children[{column}].textContent))"
        )

    page.locator("#weeks-nights th").nth(column).locator(".column-header--sort").click()
    page.wait_for_timeout(500)
    assert total_sleep() == sorted(total_sleep())  # sorted by the clicked column
    with page.expect_download(timeout=30000) as info:
        page.click("#nights-csv")
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    csv = pd.read_csv(saved)
    assert (
        len(csv) == expected
        and "total sleep (min)" in csv
        and sorted(csv["total sleep (min)"]) == total_sleep()
    )
    page.locator("#weeks-nights a").first.click()  # a night opens its night page
    _wait_title(page, "night of")
    assert "subject=" in page.url and page.text_content("#night-figure .gtitle").endswith(page.url[-10:])
    page.close()


def test_a_visit_report_is_one_babys_pdf(server, browser, demo_lake, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server + "/weeks")
    page.wait_for_selector("#trend-figure .gtitle", timeout=20000)
    page.click("#report-pdf")  # two babies are chosen: a report is one baby's
    page.wait_for_function("() => document.querySelector('#report-message').textContent.includes('one baby')")
    second = list(demo_lake.subjects()["subject"])[1]
    page.click("#weeks-subjects")
    page.get_by_role("option", name=second).click()  # leave one baby
    page.keyboard.press("Escape")
    page.wait_for_timeout(500)
    with page.expect_download(timeout=60000) as info:
        page.click("#report-pdf")
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    assert saved.suffix == ".pdf" and saved.read_bytes()[:5] == b"%PDF-"
    page.close()


@pytest.mark.parametrize("width", [390, 1280])
def test_the_weeks_charts_titles_and_labels_stand_apart(server, browser, demo_lake, width):
    """Measured: the weeks and trend charts' titles, subplot titles and tick labels overlap nothing of their own
    kind, and the page does not scroll sideways (the three-panel chart scrolls in its own box on a phone)."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(server + "/weeks")
    page.wait_for_selector("#weeks-figure .gtitle", timeout=20000)
    page.wait_for_selector("#trend-figure .gtitle", timeout=20000)
    page.wait_for_timeout(500)
    for figure in ("#weeks-figure", "#trend-figure"):
        boxes = page.evaluate(
            """sel => [...document.querySelectorAll(sel + ' .annotation-text, ' + sel + ' .gtitle')]
                .filter(t => t.textContent.trim()).map(t => {
                    const b = t.getBoundingClientRect();
                    return {text: t.textContent, x: b.x, y: b.y, w: b.width, h: b.height};
                })""",
            figure,
        )
        assert len(boxes) >= 2
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert not _overlap(a, b), (figure, a, b)
        ticks = page.evaluate(
            """sel => [...document.querySelectorAll(sel + ' .ytick text')].filter(t => t.textContent.trim())
                .map(t => { const b = t.getBoundingClientRect(); return {text: t.textContent, x: b.x, y: b.y,
                w: b.width, h: b.height}; })""",
            figure,
        )
        for i, a in enumerate(ticks):
            for b in ticks[i + 1 :]:
                assert not _overlap(a, b), (figure, a, b)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    page.close()


def test_upload_with_a_bad_row_shows_its_line_then_a_good_one_lands(server, browser, demo_lake, tmp_path):
    from sleepmoves.dashboard import state

    root = tmp_path / "lake"
    import shutil

    shutil.copytree(demo_lake.root, root)
    state.set_lake(root)
    try:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(server + "/data")
        page.wait_for_selector("#upload input[type=file]", state="attached")
        page.fill("#data-new-subject", "zoe")
        page.click("#data-tz")  # the zone is picked from a list: typed to search it
        page.keyboard.type("Europe/Paris")
        page.keyboard.press("Enter")
        bad = tmp_path / "zoe night.csv"
        bad.write_text(
            "time,duration_s,limb,kind\n2026-03-20T21:00:00+01:00,0.3,left_leg,twitch\n2026-03-20T21:00:09+01:00,0.3,left_foot,twitch\n"
        )
        page.set_input_files("#upload input[type=file]", str(bad))
        page.wait_for_selector("#upload-result .error", timeout=20000)
        text = page.text_content("#upload-result")
        assert (
            "zoe_night.csv:3: column limb: unknown limb 'left_foot'" in text and "nothing was written" in text
        )
        good = bad  # the same file, fixed and chosen again: it is read again, not ignored
        good.write_text(
            "time,duration_s,limb,kind\n"
            + "".join(f"2026-03-20T21:{m:02d}:00+01:00,0.3,left_leg,twitch\n" for m in range(0, 60, 2))
        )
        page.set_input_files("#upload input[type=file]", str(good))
        page.wait_for_selector("#upload-result .ok", timeout=60000)
        assert "1 night labelled" in page.text_content("#upload-result")
        assert re.search(r"\d+ (weeks|months) old|\d+ years? ", page.text_content("#manifest"))  # ages
        assert "zoe_night.csv" in page.text_content("#manifest")
        # the new baby and its night appear in the night page's pickers
        page.goto(server + "/")
        _wait_title(page, "night of")
        page.click("#subject")
        page.get_by_role("option", name="zoe").click()
        _wait_title(page, "zoe · night of 2026-03-20")
        page.close()
    finally:
        state.set_lake(demo_lake.root)


def test_a_video_uploaded_on_the_data_page_shows_how_far_it_is_then_plays_on_its_night(
    server, browser, demo_lake, tmp_path, monkeypatch
):
    """A night's video chosen on the Data page: the page shows how much is sent, then how far the analysis is
    (a bar), then what was stored; the night page then has its player."""
    pytest.importorskip("av", reason="the video extra (PyAV) is not installed")
    import time

    from sleepmoves.dashboard import state
    from sleepmoves.ingest import video
    from sleepmoves.video_render import render

    clip = render(
        tmp_path / "nursery.mp4",
        pd.DataFrame(columns=["start", "duration_s", "limb", "kind"]),
        pd.Timestamp("2026-03-20T20:00Z"),
        180,
        codec="libx264",
        bit_rate=200_000,
    )
    frames = video.frames

    def slowly(*args, **kwargs):  # a 3-minute clip analyses in a second: slowed to a night's pace on screen
        for item in frames(*args, **kwargs):
            time.sleep(0.006)
            yield item

    monkeypatch.setattr(video, "frames", slowly)
    state.set_lake(tmp_path / "lake")
    try:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(server + "/data")
        page.wait_for_selector("#upload input[type=file]", state="attached")
        page.fill("#data-new-subject", "vic")
        page.click("#data-tz")
        page.keyboard.type("Europe/London")
        page.keyboard.press("Enter")
        page.set_input_files("#upload input[type=file]", str(clip))
        page.wait_for_selector("#analysis-bar", timeout=20000)
        assert "Analysing nursery.mp4" in page.text_content("#analysis-progress")
        page.wait_for_selector("#upload-result .ok", timeout=60000)
        assert "(video)" in page.text_content("#upload-result")
        page.wait_for_function("() => !document.querySelector('#analysis-bar')", timeout=5000)
        page.goto(server + "/?subject=vic&night=2026-03-20")
        page.wait_for_selector("#night-player", timeout=15000)
        page.close()
    finally:
        state.set_lake(demo_lake.root)


REAL_FILES = {
    "awd": ("actigraphy/example_01.AWD", None),
    "actiware": ("actigraphy/test_sample_rpx_eng.csv", None),
    "link": ("raw/small.gt3x", "left_leg"),
    "ax3": ("raw/ax3_sample.cwa", "right_leg"),
    "eva": ("logs/babyconnect_eva.csv", None),
}


@pytest.fixture(scope="module")
def real_lake(tmp_path_factory):
    """A lake built from real device and app files in ../shared/data (one baby per file)."""
    from sleepmoves.ingest import ingest_file
    from sleepmoves.lake import Lake
    from sleepmoves.process import process
    from tests.conftest import SHARED_DATA

    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is absent (not a project checkout)")
    lake = Lake(tmp_path_factory.mktemp("real") / "lake")
    for subject, (name, limb) in REAL_FILES.items():
        lake.add_subject(subject, "Europe/London")
        ingest_file(lake, SHARED_DATA / name, subject, tz="Europe/London", limb=limb)
    process(lake)
    return lake


def test_a_counts_night_says_asleep_not_which_phase_and_names_its_algorithm(
    server, browser, real_lake, demo_lake
):
    from sleepmoves.dashboard import state

    state.set_lake(real_lake.root)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server + "/")
        page.click("#subject")
        page.get_by_role("option", name="actiware").click()
        _wait_title(page, "actiware · night of")
        page.wait_for_function("() => document.querySelector('#scoring').textContent.includes('Actiware')")
        names = page.evaluate(
            "() => document.querySelector('#night-figure .js-plotly-plot')._fullData.map(t => t.name)"
        )
        assert "Asleep (phase not known)" in names and "activity counts" in names
        assert not {"Active sleep", "Quiet sleep"} & set(names)
        cards = page.text_content("#summary-cards")
        assert "Sleep phases" in cards and "Active sleep" not in cards
        assert "Actiware, wake threshold 40, 30-s epochs" in page.text_content("#scoring")
        ticks = page.evaluate(
            "() => [...document.querySelectorAll('#night-figure .xaxislayer-above text')].map(t => t.textContent)"
        )
        assert "00:00" in ticks  # the clock axis is drawn
        page.close()
    finally:
        state.set_lake(demo_lake.root)


@pytest.mark.parametrize("path", ["/", "/weeks", "/data", "/about", "/score"])
def test_every_page_works_on_a_lake_of_real_files(server, browser, real_lake, demo_lake, path):
    from sleepmoves.dashboard import state

    state.set_lake(real_lake.root)
    errors = []
    try:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(server + path)
        page.wait_for_selector(
            {
                "/": "#night-figure .gtitle",
                "/weeks": "#weeks-figure .gtitle",
                "/data": "#manifest td",
                "/about": "h2",
                "/score": "#score-status:has-text('epochs scored')",
            }[path],
            timeout=30000,
        )
        page.wait_for_timeout(1000)
        if path == "/":
            for subject in ("ax3", "link", "actiware"):
                page.click("#subject")
                page.get_by_role("option", name=subject).click()
                _wait_title(page, f"{subject} · night of")
        if path == "/data":
            held = page.text_content("#manifest")
            assert "babyconnect" in held and "cwa" in held
            assert "birth date not given" in held  # the babies table, where an age would stand
        page.close()
    finally:
        state.set_lake(demo_lake.root)
    assert errors == []


def test_login_shows_only_the_users_babies_and_big_files_are_refused_in_the_browser(
    server, browser, demo_lake, tmp_path
):
    """With a users file: the browser must log in, sees only its babies, and CSP lets every page work."""
    from sleepmoves.dashboard import state
    from sleepmoves.dashboard.auth import Users

    own, *others = list(demo_lake.subjects()["subject"])
    users = Users(tmp_path / "users.json")
    users.set("dr-lee", "correct horse battery", [own])
    state.set_users(users)
    state.set_max_upload_bytes(100)
    try:
        import urllib.error
        import urllib.request

        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server + "/", timeout=10)
        assert refused.value.code == 401
        context = browser.new_context(
            http_credentials={"username": "dr-lee", "password": "correct horse battery"}
        )
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(server + "/")
        _wait_title(page, f"{own} · night of")
        assert page.text_content("#whoami") == "signed in as dr-lee"
        page.click("#subject")
        options = [o.strip() for o in page.locator("[role=option]").all_text_contents()]
        assert own in options and not set(others) & set(options)
        page.keyboard.press("Escape")

        page.goto(server + "/data")
        page.wait_for_selector("#upload input[type=file]", state="attached")
        assert "up to 100 bytes" in page.text_content("#upload")
        big = tmp_path / "big.csv"
        big.write_text("time,duration_s,limb,kind\n" + "2026-03-20T21:00:00+01:00,0.3,left_leg,twitch\n" * 10)
        page.set_input_files("#upload input[type=file]", str(big))
        page.wait_for_function(
            "() => document.querySelector('#upload-refused').textContent.includes('files up to')",
            timeout=10000,
        )
        assert f"big.csv is {big.stat().st_size} bytes: files up to 100 bytes" in page.text_content(
            "#upload-refused"
        )
        assert page.text_content("#upload-result") == ""  # nothing was sent to be ingested
        assert errors == []  # no Content-Security-Policy violation, no script error
        context.close()
    finally:
        state.set_users(None)
        state.set_max_upload_bytes(state.DEFAULT_MAX_UPLOAD_MB * 1024 * 1024)


def test_a_first_visit_to_an_empty_lake_says_where_to_start(server, browser, demo_lake, tmp_path):
    """No baby yet: the night page welcomes, says which files work, and gives a sample file that gets in."""
    from sleepmoves.dashboard import state
    from sleepmoves.ingest import ingest_file
    from sleepmoves.lake import Lake
    from sleepmoves.process import process

    empty = Lake(tmp_path / "empty")
    state.set_lake(empty.root)
    try:
        for width, height in ((390, 844), (1280, 900)):
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(server + "/")
            page.wait_for_selector("#welcome", timeout=15000)
            text = page.text_content("#welcome")
            assert "There is no baby here yet" in text and "Baby Connect" in text
            assert page.evaluate("() => document.documentElement.scrollWidth") <= width  # no sideways scroll
            if width == 390:
                page.close()
        with page.expect_download(timeout=30000) as info:
            page.click("#sample-download")
        sample = tmp_path / info.value.suggested_filename
        info.value.save_as(sample)
        page.close()
    finally:
        state.set_lake(demo_lake.root)
    lake = Lake(tmp_path / "tried")
    lake.add_subject("sample", "Europe/London")
    ingest_file(lake, sample, "sample")
    assert (
        len(process(lake)) == 1
        and lake.night_summary("sample", lake.nights("sample")[0])["total_sleep_min"] > 300
    )


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("which", ["demo", "real"])
@pytest.mark.parametrize("path", ["/", "/weeks", "/data", "/about", "/score"])
def test_no_page_scrolls_sideways(server, browser, demo_lake, real_lake, path, which, width):
    """On a phone and on a desktop, on the demo lake and on the lake of real files."""
    from sleepmoves.dashboard import state

    state.set_lake((real_lake if which == "real" else demo_lake).root)
    try:
        page = browser.new_page(viewport={"width": width, "height": 844})
        page.goto(server + path)
        page.wait_for_selector("#_pages_content > *", timeout=15000)
        page.wait_for_timeout(1500)  # the page's first callbacks
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        page.close()
    finally:
        state.set_lake(demo_lake.root)


def _label_boxes(page, layer: str) -> list[dict]:
    """Bounding boxes of the night chart's tick labels of one kind (``xtick`` or ``ytick``: every subplot's)."""
    return page.evaluate(
        """axis => Array.from(document.querySelectorAll('#night-figure text'))
            .filter(t => new RegExp('^' + axis + '[0-9]*tick$').test(t.parentNode.getAttribute('class') || ''))
            .filter(t => t.textContent.trim()).map(t => {
                const b = t.getBoundingClientRect();
                return {text: t.textContent, x: b.x, y: b.y, w: b.width, h: b.height};
            })""",
        layer[0],
    )


def _overlap(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize(
    ("which", "subject"),
    [("demo", None), ("real", "link"), ("real", "ax3"), ("real", "eva")],
    ids=["demo", "real-gt3x", "real-cwa", "real-diary-only"],
)
def test_clock_labels_and_limb_names_are_whole_and_apart(
    server, browser, demo_lake, real_lake, width, which, subject
):
    """Measured, not assumed: on the demo lake and on nights from real files (a GT3X, a CWA and a diary-only
    night), every clock label and every row's name is drawn, inside the page, overlapping no other; the page
    does not scroll sideways and the night's sentence is there."""
    from sleepmoves.dashboard import state

    state.set_lake((real_lake if which == "real" else demo_lake).root)
    try:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(server + "/")
        _wait_title(page, "night of")
        if subject:
            page.click("#subject")
            page.get_by_role("option", name=subject).click()
            _wait_title(page, f"{subject} · night of")
        page.wait_for_timeout(500)
        rows = page.evaluate(
            """() => {
                const l = document.querySelector('#night-figure .js-plotly-plot')._fullLayout;
                return (l.yaxis3 && l.yaxis3.categoryarray) || [];
            }"""
        )
        clock = _label_boxes(page, "xtick")
        named = [b for b in _label_boxes(page, "ytick") if b["text"] in rows]
        assert len({b["text"] for b in clock}) >= 3
        assert rows and {b["text"] for b in named} == set(rows)  # every limb (and the diary) has its name
        for boxes in (clock, named):
            for box in boxes:
                assert box["x"] >= 0 and box["x"] + box["w"] <= width, box
            for i, a in enumerate(boxes):
                for b in boxes[i + 1 :]:
                    assert not _overlap(a, b), (a, b)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        assert len(page.text_content("#night-sentence")) > 40
        if subject == "eva":  # a night known only from the parent's diary
            assert "diary" in rows and "from your diary" in page.text_content("#summary-cards")
        page.close()
    finally:
        state.set_lake(demo_lake.root)


def test_a_night_scored_with_the_keyboard_is_saved_and_still_there_after_a_reload(
    server, browser, demo_lake, tmp_path
):
    from sleepmoves.dashboard import state
    from sleepmoves.labels import night_labels

    shutil.copytree(demo_lake.root, tmp_path / "lake")
    lake_copy = type(demo_lake)(tmp_path / "lake")
    subject = lake_copy.subjects()["subject"].iloc[0]
    night = lake_copy.nights(subject)[-1]
    grid = lake_copy.phases(subject, night)["epoch_start"]
    state.set_lake(lake_copy.root)
    errors = []
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{server}/score?subject={subject}&night={night}")
        page.wait_for_selector("#score-status:has-text('0 of')", timeout=20000)
        assert "not scored" in page.text_content("#score-status")  # the model's phase is not taken as a label
        page.fill("#score-scorer", "dr-keys")
        page.press("#score-scorer", "Enter")
        page.locator("#score-status").click()  # out of the name box: keys now score
        for key in ("q", "q", "a", "ArrowLeft", "w", "t"):
            page.keyboard.press(key)
        page.wait_for_selector("#score-status:has-text('4 of')", timeout=20000)
        page.wait_for_timeout(1500)  # every key answered
        expected = ["quiet", "quiet", "awake", "transition"]  # the arrow went back to the third epoch
        saved = night_labels(lake_copy, subject, night, scorer="dr-keys")
        assert saved["phase"].tolist() == expected
        assert saved["epoch_start"].tolist() == grid.iloc[:4].tolist()
        assert saved["model_version"].str.startswith("phase-hgb-").all()

        page.reload()  # the name is remembered on this computer; the labels come back from the lake
        page.wait_for_selector("#score-status:has-text('4 of')", timeout=20000)
        status = page.text_content("#score-status")
        assert "yours: not scored" in status  # the cursor opens on the first epoch not scored yet
        # the scorer's four epochs drawn in full colour (the model's are faint)
        page.wait_for_function(
            """() => { const gd = document.querySelector('#score-figure .js-plotly-plot');
                  return gd && gd._fullData && gd._fullData.filter(t => t.type === 'bar' && t.opacity === 1)
                      .reduce((s, t) => s + t._length, 0) === 4; }""",
            timeout=20000,
        )

        # a click on the night's overview strip moves the cursor there
        before = page.text_content("#score-status")
        box = page.locator("#score-overview .nsewdrag").bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.5)
        page.wait_for_function(
            "t => document.querySelector('#score-status').textContent.split(' · ')[0] !== t",
            arg=before.split(" · ")[0],
            timeout=20000,
        )

        # the About page puts the scorer's agreement with the model beside the model's own evaluation
        page.goto(f"{server}/about")
        page.wait_for_selector("#about-model-agreement", timeout=20000)
        row = page.text_content("#about-model-agreement tbody tr")
        assert "dr-keys" in row and "phase-hgb-" in row
        page.close()
    finally:
        state.set_lake(demo_lake.root)
    assert errors == []
