"""Every solver with time windows: divide (window-aware parts and rounds), cores, the parts (in this process and
on Spark), and the makespan, the blend and minimum stops, each plan checked from scratch."""

from __future__ import annotations

import numpy as np
import pytest

from routing.instances import INSTANCES
from sudoless.routing import check, read_problem
from sudoless.routing.auto import ENGINE_PARTS, choose, solve
from sudoless.routing.model import Objective, Problem
from sudoless.routing.spark import solve_parts
from sudoless.routing.timecuts import window_groups

VRPTW = INSTANCES / "tw6.vrp"


def solomon_like(n: int, seed: int = 0, width: float = 60.0, dispatchers: int = 60) -> Problem:
    """A Solomon R-type instance made on the spot: customers spread over a 100 x 100 square around a central
    depot, windows ``width`` long placed anywhere the customer can be reached and left on time, service 10."""
    rng = np.random.default_rng(seed)
    coords = np.vstack(([50.0, 50.0], rng.uniform(0, 100, size=(n, 2))))
    far = np.hypot(*(coords - coords[0]).T)
    day, serve = 1000.0, 10.0
    latest = day - far - serve - width  # the window may start this late and the vehicle still be back
    ready = rng.uniform(far, np.maximum(far, latest))
    windows = np.column_stack((ready, ready + width))
    windows[0] = [0.0, day]
    demands = np.concatenate(([0.0], rng.integers(1, 20, size=n).astype(float)))
    service = np.full(n + 1, serve)
    service[0] = 0.0
    return Problem(
        coords=coords,
        demands=demands,
        capacity=200.0,
        dispatchers=dispatchers,
        windows=windows,
        service=service,
        name=f"solomon{n}",
    )


def checked(problem: Problem, routes: list[list[int]]) -> float:
    report = check(problem, routes)
    assert report.feasible, report.violations[:3]
    assert sorted(c for r in routes for c in r) == list(range(1, problem.n + 1))
    return report.objective


def test_window_groups_keep_customers_of_similar_times_together() -> None:
    problem = solomon_like(300)
    groups = window_groups(problem, 3, seed=0)
    assert sorted(int(c) for g in groups for c in g) == list(range(1, 301))
    assert problem.windows is not None
    middle = problem.windows[1:].mean(axis=1)
    inside = np.mean([middle[g - 1].std() for g in groups])
    assert inside < 0.8 * middle.std()  # a group spans a shorter part of the day than the whole instance


def test_divide_keeps_the_windows_and_comes_near_pyvrp_alone() -> None:
    problem = solomon_like(300, seed=1)
    divided = solve(problem, solver="divide", time_limit=10.0, seed=0)
    assert divided.solver == "divide" and divided.notes["parts"] == 3 and divided.notes["rounds"] >= 1
    cost = checked(problem, divided.routes)
    report = check(problem, divided.routes, plan=divided.summary(problem))  # every figure of the plan too
    assert report.feasible, report.violations[:3]
    alone = solve(problem, solver="engine", time_limit=10.0, seed=0)
    assert cost <= 1.3 * checked(problem, alone.routes)


@pytest.mark.parametrize("solver", ["divide", "cores", "engine"])
def test_every_solver_keeps_the_windows_on_a_mid_size_instance(solver: str) -> None:
    problem = solomon_like(120, seed=3)
    solution = solve(problem, solver=solver, time_limit=4.0, seed=1)
    checked(problem, solution.routes)


def test_parts_cut_by_place_and_time_keep_the_windows() -> None:
    problem = solomon_like(300, seed=2)
    solution = solve_parts(problem, ENGINE_PARTS, time_limit=8.0, spark=False, part_size=100)
    assert solution.notes["parts"] == 3
    checked(problem, solution.routes)


def test_parts_with_windows_on_spark(spark: object) -> None:
    problem = solomon_like(300, seed=4)
    solution = solve_parts(problem, ENGINE_PARTS, time_limit=20.0, spark=spark, part_size=150)
    assert solution.notes["spark"] and solution.notes["parts"] == 2
    checked(problem, solution.routes)


@pytest.mark.parametrize("objective", [Objective.MAKESPAN, Objective.BLEND])
def test_balanced_objectives_with_windows_agree_with_the_exact_solver(objective: Objective) -> None:
    problem = read_problem(VRPTW, dispatchers=2).with_(objective=objective)
    exact = solve(problem, solver="exact", time_limit=20.0)
    assert exact.optimal
    optimum = checked(problem, exact.routes)
    for solver in ("engine", "divide", "cores"):
        found = solve(problem, solver=solver, time_limit=2.0)
        assert checked(problem, found.routes) == pytest.approx(optimum), solver


def test_minimum_stops_with_windows_agree_with_the_exact_solver() -> None:
    problem = read_problem(VRPTW, dispatchers=4).with_(min_stops=1)
    exact = solve(problem, solver="exact", time_limit=20.0)
    assert exact.optimal
    optimum = checked(problem, exact.routes)
    assert check(problem, exact.routes).idle == []
    free = problem.with_(min_stops=0)
    assert checked(free, solve(free, solver="exact", time_limit=20.0).routes) < optimum  # the minimum matters
    for solver in ("engine", "divide", "cores"):
        found = solve(problem, solver=solver, time_limit=2.0)
        assert checked(problem, found.routes) == pytest.approx(optimum), solver


def test_makespan_with_windows_on_a_mid_size_instance_is_checked_and_balanced() -> None:
    problem = solomon_like(60, seed=5, dispatchers=12).with_(objective=Objective.MAKESPAN)
    total = solve(problem.with_(objective=Objective.TOTAL), solver="engine", time_limit=3.0)
    balanced = solve(problem, solver="engine", time_limit=3.0)
    longest = checked(problem, balanced.routes)
    assert longest <= check(problem, total.routes).makespan + 1e-9  # the probes only ever lower the longest route


def test_auto_picks_a_solver_for_windows_as_without_them() -> None:
    problem = solomon_like(300)
    assert choose(problem) == choose(problem.with_(windows=None, service=None))
