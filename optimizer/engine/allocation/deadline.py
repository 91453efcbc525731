"""The wall-clock budget of one ``allocate`` call, shared by every stage and solver below it.

Objective: ``time_limit`` bounds the whole call, not each solver in it. Before, every LP, the
MILP and its fallback each received the full limit (a 600 s limit ran 1,497 s); now one
:class:`Deadline` is created when the call starts and every stage asks it what is left, so the
call ends within the limit (plus the last solver's own reaction time) with its best answer and
its bound.

Constraints: the clock is injectable (``time.perf_counter`` by default), so tests drive a fake
clock instead of timing anything; no other clock is read by the solvers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: The smallest limit handed to a solver: HiGHS and CBC need a positive limit, and a call past
#: its deadline still returns the answer it has (this only bounds the overshoot per solver call).
MIN_SOLVER_SECONDS = 0.05


@dataclass(frozen=True)
class Deadline:
    """``seconds`` of wall time from ``start`` on ``clock``.

    Attributes:
        seconds: the whole call's budget.
        clock: a monotonic clock in seconds (injected by tests).
        start: the clock's reading when the call started.
    """

    seconds: float
    clock: Callable[[], float] = time.perf_counter
    start: float = field(default=float("nan"))

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ValueError(f"time_limit must be positive, got {self.seconds}")
        if self.start != self.start:  # NaN: start now
            object.__setattr__(self, "start", self.clock())

    @property
    def at(self) -> float:
        """The clock reading at which the budget runs out."""
        return self.start + self.seconds

    def elapsed(self) -> float:
        """Seconds since the call started."""
        return self.clock() - self.start

    def remaining(self) -> float:
        """Seconds left (0 when past the deadline)."""
        return max(self.at - self.clock(), 0.0)

    def expired(self) -> bool:
        """Whether the budget is spent."""
        return self.clock() >= self.at

    def share(self, fraction: float) -> float:
        """Clock reading by which ``fraction`` of the *remaining* time is used (a stage's cut)."""
        now = self.clock()
        return now + fraction * max(self.at - now, 0.0)

    def until(self, at: float) -> Deadline:
        """The same budget cut to end at clock reading ``at`` (a stage's share; never later)."""
        end = min(at, self.at)
        return Deadline(max(end - self.start, 1e-9), self.clock, self.start)

    def solver_seconds(self, cap: float | None = None) -> float:
        """A solver's time limit: what is left (at most ``cap``), never below the minimum."""
        left = self.remaining() if cap is None else min(self.remaining(), cap)
        return max(left, MIN_SOLVER_SECONDS)
