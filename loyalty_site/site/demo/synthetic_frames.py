"""Frames of the synthetic retailer, built from the arrays of simulated customer blocks.

Pure numpy / pandas. Contract frames use the import contract's columns; key columns repeated on
many rows are categoricals so that no string is built per row. The truth columns are
documented in docs/synthetic-data.md.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from loyalty_site.site.demo.synthetic_catalog import (
    BONUS_TYPES,
    OPEN_HOUR,
    OPEN_HOURS,
    Catalog,
)


def _customer_ids(index: np.ndarray) -> pd.Series:
    """0-based customer index -> "C0000001" style ids."""
    return "C" + pd.Series(index + 1).astype(str).str.zfill(7)


def _day_dates(as_of: date, days: np.ndarray) -> pd.Series:
    """Day numbers relative to ``as_of`` (NaN allowed) -> datetime64 dates."""
    return pd.Series(pd.Timestamp(as_of) + pd.to_timedelta(days, unit="D"))


def truth_frame(catalog: Catalog, blocks: list[dict]) -> pd.DataFrame:
    """One row per customer: latent parameters and realised outcomes (docs/synthetic-data.md)."""
    cols: dict[str, list[np.ndarray]] = {}

    def add(name: str, values: np.ndarray) -> None:
        cols.setdefault(name, []).append(values)

    for b in blocks:
        t, v, o, n = b["traits"], b["visits"], b["offers"], b["n"]
        past, future = v["time"] < 0, v["time"] >= 0
        dead_at = v["dead_at"]
        alive = dead_at >= 0
        visits_exp = np.where(alive, t["expected_visits"], 0.0)
        add("customer_index", np.arange(b["first"], b["first"] + n))
        add("enrol_day", np.floor(t["enrol"]))
        add("purchase_rate", t["rate_week"])
        add("dropout_prob", t["dropout"])
        add("spend_level", t["spend_level"])
        add("household_size_true", t["size"])
        add("lines_mean", t["lines_mean"])
        add("spend_mean", t["spend_mean"])
        add("top_category", t["prefs"].argmax(axis=1))
        add("responsiveness", t["responsiveness"])
        for k, spec in enumerate(BONUS_TYPES):
            add(f"response_{spec.code}", t["response"][:, k])
        add("alive_at_as_of", alive)
        add("alive_at_horizon", np.isposinf(dead_at))
        add("observed_visits", np.bincount(v["owner"][past], minlength=n))
        add("observed_spend", np.bincount(v["owner"][past], weights=v["spend"][past], minlength=n))
        add("offers_received", np.bincount(o["owner"], minlength=n))
        add("offers_redeemed", np.bincount(o["owner"][o["redeemed"]], minlength=n))
        add("expected_visits_8w", visits_exp)
        add("expected_spend_8w", visits_exp * t["spend_mean"])
        add("future_visits_8w", np.bincount(v["owner"][future], minlength=n))
        future_spend = np.bincount(v["owner"][future], weights=v["spend"][future], minlength=n)
        add("future_spend_8w", future_spend)
    data = {name: np.concatenate(parts) for name, parts in cols.items()}
    frame = pd.DataFrame(data)
    frame.insert(0, "customer_id", _customer_ids(frame["customer_index"].to_numpy()))
    frame.insert(2, "enrolled_on", _day_dates(catalog.as_of, frame.pop("enrol_day").to_numpy()))
    frame["top_category"] = np.asarray(catalog.category_names)[frame["top_category"]]
    frame["observed_spend"] = frame["observed_spend"].round(2)
    frame["future_spend_8w"] = frame["future_spend_8w"].round(2)
    frame["churned_8w"] = frame["future_visits_8w"] == 0
    return frame


def customers_frame(catalog: Catalog, blocks: list[dict]) -> pd.DataFrame:
    """customer_id, enrolled_on, age_band, income_band, household_size (Int64), email,
    marketing_consent; demographics blank where not reported."""
    p = catalog.params
    index = np.concatenate([np.arange(b["first"], b["first"] + b["n"]) for b in blocks])
    t = {k: np.concatenate([b["traits"][k] for b in blocks]) for k in ("enrol", "age", "income")}
    t.update({k: np.concatenate([b["traits"][k] for b in blocks]) for k in ("size", "reported")})
    consent = np.concatenate([b["traits"]["consent"] for b in blocks])
    reported = t["reported"]
    return pd.DataFrame(
        {
            "customer_id": _customer_ids(index),
            "enrolled_on": _day_dates(catalog.as_of, np.floor(t["enrol"])),
            "age_band": np.where(reported, np.asarray(p.age_bands)[t["age"]], ""),
            "income_band": np.where(reported, np.asarray(p.income_bands)[t["income"]], ""),
            "household_size": pd.array(np.where(reported, t["size"], 0), dtype="Int64"),
            "email": "",
            "marketing_consent": consent,
        }
    ).assign(household_size=lambda f: f["household_size"].mask(~reported))


def history_frames(catalog: Catalog, blocks: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """History visits (days < 0) -> transactions and their lines.

    Key columns repeated on many rows (a line's transaction_id and sku, a basket's customer_id
    and store_id) are categoricals: no string is built per row.
    """
    owner, seq, time, store = [], [], [], []
    line_visit, line_no, product, quantity, amount, discount = [], [], [], [], [], []
    offset = 0
    for b in blocks:
        v, lines = b["visits"], b["lines"]
        past = v["time"] < 0
        number = np.cumsum(past) - 1 + offset  # index of each history visit in this chunk
        owner.append(b["first"] + v["owner"][past])
        seq.append(v["seq"][past])
        time.append(v["time"][past])
        store.append(v["store"][past])
        keep = past[lines["visit"]]
        line_visit.append(number[lines["visit"][keep]])
        line_no.append(lines["line_no"][keep])
        product.append(lines["product"][keep])
        quantity.append(lines["quantity"][keep])
        amount.append(lines["amount"][keep])
        discount.append(lines["discount"][keep])
        offset += int(past.sum())
    owner_all = np.concatenate(owner)
    first = blocks[0]["first"]
    n_customers = sum(b["n"] for b in blocks)
    customer_ids = _customer_ids(np.arange(first, first + n_customers))
    ids = customer_ids.to_numpy()[owner_all - first] + "-" + np.concatenate(seq).astype(str)
    time_all = np.concatenate(time)
    day = np.floor(time_all)
    seconds = np.round(OPEN_HOUR * 3600 + (time_all - day) * OPEN_HOURS * 3600)
    local = pd.DatetimeIndex(
        pd.Timestamp(catalog.as_of)
        + pd.to_timedelta(day, unit="D")
        + pd.to_timedelta(seconds, unit="s")
    ).tz_localize(catalog.time_zone, ambiguous=False, nonexistent="shift_forward")
    transactions = pd.DataFrame(
        {
            "transaction_id": ids,
            "customer_id": pd.Categorical.from_codes(owner_all - first, categories=customer_ids),
            "store_id": pd.Categorical.from_codes(
                np.concatenate(store), categories=catalog.stores["store_id"]
            ),
            "timestamp": local,
        }
    )
    lines = pd.DataFrame(
        {
            "transaction_id": pd.Categorical.from_codes(
                np.concatenate(line_visit), categories=pd.Index(ids)
            ),
            "line_no": np.concatenate(line_no),
            "sku": pd.Categorical.from_codes(
                np.concatenate(product), categories=catalog.products["sku"]
            ),
            "quantity": np.concatenate(quantity),
            "amount": np.concatenate(amount),
            "discount": np.concatenate(discount),
        }
    )
    return transactions, lines


def offers_frame(catalog: Catalog, blocks: list[dict]) -> pd.DataFrame:
    """offer_id ("<campaign>-<customer_id>"), customer_id, bonus_type, sent_on, valid_until,
    redeemed_on (NaT when not redeemed)."""
    campaigns = catalog.campaigns
    owner = np.concatenate([b["first"] + b["offers"]["owner"] for b in blocks])
    campaign = np.concatenate([b["offers"]["campaign"] for b in blocks])
    redeemed_day = np.concatenate(
        [
            np.where(b["offers"]["redeemed"], b["visits"]["day"][b["offers"]["visit"]], np.nan)
            for b in blocks
        ]
    )
    customer = _customer_ids(owner)
    sent = campaigns["sent_day"].to_numpy(dtype=float)[campaign]
    valid = campaigns["valid_day"].to_numpy(dtype=float)[campaign]
    return pd.DataFrame(
        {
            "offer_id": campaigns["campaign"].to_numpy()[campaign] + "-" + customer,
            "customer_id": customer,
            "bonus_type": campaigns["bonus_type"].to_numpy()[campaign],
            "sent_on": _day_dates(catalog.as_of, sent),
            "valid_until": _day_dates(catalog.as_of, valid),
            "redeemed_on": _day_dates(catalog.as_of, redeemed_day),
        }
    )
