"""A dispatch day (several depots, a mixed fleet, windows, shifts, optional orders, two load dimensions): read
from orders and vehicles files, solved by PyVRP and by enumeration, and checked from scratch."""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from routing.test_cli import assert_one_line_error, sudoless
from sudoless.errors import InputError
from sudoless.routing.auto import solve_dispatch
from sudoless.routing.dispatch import Dispatch, Plan, Trip, Vehicle, drive
from sudoless.routing.dispatch_check import check_dispatch
from sudoless.routing.orders import read_dispatch
from sudoless.routing.sheets import driver_tables, plan_document

pytest.importorskip("pyvrp")

VEHICLES = """id,depot,depot_x,depot_y,end_depot,capacity_kg,capacity_crates,shift_start,shift_end,max_duration,\
fixed_cost,distance_cost,time_cost,speed
van1,north,20,80,,60,4,08:00,12:00,,30,1,0.2,
van2,south,70,10,north,25,10,08:30,13:00,3:00,10,1.5,0,
bike,south,,,,12,2,08:00,11:00,,0,0.5,0,0.5
"""


def write_day(folder: Path, seed: int, n: int = 6, optional: bool = True) -> tuple[Path, Path]:
    """A random morning: ``n`` orders around two depots, windows, service times, kg and crates, some optional."""
    rng = np.random.default_rng(seed)
    rows = ["id,x,y,demand_kg,demand_crates,window_start,window_end,service,penalty"]
    for j in range(n):
        opens = 8 * 60 + int(rng.integers(0, 150))
        closes = opens + int(rng.integers(30, 120))
        penalty = f"{int(rng.integers(20, 200))}" if optional and j % 3 == 2 else ""
        rows.append(
            f"o{j + 1},{rng.integers(0, 100)},{rng.integers(0, 100)},{rng.integers(1, 12)},{rng.integers(0, 3)},"
            f"{opens // 60:02d}:{opens % 60:02d},{closes // 60:02d}:{closes % 60:02d},{rng.integers(3, 15)},{penalty}"
        )
    orders, vehicles = folder / f"orders{seed}.csv", folder / "vehicles.csv"
    orders.write_text("\n".join(rows) + "\n")
    vehicles.write_text(VEHICLES)
    return orders, vehicles


def oracle(dispatch: Dispatch, makespan: bool = False, weight: float | None = None) -> float:
    """The cheapest plan (or the shortest longest day, or with ``weight`` the least cost + weight x longest day)
    found by the independent check alone: every assignment of the orders to the vehicles (or to nobody) and
    every order of each route, each costed and judged by check_dispatch."""
    orders = [dispatch.ids[i] for i in dispatch.orders]
    vehicles = [v.id for v in dispatch.vehicles]
    best = math.inf
    for labels in itertools.product(range(len(vehicles) + 1), repeat=len(orders)):
        groups = [[o for o, lab in zip(orders, labels, strict=True) if lab == k] for k in range(len(vehicles))]
        options = [list(itertools.permutations(g)) for g in groups]
        for sequences in itertools.product(*options):
            plan = {"drivers": [{"vehicle": v, "stops": list(s)} for v, s in zip(vehicles, sequences, strict=True)]}
            report = check_dispatch(dispatch, plan)
            if report.feasible:
                longest = max((t["duration"] for t in report.trips), default=0.0)
                value = report.cost + weight * longest if weight is not None else report.cost
                best = min(best, longest if makespan else value)
    return best


def test_reads_a_morning_with_depots_fleet_windows_and_dimensions(tmp_path: Path) -> None:
    dispatch = read_dispatch(*write_day(tmp_path, 0))
    assert dispatch.ids[:2] == ("north", "south") and dispatch.depots == 2
    assert dispatch.dimensions == ("kg", "crates")
    van2 = dispatch.vehicles[1]
    assert (van2.start, van2.end, van2.max_duration, van2.shift_start) == (1, 0, 180, 510)
    assert dispatch.vehicles[2].profile != dispatch.vehicles[0].profile  # the bike's own travel times
    bike = dispatch.profiles[dispatch.vehicles[2].profile]
    assert np.allclose(bike.duration, bike.distance / 0.5)
    assert dispatch.clock and dispatch.optional


def exact_and_engine_checked(dispatch: Dispatch, seed: int) -> tuple[Plan, Plan, list[dict[str, Any]]]:
    """The exact plan and PyVRP's (1 s), each passing the independent check at the cost it states; with their
    plan documents."""
    exact = solve_dispatch(dispatch, solver="exact")
    engine = solve_dispatch(dispatch, solver="engine", time_limit=1.0, seed=seed)
    documents = []
    for plan in (exact, engine):
        document = plan_document(dispatch, plan)
        report = check_dispatch(dispatch, document)
        assert report.feasible, report.violations
        assert report.cost == pytest.approx(document["cost"])
        documents.append(document)
    return exact, engine, documents


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_exact_and_pyvrp_agree_with_the_oracle_and_pass_the_check(tmp_path: Path, seed: int) -> None:
    dispatch = read_dispatch(*write_day(tmp_path, seed, n=5))
    best = oracle(dispatch)
    exact, engine, _ = exact_and_engine_checked(dispatch, seed)
    assert exact.cost(dispatch) == pytest.approx(best, rel=1e-9)
    # PyVRP works on times rounded up to 1/1000 minute: it may miss a tie by that much, never more
    assert best - 1e-6 <= engine.cost(dispatch) <= best * (1 + 1e-3)


@pytest.mark.parametrize("seed", [5, 13])
def test_larger_day_exact_against_pyvrp(tmp_path: Path, seed: int) -> None:
    dispatch = read_dispatch(*write_day(tmp_path, seed, n=8))
    exact = solve_dispatch(dispatch, solver="exact")
    engine = solve_dispatch(dispatch, solver="engine", time_limit=2.0)
    assert check_dispatch(dispatch, plan_document(dispatch, engine)).feasible
    assert exact.optimal
    assert exact.cost(dispatch) - 1e-6 <= engine.cost(dispatch) <= exact.cost(dispatch) * (1 + 1e-3)


def test_unserved_orders_carry_their_reason(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "id,x,y,demand,window_start,window_end,penalty\n"
        "near,1,0,1,,,\n"
        "heavy,2,0,99,,,5\n"  # over every capacity
        "late,3,0,1,00:00,00:01,5\n"  # its window closes before any vehicle gets there
        "far,400,0,1,,,1\n"  # cheaper to leave out
    )
    vehicles = tmp_path / "vehicles.csv"
    vehicles.write_text("id,depot,depot_x,depot_y,capacity,shift_start\nv,d,0,0,10,08:00\n")
    dispatch = read_dispatch(orders, vehicles)
    document = plan_document(dispatch, solve_dispatch(dispatch, solver="engine", time_limit=0.5))
    reasons = {u["id"]: u["reason"] for u in document["unserved"]}
    assert set(reasons) == {"heavy", "late", "far"}
    assert "capacity" in reasons["heavy"] and "window" in reasons["late"] and "penalty 1" in reasons["far"]
    assert document["penalties"] == 11 and check_dispatch(dispatch, document).feasible


def _tamper(document: dict[str, Any], edit: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    edit(changed)
    return changed


def test_tampered_plans_are_rejected(tmp_path: Path) -> None:
    dispatch = read_dispatch(*write_day(tmp_path, 5, n=8))
    document = plan_document(dispatch, solve_dispatch(dispatch, solver="exact"))
    assert check_dispatch(dispatch, document).feasible
    driver = next(k for k, d in enumerate(document["drivers"]) if len(d["stops"]) >= 2)

    def field(key: str, value: Any) -> Any:
        return lambda doc: doc["drivers"][driver].__setitem__(key, value)

    def stop(key: str, value: Any) -> Any:
        return lambda doc: doc["drivers"][driver]["stops"][1].__setitem__(key, value)

    d = document["drivers"][driver]
    cases = {
        "distance": field("distance", d["distance"] - 1),
        "return": field("return", d["return"] - 5),
        "cost": field("cost", d["cost"] * 0.9),
        "arrival": stop("arrival", d["stops"][1]["arrival"] - 1),
        "wait": stop("wait", d["stops"][1]["wait"] + 2),
        "load": stop("load", [x + 1 for x in d["stops"][1]["load"]]),
        "start_depot": field("start_depot", "elsewhere"),
        "total_distance": lambda doc: doc.__setitem__("total_distance", doc["total_distance"] / 2),
        "unserved": lambda doc: doc.__setitem__("unserved", [{"id": "o1", "reason": "x"}]),
        "dropped": lambda doc: doc["drivers"][driver]["stops"].pop(),
        "twice": lambda doc: doc["drivers"][driver - 1 if driver else driver + 1]["stops"].append(d["stops"][0]["id"]),
        "unknown": lambda doc: doc["drivers"][driver].__setitem__("vehicle", "ghost"),
    }
    for name, edit in cases.items():
        report = check_dispatch(dispatch, _tamper(document, edit))
        assert not report.feasible, name
        assert report.violations, name


def test_a_day_without_a_feasible_plan_is_reported_not_hidden(tmp_path: Path) -> None:
    dispatch = read_dispatch(*write_day(tmp_path, 7, n=8))  # too many crates for the fleet
    for solver in ("exact", "engine"):
        document = plan_document(dispatch, solve_dispatch(dispatch, solver=solver, time_limit=1.0))
        report = check_dispatch(dispatch, document)
        assert not report.feasible and report.violations


def test_each_limit_is_checked(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "id,x,y,demand_kg,demand_boxes,window_start,window_end,service\na,0,30,5,1,0,100,10\nb,0,60,5,3,0,65,0\n"
    )
    vehicles = tmp_path / "vehicles.csv"
    vehicles.write_text(
        "id,depot,depot_x,depot_y,capacity_kg,capacity_boxes,shift_end,max_duration,max_distance\n"
        "v,d,0,0,20,3,150,200,500\n"
    )
    dispatch = read_dispatch(orders, vehicles)
    plan = {"drivers": [{"vehicle": "v", "stops": ["a", "b"]}]}
    violations = check_dispatch(dispatch, plan).violations
    assert any("boxes" in v and "capacity" in v for v in violations)  # 4 boxes on a 3-box vehicle
    assert any("reaches b" in v for v in violations)  # b at 70, closes at 65
    assert check_dispatch(dispatch, {"drivers": [{"vehicle": "v", "stops": ["b"]}]}).violations == [
        "order a is required and not served"
    ]
    strict = vehicles.read_text().replace("v,d,0,0,20,3,150,200,500", "v,d,0,0,20,9,100,50,100")
    vehicles.write_text(strict)
    violations = check_dispatch(
        read_dispatch(orders, vehicles), {"drivers": [{"vehicle": "v", "stops": ["a"]}]}
    ).violations
    assert any("shift ends" in v for v in violations) is False  # back at 70 <= 100
    assert any("maximum 50" in v for v in violations)  # works 70 minutes
    vehicles.write_text(strict.replace(",100\n", ",50\n"))
    violations = check_dispatch(
        read_dispatch(orders, vehicles), {"drivers": [{"vehicle": "v", "stops": ["a"]}]}
    ).violations
    assert any("drives 60" in v for v in violations)


def test_matrix_csv_and_osrm_and_valhalla_json_give_the_same_plan(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("id,demand\na,1\nb,1\nc,1\n")
    vehicles = tmp_path / "vehicles.csv"
    vehicles.write_text("id,depot,capacity\nv1,d,2\nv2,d,2\n")
    ids = ["d", "a", "b", "c"]
    rng = np.random.default_rng(3)
    metres = rng.integers(100, 5000, size=(4, 4)) * (1 - np.eye(4, dtype=np.int64))
    seconds = metres // 10
    csv_matrix = tmp_path / "m.csv"
    # rows out of the header's order: matched by id
    csv_matrix.write_text(
        ",".join(["", *ids]) + "\n" + "\n".join(",".join([ids[i], *map(str, metres[i])]) for i in (2, 0, 3, 1)) + "\n"
    )
    durations_csv = tmp_path / "t.csv"
    durations_csv.write_text(
        ",".join(["", *ids])
        + "\n"
        + "\n".join(",".join([ids[i], *(str(s / 60) for s in seconds[i])]) for i in range(4))
    )
    osrm = tmp_path / "osrm.json"
    osrm.write_text(json.dumps({"ids": ids, "distances": metres.tolist(), "durations": seconds.tolist()}))
    valhalla = tmp_path / "valhalla.json"
    cells = [
        [
            {"from_index": i, "to_index": j, "distance": metres[i, j] / 1000, "time": int(seconds[i, j])}
            for j in range(4)
        ]
        for i in range(4)
    ]
    valhalla.write_text(json.dumps({"ids": ids, "sources_to_targets": cells}))
    plans = []
    for matrix, durations in ((csv_matrix, durations_csv), (osrm, None), (valhalla, None)):
        dispatch = read_dispatch(orders, vehicles, matrix=matrix, durations=durations)
        assert np.allclose(dispatch.profiles[0].distance, metres)
        assert np.allclose(dispatch.profiles[0].duration, seconds / 60)
        document = plan_document(dispatch, solve_dispatch(dispatch, solver="exact"))
        assert check_dispatch(dispatch, document).feasible
        plans.append(document["cost"])
    assert plans[0] == plans[1] == plans[2]


@pytest.mark.parametrize(
    ("orders", "vehicles", "fragment"),
    [
        ("id,x,y,window_start\na,1,1,8h00\n", None, "orders.csv line 2: window_start: '8h00' is not a number"),
        ("id,x,y,servce\na,1,1,5\n", None, "orders.csv line 2: unknown field 'servce'"),
        ("id,x,y,demand\na,1,1,-2\n", None, "orders.csv line 2: demand: '-2' must be a number >= 0"),
        ("id,x,y\na,1,1\na,2,2\n", None, "orders.csv line 3: id 'a' is used twice"),
        ("id,x,y\na,1,\n", None, "orders.csv line 2: y: missing"),
        ("id,lat,lon\na,91,0\n", "id,depot,depot_lat,depot_lon\nv,d,0,0\n", "lat/lon: (91, 0) is not a latitude"),
        ("id,x,y,window_start,window_end\na,1,1,10:00,09:00\n", None, "line 2: window_start: the window opens after"),
        ("id,x,y\na,1,1\n", "id,depot,depot_x,depot_y,shift_start\nv,d,0,0,25:99\n", "shift_start: '25:99'"),
        ("id,x,y\na,1,1\n", "id,depot\nv,d\n", "depot 'd' has no place"),
        ("id,x,y,demand_kg\na,1,1,1\n", "id,depot,depot_x,depot_y,capacity_m3\nv,d,0,0,3\n", "'capacity_m3' has no"),
    ],
)
def test_bad_files_give_one_line_naming_file_line_and_field(
    tmp_path: Path, orders: str, vehicles: str | None, fragment: str
) -> None:
    (tmp_path / "orders.csv").write_text(orders)
    (tmp_path / "vehicles.csv").write_text(vehicles or "id,depot,depot_x,depot_y\nv,d,0,0\n")
    with pytest.raises(InputError) as caught:
        read_dispatch(tmp_path / "orders.csv", tmp_path / "vehicles.csv")
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_cli_solves_checks_and_reports_a_day(tmp_path: Path) -> None:
    orders, vehicles = write_day(tmp_path, 5, n=8)
    files = ["--orders", str(orders), "--vehicles", str(vehicles)]
    result = sudoless(
        tmp_path, "routes", "solve", *files, "--time-limit", "1", "--json", "-o", "plan.json", "--report", "plan.html"
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["kind"] == "dispatch" and document["feasible"]
    assert [d["vehicle"] for d in document["drivers"]] == ["van1", "van2", "bike"]
    assert json.loads((tmp_path / "plan.json").read_text()) == document
    page = (tmp_path / "plan.html").read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "@media print" in page and "<script" not in page
    checked = sudoless(tmp_path, "routes", "check", "plan.json", *files, "--json")
    assert checked.returncode == 0, checked.stdout
    assert json.loads(checked.stdout)["cost"] == pytest.approx(document["cost"])
    driver = next(d for d in document["drivers"] if d["stops"])
    driver["stops"][0]["load"][0] += 1
    (tmp_path / "tampered.json").write_text(json.dumps(document))
    checked = sudoless(tmp_path, "routes", "check", "tampered.json", *files)
    assert checked.returncode == 1 and "claimed load" in checked.stdout
    text = sudoless(tmp_path, "routes", "solve", *files, "--time-limit", "1")
    assert text.returncode == 0 and "arrival" in text.stdout and "load kg" in text.stdout


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--max-stops", "3"], "--max-stops applies to an instance FILE"),
        (["--matrix", "nowhere.csv"], "nowhere.csv: no such matrix file"),
        (["-o", "plan.csv"], "a dispatch plan is written as .json"),
        (["--objective", "blend", "--makespan-weight", "-1"], "the makespan weight must be a number >= 0, got -1"),
        (["--objective", "makespan"], "the makespan objective needs every order required"),
    ],
)
def test_cli_bad_dispatch_input_is_one_line(tmp_path: Path, extra: list[str], fragment: str) -> None:
    orders, vehicles = write_day(tmp_path, 5, n=4)
    result = sudoless(tmp_path, "routes", "solve", "--orders", str(orders), "--vehicles", str(vehicles), *extra)
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "plan.csv").exists()


def test_cli_bad_orders_file_names_file_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text("id,x,y,service\na,1,1,ten\n")
    (tmp_path / "vehicles.csv").write_text("id,depot,depot_x,depot_y\nv,d,0,0\n")
    result = sudoless(tmp_path, "routes", "solve", "--orders", "orders.csv", "--vehicles", "vehicles.csv")
    assert_one_line_error(result, "orders.csv line 2: service: 'ten' is not a number")


def test_the_example_morning_solves_and_checks(tmp_path: Path) -> None:
    """examples/routing/README.md's two commands."""
    folder = Path(__file__).resolve().parents[2] / "examples" / "routing"
    files = ["--orders", str(folder / "orders.csv"), "--vehicles", str(folder / "vehicles.csv")]
    solved = sudoless(tmp_path, "routes", "solve", *files, "--time-limit", "3", "-o", "plan.json", "--report", "p.html")
    assert solved.returncode == 0, solved.stderr
    assert "cargo-bike" in solved.stdout and "load crates" in solved.stdout
    checked = sudoless(tmp_path, "routes", "check", "plan.json", *files)
    assert checked.returncode == 0 and checked.stdout.startswith("feasible"), checked.stdout
    document = json.loads((tmp_path / "plan.json").read_text())
    windows = {"van-1": (630, 660, 30), "van-2": (660, 720, 30), "truck": (570, 630, 20)}
    for driver in document["drivers"]:
        if driver["stops"] and driver["vehicle"] in windows:
            (rest,) = driver["breaks"]
            opens, closes, minutes = windows[driver["vehicle"]]
            assert opens <= rest["start"] <= closes and rest["end"] - rest["start"] == minutes
            assert f"break 1 at {rest['at']}" in solved.stdout
    readme = (folder / "README.md").read_text()
    assert "break_duration" in readme and "--report plan.pdf" in readme and "break 1 at" in readme
    assert "break_duration,break_start,break_end" in (folder / "vehicles.csv").read_text()


def test_an_unreachable_pair_is_avoided_and_a_plan_using_it_rejected(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text("id\na\nb\n")
    (tmp_path / "vehicles.csv").write_text("id,depot\nv,d\n")
    # no road from a to b: an empty cell (OSRM's null)
    (tmp_path / "m.csv").write_text(",d,a,b\nd,0,10,10\na,10,0,\nb,10,1,0\n")
    dispatch = read_dispatch(tmp_path / "orders.csv", tmp_path / "vehicles.csv", matrix=tmp_path / "m.csv")
    for solver in ("exact", "engine"):
        document = plan_document(dispatch, solve_dispatch(dispatch, solver=solver, time_limit=0.5))
        assert document["drivers"][0]["stops"] and [s["id"] for s in document["drivers"][0]["stops"]] == ["b", "a"]
        assert document["cost"] == 21 and check_dispatch(dispatch, document).feasible
    report = check_dispatch(dispatch, {"drivers": [{"vehicle": "v", "stops": ["a", "b"]}]})
    assert "vehicle v has no road from a to b in its matrix" in report.violations
    json.dumps(report.as_dict(), allow_nan=False)  # no Infinity in the JSON


def test_exact_prunes_on_the_broken_rule_not_on_words_in_the_names(tmp_path: Path) -> None:
    """The one feasible route goes d, window-seat, capacity-bay, d; its first step alone has no road back from
    window-seat, a rule a later stop mends. Pruning on the message's words (it names the order) lost the plan."""
    (tmp_path / "orders.csv").write_text("id\nwindow-seat\ncapacity-bay\n")
    (tmp_path / "vehicles.csv").write_text("id,depot\nv,d\n")
    (tmp_path / "m.csv").write_text(",d,window-seat,capacity-bay\nd,0,10,\nwindow-seat,,0,1\ncapacity-bay,10,,0\n")
    dispatch = read_dispatch(tmp_path / "orders.csv", tmp_path / "vehicles.csv", matrix=tmp_path / "m.csv")
    plan = solve_dispatch(dispatch, solver="exact")
    document = plan_document(dispatch, plan)
    assert [s["id"] for s in document["drivers"][0]["stops"]] == ["window-seat", "capacity-bay"]
    assert plan.optimal and document["cost"] == 21 and check_dispatch(dispatch, document).feasible


def test_json_files_with_demand_lists_and_a_vehicle_with_its_own_matrix(tmp_path: Path) -> None:
    orders = tmp_path / "orders.json"
    orders.write_text(
        json.dumps(
            {
                "orders": [
                    {"id": "a", "demand": [2, 1], "window_start": "09:00", "window_end": "10:00", "service": 5},
                    {"id": "b", "demand": [1, 1], "penalty": 30},
                ]
            }
        )
    )
    ids = ["hub", "a", "b"]
    road = tmp_path / "road.csv"
    road.write_text(",hub,a,b\nhub,0,40,30\na,40,0,20\nb,30,20,0\n")
    path = tmp_path / "path.csv"  # the bike's shortcut: half the distance everywhere
    path.write_text(",hub,a,b\nhub,0,20,15\na,20,0,10\nb,15,10,0\n")
    vehicles = tmp_path / "vehicles.json"
    vehicles.write_text(
        json.dumps(
            [
                {"id": "van", "depot": "hub", "capacity": [10, 10], "fixed_cost": 50, "shift_start": "08:00"},
                {
                    "id": "bike",
                    "depot": "hub",
                    "capacity": [3, 2],
                    "matrix": "path.csv",
                    "speed": 0.5,
                    "shift_start": "08:00",
                },
            ]
        )
    )
    with pytest.raises(InputError, match="road.csv: gives distances only.*add --durations"):
        read_dispatch(orders, vehicles, matrix=road)  # minutes from a distance in an unknown unit: refused
    dispatch = read_dispatch(orders, vehicles, matrix=road, speed=1.0)
    assert dispatch.dimensions == ("1", "2") and dispatch.ids == tuple(ids)
    bike = dispatch.profiles[dispatch.vehicles[1].profile]
    assert bike.source == "matrix" and bike.distance[0, 1] == 20 and bike.duration[0, 1] == 40
    document = plan_document(dispatch, solve_dispatch(dispatch, solver="exact"))
    # the bike (no fixed cost, half the distance) takes both: 15 + 10 + 20 = 45 against the van's 50 + 90
    assert sorted(s["id"] for s in document["drivers"][1]["stops"]) == ["a", "b"] and document["cost"] == 45
    assert check_dispatch(dispatch, document).feasible
    engine = plan_document(dispatch, solve_dispatch(dispatch, solver="engine", time_limit=0.5))
    assert engine["cost"] == 45
    vehicles.write_text(json.dumps([{"id": "van", "depot": "hub", "capacity": ["big", 1]}]))
    with pytest.raises(InputError, match=r"vehicles.json item 1: capacity_1: 'big' is not a number"):
        read_dispatch(orders, vehicles, matrix=road, speed=1.0)


def test_an_instance_file_solved_and_checked_on_a_given_matrix(tmp_path: Path) -> None:
    (tmp_path / "stops.csv").write_text("id,x,y,demand\ndepot,0,0,0\na,1,0,1\nb,2,0,1\nc,3,0,1\n")
    # road distances unlike the straight lines: c is close to the depot, a far
    (tmp_path / "m.csv").write_text(",depot,a,b,c\ndepot,0,9,5,1\na,9,0,4,8\nb,5,4,0,4\nc,1,8,4,0\n")
    solved = sudoless(tmp_path, "routes", "solve", "stops.csv", "--matrix", "m.csv", "--json", "-o", "plan.json")
    assert solved.returncode == 0, solved.stderr
    plan = json.loads(solved.stdout)
    assert plan["metric"] == "matrix" and plan["total_distance"] == 1 + 4 + 4 + 9
    assert sudoless(tmp_path, "routes", "check", "stops.csv", "plan.json", "--matrix", "m.csv").returncode == 0
    unmatched = sudoless(tmp_path, "routes", "check", "stops.csv", "plan.json")
    assert_one_line_error(unmatched, "the plan was made on a given matrix; pass the same --matrix")
    (tmp_path / "short.csv").write_text(",depot,a\ndepot,0,1\na,1,0\n")
    missing = sudoless(tmp_path, "routes", "solve", "stops.csv", "--matrix", "short.csv")
    assert_one_line_error(missing, "short.csv: no row for id 'b'")


def test_semicolon_files_and_durations_written_as_hours_and_minutes(tmp_path: Path) -> None:
    """What a spreadsheet writes where the comma is the decimal mark; a max_duration of 4:30 is 270 minutes
    and does not make the day's times clock times."""
    (tmp_path / "orders.csv").write_text("id;x;y;demand;service\na;3;4;2;10\nb;6;8;1;5\n")
    (tmp_path / "vehicles.csv").write_text("id;depot;depot_x;depot_y;capacity;max_duration\nv;d;0;0;5;4:30\n")
    (tmp_path / "m.csv").write_text(";d;a;b\nd;0;5;10\na;5;0;5\nb;10;5;0\n")
    dispatch = read_dispatch(tmp_path / "orders.csv", tmp_path / "vehicles.csv", matrix=tmp_path / "m.csv", speed=1)
    assert dispatch.vehicles[0].max_duration == 270 and not dispatch.clock
    document = plan_document(dispatch, solve_dispatch(dispatch, solver="exact"))
    assert document["cost"] == 20 and document["total_duration"] == 35


@pytest.mark.parametrize("seed", [1, 3])
def test_makespan_exact_and_pyvrp_agree_with_the_oracle(tmp_path: Path, seed: int) -> None:
    dispatch = read_dispatch(*write_day(tmp_path, seed, n=5, optional=False))
    best = oracle(dispatch, makespan=True)
    exact = plan_document(dispatch, solve_dispatch(dispatch, solver="exact", objective="makespan"))
    engine = plan_document(
        dispatch, solve_dispatch(dispatch, solver="engine", objective="makespan", time_limit=3.0, seed=seed)
    )
    for document in (exact, engine):
        report = check_dispatch(dispatch, document)
        assert report.feasible, report.violations
    assert exact["makespan"] == pytest.approx(best, abs=1e-6)
    # the probes bisect down to 0.1 % of the longest day
    assert best - 1e-6 <= engine["makespan"] <= best * 1.002 + 1e-6
    cheapest = plan_document(dispatch, solve_dispatch(dispatch, solver="exact"))
    assert cheapest["makespan"] >= exact["makespan"] - 1e-9 and cheapest["cost"] <= exact["cost"] + 1e-9
    tampered = {**exact, "makespan": exact["makespan"] - 1}
    assert any("claimed makespan" in v for v in check_dispatch(dispatch, tampered).violations)


def test_makespan_refuses_optional_orders(tmp_path: Path) -> None:
    dispatch = read_dispatch(*write_day(tmp_path, 1, n=5))
    with pytest.raises(InputError, match="the makespan objective needs every order required"):
        solve_dispatch(dispatch, objective="makespan")


BREAKS = {
    "van1": ",20,09:30,10:30",
    "van2": ",15,08:45,09:15",
    "bike": ",10,08:30,11:00",
}


def write_day_with_breaks(folder: Path, seed: int, n: int) -> tuple[Path, Path]:
    """write_day's morning, each driver with a break (a duration and the window it must start in)."""
    orders, vehicles = write_day(folder, seed, n=n)
    lines = vehicles.read_text().splitlines()
    lines[0] += ",break_duration,break_start,break_end"
    lines[1:] = [line + BREAKS[line.split(",")[0]] for line in lines[1:]]
    vehicles.write_text("\n".join(lines) + "\n")
    return orders, vehicles


def break_oracle(dispatch: Dispatch) -> float:
    """The cheapest plan by the check alone, breaks included: every assignment, every order of each route and
    every place of each break along it (after 0..len stops)."""
    orders = [dispatch.ids[i] for i in dispatch.orders]
    vehicles = dispatch.vehicles
    best = math.inf
    for labels in itertools.product(range(len(vehicles) + 1), repeat=len(orders)):
        groups = [[o for o, lab in zip(orders, labels, strict=True) if lab == k] for k in range(len(vehicles))]
        for sequences in itertools.product(*(itertools.permutations(g) for g in groups)):
            placements = [
                itertools.combinations_with_replacement(range(len(s) + 1), len(v.breaks)) if s else [()]
                for v, s in zip(vehicles, sequences, strict=True)
            ]
            for places in itertools.product(*placements):
                plan = {
                    "drivers": [
                        {
                            "vehicle": v.id,
                            "stops": list(s),
                            "breaks": [{"break": n, "after": p} for n, p in enumerate(at, start=1)],
                        }
                        for v, s, at in zip(vehicles, sequences, places, strict=True)
                    ]
                }
                report = check_dispatch(dispatch, plan)
                if report.feasible:
                    best = min(best, report.cost)
    return best


@pytest.mark.parametrize("seed", [1, 2])
def test_breaks_exact_agrees_with_the_oracle_and_pyvrp_passes_the_check(tmp_path: Path, seed: int) -> None:
    dispatch = read_dispatch(*write_day_with_breaks(tmp_path, seed, n=4))
    assert dispatch.vehicles[0].breaks[0].duration == 20 and dispatch.vehicles[0].breaks[0].earliest == 570
    best = break_oracle(dispatch)
    exact, engine, documents = exact_and_engine_checked(dispatch, seed)
    for document in documents:
        for driver, vehicle in zip(document["drivers"], dispatch.vehicles, strict=True):
            assert len(driver["breaks"]) == (1 if driver["stops"] else 0)
            for rest in driver["breaks"]:
                window = vehicle.breaks[rest["break"] - 1]
                assert window.earliest - 1e-9 <= rest["start"] <= window.latest + 1e-9
                assert rest["end"] - rest["start"] == pytest.approx(window.duration)
    assert exact.cost(dispatch) == pytest.approx(best, rel=1e-9)
    assert engine.cost(dispatch) >= best - 1e-6
    # without its breaks the same day is cheaper or equal, never dearer
    assert solve_dispatch(read_dispatch(*write_day(tmp_path, seed, n=4)), solver="exact").cost(dispatch) <= best


def test_a_break_shows_between_the_stops_and_is_in_its_window(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text(
        "id,x,y,window_start,window_end,service\na,10,0,08:00,12:00,10\nb,20,0,08:00,14:00,10\nc,0,20,12:00,13:00,5\n"
    )
    (tmp_path / "vehicles.csv").write_text(
        "id,depot,depot_x,depot_y,shift_start,break_duration,break_start,break_end,break2_duration,break2_start\n"
        "v,d,0,0,08:00,30,11:00,11:30,0:05,12:03\n"
    )
    dispatch = read_dispatch(tmp_path / "orders.csv", tmp_path / "vehicles.csv")
    for solver in ("exact", "engine"):
        document = plan_document(dispatch, solve_dispatch(dispatch, solver=solver, time_limit=0.5))
        assert check_dispatch(dispatch, document).feasible
        driver = document["drivers"][0]
        assert [s["id"] for s in driver["stops"]] == ["a", "b", "c"]
        first, second = driver["breaks"]
        assert (first["break"], first["after"], first["at"], first["duration"]) == (1, 2, "b", 30)
        assert 660 <= first["start"] <= 690 and first["end"] == pytest.approx(first["start"] + 30)
        # c is served from 12:00 to 12:05; the second break may start from 12:03, so it follows c
        assert (second["after"], second["at"], second["start"], second["end"]) == (3, "c", 725, 730)
        text = driver_tables(dispatch, document).splitlines()
        row = next(n for n, line in enumerate(text) if "break 1 at b" in line)
        assert " b " in text[row - 1] + " " and " c " in text[row + 1] + " "
        assert "11:32" in text[row] or "11:30" in text[row]
    # the same stops with the first break after c: it could start at 12:05 at the earliest, its window closed
    late = {
        "drivers": [
            {"vehicle": "v", "stops": ["a", "b", "c"], "breaks": [{"break": 1, "after": 3}, {"break": 2, "after": 3}]}
        ]
    }
    assert any(
        "can start break 1 at 725" in v and "closes at 690" in v for v in check_dispatch(dispatch, late).violations
    )


def test_tampered_breaks_are_rejected(tmp_path: Path) -> None:
    dispatch = read_dispatch(*write_day_with_breaks(tmp_path, 5, n=6))
    document = plan_document(dispatch, solve_dispatch(dispatch, solver="exact"))
    assert check_dispatch(dispatch, document).feasible
    driver = next(k for k, d in enumerate(document["drivers"]) if d["breaks"])
    rest = document["drivers"][driver]["breaks"][0]

    def edit(key: str, value: Any) -> Any:
        return lambda doc: doc["drivers"][driver]["breaks"][0].__setitem__(key, value)

    cases = {
        "start": edit("start", rest["start"] + 5),
        "end": edit("end", rest["end"] - 10),
        "shorter": edit("duration", rest["duration"] - 10),
        "wait": edit("wait", rest["wait"] + 3),
        "at": edit("at", "elsewhere"),
        "number": edit("break", 7),
        "after": edit("after", 99),
        "dropped": lambda doc: doc["drivers"][driver]["breaks"].clear(),
        "twice": lambda doc: doc["drivers"][driver]["breaks"].append(dict(rest)),
        "no list": lambda doc: doc["drivers"][driver].pop("breaks"),
    }
    for name, change in cases.items():
        report = check_dispatch(dispatch, _tamper(document, change))
        assert not report.feasible and report.violations, name
    small = read_dispatch(*write_day_with_breaks(tmp_path, 5, n=1))  # one order: two drivers stay at the depot
    document = plan_document(small, solve_dispatch(small, solver="exact"))
    idle = next(k for k, d in enumerate(document["drivers"]) if not d["stops"])
    report = check_dispatch(small, _tamper(document, lambda doc: doc["drivers"][idle].__setitem__("breaks", [rest])))
    assert any("stays at its depot but the plan gives it breaks" in v for v in report.violations)


@pytest.mark.parametrize(
    ("columns", "cells", "fragment"),
    [
        ("break_duration,break_start,break_end", "30,13:00,12:00", "break_start: the break's window opens after"),
        ("break_start,break_end", "11:00,12:00", "break_duration: missing"),
        ("break_duration", "-5", "break_duration: '-5' must be a number >= 0"),
        ("break_duration", "0", "break_duration: a break lasts more than 0 minutes"),
        ("break2_duration,break2_start", "20,noon", "break2_start: 'noon' is not a number"),
        ("breaks_duration", "20", "unknown field 'breaks_duration'"),
    ],
)
def test_bad_breaks_give_one_line_and_exit_2(tmp_path: Path, columns: str, cells: str, fragment: str) -> None:
    (tmp_path / "orders.csv").write_text("id,x,y\na,1,1\n")
    (tmp_path / "vehicles.csv").write_text(f"id,depot,depot_x,depot_y,{columns}\nv,d,0,0,{cells}\n")
    result = sudoless(
        tmp_path, "routes", "solve", "--orders", "orders.csv", "--vehicles", "vehicles.csv", "-o", "plan.json"
    )
    assert_one_line_error(result, f"vehicles.csv line 2: {fragment}")
    assert not (tmp_path / "plan.json").exists()


def test_breaks_from_json_and_a_makespan_with_breaks(tmp_path: Path) -> None:
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps([{"id": "a", "x": 30, "y": 0}, {"id": "b", "x": 0, "y": 40}]))
    vehicles = tmp_path / "vehicles.json"
    vehicles.write_text(
        json.dumps(
            [
                {
                    "id": "v",
                    "depot": "d",
                    "depot_x": 0,
                    "depot_y": 0,
                    "breaks": [{"duration": 15, "start": 20, "end": 40}],
                }
            ]
        )
    )
    dispatch = read_dispatch(orders, vehicles)
    assert dispatch.vehicles[0].breaks[0].latest == 40
    for objective in ("cost", "makespan"):
        for solver in ("exact", "engine"):
            document = plan_document(
                dispatch, solve_dispatch(dispatch, solver=solver, objective=objective, time_limit=0.5)
            )
            assert check_dispatch(dispatch, document).feasible
            # 30 out, 15 break at a, 50 to b, 40 back: the break after a (at 30) is in its window
            assert document["makespan"] == 135 and document["drivers"][0]["breaks"][0]["at"] == "a"


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page of a PDF as matplotlib writes it: a page object names its content stream, whose
    text blocks (BT ... ET) show strings with Tj or TJ arrays (kerned pieces). A small reader for this test; no
    PDF library is in the environment."""
    objects = {int(n): body for n, body in re.findall(rb"(\d+) 0 obj(.*?)endobj", data, re.S)}
    pages = []
    for body in objects.values():
        if not re.search(rb"/Type\s*/Page\b", body):
            continue
        contents = re.search(rb"/Contents\s+(\d+) 0 R", body)
        assert contents, body[:200]
        stream = re.search(rb"stream\r?\n(.*?)\r?\nendstream", objects[int(contents[1])], re.S)
        assert stream
        raw = zlib.decompress(stream[1]) if b"FlateDecode" in objects[int(contents[1])] else stream[1]
        blocks = []
        for block in re.findall(rb"BT(.*?)ET", raw, re.S):
            pieces = re.findall(rb"\(((?:\\.|[^\\)])*)\)", block)
            blocks.append(b"".join(re.sub(rb"\\(.)", rb"\1", p) for p in pieces).decode("latin-1"))
        pages.append("\n".join(blocks))
    return pages


def test_pdf_report_has_the_overview_and_a_page_per_driver_with_its_stops(tmp_path: Path) -> None:
    orders, vehicles = write_day_with_breaks(tmp_path, 5, n=8)
    files = ["--orders", str(orders), "--vehicles", str(vehicles)]
    result = sudoless(tmp_path, "routes", "solve", *files, "--time-limit", "1", "-o", "plan.json", "--report", "p.pdf")
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "plan.json").read_text())
    data = (tmp_path / "p.pdf").read_bytes()
    assert data.startswith(b"%PDF-") and not list(tmp_path.glob(".*partial"))
    pages = pdf_pages(data)
    assert len(pages) == 1 + len(document["drivers"])
    overview = pages[0]
    assert "dispatch plan" in overview and "The day" in overview and "Map" in overview
    for driver, page in zip(document["drivers"], pages[1:], strict=True):
        assert page.startswith(driver["vehicle"])
        order = [page.find(f" {s['id']} ") for s in driver["stops"]]
        assert all(at > 0 for at in order) and order == sorted(order), (driver["vehicle"], page)
        for rest in driver["breaks"]:
            assert f"break {rest['break']} at {rest['at']}" in page
        assert all(s["id"] in overview for s in driver["stops"])  # the map labels every stop
    # the HTML report has the same drivers and breaks
    html = sudoless(tmp_path, "routes", "solve", *files, "--time-limit", "1", "--report", "p.html")
    assert html.returncode == 0 and "break 1 at" in (tmp_path / "p.html").read_text()
    bad = sudoless(tmp_path, "routes", "solve", *files, "--report", "p.png")
    assert_one_line_error(bad, "--report p.png: a report is a .html or a .pdf file")


def test_a_driver_with_a_break_stays_idle_when_that_is_cheaper(tmp_path: Path) -> None:
    """PyVRP with its breaks required plans v as used, and then gives it the orders (its fixed cost looks
    sunk): 58.7 against 48.7; the model with optional breaks finds that w alone is cheaper."""
    (tmp_path / "orders.csv").write_text("id,x,y\na,10,0\nb,12,0\nc,-10,0\ne,-12,0\n")
    (tmp_path / "vehicles.csv").write_text(
        "id,depot,depot_x,depot_y,fixed_cost,break_duration,break_start,break_end\nv,d,0,3,10,30,0,100\nw,d,0,3,0,,,\n"
    )
    dispatch = read_dispatch(tmp_path / "orders.csv", tmp_path / "vehicles.csv")
    exact = solve_dispatch(dispatch, solver="exact")
    engine = solve_dispatch(dispatch, solver="engine", time_limit=1.0)
    assert exact.routes[0] == [] and exact.cost(dispatch) == pytest.approx(48.739, abs=1e-3)
    assert engine.routes[0] == [] and engine.cost(dispatch) == pytest.approx(exact.cost(dispatch))
    assert check_dispatch(dispatch, plan_document(dispatch, engine)).feasible


@pytest.mark.parametrize("seed", range(6))
def test_breaks_are_placed_as_well_as_trying_every_place(tmp_path: Path, seed: int) -> None:
    """drive() composes parts of the day and keeps the ones no other beats; trying every placement of the two
    breaks (drive's own schedule at each) finds nothing better."""
    orders, vehicles = write_day_with_breaks(tmp_path, seed, n=7)
    text = vehicles.read_text().replace("break_end\n", "break_end,break2_duration,break2_start,break2_end\n")
    vehicles.write_text("\n".join(line + ",25,10:00,11:30" if line[0] != "i" else line for line in text.splitlines()))
    dispatch = read_dispatch(orders, vehicles)
    rng = np.random.default_rng(seed)
    for k, vehicle in enumerate(dispatch.vehicles):
        route = [int(i) for i in rng.permutation(list(dispatch.orders))[: 3 + k]]
        trip = drive(dispatch, k, route)
        every = [
            drive(dispatch, k, route, after=places)
            for places in itertools.combinations_with_replacement(range(len(route) + 1), len(vehicle.breaks))
        ]
        assert _rank(trip, vehicle) == min(_rank(t, vehicle) for t in every), (seed, k)


def _rank(trip: Trip, vehicle: Vehicle) -> tuple[bool, bool, float, float]:
    """drive()'s order of preference: on time, within shift and maximum, shortest working time, earliest back."""
    broken = bool(trip.late or trip.late_breaks)
    over = trip.back > vehicle.shift_end + 1e-9 or trip.duration > vehicle.max_duration + 1e-9
    return broken, over, round(trip.duration, 6), round(trip.back, 6)


def test_pyvrp_finds_a_feasible_day_of_40_orders_with_a_break_per_driver(tmp_path: Path) -> None:
    """With the penalty ceiling of days without breaks PyVRP found no feasible plan here (nor in 10 s)."""
    rng = np.random.default_rng(4)
    rows = ["id,x,y,demand,window_start,window_end,service"]
    for j in range(40):
        opens = 480 + int(rng.integers(0, 400))
        rows.append(f"o{j},{rng.integers(0, 100)},{rng.integers(0, 100)},1,{opens},{opens + 90},5")
    (tmp_path / "orders.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "vehicles.csv").write_text(
        "id,depot,depot_x,depot_y,capacity,shift_start,shift_end,break_duration,break_start,break_end\n"
        + "".join(f"v{k},d,50,50,30,07:00,19:00,30,11:30,13:30\n" for k in range(4))
    )
    dispatch = read_dispatch(tmp_path / "orders.csv", tmp_path / "vehicles.csv")
    document = plan_document(dispatch, solve_dispatch(dispatch, solver="engine", time_limit=2.0))
    report = check_dispatch(dispatch, document)
    assert report.feasible, report.violations[:3]
    assert all(len(d["breaks"]) == 1 for d in document["drivers"] if d["stops"])
