"""Decomposition: parts solved apart (in this process and on Spark), stitched, with memory kept linear."""

from __future__ import annotations

import numpy as np
import pytest

from routing.instances import random_problem
from sudoless.routing import Problem, check
from sudoless.routing.spark import solve_parts
from sudoless.routing.tsp import giant_tour


def test_parts_in_process_are_feasible_and_cover_everything() -> None:
    problem = random_problem(400, 40, seed=2, capacity=60.0)
    solution = solve_parts(problem, time_limit=6.0, spark=False, part_size=150)
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
    solution = solve_parts(problem, time_limit=30.0, spark=spark, part_size=1000)
    assert solution.notes["spark"] and solution.notes["parts"] == 6
    report = check(problem, solution.routes)
    assert report.feasible, report.violations[:3]
    # a plan from parts should be far shorter than visiting the stops in random order
    shuffled = rng.permutation(np.arange(1, n + 1))
    assert report.total < 0.2 * problem.route_length(shuffled)
