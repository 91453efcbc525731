"""A retailer's coupling rules and gap tolerance as settings: parsed once, stored as JSON.

Objective: the typed, validated form of the rules a retailer sets on its allocations (issue 18):
"store 12 hands out at most 150 free coffees", "at most 2,000.00 of expected cost on the e-mail
channel", "at least 400 bonuses in region north". Each rule selects customers by one attribute
(``store``, ``region``, ``segment``, ``channel``) and value, the bonus types it counts (all, or a
list of codes), and limits the count of bonuses or their expected cost from above (``cap``) or
below (``minimum``). The glue turns each rule into an engine
:class:`~optimizer.engine.allocation.types.CouplingConstraint`; this module stays stdlib only.

Constraints: checks that need the database (is the store the retailer's, is the bonus type
active) stay in the services; everything else is here, and every error names its field
(``coupling[1].limit``). Cost limits are money: ``Decimal`` rounded to cents, half up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from optimizer.engine.errors import EngineInputError

#: Customer attributes a rule may select on (columns the allocation frames provide).
ATTRIBUTES = ("store", "region", "segment", "channel")
#: Values of the ``channel`` attribute: ``email`` when the offer e-mail reaches the customer
#: (marketing consent and an address), ``till`` otherwise (till and portal only).
CHANNELS = ("email", "till")
SENSES = {"cap": "<=", "minimum": ">="}
MEASURES = ("count", "cost")
#: The gap tolerance when nobody set one (the engine's ``AllocationConfig.gap_tolerance``).
DEFAULT_GAP_TOLERANCE = Decimal("0.0001")
GAP_TOLERANCE_MIN, GAP_TOLERANCE_MAX = Decimal("0.000001"), Decimal("0.2")
MAX_RULES = 500
_KEYS = {"name", "attribute", "value", "bonus_types", "sense", "measure", "limit"}
_RESERVED = ("budget", "cap:", "coverage:")


class RuleInvalid(EngineInputError):
    """A coupling rule or the gap tolerance cannot be used; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CouplingRule:
    """One linear limit over the bonuses of the customers with ``attribute == value``.

    Attributes:
        name: unique among a run's rules; shown on the campaign page and in infeasibility messages.
        attribute: ``store`` (home store id), ``region`` (its region), ``segment`` or ``channel``.
        value: the attribute's value selecting the customers (a store's id, ``north``, ``email``).
        bonus_types: bonus type codes counted; empty: every type.
        sense: ``cap`` (at most ``limit``) or ``minimum`` (at least ``limit``).
        measure: ``count`` (bonuses handed out) or ``cost`` (their expected cost, money).
        limit: the right-hand side, >= 0 (whole for counts, cents for cost).
    """

    name: str
    attribute: str
    value: str
    limit: Decimal
    bonus_types: tuple[str, ...] = ()
    sense: str = "cap"
    measure: str = "count"

    @property
    def engine_sense(self) -> str:
        """``<=`` or ``>=``."""
        return SENSES[self.sense]

    def describe(self) -> str:
        """'at most 150 bonuses (free_coffee) for store = 12'."""
        bound = "at most" if self.sense == "cap" else "at least"
        what = "bonuses" if self.measure == "count" else "of expected cost"
        types = f" ({', '.join(self.bonus_types)})" if self.bonus_types else ""
        return f"{bound} {self.limit} {what}{types} for {self.attribute} = {self.value}"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready (the limit as a string, bonus types as a list, empty: all)."""
        return {
            "name": self.name,
            "attribute": self.attribute,
            "value": self.value,
            "bonus_types": list(self.bonus_types),
            "sense": self.sense,
            "measure": self.measure,
            "limit": str(self.limit),
        }


def _choice(data: Mapping[str, Any], key: str, field: str, allowed: tuple[str, ...]) -> str:
    value = str(data.get(key) or allowed[0]).strip().lower()
    if value not in allowed:
        raise RuleInvalid(field, f"{field} must be one of {', '.join(allowed)}, got {value!r}.")
    return value


def _limit(value: Any, *, field: str, measure: str) -> Decimal:
    try:
        limit = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise RuleInvalid(field, f"{field}: {value!r} is not a number.") from None
    if not limit.is_finite() or limit < 0 or limit > Decimal("9999999999.99"):
        raise RuleInvalid(field, f"{field} must be a number from 0 up, got {value!r}.")
    if measure == "count":
        if limit != limit.to_integral_value():
            raise RuleInvalid(field, f"{field}: a count limit is a whole number, got {value!r}.")
        return limit.quantize(Decimal(1))
    return limit.quantize(Decimal("0.01"))


def _bonus_types(value: Any, *, field: str) -> tuple[str, ...]:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "all")):
        return ()
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise RuleInvalid(field, f"{field} must be 'all' or a list of bonus type codes.")
    return tuple(sorted({str(code).strip() for code in items if str(code).strip()}))


def coupling_rule_parse(data: Any, *, index: int) -> CouplingRule:
    """One rule from its JSON object; ``index`` places it in error messages.

    Raises:
        RuleInvalid: not an object, an unknown key or a bad value, naming the field.
    """
    at = f"coupling[{index}]"
    if not isinstance(data, Mapping):
        raise RuleInvalid(at, f"{at} must be an object with attribute, value and limit.")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise RuleInvalid(f"{at}.{unknown[0]}", f"{at}: unknown key(s) {', '.join(unknown)}.")
    if data.get("attribute") in (None, ""):
        raise RuleInvalid(
            f"{at}.attribute", f"{at}.attribute is required ({', '.join(ATTRIBUTES)})."
        )
    attribute = _choice(data, "attribute", f"{at}.attribute", ATTRIBUTES)
    value = str(data.get("value") or "").strip()
    if not value:
        raise RuleInvalid(f"{at}.value", f"{at}.value is required (which {attribute}).")
    if attribute == "channel" and value not in CHANNELS:
        raise RuleInvalid(f"{at}.value", f"{at}.value: a channel is one of {', '.join(CHANNELS)}.")
    sense = _choice(data, "sense", f"{at}.sense", tuple(SENSES))
    measure = _choice(data, "measure", f"{at}.measure", MEASURES)
    if data.get("limit") in (None, ""):
        raise RuleInvalid(f"{at}.limit", f"{at}.limit is required.")
    limit = _limit(data["limit"], field=f"{at}.limit", measure=measure)
    types = _bonus_types(data.get("bonus_types"), field=f"{at}.bonus_types")
    name = str(data.get("name") or "").strip() or f"{attribute} {value} {sense}" + (
        f" ({', '.join(types)})" if types else ""
    )
    if len(name) > 120 or name.startswith(_RESERVED):
        raise RuleInvalid(f"{at}.name", f"{at}.name: {name!r} is too long or reserved.")
    return CouplingRule(name, attribute, value, limit, types, sense, measure)


def coupling_rules_parse(value: Any, *, field: str = "coupling") -> tuple[CouplingRule, ...]:
    """Every rule of ``value`` (a JSON list of rule objects; ``None``: no rule), names unique.

    Raises:
        RuleInvalid: not a list, too many rules, a bad rule or a repeated name.
    """
    if value is None:
        return ()
    if isinstance(value, Mapping) or not isinstance(value, list | tuple):
        raise RuleInvalid(field, f"{field} must be a list of rules.")
    if len(value) > MAX_RULES:
        raise RuleInvalid(field, f"{field}: at most {MAX_RULES} rules, got {len(value)}.")
    rules = tuple(
        item if isinstance(item, CouplingRule) else coupling_rule_parse(item, index=i)
        for i, item in enumerate(value)
    )
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.name in seen:
            raise RuleInvalid(
                f"{field}[{i}].name", f"{field}[{i}]: the name {rule.name!r} is repeated."
            )
        seen.add(rule.name)
    return rules


def gap_tolerance_parse(value: Any, *, field: str = "gap_tolerance") -> Decimal:
    """A relative gap tolerance (0.0001 = 0.01 %), between 0.000001 and 0.2.

    Raises:
        RuleInvalid: not a number, or out of that range.
    """
    try:
        tolerance = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise RuleInvalid(field, f"{field}: {value!r} is not a number like 0.0001.") from None
    if not tolerance.is_finite() or not GAP_TOLERANCE_MIN <= tolerance <= GAP_TOLERANCE_MAX:
        raise RuleInvalid(
            field,
            f"{field} must lie between {GAP_TOLERANCE_MIN} and {GAP_TOLERANCE_MAX} "
            f"(0.0001 = 0.01 %), got {value!r}.",
        )
    return tolerance
