"""One readable line per proposed product: why it is worth promoting next week.

Objective: the few facts a category manager checks before approving, in a fixed order:
season or holiday, staff pin, stock cover, price against the competitors, reach, then the
expected incremental units and margin, e.g. ``"seasonal peak (wk 51), 4.1x stock cover, price
8% below competitor; +312 units, +€410 margin"``.

Constraints: pure formatting of forecast columns; wording thresholds are module constants.
"""

from __future__ import annotations

import math

import pandas as pd

#: Baseline at least this multiple of the 13-week level reads as a seasonal peak.
SEASONAL_PEAK = 1.15
#: Competitor gaps within this share read as "level with competitor".
PRICE_PARITY = 0.02


def _money(value: float, symbol: str) -> str:
    sign = "+" if value >= 0 else "-"
    return f"{sign}{symbol}{abs(value):,.0f}"


def reason(row: pd.Series, symbol: str) -> str:
    """The reason line of one selected row (forecast columns plus ``pinned``)."""
    parts: list[str] = []
    if bool(row.get("out_of_range", False)):
        record = float(row.get("observed_max_units", math.nan))
        parts.append(
            f"CHECK: forecast {float(row['range_ratio']):.1f}x its best week ({record:,.0f})"
        )
    season = float(row.get("seasonal_index", math.nan))
    holiday = str(row.get("holiday_name", "") or "")
    if holiday and not (season < 1.0):
        parts.append(f"{holiday} week (wk {int(row['week_of_year'])})")
    elif season >= SEASONAL_PEAK:
        parts.append(f"seasonal peak (wk {int(row['week_of_year'])})")
    if bool(row.get("pinned", False)):
        parts.append("pinned by staff")
    cover = float(row.get("stock_cover", math.nan))
    parts.append("stock not known" if math.isnan(cover) else f"{cover:.1f}x stock cover")
    gap = float(row.get("competitor_gap", math.nan))
    if not math.isnan(gap):
        if gap > PRICE_PARITY:
            parts.append(f"price {gap:.0%} above competitor")
        elif gap < -PRICE_PARITY:
            parts.append(f"price {-gap:.0%} below competitor")
        else:
            parts.append("price level with competitor")
    effect = float(row.get("competitor_effect", math.nan))
    if not math.isnan(effect) and abs(effect) >= PRICE_PARITY:
        parts.append(f"competitor price {effect:+.0%} on forecast")
    reach = float(row.get("reach", 0.0) or 0.0)
    if reach > 0:
        parts.append(f"reaches {reach:,.0f} target customers")
    parts.append(f"lift {float(row['lift']):.1f}x")
    units = float(row["incremental_units"])
    money = _money(float(row["incremental_margin"]), symbol)
    sign = "+" if units >= 0 else "-"
    return f"{', '.join(parts)}; {sign}{abs(units):,.0f} units, {money} margin"


def reasons(frame: pd.DataFrame, symbol: str) -> pd.Series:
    """Reason lines for every row of ``frame`` (str dtype, aligned with its index)."""
    if frame.empty:
        return pd.Series([], dtype="str", index=frame.index)
    return frame.apply(lambda row: reason(row, symbol), axis=1).astype("str")
