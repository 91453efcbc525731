"""Fixtures of the reliability suite (the optimizer's fast scoring settings are reused)."""

from tests.optimizer.conftest import scoring_settings  # noqa: F401
