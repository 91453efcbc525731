"""Per-customer choice at given multipliers (the Lagrangian subproblem), vectorised.

Objective: for reduced values ``r = value - sum_k y[k] * a[k, option]`` every customer takes its
required options and then, among the others, at most one generic and up to N in all, the ones
with the largest positive ``r``. This polytope (a cardinality limit nested with a one-generic
limit) is integral, so the choice is the exact optimum of the customer's LP for those ``y``.

Also returns each customer's *margin*: how far its reduced values are from a tie at the
decision boundary (zero, or the runner-up for the last slot, or the second generic). A customer
with a large margin makes the same choice for all multipliers near ``y``; small margins mark the
customers an LP optimum may split fractionally.

Hand-written (not an LP call) because it is a sort of at most a few options per customer done
for a million customers per iteration; numpy does it in a few array passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.engine.offers.rows import Layout


@dataclass(frozen=True, eq=False)
class Priced:
    """Answer of :func:`price`: ``pick`` (bool per option), per-customer reduced ``value`` of the
    choice (required options included) and ``margin`` (inf when nothing is close to a tie)."""

    pick: np.ndarray
    value: np.ndarray
    margin: np.ndarray


def _other_generics(layout: Layout, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Generic cells that lose to the customer's best free generic (or to a required one), and
    the gap between the best and second-best free generic (inf if fewer than two)."""
    free_generic = layout.generic & ~layout.required
    scores = np.where(free_generic, grid, -np.inf)
    best = np.argmax(scores, axis=1) if layout.width else np.zeros(0, dtype=np.int64)
    cols = np.arange(layout.width)[None, :]
    losing = free_generic & ((cols != best[:, None]) | layout.locked_generic[:, None])
    top2 = -np.sort(-scores, axis=1)[:, :2] if layout.width >= 2 else scores
    gap = np.full(layout.customers, np.inf)
    if top2.shape[1] == 2:
        both = np.isfinite(top2).all(axis=1) & ~layout.locked_generic
        gap[both] = top2[both, 0] - top2[both, 1]
    return losing, gap


def price(layout: Layout, reduced: np.ndarray) -> Priced:
    """Each customer's best choice for the per-option ``reduced`` values."""
    grid = layout.grid(reduced, -np.inf)
    losing, generic_gap = _other_generics(layout, grid)
    free = np.where(~layout.required & ~losing, grid, -np.inf)
    order = np.argsort(-free, axis=1, kind="stable")
    ordered = np.take_along_axis(free, order, axis=1)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(layout.width)[None, :], axis=1)
    slots = layout.slots_left[:, None]
    chosen = layout.required | ((free > 0) & (ranks < slots))
    value = np.where(chosen, grid, 0.0).sum(axis=1)
    return Priced(
        pick=chosen[layout.code, layout.pos],
        value=value,
        margin=np.minimum(_margin(ordered, layout.slots_left), generic_gap),
    )


def _margin(ordered: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """Distance to a tie: ``|r|`` of the options ranked up to the first left out, and the gap
    between the last one in and the first one out."""
    width = ordered.shape[1]
    ranks = np.arange(width)[None, :]
    near = np.isfinite(ordered) & (ranks <= slots[:, None])
    margin = np.where(near, np.abs(ordered), np.inf).min(axis=1) if width else np.zeros(0)
    inside = (slots >= 1) & (slots < width)
    rows = np.flatnonzero(inside)
    last_in = ordered[rows, slots[rows] - 1]
    first_out = ordered[rows, slots[rows]]
    split = np.isfinite(first_out) & (last_in > 0)
    gaps = np.where(split, last_in - np.maximum(first_out, 0.0), np.inf)
    margin[rows] = np.minimum(margin[rows], gaps)
    return np.asarray(margin)
