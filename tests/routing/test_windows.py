"""Time windows and service times: read (Solomon, VRPLIB), solved by PyVRP, scheduled, and checked from scratch."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from routing.instances import INSTANCES
from routing.test_cli import assert_one_line_error, sudoless
from sudoless.errors import InputError
from sudoless.routing import check, read_problem
from sudoless.routing.auto import solve
from sudoless.routing.model import Problem
from sudoless.routing.windows import refuse

SOLOMON = INSTANCES / "tw8.txt"
VRPTW = INSTANCES / "tw6.vrp"


def on_time_length(problem: Problem, order: tuple[int, ...]) -> float:
    """The route's length if it keeps every window and the capacity, else infinity (the oracle's own rules:
    travel time = distance, service starts at max(arrival, ready) and by the due time, back by the day's end)."""
    assert problem.matrix is not None
    n1 = problem.n + 1
    windows = problem.windows if problem.windows is not None else np.array([[0.0, math.inf]] * n1)
    service = problem.service if problem.service is not None else np.zeros(n1)
    if sum(problem.demands[list(order)]) > (problem.capacity or math.inf):
        return math.inf
    clock, here, length = 0.0, 0, 0.0
    for i in (*order, 0):
        leg = float(problem.matrix[here, i])
        clock, length = clock + leg, length + leg
        if clock > windows[i, 1] + 1e-9:
            return math.inf
        clock = max(clock, windows[i, 0]) + service[i]
        here = i
    return length


def brute_force_windows(problem: Problem) -> float:
    """The shortest total over every assignment to dispatchers and every order that keeps the windows."""
    best_route: dict[frozenset[int], float] = {}

    def route_best(members: frozenset[int]) -> float:
        if members not in best_route:
            best_route[members] = min(
                (on_time_length(problem, p) for p in itertools.permutations(sorted(members))), default=0.0
            )
        return best_route[members]

    best = math.inf
    for labels in itertools.product(range(problem.dispatchers), repeat=problem.n):
        groups = [frozenset(i + 1 for i, lab in enumerate(labels) if lab == d) for d in range(problem.dispatchers)]
        best = min(best, sum(route_best(g) for g in groups))
    return best


def test_solomon_file_is_read_with_its_fleet_windows_and_service_times() -> None:
    problem = read_problem(SOLOMON)
    assert problem.name == "tw8" and problem.dispatchers == 3 and problem.capacity == 30
    assert problem.ids == tuple(str(i) for i in range(9)) and problem.metric.value == "euclidean"
    assert problem.windows is not None and problem.windows[0].tolist() == [0, 400]
    assert problem.windows[6].tolist() == [150, 220] and problem.service is not None and problem.service[1] == 10
    assert read_problem(SOLOMON, dispatchers=5).dispatchers == 5


def test_vrplib_time_windows_are_read() -> None:
    problem = read_problem(VRPTW, dispatchers=3)
    assert problem.windows is not None and problem.windows[1].tolist() == [30, 60]
    assert problem.service is not None and problem.service.tolist() == [0, 5, 5, 5, 5, 5, 5]


def test_engine_matches_brute_force_on_a_tiny_instance_with_windows() -> None:
    problem = read_problem(VRPTW, dispatchers=2)
    optimum = brute_force_windows(problem)
    assert math.isfinite(optimum)
    without = brute_force_windows(problem.with_(windows=None, service=None))
    assert optimum == 203 and without == 172  # the windows matter: ignoring them would give a shorter, late plan
    solution = solve(problem, solver="auto", time_limit=2.0)
    assert solution.solver == "auto:exact" and solution.optimal
    report = check(problem, solution.routes)
    assert report.feasible, report.violations
    assert report.total == pytest.approx(optimum)


@pytest.mark.parametrize("solver", ["engine", "cores", "divide"])
def test_every_window_solver_keeps_the_windows(solver: str) -> None:
    problem = read_problem(SOLOMON)
    solution = solve(problem, solver=solver, time_limit=3.0)
    summary = solution.summary(problem)
    report = check(problem, solution.routes, plan=summary)
    assert report.feasible, report.violations
    for route in summary["routes"]:  # type: ignore[union-attr]
        for stop in route["schedule"]:
            ready, due = problem.windows[int(stop["id"])]  # type: ignore[index]
            assert stop["arrival"] <= due and stop["arrival"] + stop["wait"] >= ready
        if route["schedule"]:
            assert route["schedule"][-1]["load"] == 0 and route["end"] <= problem.windows[0, 1]  # type: ignore[index]


def test_a_late_plan_and_a_long_day_are_violations() -> None:
    problem = read_problem(SOLOMON)
    late = check(problem, [[6, 3, 8], [7, 4, 5], [1, 2]])  # 6 opens at 150: 3 (due 160) is then missed
    assert not late.feasible and any("reaches 3 at" in v and "closes at 160" in v for v in late.violations)
    short_day = problem.with_(windows=np.where(np.arange(18).reshape(9, 2) == 1, 100.0, problem.windows))
    day = check(short_day, [[1, 2], [4, 5], [7, 3, 8, 6]])
    assert any("after the day ends at 100" in v for v in day.violations), day.violations


def test_the_exact_solver_proves_the_brute_force_optimum_with_windows() -> None:
    problem = read_problem(VRPTW, dispatchers=2)
    solution = solve(problem, solver="exact", time_limit=20.0)
    assert solution.optimal and check(problem, solution.routes).feasible
    assert solution.objective(problem) == pytest.approx(203)
    service_only = problem.with_(windows=None)  # service times alone: no window, no waiting, any order on time
    exact = solve(service_only, solver="exact", time_limit=20.0)
    assert exact.optimal and exact.objective(service_only) == pytest.approx(brute_force_windows(service_only))


def test_a_solver_that_ignores_windows_refuses_them() -> None:
    problem = read_problem(SOLOMON)
    refuse(problem, "divide")  # every solver of today keeps them
    with pytest.raises(InputError, match="the sweep solver does not handle time windows"):
        refuse(problem, "sweep")
    refuse(problem.with_(windows=None, service=None), "sweep")  # nothing to ignore without windows


def tamper(plan: dict, path: tuple[object, ...], delta: float | str) -> dict:
    doc = json.loads(json.dumps(plan))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] += delta
    return doc


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        (("routes", 0, "distance"), "route 1: claimed distance"),
        (("routes", 1, "load"), "route 2: claimed load"),
        (("routes", 0, "start"), "route 1: claimed start"),
        (("routes", 0, "end"), "route 1: claimed end"),
        (("routes", 0, "schedule", 0, "arrival"), "route 1 stop 1: claimed arrival"),
        (("routes", 1, "schedule", 1, "wait"), "route 2 stop 2: claimed wait"),
        (("routes", 0, "schedule", 1, "departure"), "route 1 stop 2: claimed departure"),
        (("routes", 0, "schedule", 0, "load"), "route 1 stop 1: claimed load"),
        (("total_distance",), "claimed total_distance"),
        (("routes", 0, "schedule", 0, "id"), "route 1 stop 1: claimed id"),
    ],
)
def test_check_command_rejects_every_tampered_figure(tmp_path: Path, path: tuple[object, ...], fragment: str) -> None:
    solved = sudoless(tmp_path, "routes", "solve", str(SOLOMON), "--time-limit", "1", "-o", "plan.json")
    assert solved.returncode == 0, solved.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert sudoless(tmp_path, "routes", "check", str(SOLOMON), "plan.json").returncode == 0
    (tmp_path / "bad.json").write_text(json.dumps(tamper(plan, path, "x" if path[-1] == "id" else 0.5)))
    checked = sudoless(tmp_path, "routes", "check", str(SOLOMON), "bad.json")
    assert checked.returncode == 1 and fragment in checked.stdout, checked.stdout


def test_check_command_refuses_a_falsified_route_distance_without_windows(tmp_path: Path) -> None:
    """The case found from outside: a plan whose per-route distance lied passed with exit 0."""
    instance = INSTANCES / "m12-k4.vrp"
    solved = sudoless(tmp_path, "routes", "solve", str(instance), "--time-limit", "1", "-o", "plan.json")
    assert solved.returncode == 0, solved.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    busy = next(k for k, r in enumerate(plan["routes"]) if r["stops"])
    for key in ("distance", "load"):
        (tmp_path / "bad.json").write_text(json.dumps(tamper(plan, ("routes", busy, key), -1)))
        checked = sudoless(tmp_path, "routes", "check", str(instance), "bad.json")
        assert checked.returncode == 1 and f"route {busy + 1}: claimed {key}" in checked.stdout, checked.stdout
    plan["routes"][busy]["distance"] = "short"
    (tmp_path / "bad.json").write_text(json.dumps(plan))
    assert sudoless(tmp_path, "routes", "check", str(instance), "bad.json").returncode == 1


def test_check_uses_the_metric_the_plan_was_solved_with(tmp_path: Path) -> None:
    """A real-valued plan of a TSPLIB EUC_2D file is checked with real distances, without --metric."""
    instance = INSTANCES / "s50.tsp"
    solved = sudoless(
        tmp_path, "routes", "solve", str(instance), "-k", "3", "--metric", "euclidean", "--time-limit", "1",
        "-o", "plan.json",
    )  # fmt: skip
    assert solved.returncode == 0, solved.stderr
    checked = sudoless(tmp_path, "routes", "check", str(instance), "plan.json")
    assert checked.returncode == 0 and "(euclidean distances)" in checked.stdout, checked.stdout
    rounded = sudoless(tmp_path, "routes", "check", str(instance), "plan.json", "--metric", "rounded")
    assert rounded.returncode == 1 and "differs from the recomputed" in rounded.stdout


def test_cli_refusals_are_one_line(tmp_path: Path) -> None:
    args = ("--solver", "divide", "--objective", "makespan", "--time-limit", "2", "-o", "plan.json")
    solved = sudoless(tmp_path, "routes", "solve", str(SOLOMON), *args)
    assert solved.returncode == 0, solved.stderr  # divide and the makespan keep the windows now
    assert sudoless(tmp_path, "routes", "check", str(SOLOMON), "plan.json").returncode == 0
    (tmp_path / "bad.txt").write_text("bad\nVEHICLE\nNUMBER CAPACITY\n 3 30\nCUSTOMER\n 0 1 2 0 0 9\n")
    assert_one_line_error(sudoless(tmp_path, "routes", "solve", "bad.txt"), "bad.txt line 6: expected 7 fields")


def test_a_blend_plan_is_checked_with_its_own_weight(tmp_path: Path) -> None:
    """The plan's objective is compared too, so the check needs the blend's weight, which the plan records."""
    instance = INSTANCES / "m12-k4.vrp"
    args = ("--objective", "blend", "--makespan-weight", "2", "--time-limit", "1", "-o", "plan.json")
    assert sudoless(tmp_path, "routes", "solve", str(instance), *args).returncode == 0
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["makespan_weight"] == 2
    assert sudoless(tmp_path, "routes", "check", str(instance), "plan.json").returncode == 0
    (tmp_path / "bad.json").write_text(json.dumps(tamper(plan, ("objective",), 1)))
    checked = sudoless(tmp_path, "routes", "check", str(instance), "bad.json")
    assert checked.returncode == 1 and "claimed objective" in checked.stdout


def large_instance(windows: bool, seed: int = 0) -> Problem:
    """40 customers on a 1,000,000-unit square (a 0-100 instance x 10,000), five and a half loads for six
    vehicles: scaled to PyVRP's integers, a leg costs ~10^9, far above PyVRP's default penalty ceiling."""
    rng = np.random.default_rng(seed)
    n, scale = 40, 10_000
    demands = np.concatenate(([0.0], rng.integers(1, 10, size=n).astype(float)))
    limits: dict[str, object] = {}
    if windows:
        limits["windows"] = np.array([[0.0, 1000.0 * scale]] + [[0.0, 900.0 * scale]] * n)
        limits["service"] = np.concatenate(([0.0], np.full(n, float(scale))))
    return Problem(
        coords=rng.uniform(0, 100, size=(n + 1, 2)) * scale,
        dispatchers=6,
        demands=demands,
        capacity=float(np.ceil(demands.sum() / 5.5)),
        name="large",
        **limits,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("windows", [False, True], ids=["cvrp", "vrptw"])
def test_large_coordinates_keep_capacity_and_windows(windows: bool) -> None:
    """PyVRP's penalty per unit over a limit stopped at 100,000, below one scaled leg: its best plan put
    every customer on one overloaded route. The ceiling now follows the instance's costs."""
    from sudoless.routing.pyvrp_adapter import PyVRPInstance

    problem = large_instance(windows)
    routes, feasible = PyVRPInstance(problem).solve(2, seed=0)
    assert feasible and check(problem, routes).feasible


def test_the_penalty_ceiling_keeps_late_plans_within_64_bits() -> None:
    """PyVRP multiplies its penalty per unit late by the lateness in 64-bit integers. A ceiling of ten times every
    leg of the matrix (about 10^12 on 1,000 customers in thousandths) overflowed once a plan ran a few thousand
    time units late, and PyVRP's local search never returned on a Gehring-Homberger R2 instance. On such a day
    a plan late by the whole horizon on every route must still fit, and one unit late must never pay."""
    from sudoless.routing.pyvrp_adapter import PyVRPInstance, max_penalty

    rng = np.random.default_rng(3)
    n, horizon = 1000, 7697.0  # GH R2 1,000-customer sizes: a 500-unit square, 250 vehicles
    ready = rng.uniform(0, horizon - 400, size=n)
    problem = Problem(
        coords=rng.uniform(0, 500, size=(n + 1, 2)),
        dispatchers=250,
        demands=np.concatenate(([0.0], rng.integers(1, 40, size=n).astype(float))),
        capacity=1000.0,
        windows=np.vstack([[0.0, horizon], np.column_stack([ready, ready + 300.0])]),
        service=np.concatenate(([0.0], np.full(n, 10.0))),
        name="wide",
    )
    instance = PyVRPInstance(problem)
    data = instance.data(None)
    ceiling = max_penalty(data)
    lateness = horizon * instance.scale * problem.dispatchers
    assert ceiling * lateness < 2**63
    assert ceiling > 2 * float(instance.matrix.max())  # a unit late costs more than any detour it saves


def test_engine_plan_on_large_coordinates_passes_routes_check(tmp_path: Path) -> None:
    """The VRPTW above as a Solomon file solved by ``--solver engine``: a plan ``routes check`` accepts."""
    problem = large_instance(windows=True)
    assert problem.coords is not None and problem.windows is not None and problem.service is not None
    lines = ["large", "", "VEHICLE", "NUMBER     CAPACITY", f"  6  {problem.capacity:g}", "", "CUSTOMER"]
    lines += ["CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME", ""]
    for i in range(problem.n + 1):
        x, y = problem.coords[i]
        ready, due = problem.windows[i]
        lines.append(f"{i} {x:.2f} {y:.2f} {problem.demands[i]:g} {ready:g} {due:g} {problem.service[i]:g}")
    (tmp_path / "large.txt").write_text("\n".join(lines) + "\n")
    args = ["large.txt", "--solver", "engine", "--time-limit", "3", "-o", "plan.json"]
    solved = sudoless(tmp_path, "routes", "solve", *args)
    assert solved.returncode == 0, solved.stderr
    checked = sudoless(tmp_path, "routes", "check", "large.txt", "plan.json", "-k", "6")
    assert checked.returncode == 0 and checked.stdout.startswith("feasible"), checked.stdout


def test_a_fractional_capacity_is_not_rounded_up_for_pyvrp() -> None:
    """Capacity 39.8 with whole demands went to PyVRP as 40, so four loads of 10 on one route looked feasible
    there and failed the check; capacities now go down and demands up to PyVRP's units."""
    from sudoless.routing.pyvrp_adapter import PyVRPInstance, units

    assert (units(39.8, 1.0, up=False), units(9.2, 1.0, up=True), units(40.0, 1.0, up=False)) == (39, 10, 40)
    cluster = [[100.0, 0.0], [100.0, 1.0], [101.0, 0.0], [101.0, 1.0]]
    problem = Problem(
        coords=np.array([[0.0, 0.0], *cluster]),
        dispatchers=2,
        demands=np.array([0.0, 10.0, 10.0, 10.0, 10.0]),
        capacity=39.8,
        name="fraction",
    )
    routes, feasible = PyVRPInstance(problem).solve(1, seed=0)
    assert feasible and check(problem, routes).feasible
    assert len([r for r in routes if r]) == 2
