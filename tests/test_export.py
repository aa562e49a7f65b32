"""PNG export through kaleido and Debian's Chromium (nothing downloaded)."""

import shutil

import numpy as np
import pytest
from PIL import Image

from dashboard.export import export_night_png
from pipeline.schema import SleepmovesError

pytestmark = pytest.mark.skipif(not shutil.which("chromium"), reason="Debian chromium is not installed")


def test_night_png_is_a_legible_page(demo_lake, tmp_path):
    subject = demo_lake.subjects()["subject"].iloc[0]
    night = demo_lake.latest_night(subject)
    out = export_night_png(demo_lake, subject, night, tmp_path / "night.png")
    image = Image.open(out)
    assert image.format == "PNG" and image.size == (1200, 900)
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
