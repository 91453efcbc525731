"""Coupling rules and the gap tolerance as run settings: parsing, validation, JSON round trip."""

from __future__ import annotations

from decimal import Decimal

import pytest

from optimizer.engine.allocation import AllocationConfig
from optimizer.engine.coupling_rules import (
    DEFAULT_GAP_TOLERANCE,
    CouplingRule,
    RuleInvalid,
    coupling_rules_parse,
    gap_tolerance_parse,
)
from optimizer.engine.settings import AllocationSettings, SettingsInvalid

STORE_CAP = {
    "name": "store 12 free coffee",
    "attribute": "store",
    "value": "12",
    "bonus_types": ["free_coffee"],
    "limit": 150,
}


def test_coupling_rules_parse_fills_the_defaults_and_a_name():
    rule, region = coupling_rules_parse(
        [STORE_CAP, {"attribute": "Region", "value": "north", "sense": "minimum", "limit": "40"}]
    )
    assert rule == CouplingRule(
        "store 12 free coffee", "store", "12", Decimal(150), ("free_coffee",), "cap", "count"
    )
    assert rule.engine_sense == "<="
    assert rule.describe() == "at most 150 bonuses (free_coffee) for store = 12"
    assert region.name == "region north minimum"
    assert region.engine_sense == ">="
    assert region.bonus_types == ()


def test_coupling_rules_parse_rounds_cost_limits_to_cents():
    (rule,) = coupling_rules_parse(
        [{"attribute": "channel", "value": "email", "measure": "cost", "limit": "199.995"}]
    )
    assert rule.limit == Decimal("200.00")
    assert rule.describe() == "at most 200.00 of expected cost for channel = email"


@pytest.mark.parametrize(
    ("rules", "field", "words"),
    [
        ({"attribute": "store"}, "coupling", "must be a list"),
        (["store 12"], "coupling[0]", "must be an object"),
        ([{**STORE_CAP, "colour": "red"}], "coupling[0].colour", "unknown key"),
        ([{**STORE_CAP, "attribute": "city"}], "coupling[0].attribute", "one of store"),
        ([{**STORE_CAP, "attribute": ""}], "coupling[0].attribute", "is required"),
        ([{**STORE_CAP, "value": " "}], "coupling[0].value", "is required"),
        ([{**STORE_CAP, "attribute": "channel", "value": "sms"}], "coupling[0].value", "email"),
        ([{**STORE_CAP, "sense": "at most"}], "coupling[0].sense", "cap, minimum"),
        ([{**STORE_CAP, "measure": "euros"}], "coupling[0].measure", "count, cost"),
        ([{**STORE_CAP, "limit": None}], "coupling[0].limit", "is required"),
        ([{**STORE_CAP, "limit": "many"}], "coupling[0].limit", "not a number"),
        ([{**STORE_CAP, "limit": -1}], "coupling[0].limit", "from 0 up"),
        ([{**STORE_CAP, "limit": 1.5}], "coupling[0].limit", "whole number"),
        ([{**STORE_CAP, "bonus_types": 5}], "coupling[0].bonus_types", "'all' or a list"),
        ([{**STORE_CAP, "name": "budget"}], "coupling[0].name", "reserved"),
        ([STORE_CAP, {**STORE_CAP, "limit": 3}], "coupling[1].name", "repeated"),
    ],
)
def test_coupling_rules_parse_refuses_bad_rules_naming_the_field(rules, field, words):
    with pytest.raises(RuleInvalid, match=words) as caught:
        coupling_rules_parse(rules)
    assert caught.value.field == field


def test_gap_tolerance_parse_bounds():
    assert gap_tolerance_parse("0.001") == Decimal("0.001")
    for bad in ("0", "0.5", "x", "-0.01"):
        with pytest.raises(RuleInvalid) as caught:
            gap_tolerance_parse(bad)
        assert caught.value.field == "gap_tolerance"


def test_default_gap_tolerance_is_the_engines():
    assert float(DEFAULT_GAP_TOLERANCE) == AllocationConfig().gap_tolerance


def test_allocation_settings_round_trip_keeps_rules_and_tolerance():
    settings = AllocationSettings.from_json(
        {"budget": "100", "coupling": [STORE_CAP], "gap_tolerance": "0.002"}
    )
    assert settings.coupling is not None
    assert settings.coupling[0].limit == Decimal(150)
    assert settings.gap_tolerance == Decimal("0.002")
    stored = settings.constraints_json()
    assert stored["gap_tolerance"] == "0.002"
    assert stored["coupling"][0]["bonus_types"] == ["free_coffee"]
    assert AllocationSettings.from_json(settings.to_json()) == settings


def test_allocation_settings_keep_no_rule_apart_from_the_retailers():
    old_row = AllocationSettings.from_json({"budget": "100"})
    assert old_row.coupling is None  # the retailer's
    assert old_row.gap_tolerance is None
    assert "coupling" not in old_row.constraints_json()
    none = AllocationSettings.from_json({"budget": "100", "coupling": []})
    assert none.constraints_json()["coupling"] == []
    assert AllocationSettings.from_json(none.to_json()).coupling == ()


def test_allocation_settings_errors_name_the_rule_field():
    with pytest.raises(SettingsInvalid) as caught:
        AllocationSettings.from_json({"budget": "100", "coupling": [{**STORE_CAP, "limit": "x"}]})
    assert caught.value.field == "coupling[0].limit"
    with pytest.raises(SettingsInvalid) as caught:
        AllocationSettings.from_json({"budget": "100", "gap_tolerance": "1"})
    assert caught.value.field == "gap_tolerance"


def test_replace_accepts_parsed_rules():
    settings = AllocationSettings.from_json({"budget": "100", "coupling": [STORE_CAP]})
    assert settings.coupling is not None
    assert settings.replace(budget="50").coupling == settings.coupling
    assert settings.replace(coupling=settings.coupling).coupling == settings.coupling
