"""Typed run settings: round trips, rows written before them, and every bad field named."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from optimizer.engine.settings import (
    AllocationSettings,
    PromotionSettings,
    SettingsInvalid,
    budget_parse,
)

FULL = {
    "budget": "500.00",
    "spend_limit": "450.00",
    "control_share": "0.200",
    "type_caps": {"coupon-5": 3, "points-300": 10},
    "segment_coverage": {"at risk": 0.5},
    "contact_limit": 2,
    "contact_window_weeks": 4,
    "bonus_types": ["coupon-5", "points-300"],
    "excluded_customers": [7, 3],
}


def test_allocation_settings_round_trip_through_json():
    settings = AllocationSettings.from_json(FULL)
    assert settings.budget == Decimal("500.00")
    assert settings.excluded_customers == (3, 7)
    assert AllocationSettings.from_json(settings.to_json()) == settings
    assert settings.to_json()["budget"] == "500.00"


def test_allocation_settings_are_frozen():
    settings = AllocationSettings.from_json({"budget": "10"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.budget = Decimal(1)  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.type_caps["x"] = 1  # type: ignore[index]


def test_allocation_settings_parse_an_old_format_row():
    # As rows were stored before the typed settings: the constraints dict (numbers from the
    # command as strings or floats, None for "the retailer's") beside the money columns.
    old = {
        "type_caps": {"coupon-5": "3"},
        "segment_coverage": {"at risk": 0.25, "loyal": "0.1"},
        "contact_limit": None,
        "contact_window_weeks": 4,
        "excluded_customers": [12, "5", 12],
    }
    settings = AllocationSettings.from_json(
        {**old, "budget": Decimal("20.00"), "spend_limit": None, "control_share": Decimal("0.1")}
    )
    assert settings.type_caps == {"coupon-5": 3}
    assert settings.segment_coverage == {"at risk": 0.25, "loyal": 0.1}
    assert settings.contact_limit is None
    assert settings.contact_window_weeks == 4
    assert settings.excluded_customers == (5, 12)
    assert settings.spend_limit is None
    assert settings.constraints_json() == {
        "type_caps": {"coupon-5": 3},
        "segment_coverage": {"at risk": 0.25, "loyal": 0.1},
        "contact_window_weeks": 4,
        "excluded_customers": [5, 12],
    }
    assert AllocationSettings.from_json({"budget": "20"}).constraints_json() == {}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("budget", "0"),
        ("budget", "-1"),
        ("budget", "abc"),
        ("budget", None),
        ("budget", "1e12"),
        ("spend_limit", "-0.01"),
        ("spend_limit", "lots"),
        ("control_share", "0.6"),
        ("control_share", "half"),
        ("type_caps", [1, 2]),
        ("type_caps[coupon-5]", -1),
        ("type_caps[coupon-5]", "three"),
        ("segment_coverage", "all"),
        ("segment_coverage[at risk]", 1.5),
        ("contact_limit", 0),
        ("contact_limit", "x"),
        ("contact_window_weeks", 0),
        ("contact_window_weeks", 53),
        ("bonus_types", 5),
        ("excluded_customers", "x"),
        ("colour", "blue"),
    ],
)
def test_allocation_settings_name_every_invalid_field(field, value):
    data = {**FULL}
    if "[" in field:
        name, key = field.rstrip("]").split("[")
        data[name] = {key: value}
    elif field == "excluded_customers":
        data[field] = [value]
    else:
        data[field] = value
    with pytest.raises(SettingsInvalid) as caught:
        AllocationSettings.from_json(data)
    assert caught.value.field == field
    assert field in str(caught.value)


def test_allocation_settings_replace_checks_again():
    settings = AllocationSettings.from_json(FULL)
    assert settings.replace(budget="35.5").budget == Decimal("35.50")
    assert settings.replace(budget="35.5").type_caps == settings.type_caps
    with pytest.raises(SettingsInvalid, match="budget must be a positive amount"):
        settings.replace(budget="0")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.01", Decimal("0.01")), ("0.005", Decimal("0.01")), (Decimal("20"), Decimal("20.00"))],
)
def test_budget_rule_rounds_to_cents_half_up(value, expected):
    assert budget_parse(value) == expected


def test_promotion_settings_round_trip_and_defaults():
    settings = PromotionSettings.from_json(
        {
            "k": "12",
            "max_per_category": None,
            "discount_budget": "99.999",
            "pinned": "A-1, B-2  A-1",
            "banned": ["C-3"],
            "excluded_categories": "Frozen food; Dairy, eggs\nBakery",
            "week": "2026-12-07",
        }
    )
    assert settings.k == 12
    assert settings.max_per_category is None
    assert settings.discount_budget == Decimal("100.00")
    assert settings.pinned == ("A-1", "B-2")
    assert settings.excluded_categories == ("Bakery", "Dairy, eggs", "Frozen food")
    assert settings.week == dt.date(2026, 12, 7)
    assert settings.recent_weeks == 4
    assert PromotionSettings.from_json(settings.to_json()) == settings
    assert PromotionSettings.from_json(None) == PromotionSettings()


def test_promotion_settings_parse_an_old_format_row():
    # The cleaned ``options`` dict promotion runs stored before (no ``week`` key).
    old = {
        "k": 20,
        "max_per_category": 3,
        "discount_budget": "150.00",
        "recent_weeks": 4,
        "pinned": ["SKU-1"],
        "banned": [],
        "segments": None,
        "backtest_weeks": 52,
        "excluded_categories": [],
        "pinned_categories": ["Dairy"],
    }
    settings = PromotionSettings.from_json(old)
    assert settings.discount_budget == Decimal("150.00")
    assert settings.segments is None
    assert settings.to_json() == old


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("k", 0),
        ("k", "many"),
        ("max_per_category", 501),
        ("discount_budget", "-1"),
        ("discount_budget", "free"),
        ("recent_weeks", 53),
        ("backtest_weeks", 0),
        ("pinned", 5),
        ("week", "2026-12-08"),
        ("week", "soon"),
        ("colour", "blue"),
    ],
)
def test_promotion_settings_name_every_invalid_field(field, value):
    with pytest.raises(SettingsInvalid) as caught:
        PromotionSettings.from_json({field: value})
    assert caught.value.field == field
    assert field in str(caught.value)


def test_promotion_settings_name_every_bad_option_in_one_answer():
    with pytest.raises(SettingsInvalid) as caught:
        PromotionSettings.from_json({"k": 0, "recent_weeks": 99, "colour": "blue"})
    assert set(caught.value.errors) == {"k", "recent_weeks", "colour"}
