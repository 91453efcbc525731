"""Reads of the optimizer app: scoring runs, their chunks and the stored customer scores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Max, QuerySet

from customers.models import Customer, Transaction
from customers.services.points import retailer_today
from optimizer import queries

if TYPE_CHECKING:
    import pandas as pd

from optimizer.models import (
    ACTIVE_STATUSES,
    CustomerScore,
    OfferCandidate,
    RecommendationRun,
    ScoringRun,
)
from retailers.models import Retailer, RunStatus
from retailers.weeks import upcoming_week_starts


def scoring_run_active(*, retailer: Retailer) -> ScoringRun | None:
    """The retailer's queued or running scoring run, if any."""
    return ScoringRun.objects.for_retailer(retailer).filter(status__in=ACTIVE_STATUSES).first()


def allocation_weeks(
    *, retailer: Retailer, count: int, now: dt.datetime | None = None
) -> list[dt.date]:
    """The campaign weeks an allocation may be asked for: the retailer's current week (today in
    its time zone) and the ``count - 1`` after it, each starting on its ``week_start_day``."""
    return upcoming_week_starts(retailer_today(retailer, now), retailer.week_start_day, count)


def scoring_run_latest_succeeded(
    *, retailer: Retailer, exclude_id: int | None = None
) -> ScoringRun | None:
    """The retailer's most recently finished successful run (optionally not run ``exclude_id``)."""
    runs = ScoringRun.objects.for_retailer(retailer).filter(status=RunStatus.SUCCEEDED)
    if exclude_id is not None:
        runs = runs.exclude(pk=exclude_id)
    return runs.order_by("-finished_at", "-pk").first()


def retailer_default_as_of(*, retailer: Retailer) -> dt.date | None:
    """The day after the retailer's latest transaction, in its time zone (``None``: none yet)."""
    latest = Transaction.objects.for_retailer(retailer).aggregate(latest=Max("timestamp"))["latest"]
    if latest is None:
        return None
    return latest.astimezone(retailer.tz).date() + dt.timedelta(days=1)


def member_count(*, retailer: Retailer, as_of: dt.date) -> int:
    """Customers enrolled before ``as_of``: those a run at ``as_of`` scores."""
    return Customer.objects.for_retailer(retailer).filter(enrolled_on__lt=as_of).count()


def customer_id_ranges(
    *, retailer: Retailer, as_of: dt.date, chunk_size: int
) -> list[tuple[int, int, int]]:
    """Split the members at ``as_of`` into runs of ``chunk_size`` consecutive customer ids.

    Returns:
        ``[(first id, last id, customers), ...]`` in id order; inclusive ranges that together
        cover every member exactly once (empty when there is none).
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    query = queries.member_ranges()
    with connection.cursor() as cursor:
        cursor.execute(query.text, query.params(retailer.pk, chunk_size=chunk_size, as_of=as_of))
        return [(int(lo), int(hi), int(n)) for lo, hi, n in cursor.fetchall()]


def customer_scores_of_run(*, run: ScoringRun) -> QuerySet[CustomerScore]:
    """The run's scores with their customers, in customer id order."""
    return CustomerScore.objects.filter(run=run).select_related("customer").order_by("customer_id")


def customer_score_history(*, customer: Customer) -> QuerySet[CustomerScore]:
    """A customer's scores over time (newest run first), with their runs."""
    return (
        CustomerScore.objects.filter(customer=customer, run__status=RunStatus.SUCCEEDED)
        .select_related("run")
        .order_by("-run__as_of", "-run_id")
    )


EXPORT_FIELDS: tuple[str, ...] = (
    "customer__external_id",
    "churn_probability",
    "expected_visits",
    "expected_spend",
    "clv",
    "segment",
    "responses",
)


def customer_scores_export_rows(*, run: ScoringRun, chunk_size: int = 20_000) -> Iterator[tuple]:
    """Rows of :data:`EXPORT_FIELDS` of every score of ``run``, streamed in customer id order."""
    rows = CustomerScore.objects.filter(run=run).order_by("customer_id")
    yield from rows.values_list(*EXPORT_FIELDS).iterator(chunk_size=chunk_size)


def scoring_run_latest(*, retailer: Retailer, statuses: tuple[str, ...]) -> ScoringRun | None:
    """The retailer's newest run in one of ``statuses``."""
    return (
        ScoringRun.objects.for_retailer(retailer)
        .filter(status__in=statuses)
        .order_by("-created_at", "-pk")
        .first()
    )


# --- Presenting a run's report (admin page and ``score --sync``) ------------------------------

#: (target, metric key, label) of the holdout table, in display order.
HOLDOUT_ROWS: tuple[tuple[str, str, str], ...] = (
    ("churn", "auc", "Churn AUC (higher is better)"),
    ("churn", "brier", "Churn Brier score (lower is better)"),
    ("visits", "mae", "Visits MAE (lower is better)"),
    ("visits", "spearman", "Visits Spearman (higher is better)"),
    ("visits", "top_decile_capture", "Visits top-decile capture (higher is better)"),
    ("spend", "mae", "Spend MAE (lower is better)"),
    ("spend", "spearman", "Spend Spearman (higher is better)"),
    ("spend", "top_decile_capture", "Spend top-decile capture (higher is better)"),
)
#: Order in which timings are shown; other keys follow.
TIMING_ORDER: tuple[str, ...] = (
    "read_sample",
    "fit",
    "save_model",
    "read",
    "features",
    "score",
    "write",
    "finalise",
    "total",
)


def _value(block: Any, key: str) -> float | None:
    if not isinstance(block, dict):
        return None
    value = block.get(key)
    return float(value) if isinstance(value, int | float) else None


def holdout_table(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows ``{label, model, bgnbd, rule, n}`` comparing the served models with the BG/NBD
    baseline and the simple rules on the same holdout customers; then response rows
    (``bgnbd`` empty, ``rule`` = the prior), overall and per bonus type when the engine
    reports them. Empty when the holdout was skipped."""
    holdout = metrics.get("holdout") or {}
    rows: list[dict[str, Any]] = []
    if holdout.get("status") == "ok":
        for target, key, label in HOLDOUT_ROWS:
            block = holdout.get(target) or {}
            rows.append(
                {
                    "label": label,
                    "model": _value(block.get("model"), key),
                    "bgnbd": _value(block.get("bgnbd"), key),
                    "pareto": _value(block.get("pareto_nbd"), key),
                    "rule": _value(block.get("rule"), key),
                    "n": (block.get("model") or {}).get("n"),
                }
            )
    response = holdout.get("response") or {}
    groups: list[tuple[str, dict[str, Any]]] = []
    if "prior" in response:
        groups.append(("all bonus types", response))
    for code, block in sorted((response.get("by_type") or {}).items()):
        groups.append((code, block))
    for name, block in groups:
        for key, label in (("auc", "AUC (higher is better)"), ("brier", "Brier (lower is better)")):
            rows.append(
                {
                    "label": f"Response {label}: {name}",
                    "model": _value(block.get("model"), key),
                    "bgnbd": None,
                    "pareto": None,
                    "rule": _value(block.get("prior"), key),
                    "n": (block.get("prior") or {}).get("n"),
                }
            )
    return rows


#: Outputs of a run's champion report, in page order, with their readable names.
CHAMPION_OUTPUTS: tuple[tuple[str, str], ...] = (
    ("churn", "Churn"),
    ("visits", "Visits (visit days)"),
    ("spend", "Spend"),
    ("response", "Offer response"),
)
METRIC_LABELS = {"auc": "AUC (higher is better)", "mae": "MAE (lower is better)"}


def champion_table(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One block per output of the run's champion report (empty for runs made before it):
    ``key`` and ``metric_key`` (engine names), ``output``, ``champion`` (readable name),
    ``reason``, ``metric`` (label), ``n``, ``holdout_status`` and ``contenders``: rows
    ``{name, value, low, high, diff, diff_low, diff_high, champion, significant}`` in the
    engine's order, the champion first."""
    report = metrics.get("champions") or {}
    blocks = []
    for output, label in CHAMPION_OUTPUTS:
        entry = report.get(output)
        if not isinstance(entry, dict):
            continue
        names = entry.get("contenders") or {}
        holdout = entry.get("holdout") or {}
        rows = []
        for key, name in names.items():
            cell = holdout.get(key)
            if not isinstance(cell, dict):
                continue
            low, high = cell.get("diff_low"), cell.get("diff_high")
            rows.append(
                {
                    "name": name,
                    "value": _value(cell, "value"),
                    "low": _value(cell, "low"),
                    "high": _value(cell, "high"),
                    "diff": _value(cell, "diff"),
                    "diff_low": _value(cell, "diff_low"),
                    "diff_high": _value(cell, "diff_high"),
                    "champion": key == entry.get("champion"),
                    "significant": low is not None and high is not None and (low > 0 or high < 0),
                }
            )
        rows.sort(key=lambda row: not row["champion"])
        blocks.append(
            {
                "key": output,
                "metric_key": entry.get("metric", ""),
                "output": label,
                "champion": names.get(entry.get("champion"), entry.get("champion")),
                "reason": entry.get("reason", ""),
                "metric": METRIC_LABELS.get(entry.get("metric", ""), entry.get("metric", "")),
                "n": entry.get("n"),
                "holdout_status": entry.get("holdout_status"),
                "contenders": rows,
            }
        )
    return blocks


CHAMPION_CSV_HEADER = (
    "output",
    "contender",
    "champion",
    "metric",
    "holdout_value",
    "ci95_low",
    "ci95_high",
    "difference_to_champion",
    "difference_ci95_low",
    "difference_ci95_high",
    "holdout_rows",
    "reason",
)


def champion_csv_rows(*, run: ScoringRun) -> Iterator[list[Any]]:
    """The run's champion report as CSV rows (header first): one row per output and contender,
    numbers as floats, the reason on the champion's row."""
    yield list(CHAMPION_CSV_HEADER)
    for block in champion_table(run.metrics):
        for row in block["contenders"]:
            yield [
                block["key"],
                row["name"],
                "yes" if row["champion"] else "no",
                block["metric_key"],
                row["value"],
                row["low"],
                row["high"],
                row["diff"],
                row["diff_low"],
                row["diff_high"],
                block["n"],
                block["reason"] if row["champion"] else "",
            ]


def timings_table(timings: dict[str, Any]) -> list[tuple[str, float]]:
    """``[(stage, seconds)]`` in pipeline order."""
    known = [(k, float(timings[k])) for k in TIMING_ORDER if k in timings]
    return known + [(k, float(v)) for k, v in timings.items() if k not in TIMING_ORDER]


def _fixed(value: Any, places: int) -> Decimal | None:
    """``value`` as a Decimal with ``places`` decimals (``None`` stays ``None``)."""
    return None if value is None else Decimal(f"{value:.{places}f}")


def customer_scores_csv_rows(*, run: ScoringRun) -> Iterator[list[str | Decimal | None]]:
    """The export CSV of ``run``: the header, then one row per customer (customer id order).

    Columns: ``customer_external_id, churn_probability, expected_visits, expected_spend, clv,
    segment`` and ``response_<code>`` per bonus type of the run (empty where not scored). Figures
    are ``Decimal`` s with their decimals fixed, ids and names text (for ``loyalty_site.safe_csv``).
    """
    codes = list(run.bonus_types)
    yield [
        "customer_external_id",
        "churn_probability",
        "expected_visits",
        "expected_spend",
        "clv",
        "segment",
        *(f"response_{code}" for code in codes),
    ]
    for external_id, churn, visits, spend, clv, segment, responses in customer_scores_export_rows(
        run=run
    ):
        answers = responses or {}
        yield [
            external_id,
            _fixed(churn, 4),
            _fixed(visits, 2),
            _fixed(spend, 2),
            _fixed(clv, 2),
            segment,
            *(_fixed(answers.get(c), 4) for c in codes),
        ]


# --- Offer candidates (recommendation runs) ---------------------------------------------------

#: Columns of :func:`offer_candidates`, in order.
OFFER_CANDIDATE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "product_id",
    "kind",
    "score",
    "rank",
    "incremental_value",
    "reason",
)


def recommendation_run_latest_succeeded(*, retailer: Retailer) -> RecommendationRun | None:
    """The retailer's most recently finished successful recommendation run."""
    return (
        RecommendationRun.objects.for_retailer(retailer)
        .filter(status=RunStatus.SUCCEEDED)
        .order_by("-finished_at", "-pk")
        .first()
    )


def offer_candidates(
    retailer: Retailer, *, run: RecommendationRun | None = None, top_k: int = 10
) -> pd.DataFrame:
    """Each customer's best ``top_k`` offer candidates of ``run`` (default: the retailer's
    latest successful recommendation run).

    Returns:
        A frame with :data:`OFFER_CANDIDATE_COLUMNS`: ``customer_id``, ``product_id`` (int64),
        ``kind`` ("buy_again", "try" or "popular"), ``score`` (float64), ``rank`` (int64,
        1 = best), ``incremental_value`` (``Decimal``, expected incremental margin per offer
        before the discount's cost) and ``reason`` (text); sorted by customer and rank. Empty
        (with these columns) when the retailer has no successful run.

    Raises:
        ValueError: ``run`` belongs to another retailer, or ``top_k`` < 1.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    if run is None:
        run = recommendation_run_latest_succeeded(retailer=retailer)
    elif run.retailer_id != retailer.pk:
        raise ValueError(f"recommendation run #{run.pk} is not a run of {retailer}")
    if run is None:
        rows: list[tuple[Any, ...]] = []
    else:
        rows = list(
            OfferCandidate.objects.filter(run=run, rank__lte=top_k)
            .order_by("customer_id", "rank")
            .values_list(*OFFER_CANDIDATE_COLUMNS)
        )
    import pandas as pd  # here: the admin imports this module at every start-up

    frame = pd.DataFrame.from_records(rows, columns=list(OFFER_CANDIDATE_COLUMNS))
    return frame.astype(
        {"customer_id": "int64", "product_id": "int64", "score": "float64", "rank": "int64"}
    )


#: (key in the holdout table, label) of the three lists, in display order.
RECOMMENDATION_LISTS: tuple[tuple[str, str], ...] = (
    ("model", "Recommender (buy again + try + popular)"),
    ("popularity", "Baseline: most popular items"),
    ("buy_again", "Baseline: the customer's most bought items"),
)


def recommendation_holdout_table(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows ``{label, precision, recall, ndcg, new_item_hit_share, incremental_value_per_offer,
    customers}`` of a recommendation run's holdout, model first; empty without a holdout."""
    table = (metrics.get("holdout") or {}).get("table") or {}
    return [
        {"key": key, "label": label, **table[key]}
        for key, label in RECOMMENDATION_LISTS
        if key in table
    ]


def recommendation_run_latest(*, retailer: Retailer) -> RecommendationRun | None:
    """The retailer's newest recommendation run, whatever its status."""
    return RecommendationRun.objects.for_retailer(retailer).order_by("-created_at", "-pk").first()
