"""Pricing of the Dantzig-Wolfe decomposition (``dual.py``): every customer's best option at
given multipliers, and the aggregated column they form.

Objective: for multipliers ``lam`` (budget), ``mu`` (caps), ``nu`` (coverage) and ``sigma``
(coupling rows) every customer takes ``argmax_b v[i,b] - lam*c[i,b] - mu[b] - sum sigma*w[i,b]
+ nu[S(i)]`` if positive, else nothing; the Lagrangian bound is the sum of those positive
gains plus the multipliers' right-hand-side terms.

Constraints: the gain and the column are sums over customers, so pricing splits by customer
range: a chunk prices its customers alone (:class:`LocalPricing` on a chunk's :class:`ChunkData`)
and returns a partial gain and a partial column; :class:`ChunkedPricing` sums them (choices are
concatenated in chunk order) and adds the right-hand-side terms once. *Where* the chunks run is
the caller's business (``ChunkMap``): in this process for tests, on django-q2 workers in the
service layer (``optimizer/services/allocation_fanout.py``). The recovery's reduced values are
still computed over the whole core by whoever holds it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from optimizer.engine.allocation.coupling import layers, subtract_duals
from optimizer.engine.allocation.problem import Core

#: Per block: value (B,), cost (B,), count (B, K), cover (B, C), rows (B, R); and the choice.
Column = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
#: Columns are disaggregated by the customer attribute with the most coupling rows when it has
#: at most this many values (e.g. one block per store): each block mixes pricing answers on its
#: own, which makes the master converge in far fewer passes when many rows couple customers.
MAX_BLOCKS = 256


@dataclass(frozen=True)
class Multipliers:
    """One pricing point: ``lam`` (budget), ``mu`` (K,), ``nu`` (coverage minima,) and
    ``sigma`` (coupling rows, signed: >= 0 for a cap, <= 0 for a minimum)."""

    lam: float
    mu: np.ndarray
    nu: np.ndarray
    sigma: np.ndarray


class Pricing(Protocol):
    """What the column generation needs from pricing (``dual.py``)."""

    core: Core
    need: np.ndarray
    block: np.ndarray
    n_blocks: int

    def price(
        self, lam: float, mu: np.ndarray, nu: np.ndarray, sigma: np.ndarray, budget: float
    ) -> tuple[float, Column]:
        """(Lagrangian bound, aggregated column) over every customer."""
        ...

    def reduced(
        self,
        lam: float,
        mu: np.ndarray,
        nu: np.ndarray,
        sigma: np.ndarray,
        *,
        in_buffer: bool = False,
    ) -> np.ndarray:
        """Reduced value per (customer, type), a fresh (n, K) array; ``in_buffer``: the work
        buffer itself (no 48 MB copy at 1M x 6), for a caller that prices no more after it."""
        ...


#: Builds the pricing of a core (``solve_dual``'s ``pricing`` argument).
PricingFactory = Callable[[Core], Pricing]
#: Prices every chunk at the multipliers: ``(gain, column)`` per chunk, in chunk order.
ChunkMap = Callable[[Multipliers], Sequence[tuple[float, Column]]]


def blocks_of(core: Core) -> tuple[np.ndarray, int]:
    """Block per customer (see ``MAX_BLOCKS``); one block when no attribute qualifies."""
    n = core.value.shape[0]
    attrs = [r.attr for r in core.extra if r.attr >= 0]
    if attrs:
        attr = max(set(attrs), key=attrs.count)
        codes = core.groups[attr]
        size = int(codes.max(initial=0)) + 1
        if size <= MAX_BLOCKS:
            return codes.astype(np.int64), size
    return np.zeros(n, dtype=np.int64), 1


def bound_of(gain: float, core: Core, m: Multipliers, budget: float) -> float:
    """The Lagrangian bound: ``gain + lam*budget + mu@caps - nu@need + sigma@limits``."""
    caps = np.where(np.isfinite(core.caps), core.caps, 0.0)
    need = np.array([float(n) for _, n in core.coverage])
    bound = gain + m.lam * budget + float(m.mu @ caps) - float(m.nu @ need)
    return bound + float(m.sigma @ core.extra_limits())


class LocalPricing:
    """Vectorised pricing over a core in this process; holds the work buffer.

    ``blocks``: the block per customer and the block count when this core is one chunk of a
    larger one (its blocks must be the whole core's), else computed by :func:`blocks_of`.
    """

    def __init__(self, core: Core, blocks: tuple[np.ndarray, int] | None = None) -> None:
        self.core = core
        self.buf = np.empty_like(core.value)
        self.ar = np.arange(core.value.shape[0])
        self.cov_segs = np.array([s for s, _ in core.coverage], dtype=np.int64)
        self.need = np.array([float(n) for _, n in core.coverage])
        self.block, self.n_blocks = blocks if blocks is not None else blocks_of(core)
        # the coupling rows packed into layers (each pair counts in at most one row of a
        # layer): one bincount per layer in ``_aggregate`` instead of three passes per row
        n_rows = len(core.extra)
        self.layers = layers(core.extra, core.groups, len(core.types), np.ones(n_rows, bool))
        self.weighted = np.array([row.cost_weighted for row in core.extra], dtype=bool)

    def reduced(
        self,
        lam: float,
        mu: np.ndarray,
        nu: np.ndarray,
        sigma: np.ndarray,
        *,
        in_buffer: bool = False,
    ) -> np.ndarray:
        """``v - lam*c - mu + nu[seg] - sum sigma*w`` (-inf for non-candidates): a fresh array,
        or with ``in_buffer`` the work buffer itself (the next pricing pass overwrites it)."""
        red = self._base(lam, mu, sigma)
        if not in_buffer:
            red = red.copy()
        if self.cov_segs.size:
            red += self._shift(nu)[:, None]
        return red

    def _base(self, lam: float, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        buf = self.buf
        if lam == 0.0:  # a budget that does not bind (coupled cores): one pass fewer
            np.copyto(buf, self.core.value)
        else:
            np.multiply(self.core.cost, -lam, out=buf)
            buf += self.core.value
        buf -= mu
        if self.core.extra:
            subtract_duals(self.core.extra, self.core.groups, self.core.cost, sigma, buf)
        return buf

    def _shift(self, nu: np.ndarray) -> np.ndarray:
        shift = np.zeros(len(self.core.segments))
        shift[self.cov_segs] = nu
        per_customer: np.ndarray = shift[self.core.seg]
        return per_customer

    def gain(self, m: Multipliers) -> tuple[float, Column]:
        """(sum of the positive best reduced values, aggregated column) of this core's customers.

        The coverage shift is constant per customer, so it does not change the argmax over
        types and is added after it (one pass fewer over the (n, K) arrays).
        """
        base = self._base(m.lam, m.mu, m.sigma)
        best = base.argmax(axis=1)
        top = base[self.ar, best]
        if self.cov_segs.size:
            top += self._shift(m.nu)
        pos = top > 0
        choice = np.where(pos, best, -1)
        return float(top.sum(where=pos)), self._aggregate(choice)

    def price(
        self, lam: float, mu: np.ndarray, nu: np.ndarray, sigma: np.ndarray, budget: float
    ) -> tuple[float, Column]:
        """(Lagrangian bound, aggregated column) at the given multipliers, over every customer."""
        m = Multipliers(lam, mu, nu, sigma)
        gain, column = self.gain(m)
        return bound_of(gain, self.core, m, budget), column

    def _aggregate(self, choice: np.ndarray) -> Column:
        core, b = self.core, self.n_blocks
        rows = np.flatnonzero(choice >= 0)
        pick = choice[rows]
        k, n_seg, n_rows = len(core.types), len(core.segments), len(core.extra)
        w_cost = core.cost[rows, pick]
        if b == 1:  # no block arithmetic: plain sums and bincounts (most cores)
            blk = None
            value = np.array([core.value[rows, pick].sum()])
            cost = np.array([w_cost.sum()])
            count = np.bincount(pick, minlength=k).astype(np.float64)[None, :]
            covered = np.bincount(core.seg[rows], minlength=n_seg)[None, :]
        else:
            blk = self.block[rows]
            value = np.bincount(blk, weights=core.value[rows, pick], minlength=b)
            cost = np.bincount(blk, weights=w_cost, minlength=b)
            count = np.bincount(blk * k + pick, minlength=b * k).reshape(b, k).astype(np.float64)
            covered = np.bincount(blk * n_seg + core.seg[rows], minlength=b * n_seg)
            covered = covered.reshape(b, n_seg)
        cover = covered[:, self.cov_segs].astype(np.float64)
        extra = np.zeros((b, n_rows))
        for attr, table in self.layers:
            rid = table[0 if attr < 0 else core.groups[attr][rows], pick]
            hit = np.flatnonzero(rid >= 0)
            rr = rid[hit]
            w = np.where(self.weighted[rr], w_cost[hit], 1.0)
            key = rr if blk is None else blk[hit] * n_rows + rr
            extra += np.bincount(key, weights=w, minlength=b * n_rows).reshape(b, n_rows)
        return value, cost, count, cover, extra, choice.astype(np.int8)


@dataclass(frozen=True, eq=False)
class ChunkData:
    """What one chunk's pricing needs: its customers' core and their (whole-core) blocks."""

    core: Core
    block: np.ndarray
    n_blocks: int

    def pricing(self) -> LocalPricing:
        return LocalPricing(self.core, (self.block, self.n_blocks))


def chunk_ranges(n: int, chunks: int) -> list[tuple[int, int]]:
    """``chunks`` contiguous ``[start, stop)`` ranges of core positions, sizes within one."""
    edges = np.linspace(0, n, max(1, min(chunks, n)) + 1).round().astype(np.int64)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges.tolist())]


def split(core: Core, chunks: int) -> list[ChunkData]:
    """The core cut into customer-range chunks (right-hand sides are irrelevant to a gain)."""
    block, n_blocks = blocks_of(core)
    out = []
    for start, stop in chunk_ranges(core.value.shape[0], chunks):
        idx = np.arange(start, stop)
        sub = core.subset(
            idx,
            budget=core.budget,
            caps=core.caps,
            coverage=core.coverage,
            limits=core.extra_limits(),
        )
        out.append(ChunkData(sub, block[start:stop], n_blocks))
    return out


def combine(parts: Sequence[tuple[float, Column]]) -> tuple[float, Column]:
    """Sum of the chunks' gains and columns; their choices concatenated in chunk order."""
    if not parts:
        raise ValueError("no chunk answered")
    gain = float(sum(g for g, _ in parts))
    sums = [np.sum([col[j] for _, col in parts], axis=0) for j in range(5)]
    choice = np.concatenate([col[5] for _, col in parts])
    return gain, (sums[0], sums[1], sums[2], sums[3], sums[4], choice)


class ChunkedPricing:
    """Pricing summed over customer-range chunks priced by ``chunk_map`` (anywhere).

    The whole core stays here for the metadata and the recovery's ``reduced``; only the
    pricing passes, the bulk of the column generation's work, go to the chunks.
    """

    def __init__(self, core: Core, chunk_map: ChunkMap) -> None:
        self.local = LocalPricing(core)
        self.core = core
        self.need = self.local.need
        self.block, self.n_blocks = self.local.block, self.local.n_blocks
        self.chunk_map = chunk_map
        self.passes = 0

    def price(
        self, lam: float, mu: np.ndarray, nu: np.ndarray, sigma: np.ndarray, budget: float
    ) -> tuple[float, Column]:
        """(Lagrangian bound, aggregated column): the chunks' sums plus the constant terms."""
        m = Multipliers(lam, mu, nu, sigma)
        gain, column = combine(self.chunk_map(m))
        self.passes += 1
        if column[5].shape[0] != self.core.value.shape[0]:
            raise ValueError("the chunks' choices do not cover the core's customers")
        return bound_of(gain, self.core, m, budget), column

    def reduced(
        self,
        lam: float,
        mu: np.ndarray,
        nu: np.ndarray,
        sigma: np.ndarray,
        *,
        in_buffer: bool = False,
    ) -> np.ndarray:
        return self.local.reduced(lam, mu, nu, sigma, in_buffer=in_buffer)


def in_process(chunks: Sequence[ChunkData]) -> ChunkMap:
    """A ``ChunkMap`` pricing ``chunks`` one after the other in this process (tests, bench)."""
    pricers = [c.pricing() for c in chunks]

    def chunk_map(m: Multipliers) -> list[tuple[float, Column]]:
        return [p.gain(m) for p in pricers]

    return chunk_map
