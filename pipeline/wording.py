"""Counts in words, for every message a user reads (the CLI, ingest notes, the dashboard)."""


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``1 night``, ``3 nights``, ``2 entries`` (give ``plural`` where adding an s is wrong)."""
    return f"{n:,} {singular if n == 1 else plural or singular + 's'}"
