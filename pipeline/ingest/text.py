"""Text files read a block at a time: the lines of a UTF-8 file (plain or gzip) without holding it whole.

A 60 MB log held as bytes, then as text, then as rows cost ten times the file; read here, the text in memory is
one block (1 MB) plus the line being read.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path

from ..schema import SleepmovesError
from .errors import not_utf8
from .limits import DEFAULT_LIMITS, Limits

BLOCK = 1 << 20
BOM = b"\xef\xbb\xbf"


def text_lines(
    source: bytes | Path, path: str, limits: Limits = DEFAULT_LIMITS, block: int = BLOCK
) -> Iterator[str]:
    """The lines of a UTF-8 text file, with their endings ("\\n", "\\r\\n" or a lone "\\r"), one at a time.

    Parameters
    ----------
    source : bytes or Path
        The file's bytes, or its path (then read as it goes). Gzip is decompressed as it goes.
    path : str
        Names the file in errors.
    limits : Limits
        A file decompressing past ``max_bytes``, or of more than ``max_rows`` lines (the header aside), is refused
        when the reading gets there.

    Raises
    ------
    BadInputError
        Bytes that are not UTF-8, naming their line and offset.
    SleepmovesError
        A damaged gzip stream; a limit exceeded.
    """
    raw = open(source, "rb") if isinstance(source, Path) else io.BytesIO(source)  # noqa: SIM115 - closed below
    try:
        compressed = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if compressed else raw
        carry, offset, lines_before, first = b"", 0, 0, True
        while True:
            try:
                data = stream.read(block)
            except (OSError, EOFError, zlib.error) as exc:
                raise SleepmovesError(f"{path}: damaged gzip file ({exc})") from None
            ended = not data
            data = carry + data
            if first:  # a BOM can only start the file
                if len(data) < len(BOM) and not ended:
                    carry = data
                    continue
                if data.startswith(BOM):
                    data, offset = data[len(BOM) :], len(BOM)
                first = False
            if ended:
                piece, carry = data, b""
            else:
                cut = data.rfind(b"\n")
                if cut < 0:  # a lone "\r" ends a line too (old Mac files), unless a "\n" may follow it
                    cut = data.rfind(b"\r", 0, len(data) - 1)
                piece, carry = data[: cut + 1], data[cut + 1 :]
            limits.check_size(path, offset + len(piece) + len(carry), "decompressed, the file is over")
            try:
                text = piece.decode("utf-8")  # a piece ends at a line end: never inside a character
            except UnicodeDecodeError as exc:
                line = lines_before + _line_count(piece[: exc.start]) + 1
                raise not_utf8(path, piece, exc.start, line, offset + exc.start) from None
            offset += len(piece)
            lines_before += _line_count(piece)
            limits.check_rows(path, lines_before - 1)  # one row a line, the header aside
            yield from split_lines(text)
            if ended:
                return
    finally:
        raw.close()


def _line_count(data: bytes) -> int:
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def split_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their endings, one at a time ("\\n", "\\r\\n" or a lone "\\r")."""
    position, size = 0, len(text)
    while position < size:
        end = text.find("\n", position)
        cut = text.find("\r", position, end if end >= 0 else size)
        if cut >= 0 and (end < 0 or cut + 1 < end):  # a lone "\r" ends the line (old Mac files)
            end = cut
        stop = size if end < 0 else end + 1
        yield text[position:stop]
        position = stop
