"""The independent checker catches every kind of broken plan and recomputes the costs."""

from __future__ import annotations

import pytest

from routing.instances import random_problem
from sudoless.routing import check
from sudoless.routing.model import describe_idle, rounded


def test_a_valid_plan_and_its_costs() -> None:
    problem = random_problem(6, 2)
    report = check(problem, [[1, 2, 3], [4, 5, 6]])
    assert report.feasible, report.violations
    assert report.total == pytest.approx(problem.route_length([1, 2, 3]) + problem.route_length([4, 5, 6]))
    assert report.makespan == pytest.approx(max(problem.route_length([1, 2, 3]), problem.route_length([4, 5, 6])))


@pytest.mark.parametrize(
    ("routes", "limits", "fragment"),
    [
        ([[1, 2, 3], [3, 4, 5, 6]], {}, "visited by route 1 and route 2"),
        ([[1, 2], [4, 5, 6]], {}, "1 location(s) not visited: 3"),
        ([[1], [2], [3, 4, 5, 6]], {}, "3 routes for 2 dispatchers"),
        ([[1, 2, 3, 4, 5], [6]], {"max_stops": 5}, "route 1 has 5 stops, over the maximum 4"),
        ([[1, 2, 3, 4, 5], [6]], {"min_stops": 2}, "fewer than 2 stops"),
        ([[1, 2, 3, 4, 5, 6]], {"capacity": 20.0}, "over the capacity 20"),
        ([[1, 2, 3], [4, 5, 6]], {"max_distance": 1.0}, "over the maximum 1"),
        ([[1, 2, 3], [4, 5, 9]], {}, "outside 1..6"),
    ],
)
def test_violations(routes: list[list[int]], limits: dict[str, object], fragment: str) -> None:
    problem = random_problem(6, 2, **limits)
    if "max_stops" in limits:  # the instance must be valid; the plan breaks a tighter limit
        problem = problem.with_(max_stops=4)
    report = check(problem, routes)
    assert not report.feasible
    assert any(fragment in v for v in report.violations), report.violations


def test_claimed_costs_are_verified() -> None:
    problem = random_problem(4, 1)
    true_total = problem.route_length([1, 2, 3, 4])
    assert check(problem, [[1, 2, 3, 4]], claimed={"total_distance": true_total}).feasible
    wrong = check(problem, [[1, 2, 3, 4]], claimed={"total_distance": true_total - 1})
    assert not wrong.feasible and "differs from the recomputed" in wrong.violations[0]


def test_idle_dispatchers_are_counted_and_named() -> None:
    problem = random_problem(6, 4)
    report = check(problem, [[1, 2, 3], [], [4, 5, 6]])
    assert report.feasible and report.idle == [2, 4] and report.as_dict()["idle"] == [2, 4]
    assert describe_idle([2]) == "dispatcher 2 has no stops"
    assert describe_idle([2, 4]) == "dispatchers 2 and 4 have no stops"
    assert describe_idle(list(range(2, 15))) == "dispatchers 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 3 more have no stops"


def test_json_figures_are_rounded() -> None:
    assert rounded(0.31999999999993634) == 0.32 and rounded(41.99999999999) == 42 and rounded(1 / 3) == 0.333333
    problem = random_problem(6, 2)
    doc = check(problem, [[1, 2, 3], [4, 5, 6]]).as_dict()
    figures = [doc["total_distance"], doc["makespan"], doc["objective"], *doc["route_distances"]]  # type: ignore[list-item]
    assert all(round(x, 6) == x for x in figures), figures  # type: ignore[arg-type]
    assert doc["total_distance"] != check(problem, [[1, 2, 3], [4, 5, 6]]).total  # the raw sum has more decimals
