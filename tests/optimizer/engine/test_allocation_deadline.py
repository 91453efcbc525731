"""The time limit is one wall-clock budget for the whole ``allocate`` call.

No test here measures time: a fake clock is injected and advanced by the stages, and the tests
check what each solver was allowed and what the call returns once the budget is spent
(bench/allocation.py measures the real wall time)."""

from __future__ import annotations

from datetime import date

import pytest

from optimizer.engine.allocation import InfeasibleAllocation, allocate
from optimizer.engine.allocation import dual as dual_module
from optimizer.engine.allocation import master as master_module
from optimizer.engine.allocation import milp as milp_module
from optimizer.engine.allocation.deadline import MIN_SOLVER_SECONDS, Deadline
from optimizer.engine.allocation.solver import make_solver
from optimizer.engine.allocation.synthetic import make_instance

WEEK = date(2024, 3, 4)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(inst, *, clock, time_limit, method):
    return allocate(
        inst.customers,
        inst.response,
        inst.bonus_types,
        inst.constraints,
        week_start=WEEK,
        horizon_weeks=inst.horizon_weeks,
        random_state=0,
        time_limit=time_limit,
        method=method,
        with_reasons=False,
        clock=clock,
    )


def test_deadline_shares_what_is_left():
    clock = FakeClock()
    deadline = Deadline(10.0, clock)
    clock.now += 4
    assert deadline.remaining() == pytest.approx(6.0)
    assert deadline.share(0.5) == pytest.approx(clock.now + 3.0)
    assert deadline.solver_seconds(cap=2.0) == pytest.approx(2.0)
    clock.now += 7
    assert deadline.expired()
    assert deadline.remaining() == 0.0
    assert deadline.solver_seconds() == MIN_SOLVER_SECONDS
    with pytest.raises(ValueError, match="time_limit"):
        Deadline(0.0, clock)


def test_milp_solvers_share_one_budget(monkeypatch):
    """Each LP and the MILP get what is left, not the full limit (the old 23.9 s for 10 s)."""
    clock = FakeClock()
    limits: list[float] = []

    def timed_solver(time_limit, **kwargs):
        limits.append(time_limit)
        clock.now += 4.0  # every solve "takes" 4 s
        return make_solver(time_limit, **kwargs)

    monkeypatch.setattr(milp_module, "make_solver", timed_solver)
    inst = make_instance(300, seed=4)
    result = run(inst, clock=clock, time_limit=10, method="milp")
    assert limits == pytest.approx([10.0, 6.0, 2.0])
    assert result.status == "time_limit"  # the deadline was spent, whatever HiGHS said
    assert result.objective <= result.lp_bound + 1e-9


def test_dual_returns_its_best_allocation_and_bound_when_the_deadline_passes(monkeypatch):
    clock = FakeClock()
    limits: list[float] = []
    original = dual_module.check_feasible

    def slow_check(core):
        clock.now += 11.0  # the deadline passes as the decomposition starts
        return original(core)

    master_solve = master_module.MasterLP.solve

    def recorded(self, seconds):
        limits.append(seconds)
        return master_solve(self, seconds)

    monkeypatch.setattr(dual_module, "check_feasible", slow_check)
    monkeypatch.setattr(master_module.MasterLP, "solve", recorded)
    inst = make_instance(3_000, seed=5)
    result = run(inst, clock=clock, time_limit=10, method="dual")
    assert limits
    assert max(limits) <= MIN_SOLVER_SECONDS
    assert result.details["iterations"] == 1
    assert result.details["iterations_plus10"] == 0
    # no residual MILP past the deadline: the feasible LP rounding or the greedy repair
    assert result.method in (
        "dantzig-wolfe + LP rounding + fill",
        "dantzig-wolfe + greedy repair",
    )
    assert result.objective <= result.lp_bound + 1e-9
    assert result.total_expected_cost <= inst.constraints.budget + 1e-6
    if result.gap > 1e-4:
        assert result.status == "time_limit"
        assert result.gap_exceeds_tolerance


def test_milp_fallback_gets_what_is_left_of_the_same_budget(monkeypatch):
    clock = FakeClock()
    seen: list[float] = []

    def no_incumbent(core, *, deadline, config):
        clock.now += 9.0
        raise milp_module.MilpNoIncumbent("none in 9 s")

    def fallback(core, *, deadline, config, pricing=None):
        seen.append(deadline.remaining())
        return original(core, deadline=deadline, config=config, pricing=pricing)

    original = dual_module.solve_dual
    monkeypatch.setattr("optimizer.engine.allocation.api.solve_milp", no_incumbent)
    monkeypatch.setattr("optimizer.engine.allocation.api.solve_dual", fallback)
    inst = make_instance(300, seed=4)
    result = run(inst, clock=clock, time_limit=10, method="milp")
    assert seen == [pytest.approx(1.0)]
    assert result.status == "time_limit"


def test_dual_never_claims_an_unproven_conflict(monkeypatch):
    """A recovery that finds nothing feasible on a feasible instance is reported as such."""
    import numpy as np

    def nothing(core, red, bound, config, deadline, **kwargs):
        return np.full(core.value.shape[0], -1, dtype=np.int64), "broken", 0

    monkeypatch.setattr(dual_module, "recover", nothing)
    inst = make_instance(3_000, seed=5)  # feasible: "at risk" coverage within budget and caps
    with pytest.raises(InfeasibleAllocation) as err:
        run(inst, clock=None, time_limit=60, method="dual")
    assert err.value.constraint == "time_limit"
    assert "not proven infeasible" in str(err.value)
