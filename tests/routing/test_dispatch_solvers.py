"""Every solver on a dispatch day (two depots, a mixed fleet, windows, optional orders): divide, cores and the
Spark decomposition pass the independent check and stay near PyVRP alone; the blend and the work limits per
driver (minimum and maximum stops, minimum working minutes) agree with the exact solver and the brute-force
oracle, and the check rejects plans that break them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from routing.test_cli import assert_one_line_error, sudoless
from routing.test_dispatch import oracle, write_day
from sudoless.routing.auto import solve_dispatch
from sudoless.routing.dispatch import Dispatch, Goal, Plan
from sudoless.routing.dispatch_check import check_dispatch
from sudoless.routing.dispatch_divide import cut, solve_dispatch_divide
from sudoless.routing.dispatch_sample import generated_day
from sudoless.routing.orders import read_dispatch
from sudoless.routing.sheets import plan_document

pytest.importorskip("pyvrp")

# divide and cores (two parts of 30 orders) against PyVRP alone at the same budget on a 60-order morning:
# measured 0.2 % above it, loaded; with three parts of 20, 4.7 % above
TOLERANCE = 0.03


def checked(dispatch: Dispatch, plan: Plan) -> dict[str, Any]:
    """The plan's document after the independent check, which it must pass."""
    document = plan_document(dispatch, plan)
    report = check_dispatch(dispatch, document)
    assert report.feasible, report.violations
    return document


def with_work(dispatch: Dispatch, **limits: Any) -> Dispatch:
    return replace(dispatch, vehicles=tuple(replace(v, **limits) for v in dispatch.vehicles))


def test_the_cut_gives_each_part_orders_close_together_and_vehicles_enough() -> None:
    day = generated_day(60, seed=1)
    parts = cut(day, 3, seed=1)
    assert len(parts) == 3
    assert sorted(i for p in parts for i in p.members) == list(day.orders)
    assert sorted(k for p in parts for k in p.fleet) == list(range(len(day.vehicles)))
    for part in parts:
        # every part can carry its orders in every dimension
        capacity = [sum(day.vehicles[k].capacity[d] for k in part.fleet) for d in range(2)]
        assert all(day.demands[part.members].sum(axis=0) <= capacity)


@pytest.mark.parametrize("solver", ["divide", "cores"])
def test_divide_and_cores_pass_the_check_and_stay_near_pyvrp_alone(solver: str) -> None:
    day = generated_day(60, seed=1)
    alone = checked(day, solve_dispatch(day, solver="engine", time_limit=6.0, seed=1))
    if solver == "divide":  # parts of 30 orders, so the decomposition runs on a small morning
        plan = solve_dispatch_divide(day, Goal(), time_limit=6.0, seed=1, part=30)
    else:
        plan = solve_dispatch(day, solver="cores", time_limit=6.0, seed=1)
    assert plan.notes["parts"] >= 2 and plan.notes["rounds"] >= 1
    found = checked(day, plan)
    assert found["cost"] <= alone["cost"] * (1 + TOLERANCE)


def test_the_spark_decomposition_passes_the_check(spark: object) -> None:
    day = generated_day(60, seed=3)
    plan = solve_dispatch_divide(day, Goal(), time_limit=20.0, seed=3, run=spark, part=30)
    assert plan.notes["parts"] == 2
    checked(day, plan)
    assert solve_dispatch(day, solver="divide", time_limit=2.0, spark=spark).solver == "divide"


@pytest.mark.parametrize("objective", ["makespan", "blend"])
def test_balanced_objectives_in_the_decompositions_pass_the_check(objective: str) -> None:
    day = generated_day(40, seed=2)
    if objective == "makespan":
        day = replace(day, penalty=day.penalty * float("nan"))
    cheapest = checked(day, solve_dispatch(day, solver="engine", time_limit=3.0, seed=2))
    plan = solve_dispatch_divide(day, Goal(objective, 2.0), time_limit=6.0, seed=2, part=20)
    found = checked(day, plan)
    assert found["makespan"] <= cheapest["makespan"] + 1e-6
    if objective == "blend":
        assert found["blend"] <= cheapest["cost"] + 2.0 * cheapest["makespan"] + 1e-6


@pytest.mark.parametrize("seed", [1, 2])
def test_blend_agrees_with_the_exact_solver_and_the_oracle(tmp_path: Path, seed: int) -> None:
    dispatch = read_dispatch(*write_day(tmp_path, seed, n=5))
    best = oracle(dispatch, weight=3.0)
    exact = checked(dispatch, solve_dispatch(dispatch, solver="exact", objective="blend", weight=3.0))
    assert exact["objective"] == "blend" and exact["makespan_weight"] == 3.0
    assert exact["blend"] == pytest.approx(best, abs=1e-6)
    for solver in ("engine", "divide", "cores"):
        found = solve_dispatch(dispatch, solver=solver, objective="blend", weight=3.0, time_limit=2.0, seed=seed)
        # PyVRP's times are rounded up to 1/1000 minute: a tie may be missed by that much
        assert best - 1e-6 <= checked(dispatch, found)["blend"] <= best * (1 + 1e-3), solver
    cheapest = checked(dispatch, solve_dispatch(dispatch, solver="exact"))
    assert exact["cost"] >= cheapest["cost"] - 1e-9
    tampered = {**exact, "blend": exact["blend"] - 1}
    assert any("claimed blend" in v for v in check_dispatch(dispatch, tampered).violations)


@pytest.mark.parametrize(
    ("limits", "seed"),
    [
        ({"min_stops": 1}, 3),  # every driver works (on these mornings the bike could stay idle)
        ({"max_stops": 2}, 4),
        ({"min_stops": 1, "max_stops": 2}, 6),
        ({"min_duration": 60.0}, 9),  # every driver works an hour at least
    ],
)
def test_work_limits_agree_with_the_exact_solver_and_the_oracle(
    tmp_path: Path, limits: dict[str, Any], seed: int
) -> None:
    free = read_dispatch(*write_day(tmp_path, seed, n=5, optional=False))
    dispatch = with_work(free, **limits)
    best = oracle(dispatch)
    exact = checked(dispatch, solve_dispatch(dispatch, solver="exact"))
    assert exact["cost"] == pytest.approx(best, abs=1e-6)
    for driver in exact["drivers"]:
        assert limits.get("min_stops", 0) <= len(driver["stops"]) <= limits.get("max_stops", 99)
        assert driver["duration"] >= limits.get("min_duration", 0) - 1e-9
    for solver in ("engine", "divide", "cores"):
        found = checked(dispatch, solve_dispatch(dispatch, solver=solver, time_limit=2.0, seed=seed))
        assert best - 1e-6 <= found["cost"] <= best * (1 + 1e-3), solver
    assert checked(free, solve_dispatch(free, solver="exact"))["cost"] <= exact["cost"] + 1e-9  # limits only cost


def test_work_limits_under_the_makespan_and_in_the_parts() -> None:
    day = with_work(generated_day(40, seed=5), min_stops=3, max_stops=9)  # unlimited: 3 to 10 stops
    day = replace(day, penalty=day.penalty * float("nan"))
    for plan in (
        solve_dispatch(day, solver="engine", objective="makespan", time_limit=3.0, seed=5),
        solve_dispatch_divide(day, Goal("makespan"), time_limit=6.0, seed=5, part=20),
    ):
        for driver in checked(day, plan)["drivers"]:
            assert 3 <= len(driver["stops"]) <= 9


def test_the_check_rejects_plans_that_break_the_work_limits(tmp_path: Path) -> None:
    dispatch = read_dispatch(*write_day(tmp_path, 1, n=5, optional=False))
    document = checked(dispatch, solve_dispatch(dispatch, solver="exact"))
    busiest = max(document["drivers"], key=lambda d: len(d["stops"]))
    stops = len(busiest["stops"])
    over = with_work(dispatch, max_stops=stops - 1)
    assert any("over its maximum" in v for v in check_dispatch(over, document).violations)
    under = with_work(dispatch, min_stops=stops + 1)
    assert any("under its minimum" in v for v in check_dispatch(under, document).violations)
    longest = max(d["duration"] for d in document["drivers"])
    short = replace(
        dispatch, vehicles=tuple(replace(v, min_duration=min(v.max_duration, longest + 1)) for v in dispatch.vehicles)
    )
    assert any("minutes, under its minimum" in v for v in check_dispatch(short, document).violations)


def test_cli_reads_work_limits_and_solves_the_blend(tmp_path: Path) -> None:
    orders, vehicles = write_day(tmp_path, 2, n=6)
    text = vehicles.read_text().splitlines()
    vehicles.write_text("\n".join([text[0] + ",min_stops,max_stops", *[line + ",1,3" for line in text[1:]]]) + "\n")
    plan = tmp_path / "plan.json"
    result = sudoless(
        tmp_path,
        "routes",
        "solve",
        "--orders",
        str(orders),
        "--vehicles",
        str(vehicles),
        "--solver",
        "divide",
        "--objective",
        "blend",
        "--makespan-weight",
        "2",
        "--time-limit",
        "2",
        "-o",
        str(plan),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(plan.read_text())
    assert document["objective"] == "blend" and document["makespan_weight"] == 2
    assert all(1 <= len(d["stops"]) <= 3 for d in document["drivers"])
    again = sudoless(tmp_path, "routes", "check", str(plan), "--orders", str(orders), "--vehicles", str(vehicles))
    assert again.returncode == 0, again.stdout + again.stderr
    document["drivers"][0]["stops"] += document["drivers"][1]["stops"][:2]
    document["drivers"][1]["stops"] = document["drivers"][1]["stops"][2:]
    plan.write_text(json.dumps(document))
    bad = sudoless(tmp_path, "routes", "check", str(plan), "--orders", str(orders), "--vehicles", str(vehicles))
    assert bad.returncode == 1 and "over its maximum 3" in bad.stdout + bad.stderr
    vehicles.write_text("\n".join([text[0] + ",min_stops,max_stops", text[1] + ",4,3"]) + "\n")
    refused = sudoless(tmp_path, "routes", "solve", "--orders", str(orders), "--vehicles", str(vehicles))
    assert_one_line_error(refused, "line 2: min_stops: more than max_stops")
