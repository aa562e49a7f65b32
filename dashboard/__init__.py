"""The sleepmoves Dash dashboard (``sleepmoves.dashboard``): reads the lake only through :mod:`sleepmoves.lake`."""

if __name__ != "sleepmoves.dashboard":  # pragma: no cover - a second copy of every module under another name
    raise ImportError(
        f"this folder is sleepmoves.dashboard; import it as sleepmoves.dashboard, not {__name__}"
    )
