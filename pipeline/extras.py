"""Optional parts of sleepmoves and the one line that says how to add them.

The core install has what a parent needs (``demo``, ``serve``, ``export``, ``report``); parallel processing with
Dask is the ``distributed`` extra, and the tests' tools the ``test`` extra.
"""

from __future__ import annotations

import importlib

from .schema import SleepmovesError


def need(module: str, extra: str, for_what: str, *names: str):
    """Import ``module`` (and return its ``names``), or raise a one-line :class:`SleepmovesError` naming the
    ``pip install`` that adds it.

    Examples
    --------
    >>> need("json", "none", "reading JSON", "loads")[0]('{"a": 1}')
    {'a': 1}
    >>> need("no_such_module", "distributed", "processing nights in parallel")
    Traceback (most recent call last):
    ...
    sleepmoves.schema.SleepmovesError: processing nights in parallel needs the 'distributed' extra: pip install 'sleepmoves[distributed]'
    """
    try:
        loaded = importlib.import_module(module)
    except ImportError:
        raise SleepmovesError(
            f"{for_what} needs the {extra!r} extra: pip install 'sleepmoves[{extra}]'"
        ) from None
    if not names:
        return loaded
    return tuple(getattr(loaded, n) for n in names)
