"""sleepmoves as a package: one import name, a documented flat API whose examples run, optional extras that say
how to add them, and a wheel that works in a fresh environment outside the repository."""

from __future__ import annotations

import doctest
import inspect
import os
import re
import subprocess
import sys
import venv
import warnings
from pathlib import Path

import pytest

import sleepmoves
from tests.conftest import ROOT, SHARED_DATA

# result types and the error: documented, but a value, not something to call
RESULT_TYPES = {"FileTables", "NightLabels", "SleepmovesError"}


def _public():
    return [name for name in sleepmoves.__all__ if name != "__version__"]


@pytest.mark.parametrize("name", _public())
def test_every_public_name_is_documented_and_its_examples_run(name):
    obj = getattr(sleepmoves, name)
    doc = inspect.getdoc(obj) or ""
    assert len(doc.splitlines()) >= 3, f"sleepmoves.{name} has no real docstring"
    if name in RESULT_TYPES:
        return
    assert "Parameters\n----------" in doc or inspect.isclass(obj), (
        f"sleepmoves.{name}: no Parameters section"
    )
    assert "Examples\n--------" in doc and ">>>" in doc, f"sleepmoves.{name}: no example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder(recurse=False).find(obj, f"sleepmoves.{name}", globs={}):
        runner.run(test)
    assert runner.failures == 0 and runner.tries > 0, (
        f"sleepmoves.{name}: {runner.failures} example(s) failed"
    )


def test_public_functions_take_their_options_by_keyword():
    """Beyond the data they work on, every option is named: nothing like label_night's 8 positional arguments."""
    for name in _public():
        obj = getattr(sleepmoves, name)
        if inspect.isclass(obj):
            continue
        positional = [
            p
            for p in inspect.signature(obj).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        assert len(positional) <= 3, f"sleepmoves.{name} takes {len(positional)} positional arguments"


def test_the_flat_api_is_the_modules_own_objects():
    from sleepmoves.lake import Lake
    from sleepmoves.process import process

    assert sleepmoves.Lake is Lake and sleepmoves.process_lake is process
    assert set(_public()) <= set(dir(sleepmoves))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        sleepmoves.nothing  # noqa: B018


def test_the_folders_cannot_be_imported_under_their_folder_names():
    """``pipeline`` and ``dashboard`` are the repository's folders, not import names: importing them by folder
    name (from the repository root) would make a second copy of every module, so it is refused, naming the
    right name."""
    for folder, name in (("pipeline", "sleepmoves"), ("dashboard", "sleepmoves.dashboard")):
        done = subprocess.run(
            [sys.executable, "-c", f"import {folder}"], cwd=ROOT, capture_output=True, text=True
        )
        assert done.returncode != 0 and f"import it as {name}, not {folder}" in done.stderr, done.stderr


def test_sleepmoves_imports_beside_a_pipeline_py_and_a_dashboard_py(tmp_path):
    """A notebook's folder with its own pipeline.py and dashboard.py does not hide sleepmoves (nor it them)."""
    (tmp_path / "pipeline.py").write_text("MINE = 'pipeline'\n")
    (tmp_path / "dashboard.py").write_text("MINE = 'dashboard'\n")
    code = (
        "import pipeline, dashboard, sleepmoves; print(sleepmoves.__version__, pipeline.MINE, dashboard.MINE)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [sleepmoves.__version__, "pipeline", "dashboard"]


def test_a_missing_extra_names_the_pip_install_in_one_line(tmp_path):
    """Without Dask, `process --workers 2` says which extra to install (one line, exit 1), not a traceback."""
    script = (
        "import sys; sys.modules['dask'] = None; sys.modules['dask.distributed'] = None\n"
        "from sleepmoves.cli import main\n"
        f"sys.exit(main(['process', '--lake', {str(tmp_path / 'lake')!r}, '--workers', '2']))\n"
    )
    lake = sleepmoves.Lake(tmp_path / "lake")
    lake.add_subject("ada", "UTC", born="2026-01-01")
    log = tmp_path / "ada.csv"
    log.write_text("time,kind,limb\n2026-03-02T21:00:00+00:00,twitch,left_leg\n")
    sleepmoves.ingest_file(lake, log, "ada")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [
        "sleepmoves: processing nights in parallel needs the 'distributed' extra: "
        "pip install 'sleepmoves[distributed]'"
    ]


def test_sleep_statistics_match_yasa():
    """The hypnogram statistics use YASA's definitions: the same figures as yasa.sleep_statistics, no data
    counted as YASA's unscored epochs, latencies from the start, and a hypnogram without sleep."""
    yasa = pytest.importorskip("yasa")
    import numpy as np

    rng = np.random.default_rng(3)
    words = ["awake", "transition", "quiet", "active", "no_data"]
    middle = list(rng.choice(words, 900, p=[0.08, 0.07, 0.48, 0.33, 0.04]))
    code = {"no_data": -2, "awake": 0, "transition": 1, "quiet": 2, "active": 4}  # active sleep is REM-like
    for night in (
        ["no_data"] * 8 + ["awake"] * 30 + middle + ["awake"] * 25,
        ["awake"] * 20 + ["no_data"] * 4,
    ):
        ours = sleepmoves.sleep_statistics(night)
        with warnings.catch_warnings():  # yasa deprecates the function for a method; the figures are the same
            warnings.simplefilter("ignore", FutureWarning)
            theirs = yasa.sleep_statistics(np.array([code[w] for w in night]), sf_hyp=1 / 30)
        pairs = {k: k for k in ("TIB", "SPT", "WASO", "TST", "SE", "SME", "SOL")}
        pairs |= {"active": "REM", "quiet": "N2", "transition": "N1", "%active": "%REM", "%quiet": "%N2"}
        pairs |= {"Lat_active": "Lat_REM", "Lat_quiet": "Lat_N2", "Lat_transition": "Lat_N1"}
        for mine, yours in pairs.items():
            assert ours[mine] == pytest.approx(theirs[yours], abs=0.01, nan_ok=True), mine


def test_sleep_statistics_of_labelled_phases_keep_their_gaps():
    """A night's phases hold only epochs with data: a gap in the recording stays a gap (no data), not closed up."""
    import pandas as pd

    start = pd.Timestamp("2026-03-02T20:00Z")
    words = ["awake"] * 10 + ["quiet"] * 100 + ["no_data"] * 240 + ["quiet"] * 100 + ["awake"] * 10
    frame = pd.DataFrame(
        {"epoch_start": start + pd.to_timedelta(range(0, 30 * len(words), 30), unit="s"), "phase": words}
    )
    held = frame[frame["phase"] != "no_data"]  # as label_night gives them
    assert sleepmoves.sleep_statistics(held) == pytest.approx(sleepmoves.sleep_statistics(words), nan_ok=True)
    assert sleepmoves.sleep_statistics(held)["SPT"] == 220.0  # 100 + 240 + 100 epochs


# ---------------------------------------------------------------------------------------------- the wheel
def _readme_script() -> str:
    """The Python code block of the README's "Use it from Python" section, as a reader would copy it."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Use it from Python", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def _run(args, cwd, env=None, timeout=900) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{' '.join(map(str, args))}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _tracked_copy(target: Path) -> Path:
    """The repository's tracked files copied to ``target`` (building there leaves the checkout as it was)."""
    import shutil

    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    names = [n for n in listed.stdout.decode().split("\0") if n] if listed.returncode == 0 else []
    if not names:  # not a git checkout: everything but what builds and runs leave behind
        ignore = shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "lake", "demo", "__pycache__")
        return Path(shutil.copytree(ROOT, target, ignore=ignore))
    for name in names:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)
    return target


@pytest.mark.slow
def test_the_wheel_works_in_a_fresh_environment_outside_the_checkout(tmp_path):
    """Build the sdist and the wheel, install the wheel into a new virtual environment (no editable install, no
    repository on sys.path), and there: import it beside a pipeline.py and a dashboard.py, run the demo, ingest
    and label a real device file, export a PNG, run the README's script and every docstring example."""
    dist = tmp_path / "dist"
    source = _tracked_copy(tmp_path / "source")
    _run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", dist, source], cwd=tmp_path)
    (wheel,) = dist.glob("sleepmoves-*.whl")
    (sdist,) = dist.glob("sleepmoves-*.tar.gz")
    assert wheel.name.startswith(f"sleepmoves-{sleepmoves.__version__}-")
    import tarfile
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "sleepmoves/models/phase_model.skops" in names and "sleepmoves/dashboard/assets/style.css" in names
    assert "sleepmoves/models/evaluation/summary.csv" in names  # the About page's model figures
    assert not any(n.startswith(("pipeline/", "dashboard/", "tests/")) for n in names)
    assert any(n.endswith("data/models/phase_model.skops") for n in tarfile.open(sdist).getnames())

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    pip = [bin_dir / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run([*pip, "-c", ROOT / "constraints.txt", wheel, "pytest"], cwd=tmp_path, env=env)

    work = tmp_path / "notebook"  # a folder of one's own, with modules named like the repository's folders
    work.mkdir()
    (work / "pipeline.py").write_text("MINE = True\n")
    (work / "dashboard.py").write_text("MINE = True\n")
    python = bin_dir / "python"
    where = _run(
        [python, "-c", "import sleepmoves; print(sleepmoves.__version__, sleepmoves.__file__)"], work, env
    )
    version, location = where.split()
    assert version == sleepmoves.__version__ and location.startswith(str(env_dir)), where
    assert str(ROOT) not in _run([python, "-c", "import sys; print(sys.path)"], work, env)

    sleepmoves_cli = bin_dir / "sleepmoves"
    demo = _run(
        [sleepmoves_cli, "demo", "--no-serve", "--babies", "1", "--weeks", "1", "--lake", "demo-lake",
         "--input", "demo-in"],
        work,
        env,
    )  # fmt: skip
    assert "7 nights processed" in demo

    # a real device file when ../shared is here (a raw GT3X: read and detected by the core install), else the demo
    real = SHARED_DATA / "raw" / "actigraph_testfile.gt3x"
    lake, subject = (work / "lake", "gus") if real.exists() else (work / "demo-lake", "ada")
    if real.exists():
        _run([sleepmoves_cli, "subject", "add", "gus", "--tz", "UTC", "--lake", lake], work, env)
        _run([sleepmoves_cli, "ingest", real, "--subject", "gus", "--lake", lake], work, env)
    night = _run(
        [python, "-c", f"import sleepmoves; print(sleepmoves.Lake({str(lake)!r}).nights({subject!r})[0])"],
        work,
        env,
    ).strip()
    png = work / "night.png"
    _run(
        [sleepmoves_cli, "export", "--subject", subject, "--night", night, "--out", png, "--lake", lake],
        work,
        env,
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    (work / "use_from_python.py").write_text(_readme_script())
    said = _run([python, "use_from_python.py"], work, env)
    assert "TST" in said and "total_sleep_min" in said

    # every docstring example of the installed package (the pages register only inside an app: not imported)
    pages = _run(
        [python, "-c", "import sleepmoves.dashboard as d, os; print(os.path.dirname(d.__file__))"], work, env
    )
    examples = _run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:dash", "--doctest-modules", "--pyargs",
         "sleepmoves", f"--ignore={pages.strip()}/pages"],
        work,
        env,
    )  # fmt: skip
    assert int(re.search(r"(\d+) passed", examples).group(1)) >= len(_public()), examples


def test_a_video_without_the_video_extra_says_which_pip_install(tmp_path):
    script = (
        "import sys; sys.modules['av'] = None\n"
        "from sleepmoves.ingest.video import probe\n"
        f"probe({str(tmp_path / 'night.mp4')!r}, tz='UTC')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode != 0
    assert "reading video needs the 'video' extra: pip install 'sleepmoves[video]'" in done.stderr
