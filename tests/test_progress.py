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
