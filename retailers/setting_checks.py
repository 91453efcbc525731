"""Checks of retailer settings whose rules a higher app owns: a registry filled in ``ready``.

A retailer's allocation rules (``Retailer.allocation_rules``) are parsed by the optimizer's
engine (``optimizer.engine.coupling_rules``), but ``retailers`` sits below ``optimizer`` in the
layers contract (pyproject.toml) and never imports it. The optimizer registers its parser here
in its ``AppConfig.ready``; ``Retailer.clean`` (the admin, ``full_clean``) runs every check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: ``check(value)`` raises ``ValueError`` with the message to show under the field.
SettingCheck = Callable[[Any], object]

_CHECKS: dict[str, SettingCheck] = {}


def retailer_setting_check_register(*, field: str, check: SettingCheck) -> None:
    """Check ``field`` of every retailer with ``check`` when the retailer is cleaned."""
    _CHECKS[field] = check


def retailer_setting_errors(values: dict[str, Any]) -> dict[str, str]:
    """Field -> message of every registered check that refuses its value in ``values``."""
    errors: dict[str, str] = {}
    for field, check in _CHECKS.items():
        if field not in values:
            continue
        try:
            check(values[field])
        except ValueError as exc:
            errors[field] = str(exc)
    return errors
