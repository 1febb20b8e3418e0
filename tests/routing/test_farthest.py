"""The farthest bound on the makespan: reached by every solver where it is tight, not attempted where it is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.instances import random_problem
from sudoless.routing import check, read_problem
from sudoless.routing.auto import solve
from sudoless.routing.farthest import reach_farthest_bound
from sudoless.routing.model import Problem


def mtsp(instances: Path, name: str, m: int) -> Problem:
    return read_problem(instances / f"{name}.tsp", dispatchers=m, metric="euclidean", objective="makespan", min_stops=1)


@pytest.mark.parametrize("solver", ["exact", "divide", "engine", "auto"])
def test_every_solver_reaches_the_bound_on_fifty_cities_with_ten_salesmen(instances: Path, solver: str) -> None:
    problem = mtsp(instances, "s50", 10)  # the optimum is the bound, 2 x the farthest city = 104.80
    solution = solve(problem, solver=solver, time_limit=4.0, seed=2)
    report = check(problem, solution.routes)
    bound = problem.farthest_bound()
    assert report.feasible, report.violations
    assert len([r for r in solution.routes if r]) == 10
    assert report.makespan <= bound * (1 + 1e-9)
    assert solution.optimal and solution.gap(problem) == 0.0


@pytest.mark.parametrize("solver", ["divide", "engine", "auto"])
def test_two_hundred_cities_with_ten_salesmen_reach_the_bound(instances: Path, solver: str) -> None:
    # depot off centre (as in TSPLIB's kroA200): ten routes fit within twice the farthest distance, 2031.97
    problem = mtsp(instances, "s200", 10)
    solution = solve(problem, solver=solver, time_limit=10.0, seed=1)
    report = check(problem, solution.routes)
    assert report.feasible, report.violations
    assert report.makespan == pytest.approx(2031.97, abs=0.005)
    assert report.makespan <= problem.farthest_bound() * (1 + 1e-9)


def test_no_attempt_where_the_bound_is_far_below_the_optimum(instances: Path) -> None:
    problem = mtsp(instances, "s50", 3)  # divide finds 183.44 in 5 s, the bound is 104.80: a cut tour needs many routes
    assert reach_farthest_bound(problem, seconds=2.0) is None
    assert reach_farthest_bound(problem.with_(objective="total"), seconds=2.0) is None


def test_spare_dispatchers_get_one_stop_each() -> None:
    problem = random_problem(30, 25, seed=4, objective="makespan", min_stops=1)
    routes = reach_farthest_bound(problem, seconds=2.0)
    assert routes is not None and len(routes) == 25 and all(routes)
    report = check(problem, routes)
    assert report.feasible and report.makespan <= problem.farthest_bound() * (1 + 1e-9)
