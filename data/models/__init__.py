"""The shipped phase model and its card, as package data of sleepmoves (read with importlib.resources)."""
