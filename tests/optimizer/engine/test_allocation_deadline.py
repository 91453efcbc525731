"""The time limit is one wall-clock budget for the whole ``allocate`` call.

No test here measures time: a fake clock is injected and advanced by the stages, and the tests
check what each solver was allowed and what the call returns once the budget is spent
(bench/allocation.py measures the real wall time)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from optimizer.engine.allocation import AllocationConfig, InfeasibleAllocation, allocate, fallback
from optimizer.engine.allocation import api as api_module
from optimizer.engine.allocation import dual as dual_module
from optimizer.engine.allocation import fill as fill_module
from optimizer.engine.allocation import master as master_module
from optimizer.engine.allocation import milp as milp_module
from optimizer.engine.allocation import recovery as recovery_module
from optimizer.engine.allocation.deadline import MIN_SOLVER_SECONDS, Deadline
from optimizer.engine.allocation.solver import is_feasible, make_solver, objective
from optimizer.engine.allocation.stages import read_inputs, value_pairs
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

    def nothing(core, red, bound, config, deadline, **kwargs):
        return np.full(core.value.shape[0], -1, dtype=np.int64), "broken", 0

    monkeypatch.setattr(dual_module, "recover", nothing)
    inst = make_instance(3_000, seed=5)  # feasible: "at risk" coverage within budget and caps
    with pytest.raises(InfeasibleAllocation) as err:
        run(inst, clock=None, time_limit=60, method="dual")
    assert err.value.constraint == "time_limit"
    assert "not proven infeasible" in str(err.value)


def _stage_takes(monkeypatch, clock, seconds):
    """The value stage "takes" ``seconds`` on the fake clock."""
    original = api_module.value_pairs

    def slow(*args, **kwargs):
        clock.now += seconds
        return original(*args, **kwargs)

    monkeypatch.setattr(api_module, "value_pairs", slow)


@pytest.mark.parametrize("with_reasons", [False, True])
def test_solve_ends_early_enough_for_the_decisions(monkeypatch, with_reasons):
    clock = FakeClock()
    started = clock.now
    seen: list[float] = []
    original = dual_module.solve_dual

    def recorded(core, *, deadline, config, pricing=None):
        seen.append(deadline.at - started)
        return original(core, deadline=deadline, config=config, pricing=pricing)

    _stage_takes(monkeypatch, clock, 2.0)
    monkeypatch.setattr(api_module, "solve_dual", recorded)
    inst = make_instance(3_000, seed=5)
    allocate(
        inst.customers,
        inst.response,
        inst.bonus_types,
        inst.constraints,
        week_start=WEEK,
        horizon_weeks=inst.horizon_weeks,
        random_state=0,
        time_limit=30,
        method="dual",
        with_reasons=with_reasons,
        clock=clock,
    )
    later = api_module.DECISIONS_FACTOR + api_module.REASONS_FACTOR * with_reasons
    reserve = 2.0 * (api_module.OVERRUN_FACTOR + later)
    assert seen == [pytest.approx(30.0 - reserve)]


def test_quick_answer_when_the_value_stage_spends_the_budget(monkeypatch):
    """Inputs and values used 9 of 10 s: no decomposition, a feasible answer and its bound."""
    clock = FakeClock()

    def never(core, *, deadline, config):
        raise AssertionError("the decomposition must not start without time for it")

    _stage_takes(monkeypatch, clock, 9.0)
    monkeypatch.setattr(api_module, "solve_dual", never)
    inst = make_instance(3_000, seed=5)
    result = run(inst, clock=clock, time_limit=10, method="dual")
    assert result.status == "time_limit"
    assert result.method == fallback.METHOD
    assert result.objective <= result.lp_bound + 1e-9
    assert result.total_expected_cost <= inst.constraints.budget + 1e-6
    assert all(c.slack >= -1e-6 for c in result.constraints)  # caps and coverage hold
    assert (result.decisions["status"] == "allocated").sum() > 0


def test_quick_bound_is_certified_and_tighter_than_no_multiplier():
    inst = make_instance(400, seed=3)
    inp = read_inputs(
        inst.customers, inst.response, inst.bonus_types, inst.constraints, random_state=0
    )
    config = AllocationConfig()
    core = value_pairs(
        inp, inst.constraints, horizon_weeks=inst.horizon_weeks, uplift=None, config=config
    ).core
    deadline = Deadline(600.0, FakeClock())
    exact = milp_module.solve_milp(core, deadline=deadline, config=config)
    best = objective(core, exact.choice)
    quick = fallback.quick_solution(core, deadline, deadline.at)
    unpriced, _ = fallback._evaluate(core, 0.0, np.empty_like(core.value))  # lam = 0
    assert is_feasible(core, quick.choice)
    assert objective(core, quick.choice) <= best + 1e-6
    assert quick.lp_bound >= best - 1e-6
    assert quick.lp_bound < unpriced  # the budget binds here: the bisection tightened the bound


def test_recovery_tries_no_larger_residual_than_the_time_left_pays_for(monkeypatch):
    clock = FakeClock()
    calls: list[int] = []

    def slow_failure(sub, *, time_limit, gap_abs):
        calls.append(sub.rows.shape[0])
        clock.now += 3.0  # the residual MILP "takes" 3 s and finds nothing
        return None

    monkeypatch.setattr(recovery_module, "solve_sub_milp", slow_failure)
    inst = make_instance(3_000, seed=5)
    inp = read_inputs(
        inst.customers, inst.response, inst.bonus_types, inst.constraints, random_state=0
    )
    config = AllocationConfig(free_customers=100)
    core = value_pairs(
        inp, inst.constraints, horizon_weeks=inst.horizon_weeks, uplift=None, config=config
    ).core
    red = core.value.copy()
    deadline = Deadline(10.0, clock)
    choice, how, _ = recovery_module.recover(core, red, 1.0, config, deadline)
    # the next attempt, 4x larger, would take about 12 s with 7 s left: greedy instead
    assert len(calls) == 1
    assert how == "greedy repair"
    assert is_feasible(core, choice)


def test_recovery_overruns_rather_than_fail_when_greedy_cannot_meet_the_minimums(monkeypatch):
    clock = FakeClock()
    calls: list[int] = []
    original = recovery_module.solve_sub_milp

    def slow_then_real(sub, *, time_limit, gap_abs):
        calls.append(sub.rows.shape[0])
        clock.now += 3.0
        return None if len(calls) == 1 else original(sub, time_limit=60, gap_abs=gap_abs)

    monkeypatch.setattr(recovery_module, "solve_sub_milp", slow_then_real)
    monkeypatch.setattr(recovery_module, "greedy", lambda core, choice, red: choice * 0 - 1)
    inst = make_instance(3_000, seed=5)
    inp = read_inputs(
        inst.customers, inst.response, inst.bonus_types, inst.constraints, random_state=0
    )
    config = AllocationConfig(free_customers=100)
    core = value_pairs(
        inp, inst.constraints, horizon_weeks=inst.horizon_weeks, uplift=None, config=config
    ).core
    deadline = Deadline(10.0, clock)
    choice, how, _ = recovery_module.recover(core, core.value.copy(), 1.0, config, deadline)
    # the "greedy" (here: nothing allocated) misses the "at risk" minimum: the larger residual
    # MILP runs although it should overrun the limit
    assert len(calls) == 2
    assert how.startswith("fix-and-solve")
    assert is_feasible(core, choice)


def test_greedy_fill_goes_past_its_window(monkeypatch):
    """``fill`` takes its candidates in windows: a small window gives the same allocation (a
    single window left most of the budget unspent at 10M)."""
    inst = make_instance(3_000, seed=5)
    inp = read_inputs(
        inst.customers, inst.response, inst.bonus_types, inst.constraints, random_state=0
    )
    config = AllocationConfig()
    core = value_pairs(
        inp, inst.constraints, horizon_weeks=inst.horizon_weeks, uplift=None, config=config
    ).core
    deadline = Deadline(600.0, FakeClock())
    full = fallback.quick_solution(core, deadline, deadline.at)
    monkeypatch.setattr(fill_module, "FILL_MAX", 100)
    windowed = fallback.quick_solution(core, deadline, deadline.at)
    assert (full.choice >= 0).sum() > 300  # more than the window: the chunks matter
    assert objective(core, windowed.choice) == pytest.approx(objective(core, full.choice))
