"""The visit report: pages that stand alone, as a PDF of one page each or one PNG, naming no one when asked."""

import io

import pytest
from PIL import Image
from pypdf import PdfReader

from sleepmoves.dashboard.export import PAGE
from sleepmoves.dashboard.report import export_report
from sleepmoves.schema import SleepmovesError


@pytest.fixture(scope="module")
def named(demo_lake, tmp_path_factory):
    import shutil

    from sleepmoves.lake import Lake

    root = tmp_path_factory.mktemp("report") / "lake"
    shutil.copytree(demo_lake.root, root)
    lake = Lake(root)
    row = lake.subjects().iloc[0]
    lake.add_subject(row["subject"], row["tz"], label="Zebedee Quill", born=str(row["born"]))
    return lake, row["subject"]


def test_the_pdf_has_a_page_each_and_stands_alone(named, tmp_path):
    lake, subject = named
    nights = lake.nights(subject)
    out = export_report(lake, subject, nights[0], nights[-1], tmp_path / "visit.pdf")
    pages = PdfReader(out).pages
    assert len(pages) >= 3
    text = " ".join(p.extract_text() for p in pages)
    assert "Visit report · Zebedee Quill" in text and "old" in text  # who, and her age
    assert f"nights {nights[0]} to {nights[-1]}" in text and "Review flags" in text
    assert "never a diagnosis" in text and "sleepmoves 0." in text and "Made 20" in text
    for night in nights:
        assert night in text  # every night has its row


def test_the_anonymous_png_names_no_one(named, tmp_path):
    lake, subject = named
    nights = lake.nights(subject)
    out = export_report(lake, subject, nights[0], nights[-1], tmp_path / "visit.png", anonymise=True)
    image = Image.open(out)
    assert image.width == PAGE[0] and image.height > 2 * PAGE[1]  # the pages one under the other
    pdf = export_report(lake, subject, nights[0], nights[-1], tmp_path / "visit.pdf", anonymise=True)
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    assert "Baby A" in text and "Zebedee" not in text and f" {subject} " not in text


def test_a_report_of_no_nights_or_of_another_format_is_a_clear_error(named, tmp_path):
    lake, subject = named
    with pytest.raises(SleepmovesError, match="written as .pdf or .png"):
        export_report(lake, subject, "2026-03-01", "2026-03-08", tmp_path / "visit.docx")
    with pytest.raises(SleepmovesError, match="no processed night"):
        export_report(lake, subject, "2020-01-01", "2020-01-31", tmp_path / "visit.pdf")
    assert list(tmp_path.iterdir()) == []  # nothing half-written
