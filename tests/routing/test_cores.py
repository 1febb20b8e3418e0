"""Searches on every core: sectors of routes, and plans that pass the checker and beat a plain cut."""

from __future__ import annotations

import numpy as np
import pytest

from routing.instances import random_problem
from sudoless.routing import check
from sudoless.routing.cores import solve_cores
from sudoless.routing.decompose import sectors
from sudoless.routing.split import split
from sudoless.routing.tsp import giant_tour


def test_sectors_hold_every_route_once_in_groups_of_similar_size() -> None:
    problem = random_problem(120, 30, seed=5, capacity=40.0)
    routes = split(problem, giant_tour(problem, seconds=0.5))
    assert routes is not None
    for turn in (0.0, 0.37, 0.9):
        groups = sectors(problem, routes, 2, turn)
        assert len(groups) == 2
        assert sorted(map(tuple, (r for g in groups for r in g))) == sorted(map(tuple, routes))
        sizes = [sum(len(r) for r in g) for g in groups]
        assert abs(sizes[0] - sizes[1]) <= 2 * max(len(r) for r in routes)
    # turning moves the border: some route changes group
    first, turned = sectors(problem, routes, 2, 0.0), sectors(problem, routes, 2, 0.25)
    assert {tuple(r) for r in first[0]} != {tuple(r) for r in turned[0]}


def test_total_distance_on_two_workers_is_feasible_and_beats_the_plain_cut() -> None:
    problem = random_problem(150, 40, seed=7, capacity=50.0)
    cut = split(problem, giant_tour(problem, seconds=0.5))
    assert cut is not None
    solution = solve_cores(problem, time_limit=4.0, seed=1, workers=2)
    report = check(problem, solution.routes)
    assert report.feasible, report.violations
    assert sorted(i for r in solution.routes for i in r) == list(range(1, problem.n + 1))
    assert solution.notes["rounds"] >= 1  # at least one sector round ran after the whole-instance searches
    assert report.total < sum(problem.route_length(r) for r in cut)


@pytest.mark.parametrize("limits", [{"objective": "makespan", "min_stops": 1}, {"min_stops": 2, "capacity": 60.0}])
def test_other_objectives_and_limits_stay_feasible(limits: dict[str, object]) -> None:
    problem = random_problem(60, 5, seed=3, **limits)
    solution = solve_cores(problem, time_limit=3.0, seed=2, workers=2)
    report = check(problem, solution.routes)
    assert report.feasible, report.violations
    assert np.isclose(report.objective, solution.objective(problem))


def test_a_caller_with_other_threads_gets_workers_that_do_not_fork_it() -> None:
    """The flow runner and the server call solvers from threads: the workers must still start and finish."""
    import threading

    problem = random_problem(110, 30, seed=11, capacity=40.0)
    idle = threading.Event()
    other = threading.Thread(target=idle.wait, daemon=True)  # a second thread, as in the runner
    other.start()
    try:
        # 6 s, not 3: the workers' start counts against the limit, and under load (CI's parallel tests) it
        # could leave no time for the sector round asserted below
        solution = solve_cores(problem, time_limit=6.0, seed=4, workers=2)
    finally:
        idle.set()
    assert solution.notes["start_method"] == "forkserver"
    report = check(problem, solution.routes)
    assert report.feasible, report.violations
    assert solution.notes["rounds"] >= 1
