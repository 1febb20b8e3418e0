"""Decomposition: parts solved apart (in this process and on Spark), stitched, with memory kept linear."""

from __future__ import annotations

import numpy as np
import pytest

from routing.instances import random_problem
from sudoless.routing import Problem, check
from sudoless.routing.auto import DIVIDE_PARTS, ENGINE_PARTS
from sudoless.routing.decompose import sectors, subproblem
from sudoless.routing.resolve import resolve
from sudoless.routing.spark import solve_parts
from sudoless.routing.split import split
from sudoless.routing.tsp import giant_tour


def test_parts_in_process_are_feasible_and_cover_everything() -> None:
    problem = random_problem(400, 40, seed=2, capacity=60.0)
    solution = solve_parts(problem, DIVIDE_PARTS, time_limit=6.0, spark=False, part_size=150)
    assert solution.notes["parts"] == 3
    report = check(problem, solution.routes)
    assert report.feasible, report.violations


@pytest.mark.slow
def test_city_scale_on_spark_without_a_dense_matrix(spark: object) -> None:
    rng = np.random.default_rng(4)
    n = 6000
    problem = Problem(coords=rng.uniform(0, 10_000, size=(n + 1, 2)), dispatchers=60, max_stops=120, name="city")
    assert not problem.dense  # above the dense limit: distances are computed on demand
    tour = giant_tour(problem, seconds=2.0)
    assert sorted(tour.tolist()) == list(range(1, n + 1))
    solution = solve_parts(problem, DIVIDE_PARTS, time_limit=30.0, spark=spark, part_size=1000)
    assert solution.notes["spark"] and solution.notes["parts"] == 6
    report = check(problem, solution.routes)
    assert report.feasible, report.violations[:3]
    # a plan from parts should be far shorter than visiting the stops in random order
    shuffled = rng.permutation(np.arange(1, n + 1))
    assert report.total < 0.2 * problem.route_length(shuffled)


def test_a_group_of_routes_is_reoptimised_from_them_and_never_gets_worse() -> None:
    problem = random_problem(300, 30, seed=9, capacity=60.0)
    plan = split(problem, giant_tour(problem, seconds=0.5))
    assert plan is not None and check(problem, plan).feasible
    group = sectors(problem, plan, 3, 0.0)[0]
    members = sorted(c for r in group for c in r)
    better = resolve(subproblem(problem, members, len(group), "group"), group, 1.0, 0)
    assert sorted(c for r in better for c in r) == members and len(better) <= len(group)
    rest = [r for r in plan if r not in group]
    assert check(problem, rest + better).feasible
    assert sum(map(problem.route_length, better)) < sum(map(problem.route_length, group))  # a raw cut improves
    again = resolve(subproblem(problem, members, len(group), "group"), better, 0.1, 1)
    assert sum(map(problem.route_length, again)) <= sum(map(problem.route_length, better)) + 1e-9  # never worse


def test_parts_at_scale_get_a_second_pass_over_groups_of_their_routes() -> None:
    rng = np.random.default_rng(5)
    n = 4500
    problem = Problem(coords=rng.uniform(0, 10_000, size=(n + 1, 2)), dispatchers=60, max_stops=100, name="city")
    assert not problem.dense
    solution = solve_parts(problem, ENGINE_PARTS, time_limit=30.0, spark=False, part_size=1500)
    assert solution.notes["parts"] == 3 and solution.notes["passes"] == 2
    report = check(problem, solution.routes)
    assert report.feasible, report.violations[:3]
