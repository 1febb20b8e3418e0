"""The exact MILP equals brute force on tiny instances, for every objective and with work limits."""

from __future__ import annotations

import pytest

from routing.instances import brute_force, random_problem
from sudoless.routing import check
from sudoless.routing.exact import solve_exact


@pytest.mark.parametrize(
    ("n", "k", "seed", "limits"),
    [
        (6, 2, 1, {}),
        (7, 3, 2, {"min_stops": 1}),
        (7, 2, 3, {"capacity": 22.0}),
        (6, 3, 4, {"max_stops": 2}),
        (7, 2, 5, {"objective": "makespan", "min_stops": 1}),
        (6, 3, 6, {"objective": "blend", "makespan_weight": 2.0}),
        (6, 2, 7, {"min_stops": 3}),
    ],
)
def test_exact_equals_brute_force(n: int, k: int, seed: int, limits: dict[str, object]) -> None:
    problem = random_problem(n, k, seed=seed, **limits)
    solution = solve_exact(problem, time_limit=60)
    report = check(problem, solution.routes)
    assert report.feasible, report.violations
    assert solution.optimal
    assert report.objective == pytest.approx(brute_force(problem), rel=1e-6)


def test_exact_proves_the_optimum_of_a_matrix_instance(instances) -> None:  # type: ignore[no-untyped-def]
    from sudoless.routing import read_problem

    problem = read_problem(instances / "m12-k4.vrp", min_stops=1)
    solution = solve_exact(problem, time_limit=60)
    assert check(problem, solution.routes).total == 303 and solution.optimal and solution.bound == 303


def test_infeasible_limits_are_input_errors() -> None:
    from sudoless.errors import InputError

    with pytest.raises(InputError, match="exceeds 2 dispatchers x capacity 20"):
        random_problem(7, 2, seed=3, capacity=20.0)
    problem = random_problem(5, 2, seed=3, max_distance=10.0)
    with pytest.raises(InputError, match="no plan respects the limits"):
        solve_exact(problem, time_limit=20)


def test_exact_refuses_big_instances() -> None:
    from sudoless.errors import InputError

    with pytest.raises(InputError, match="too many for the exact solver"):
        solve_exact(random_problem(80, 3), time_limit=1)
