"""Bad rows of an input file: where each is, why it is bad, and the error that lists them."""

from __future__ import annotations

from dataclasses import dataclass

from ..schema import SleepmovesError

MAX_ERRORS_SHOWN = 20
MAX_ERRORS_KEPT = 1000  # a file of a million bad rows is reported by its first thousand and its count


@dataclass(frozen=True)
class RowError:
    """One problem in an input file, located as precisely as the format allows."""

    path: str
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}"
        return f"{where}: column {self.column}: {self.reason}" if self.column else f"{where}: {self.reason}"


class BadInputError(SleepmovesError):
    """A file with bad rows; ``errors`` lists them (the first :data:`MAX_ERRORS_KEPT`), ``count`` counts all."""

    def __init__(self, path: str, errors: list[RowError], good_rows: int = 0, count: int | None = None):
        self.path = path
        self.errors = errors
        self.good_rows = good_rows
        self.count = len(errors) if count is None else count
        super().__init__(format_errors(path, errors, self.count))


def format_errors(path: str, errors: list[RowError], count: int | None = None) -> str:
    """A readable report: one line per error (the first 20), then a count of the rest."""
    total = len(errors) if count is None else count
    lines = [f"{path}: {total} problem{'s' if total != 1 else ''}; nothing was written"]
    lines += [f"  {e}" for e in errors[:MAX_ERRORS_SHOWN]]
    if total > MAX_ERRORS_SHOWN:
        lines.append(f"  ... and {total - MAX_ERRORS_SHOWN} more")
    return "\n".join(lines)


def not_utf8(path: str, data: bytes, position: int, line: int, offset: int) -> BadInputError:
    """The error for a byte that is not UTF-8 (``data[position]``, at ``offset`` in the file, on ``line``)."""
    reason = f"not UTF-8 text (byte 0x{data[position]:02x} at offset {offset}); save the file as UTF-8"
    return BadInputError(path, [RowError(path, line, "", reason)])


def decode(data: bytes, path: str) -> str:
    """Decode UTF-8 (with or without BOM); a clear error naming the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        at = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)  # utf-8-sig counts after its BOM
        raise not_utf8(path, data, at, data[:at].count(b"\n") + 1, at) from None


SEMICOLONS = (
    "values are separated by semicolons (a spreadsheet saved with a European list separator): save it as CSV "
    "with commas (LibreOffice: Save As, Text CSV, field delimiter ','; Excel: Save As, CSV UTF-8, with ',' as "
    "the list separator), and write decimals with a point"
)


def semicolon_separated(first_line: str) -> bool:
    """Whether a CSV's header uses semicolons where a comma is expected (``time;kind;limb``)."""
    return first_line.count(";") >= 1 and "," not in first_line and "\t" not in first_line
