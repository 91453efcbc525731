"""Django <-> DataFrame adapters of the scoring engine: the only place the ORM meets pandas.

Reads a retailer's history into the frames that ``optimizer.engine.history.prepare_history``
documents, and writes engine scores back as :class:`~optimizer.models.CustomerScore` rows.

* Only data strictly before ``as_of`` is read: transactions before midnight of ``as_of`` in the
  retailer's time zone, offers sent before ``as_of`` (a redemption on or after ``as_of`` reads as
  "not redeemed"), customers enrolled before ``as_of``.
* The business date of a transaction is its local date in the retailer's time zone.
* Rows come ordered by ``customer_id`` then date, as the engine reads them fastest.
* Customers are chosen by an inclusive id range (a chunk), an explicit id list (the training
  sample), or neither (all).

The aggregation runs in SQL and the rows stream out with ``COPY (SELECT ...) TO STDOUT``
(psycopg 3 ``cursor.copy``) into ``pandas.read_csv``; business dates are computed there with
``AT TIME ZONE``. Baskets and category days come from one query whose cost follows the chunk's
own baskets (see ``optimizer.queries.history``; every statement is in
``optimizer.queries``, scoped to the retailer by ``loyalty_site.sql``). Scores go back through
:func:`loyalty_site.bulk.insert_frame` (``COPY``).

Offers are "the response to past offers" input of the next run: today the imported
:class:`~campaigns.models.PastOffer` history; platform-issued bonuses join by adding one more
``SELECT`` of the same five columns to :data:`OFFER_SOURCES`.
"""

from optimizer.frames.common import (
    ALL_CUSTOMERS,
    CustomerFilter,
    ScoringFrames,
    cutoff_of,
)
from optimizer.frames.reads import (
    OFFER_SOURCES,
    baskets_frame,
    bonus_type_codes,
    category_days_frame,
    customers_frame,
    history_frames,
    offers_frame,
    scoring_frames_read,
)
from optimizer.frames.writes import (
    REASON_MAX,
    SEGMENT_MAX,
    customer_scores_write,
    round_half_up,
    score_rows,
)

__all__ = [
    "ALL_CUSTOMERS",
    "OFFER_SOURCES",
    "REASON_MAX",
    "SEGMENT_MAX",
    "CustomerFilter",
    "ScoringFrames",
    "baskets_frame",
    "bonus_type_codes",
    "category_days_frame",
    "customer_scores_write",
    "customers_frame",
    "cutoff_of",
    "history_frames",
    "offers_frame",
    "round_half_up",
    "score_rows",
    "scoring_frames_read",
]
