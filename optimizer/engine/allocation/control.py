"""Control group: a reproducible, segment-stratified random hold-out of eligible customers.

Objective: per segment, hold out ``round(share * eligible_in_segment)`` customers, chosen at
random but reproducibly: the same seed and the same customers give the same control group
whatever the row order of the input, because the draw is a keyed hash of ``(seed, customer_id)``
(SplitMix64) rather than a position in a random stream. The customers with the smallest hash in
each segment form its control group.

Constraints: only customers eligible for at least one bonus are drawn (an ineligible customer
would receive nothing anyway and would bias the comparison); control customers are never
allocated; pure numpy.
"""

from __future__ import annotations

import numpy as np

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def keyed_hash(customer_ids: np.ndarray, seed: int) -> np.ndarray:
    """SplitMix64 of ``customer_id`` keyed by ``seed``: uint64, order independent."""
    with np.errstate(over="ignore"):
        key = np.uint64((int(seed) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
        z = customer_ids.astype(np.int64).view(np.uint64) ^ key
        z = (z + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return z ^ (z >> np.uint64(31))


def control_mask(
    customer_ids: np.ndarray,
    segment_codes: np.ndarray,
    eligible: np.ndarray,
    *,
    share: float,
    seed: int,
) -> np.ndarray:
    """Boolean mask of the control group.

    Args:
        customer_ids: int64 per customer (unique).
        segment_codes: int per customer (the strata).
        eligible: bool per customer: may be drawn.
        share: hold-out share of each segment's eligible customers (0 disables).
        seed: the caller's ``random_state``.

    Returns:
        bool per customer, True for the control group (always a subset of ``eligible``).
    """
    out = np.zeros(customer_ids.shape[0], dtype=bool)
    if share <= 0 or not eligible.any():
        return out
    idx = np.flatnonzero(eligible)
    h = keyed_hash(customer_ids[idx], seed)
    seg = segment_codes[idx]
    # SplitMix64 is a bijection of uint64, so distinct ids never tie: (segment, hash) is a total
    # order that does not depend on the input order.
    order = np.lexsort((h, seg))
    seg_sorted = seg[order]
    starts = np.flatnonzero(np.r_[True, seg_sorted[1:] != seg_sorted[:-1]])
    sizes = np.diff(np.r_[starts, seg_sorted.shape[0]])
    rank = np.arange(seg_sorted.shape[0]) - np.repeat(starts, sizes)
    take = rank < np.repeat(np.floor(share * sizes + 0.5), sizes)
    out[idx[order[take]]] = True
    return out
