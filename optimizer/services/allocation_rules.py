"""A run's coupling rules and gap tolerance: the retailer's defaults, checks and engine rows.

The glue between :class:`~optimizer.engine.coupling_rules.CouplingRule` (what a retailer or an
analyst sets) and the engine's :class:`~optimizer.engine.allocation.CouplingConstraint`, plus
the per-rule report the campaign page shows (usage against the limit, binding or not).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from optimizer.engine.allocation import AllocationResult, CouplingConstraint
from optimizer.engine.coupling_rules import (
    DEFAULT_GAP_TOLERANCE,
    CouplingRule,
    coupling_rules_parse,
)
from optimizer.engine.settings import AllocationSettings
from optimizer.exceptions import AllocationSettingsInvalid
from optimizer.frames.customer_attributes import customer_attributes_add
from optimizer.models import AllocationRun
from retailers.models import Retailer, Store


def settings_with_retailer_defaults(
    settings: AllocationSettings, retailer: Retailer
) -> AllocationSettings:
    """``settings`` with the retailer's rules and gap tolerance where they are ``None``, so the
    run records what it is solved with (a later change of the retailer's defaults leaves it).

    Raises:
        AllocationSettingsInvalid: the retailer's stored rules no longer parse.
    """
    changes: dict[str, Any] = {}
    if settings.coupling is None:
        try:
            changes["coupling"] = coupling_rules_parse(retailer.allocation_rules or [])
        except ValueError as exc:
            raise AllocationSettingsInvalid(
                f"The retailer's allocation rules: {exc}", field="coupling"
            ) from exc
    if settings.gap_tolerance is None:
        changes["gap_tolerance"] = retailer.gap_tolerance or DEFAULT_GAP_TOLERANCE
    return settings.replace(**changes) if changes else settings


def rules_check(retailer: Retailer, rules: tuple[CouplingRule, ...], active: set[str]) -> None:
    """The checks that need the database: bonus types active, stores the retailer's.

    Raises:
        AllocationSettingsInvalid: naming the rule.
    """
    stores = {r.value for r in rules if r.attribute == "store"}
    known = set(
        Store.objects.for_retailer(retailer)
        .filter(external_id__in=stores)
        .values_list("external_id", flat=True)
    )
    for i, rule in enumerate(rules):
        missing = sorted(set(rule.bonus_types) - active)
        if missing:
            raise AllocationSettingsInvalid(
                f"Rule {rule.name!r}: {', '.join(missing)} is not an active bonus type.",
                field=f"coupling[{i}].bonus_types",
            )
        if rule.attribute == "store" and rule.value not in known:
            raise AllocationSettingsInvalid(
                f"Rule {rule.name!r}: {retailer} has no store {rule.value!r}.",
                field=f"coupling[{i}].value",
            )


def gap_tolerance_of(run: AllocationRun) -> float:
    """The run's tolerance (runs made before it was recorded: the retailer's)."""
    tolerance = run.settings.gap_tolerance
    return float(tolerance if tolerance is not None else run.retailer.gap_tolerance)


def rules_of(run: AllocationRun) -> tuple[CouplingRule, ...]:
    """The run's rules (runs made before they were recorded: none; they had no rule)."""
    return run.settings.coupling or ()


def coupling_inputs(
    run: AllocationRun, customers: pd.DataFrame
) -> tuple[pd.DataFrame, tuple[CouplingConstraint, ...]]:
    """``customers`` with the attribute columns the run's rules use, and the engine's rows."""
    rules = rules_of(run)
    if not rules:
        return customers, ()
    customers = customer_attributes_add(run, customers, {r.attribute for r in rules})
    return customers, tuple(
        CouplingConstraint(
            name=rule.name,
            sense=rule.engine_sense,
            limit=float(rule.limit),
            customer_attribute=rule.attribute,
            customer_value=rule.value,
            bonus_attribute="bonus_type" if rule.bonus_types else None,
            bonus_values=rule.bonus_types,
            weight=rule.measure,
        )
        for rule in rules
    )


def coupling_report(
    rules: tuple[CouplingRule, ...], result: AllocationResult
) -> list[dict[str, Any]]:
    """Per rule, what the campaign page shows: the rule, its usage and whether it binds."""
    reports = {c.name: c for c in result.constraints}
    out = []
    for rule in rules:
        report = reports.get(rule.name)
        out.append(
            {
                **rule.to_json(),
                "description": rule.describe(),
                "used": None if report is None else round(report.used, 2),
                "slack": None if report is None else round(report.slack, 2),
                "binding": bool(report is not None and report.binding),
                "shadow_price": None if report is None else round(report.shadow_price, 4),
            }
        )
    return out
