"""sleepmoves: an infant's night from movement data -- read files, detect movements, label 30-s epochs
awake / active / quiet / transition, summarise nights, keep them in a lake.

The functions a notebook needs are here, at the top (YASA-style flat API); each module holds one stage:

==========================  =====================================================================
reading files               :func:`read_file` (any supported file -> tables, nothing stored)
movement events             :func:`detect_events` (raw acceleration in g -> twitches, kicks, ...)
sleep/wake from counts      :func:`sadeh`, :func:`cole_kripke`, :func:`webster`, :func:`actiware`
epochs and phases           :func:`epoch_features`, :class:`PhaseModel`, :func:`load_model`,
                            :func:`label_night`
a night in numbers          :func:`night_metrics`, :func:`sleep_statistics`
the lake                    :class:`Lake`, :func:`ingest_file`, :func:`process_lake`
==========================  =====================================================================

Examples
--------
>>> import sleepmoves
>>> sleepmoves.__version__ != ""
True

Importing ``sleepmoves`` is light: each name above is imported from its module on first use (PEP 562), so
the command line starts quickly and chooses Arrow's memory pool before pyarrow loads.
"""

from __future__ import annotations

import importlib

if __name__ != "sleepmoves":  # pragma: no cover - a second copy of every module under another name
    raise ImportError(
        f"this folder is the sleepmoves package; import it as sleepmoves, not {__name__} "
        "(in the repository: pip install -e .)"
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sleepmoves")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


__version__ = _version()

# public name -> the module that defines it
_PUBLIC = {
    "read_file": "ingest",
    "FileTables": "ingest",
    "detect_events": "detect",
    "sadeh": "sleepwake",
    "cole_kripke": "sleepwake",
    "webster": "sleepwake",
    "actiware": "sleepwake",
    "epoch_features": "epochs",
    "PhaseModel": "model",
    "load_model": "model",
    "label_night": "process",
    "NightLabels": "process",
    "night_metrics": "summarize",
    "sleep_statistics": "summarize",
    "Lake": "lake",
    "ingest_file": "ingest",
    "process_lake": "process",
    "SleepmovesError": "schema",
}
# exported under another name: the module sleepmoves.process would hide a function of the same name
_RENAMED = {"process_lake": "process"}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name in _PUBLIC:
        module = importlib.import_module(f".{_PUBLIC[name]}", __name__)
        value = getattr(module, _RENAMED.get(name, name))
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sleepmoves' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
