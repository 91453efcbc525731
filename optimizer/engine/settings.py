"""Typed settings of an allocation run and of a promotion run, parsed once at the edge.

Objective: one frozen, validated object per kind of run instead of a dict read by key in several
modules. The forms, the commands, the re-run view and the API build it with ``from_json``; the
services, the frames and the engine read its attributes; it goes back into the run's JSON field
with ``to_json``. Rows written before these classes existed (the old ``constraints`` and
``options`` dicts, numbers sometimes as strings, keys missing or ``None``) parse unchanged.

Constraints: stdlib only (the engine stays free of Django). Checks that need the database (is a
bonus type active, is a SKU the retailer's) stay in the services; everything else is here, and
every error names its field. Money is ``Decimal`` rounded to cents, half up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from optimizer.engine.coupling_rules import (
    CouplingRule,
    RuleInvalid,
    coupling_rules_parse,
    gap_tolerance_parse,
)
from optimizer.engine.errors import EngineInputError

CENT = Decimal("0.01")
#: ``max_digits=12, decimal_places=2`` of the money columns.
MONEY_MAX = Decimal("9999999999.99")


class SettingsInvalid(EngineInputError):
    """A run setting cannot be used; ``field`` names it (the form field or JSON key), and
    ``errors`` holds every bad field found with its message (the first is ``field``)."""

    def __init__(self, field: str, message: str, *, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.errors = errors or {field: message}


class _Errors:
    """Runs each field's parser and keeps every failure, so one answer names them all."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def __call__(self, parse: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return parse(*args, **kwargs)
        except SettingsInvalid as exc:
            self.errors.setdefault(exc.field, str(exc))
            return None

    def raise_any(self) -> None:
        if self.errors:
            field, message = next(iter(self.errors.items()))
            raise SettingsInvalid(field, message, errors=self.errors)


# --- The one money rule -------------------------------------------------------------------------
def money_parse(value: Any, *, field: str, allow_zero: bool = False) -> Decimal:
    """``value`` as cents (half up); the single rule for budgets and spend limits.

    Raises:
        SettingsInvalid: not an amount, not above zero (or below zero when ``allow_zero``),
            or too large for the money columns.
    """
    try:
        amount = Decimal(str(value).strip()).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        raise SettingsInvalid(field, f"{field}: {value!r} is not an amount like 500.00.") from None
    if not amount.is_finite() or amount > MONEY_MAX:
        raise SettingsInvalid(field, f"{field}: {value!r} is too large.")
    if amount < 0 or (amount == 0 and not allow_zero):
        least = "at least 0" if allow_zero else "a positive amount"
        raise SettingsInvalid(field, f"{field} must be {least}, got {amount}.")
    return amount


def budget_parse(value: Any, *, field: str = "budget") -> Decimal:
    """The campaign budget: a positive amount of money (form, command, re-run and service)."""
    return money_parse(value, field=field)


def _int(value: Any, *, field: str, low: int, high: int) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise SettingsInvalid(field, f"{field}: {value!r} is not a whole number.") from None
    if not low <= number <= high:
        raise SettingsInvalid(field, f"{field} must lie between {low} and {high}, got {number}.")
    return number


def _share(value: Any, *, field: str, high: Decimal) -> Decimal:
    try:
        share = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise SettingsInvalid(field, f"{field}: {value!r} is not a share like 0.1.") from None
    if not share.is_finite() or not 0 <= share <= high:
        raise SettingsInvalid(field, f"{field} must be a share between 0 and {high}.")
    return share


def _mapping(value: Any, *, field: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SettingsInvalid(field, f"{field} must be a mapping of names to numbers.")
    return value


def _frozen(items: Iterable[tuple[str, Any]]) -> Mapping[str, Any]:
    return MappingProxyType(dict(sorted(items)))


def _texts(value: Any, *, field: str, separators: str | None = ",") -> tuple[str, ...]:
    """Distinct non-empty names, sorted, from a list or a text (``separators`` split it, besides
    new lines; ``None``: commas and any white space, as SKUs are written)."""
    if value is None:
        return ()
    if isinstance(value, str) and separators is None:
        value = value.replace(",", " ").split()
    elif isinstance(value, str):
        for sep in separators or ():
            value = value.replace(sep, "\n")
        value = value.splitlines()
    if not isinstance(value, Iterable):
        raise SettingsInvalid(field, f"{field} must be a list of names.")
    return tuple(sorted({str(v).strip() for v in value if str(v).strip()}))


# --- Allocation ---------------------------------------------------------------------------------
#: Keys of the allocation run's ``constraints`` JSON field (budget, spend limit and control share
#: have their own columns).
CONSTRAINT_KEYS = (
    "type_caps",
    "segment_coverage",
    "contact_limit",
    "contact_window_weeks",
    "bonus_types",
    "excluded_customers",
    "coupling",
    "gap_tolerance",
)
COLUMN_KEYS = ("budget", "spend_limit", "control_share")


@dataclass(frozen=True)
class AllocationSettings:
    """What an allocation run was asked for.

    Attributes:
        budget: expected-cost budget, positive, in cents.
        spend_limit: hard limit on the real cost of redemptions; ``None``: the budget.
        control_share: share of eligible customers held out (0..0.5).
        type_caps: bonus type code -> most customers given it.
        segment_coverage: segment -> least share (0..1) of its treatable customers treated.
        contact_limit: at most N bonuses per customer...; ``None``: the retailer's.
        contact_window_weeks: ...in M weeks; ``None``: the retailer's.
        bonus_types: codes to offer; empty: every active type.
        excluded_customers: customer ids an approver dropped.
        coupling: the coupling rules (:class:`~optimizer.engine.coupling_rules.CouplingRule`);
            ``None``: the retailer's (the service fills them in when it creates the run, so a
            run keeps the rules it was solved with; ``()`` is "no rule").
        gap_tolerance: relative gap accepted as "feasible-within-gap"; ``None``: the retailer's
            (filled in at creation like ``coupling``; the retailer's default is 0.0001).
    """

    budget: Decimal
    spend_limit: Decimal | None = None
    control_share: Decimal = Decimal("0.100")
    type_caps: Mapping[str, int] = field(default_factory=lambda: _frozen(()))
    segment_coverage: Mapping[str, float] = field(default_factory=lambda: _frozen(()))
    contact_limit: int | None = None
    contact_window_weeks: int | None = None
    bonus_types: tuple[str, ...] = ()
    excluded_customers: tuple[int, ...] = ()
    coupling: tuple[CouplingRule, ...] | None = None
    gap_tolerance: Decimal | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AllocationSettings:
        """Parse and check ``data`` (``to_json`` output, or an old row's ``constraints`` merged
        with its ``budget``/``spend_limit``/``control_share`` columns).

        Raises:
            SettingsInvalid: an unknown key or a bad value, naming it.
        """
        unknown = set(data) - set(CONSTRAINT_KEYS) - set(COLUMN_KEYS)
        if unknown:
            name = sorted(unknown)[0]
            raise SettingsInvalid(name, f"Unknown setting(s): {', '.join(sorted(unknown))}.")
        if data.get("budget") is None:
            raise SettingsInvalid("budget", "budget is required.")
        spend = data.get("spend_limit")
        share = data.get("control_share")
        limit, window = data.get("contact_limit"), data.get("contact_window_weeks")
        caps = _mapping(data.get("type_caps"), field="type_caps")
        coverage = _mapping(data.get("segment_coverage"), field="segment_coverage")
        coupling, tolerance = data.get("coupling"), data.get("gap_tolerance")
        try:
            rules = None if coupling is None else coupling_rules_parse(coupling)
            gap = None if tolerance in (None, "") else gap_tolerance_parse(tolerance)
        except RuleInvalid as exc:
            raise SettingsInvalid(exc.field, str(exc)) from None
        return cls(
            budget=budget_parse(data["budget"]),
            spend_limit=None if spend in (None, "") else money_parse(spend, field="spend_limit"),
            control_share=Decimal("0.100")
            if share is None
            else _share(share, field="control_share", high=Decimal("0.5")),
            type_caps=_frozen(
                (str(code), _int(cap, field=f"type_caps[{code}]", low=0, high=10**9))
                for code, cap in caps.items()
            ),
            segment_coverage=_frozen(
                (str(seg), float(_share(v, field=f"segment_coverage[{seg}]", high=Decimal(1))))
                for seg, v in coverage.items()
            ),
            contact_limit=None
            if limit is None
            else _int(limit, field="contact_limit", low=1, high=52),
            contact_window_weeks=None
            if window is None
            else _int(window, field="contact_window_weeks", low=1, high=52),
            bonus_types=_texts(data.get("bonus_types"), field="bonus_types"),
            excluded_customers=tuple(
                sorted(
                    {
                        _int(c, field="excluded_customers", low=1, high=2**63 - 1)
                        for c in data.get("excluded_customers") or ()
                    }
                )
            ),
            coupling=rules,
            gap_tolerance=gap,
        )

    def to_json(self) -> dict[str, Any]:
        """Everything as JSON-ready values (money and shares as strings)."""
        return {
            "budget": str(self.budget),
            "spend_limit": None if self.spend_limit is None else str(self.spend_limit),
            "control_share": str(self.control_share),
            **self.constraints_json(),
        }

    def constraints_json(self) -> dict[str, Any]:
        """The part stored in the run's ``constraints`` field (the rest has columns); empty
        settings are left out, as the rows before this class had them."""
        out: dict[str, Any] = {
            "type_caps": dict(self.type_caps),
            "segment_coverage": dict(self.segment_coverage),
            "contact_limit": self.contact_limit,
            "contact_window_weeks": self.contact_window_weeks,
            "bonus_types": list(self.bonus_types),
            "excluded_customers": list(self.excluded_customers),
            "gap_tolerance": None if self.gap_tolerance is None else str(self.gap_tolerance),
        }
        kept = {k: v for k, v in out.items() if v not in (None, {}, [])}
        if self.coupling is not None:  # kept when empty: "no rule" is not "the retailer's"
            kept["coupling"] = [rule.to_json() for rule in self.coupling]
        return kept

    def replace(self, **changes: Any) -> AllocationSettings:
        """A copy with ``changes``, checked again (a re-run's new budget or exclusions)."""
        data = self.to_json()
        for name, value in changes.items():
            if name not in {f.name for f in fields(self)}:
                raise SettingsInvalid(name, f"Unknown setting: {name}.")
            data[name] = value
        return AllocationSettings.from_json(data)


# --- Promotions ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PromotionSettings:
    """What a promotion run (a week's proposal or a backtest) was asked for.

    Attributes:
        k: at most K products promoted (1..500).
        max_per_category: at most this many per category; ``None``: no cap.
        discount_budget: expected discount money of the promoted units; ``None``: no budget.
        recent_weeks: skip products promoted in the last N weeks unless pinned (0..52).
        pinned, banned: SKUs always / never promoted.
        segments: customer segments the forecast is restricted to; ``None``: all.
        backtest_weeks: weeks a backtest covers (1..52).
        excluded_categories, pinned_categories: category names (on top of the retailer's).
        week: the proposal's week (a Monday); ``None``: the run's own week or the default.
    """

    k: int = 20
    max_per_category: int | None = 3
    discount_budget: Decimal | None = None
    recent_weeks: int = 4
    pinned: tuple[str, ...] = ()
    banned: tuple[str, ...] = ()
    segments: tuple[str, ...] | None = None
    backtest_weeks: int = 52
    excluded_categories: tuple[str, ...] = ()
    pinned_categories: tuple[str, ...] = ()
    week: dt.date | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> PromotionSettings:
        """Parse and check ``data``; missing keys take the defaults, an explicit
        ``max_per_category: None`` means no cap (other ``None`` values mean the default).

        Raises:
            SettingsInvalid: an unknown key or a bad value, naming it.
        """
        data = dict(data or {})
        check = _Errors()
        for name in sorted(set(data) - {f.name for f in fields(cls)}):
            check.errors[name] = f"Unknown option: {name}."
        base = cls()
        values = {k: v for k, v in data.items() if v is not None}

        def number(name: str, low: int, high: int) -> int:
            if name not in values:
                return int(getattr(base, name))
            return _int(values[name], field=name, low=low, high=high)

        def texts(name: str, separators: str | None) -> tuple[str, ...]:
            return _texts(values.get(name), field=name, separators=separators)

        no_cap = "max_per_category" in data and data["max_per_category"] is None
        budget, week, segments = (
            values.get("discount_budget"),
            values.get("week"),
            data.get("segments"),
        )
        parsed = {
            "k": check(number, "k", 1, 500),
            "max_per_category": None if no_cap else check(number, "max_per_category", 1, 500),
            "discount_budget": None
            if budget in (None, "")
            else check(money_parse, budget, field="discount_budget", allow_zero=True),
            "recent_weeks": check(number, "recent_weeks", 0, 52),
            "pinned": check(texts, "pinned", None),
            "banned": check(texts, "banned", None),
            "segments": None if segments is None else check(texts, "segments", ""),
            "backtest_weeks": check(number, "backtest_weeks", 1, 52),
            "excluded_categories": check(texts, "excluded_categories", ";"),
            "pinned_categories": check(texts, "pinned_categories", ";"),
            "week": None if week is None else check(_week, week),
        }
        check.raise_any()
        return cls(**parsed)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready values (the run's ``options`` field): every key, and ``week`` when set."""
        out = {
            "k": self.k,
            "max_per_category": self.max_per_category,
            "discount_budget": None if self.discount_budget is None else str(self.discount_budget),
            "recent_weeks": self.recent_weeks,
            "pinned": list(self.pinned),
            "banned": list(self.banned),
            "segments": None if self.segments is None else list(self.segments),
            "backtest_weeks": self.backtest_weeks,
            "excluded_categories": list(self.excluded_categories),
            "pinned_categories": list(self.pinned_categories),
        }
        return out if self.week is None else {**out, "week": self.week.isoformat()}


def _week(value: Any) -> dt.date:
    try:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    except ValueError:
        raise SettingsInvalid("week", f"week: {value!r} is not a date like 2026-12-07.") from None
    if day.weekday() != 0:
        raise SettingsInvalid("week", f"week must start on a Monday, got {day}.")
    return day
