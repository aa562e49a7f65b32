import io

from sleepmoves.progress import progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_bar_is_drawn_on_a_terminal():
    out = Terminal()
    assert list(progress(range(4), 4, "detecting movements", stream=out)) == [0, 1, 2, 3]
    text = out.getvalue()
    assert text.count("\r") == 4 and "detecting movements [" in text and "4/4" in text and text.endswith("\n")


def test_silent_when_not_a_terminal():
    out = io.StringIO()
    assert list(progress(range(4), 4, "x", stream=out)) == [0, 1, 2, 3]
    assert out.getvalue() == ""


def test_a_video_s_analysis_shows_hours_on_a_terminal_and_nothing_elsewhere():
    from sleepmoves.progress import progress_hours

    out = Terminal()
    report = progress_hours("analysing night.mp4", stream=out)
    for done in (0, 3.2 * 3600, 12 * 3600):
        report(done, 12 * 3600)
    text = out.getvalue()
    last = text.rstrip("\n").split("\r")[-1]
    assert "3.2 of 12.0 h" in text and "#" * 30 + "] 12.0 of 12.0 h" in last
    assert text.count("\n") == 1  # the line ends once, when all is done
    quiet = io.StringIO()
    progress_hours("x", stream=quiet)(1, 2)
    assert quiet.getvalue() == ""
