"""The sleepmoves Dash dashboard: reads the lake only through :mod:`pipeline.lake`."""
