"""Where the dashboard keeps an upload while it is ingested: in the lake (same disk, owner-only), cleared when the
server starts (a killed server's half-received uploads were never stored, so nothing there is kept)."""

from __future__ import annotations

import shutil
from pathlib import Path

UPLOADS = ".uploads"


def uploads_folder(root: Path) -> Path:
    folder = Path(root) / UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def clear_uploads(root: Path) -> None:
    """Remove what a killed server left of the uploads it was receiving (call before serving)."""
    shutil.rmtree(Path(root) / UPLOADS, ignore_errors=True)
