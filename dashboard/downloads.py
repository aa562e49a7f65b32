"""PNG rendering for pages and exports: kaleido with Debian's Chromium, one image at a time, with a timeout.

The dashboard keeps one kaleido browser running (``persistent=True``): the first image costs a browser start,
the next ones ~0.1-0.7 s. Calls are serialised because kaleido's server mixes up concurrent images (stack.md).
"""

from __future__ import annotations

import concurrent.futures
import threading
import warnings

from dash import dcc

from sleepmoves.schema import SleepmovesError

RENDER_TIMEOUT_S = 60
_lock = threading.Lock()
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="kaleido")
_server_started = False


def _render(fig, width: int, height: int, persistent: bool, fmt: str) -> bytes:
    global _server_started
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*kopts.*")
        if persistent and not _server_started:
            import kaleido

            kaleido.start_sync_server(n=1, timeout=RENDER_TIMEOUT_S, silence_warnings=True)
            _server_started = True
        return fig.to_image(format=fmt, width=width, height=height, scale=1)


def png_bytes(fig, width: int, height: int, persistent: bool = False, fmt: str = "png") -> bytes:
    """The figure as PNG (or ``fmt``: ``pdf`` for a report's pages); a clear error instead of a hang if the
    browser does not answer."""
    with _lock:
        future = _pool.submit(_render, fig, width, height, persistent, fmt)
        try:
            return future.result(timeout=RENDER_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            raise SleepmovesError(f"PNG rendering took longer than {RENDER_TIMEOUT_S} s") from None


def send_png(fig, width: int, height: int, filename: str) -> dict:
    """A dcc.Download payload rendered by the persistent browser."""
    return dcc.send_bytes(png_bytes(fig, width, height, persistent=True), filename)
