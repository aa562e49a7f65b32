"""PNG downloads from the pages: rendered on the server by kaleido, one at a time, with a timeout."""

from __future__ import annotations

import concurrent.futures
import threading

from dash import dcc

from pipeline.schema import SleepmovesError

RENDER_TIMEOUT_S = 60
_lock = threading.Lock()  # kaleido mixes up images rendered concurrently (stack.md): one at a time
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)


def png_bytes(fig, width: int, height: int) -> bytes:
    """The figure as PNG; a clear error instead of a hang if the browser does not answer."""
    with _lock:
        future = _pool.submit(fig.to_image, format="png", width=width, height=height, scale=1)
        try:
            return future.result(timeout=RENDER_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            raise SleepmovesError(f"PNG rendering took longer than {RENDER_TIMEOUT_S} s") from None


def send_png(fig, width: int, height: int, filename: str) -> dict:
    return dcc.send_bytes(png_bytes(fig, width, height), filename)
