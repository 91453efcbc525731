"""The offers' time limit is one wall-clock budget for the whole ``offers_allocate`` call.

No test here measures time: a fake clock is injected and advanced as the stages read it, and the
tests check how many passes the column generation starts, what each solver is allowed, and that
the call still answers with a feasible choice and a valid bound once the budget is spent
(bench/offers_allocation.py measures the real wall time).
"""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.engine.allocation.deadline import MIN_SOLVER_SECONDS, Deadline
from optimizer.engine.allocation.solver import make_solver
from optimizer.engine.offers import milp as milp_module
from optimizer.engine.offers import offers_allocate
from optimizer.engine.offers.dual import column_generation
from optimizer.engine.offers.greedy import greedy_fill
from optimizer.engine.offers.milp import solve_milp
from optimizer.engine.offers.rows import build_rows
from tests.optimizer.engine.test_offers_decomposition import (
    assert_feasible,
    random_options,
    tight_limits,
)
from tests.optimizer.engine.test_offers_dual import problem


class TickingClock:
    """Advances ``tick`` seconds at every reading (each pass of the column generation reads it
    once, so a pass "takes" one tick)."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 1000.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


class SolverLimits:
    """Records the time limit of every solver that ``solve_milp`` builds."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seconds: list[float] = []

        def spy(time_limit: float, **kwargs):
            self.seconds.append(time_limit)
            return make_solver(time_limit, **kwargs)

        monkeypatch.setattr(milp_module, "make_solver", spy)


def test_column_generation_starts_no_pass_that_would_end_after_the_deadline():
    frame = random_options(300, 5)
    layout, rows, value = problem(frame, tight_limits(frame, max_offers=3))
    free = column_generation(layout, rows, value, groups=16, tolerance=1e-9, deadline=np.inf)
    assert free.iterations > 3  # the instance needs more passes than the deadline allows

    clock = TickingClock(1.0)
    start = clock.now
    # One pass = one tick. After pass 2 (clock at start + 3: the start reading and one per
    # pass) a third would end at start + 4 > start + 3.5: it is not started.
    stopped = column_generation(
        layout, rows, value, groups=16, tolerance=1e-9, deadline=start + 3.5, clock=clock
    )
    assert stopped.iterations == 2
    assert not stopped.converged
    assert stopped.bound >= free.bound - 1e-6  # still an upper bound


def test_the_milp_and_its_lp_share_what_the_deadline_leaves(monkeypatch):
    frame = random_options(30, 3)
    limits = tight_limits(frame)
    treat = frame.loc[frame["value"] > 0].reset_index(drop=True)
    rows = build_rows(treat, limits)
    clock = TickingClock(0.0)
    deadline = Deadline(10.0, clock)
    limits_seen = SolverLimits(monkeypatch)

    clock.now += 7.0
    solve_milp(treat, rows, limits.max_offers, deadline=deadline, gap_tolerance=1e-4)
    assert limits_seen.seconds == pytest.approx([3.0, 3.0])  # the fake clock stood still

    limits_seen.seconds.clear()
    solve_milp(treat, rows, limits.max_offers, deadline=deadline, time_cap=1.5, gap_tolerance=1e-4)
    assert limits_seen.seconds == pytest.approx([1.5, 1.5])  # the cap, not the 3 s left

    limits_seen.seconds.clear()
    clock.now += 5.0  # past the deadline: the solvers get the minimum and still answer
    answer = solve_milp(treat, rows, limits.max_offers, deadline=deadline, gap_tolerance=1e-4)
    assert limits_seen.seconds == pytest.approx([MIN_SOLVER_SECONDS, MIN_SOLVER_SECONDS])
    assert answer.pick.any()


def test_a_spent_budget_still_answers_feasibly_with_a_valid_bound(monkeypatch):
    # The clock jumps 5 s at every reading of a 30 s budget: the column generation stops after
    # its first pass, the residual MILP gets the minimum, no cut round starts.
    frame = random_options(600, 7)
    limits = tight_limits(frame, max_offers=3)
    exact = offers_allocate(frame, limits, random_state=0, time_limit=300, method="milp")
    limits_seen = SolverLimits(monkeypatch)

    result = offers_allocate(
        frame,
        limits,
        random_state=0,
        time_limit=30,
        method="decomposition",
        clock=TickingClock(5.0),
    )
    assert_feasible(result, limits)
    assert result.bound >= exact.objective - 1e-6
    assert result.objective <= exact.objective + 1e-6
    assert "0 cover cuts" in result.method
    assert max(limits_seen.seconds) <= 0.2 * 30  # RESIDUAL_TIME_SHARE of the limit at most


def test_the_greedy_pass_stops_at_its_deadline_with_a_feasible_start():
    frame = random_options(600, 7)
    limits = tight_limits(frame, max_offers=3)
    treat = frame.loc[frame["value"] > 0].reset_index(drop=True)
    rows = build_rows(treat, limits)
    clock = TickingClock(0.0)
    whole = greedy_fill(treat, rows, limits.max_offers, deadline=Deadline(1.0, clock))
    assert whole.tolist() == greedy_fill(treat, rows, limits.max_offers).tolist()
    assert whole.any()

    clock.now += 2.0  # spent before it starts: nothing is added to the (empty) start
    cut = greedy_fill(treat, rows, limits.max_offers, deadline=Deadline(1.0, clock, clock.now - 2))
    assert not cut.any()


def test_a_time_limit_must_be_positive():
    frame = random_options(5, 1)
    with pytest.raises(ValueError, match="time_limit must be positive"):
        offers_allocate(frame, tight_limits(frame), random_state=0, time_limit=0)
