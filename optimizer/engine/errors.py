"""The engine's input error, in a module of its own so that code needing only the error (the
settings parsed by the models at Django's start-up) does not import numpy and pandas with it."""

from __future__ import annotations


class EngineInputError(ValueError):
    """An input frame misses a required column or has values the engine cannot interpret."""
