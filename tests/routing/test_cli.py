"""``sudoless routes solve`` and ``routes check`` through the installed console script."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SUDOLESS = Path(sys.executable).with_name("sudoless")


def sudoless(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUDOLESS_HOME": str(home / "home")}
    return subprocess.run([str(SUDOLESS), *args], env=env, capture_output=True, text=True, timeout=300, cwd=home)


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sudoless: ") and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_solve_json_output_files_and_check(tmp_path: Path) -> None:
    stops = tmp_path / "stops.csv"
    rows = ["id,x,y,demand", "depot,50,50,0"] + [
        f"c{i},{(i * 37) % 100},{(i * 61) % 100},{1 + i % 4}" for i in range(1, 26)
    ]
    stops.write_text("\n".join(rows) + "\n")
    result = sudoless(
        tmp_path,
        "routes",
        "solve",
        str(stops),
        "--dispatchers",
        "4",
        "--min-stops",
        "3",
        "--time-limit",
        "2",
        "--json",
        "-o",
        "plan.json",
        "--plot",
        "map.png",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["feasible"] and len(doc["routes"]) == 4 and all(len(r["stops"]) >= 3 for r in doc["routes"])
    assert sorted(s for r in doc["routes"] for s in r["stops"]) == sorted(f"c{i}" for i in range(1, 26))
    assert (tmp_path / "map.png").read_bytes()[:4] == b"\x89PNG"
    checked = sudoless(tmp_path, "routes", "check", str(stops), "plan.json", "-k", "4", "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["total_distance"] == pytest.approx(doc["total_distance"])
    # without -k the fleet is the plan's own routes; with a smaller -k the extra routes are a violation
    unsized = sudoless(tmp_path, "routes", "check", str(stops), "plan.json", "--min-stops", "3")
    assert unsized.returncode == 0 and unsized.stdout.startswith("feasible: 4 routes"), unsized.stdout
    short = sudoless(tmp_path, "routes", "check", str(stops), "plan.json", "-k", "3")
    assert short.returncode == 1 and "INFEASIBLE" in short.stdout, short.stdout
    plan = json.loads((tmp_path / "plan.json").read_text())
    plan["routes"][0]["stops"].append(plan["routes"][1]["stops"][0])  # visit one location twice
    (tmp_path / "broken.json").write_text(json.dumps(plan))
    broken = sudoless(tmp_path, "routes", "check", str(stops), "broken.json", "-k", "4")
    assert broken.returncode == 1 and "INFEASIBLE" in broken.stdout and "visited by route" in broken.stdout


def test_check_a_cvrplib_solution(tmp_path: Path, instances: Path) -> None:
    result = sudoless(
        tmp_path,
        "routes",
        "check",
        str(instances / "r16-k4.vrp"),
        str(instances / "r16-k4.sol"),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total_distance"] == 477


def test_error_paths_are_one_line_and_exit_2(tmp_path: Path) -> None:
    assert_one_line_error(sudoless(tmp_path, "routes", "solve", "missing.vrp"), "missing.vrp: no such file")
    (tmp_path / "bad.vrp").write_text("this is not a VRPLIB file\n")
    assert_one_line_error(sudoless(tmp_path, "routes", "solve", "bad.vrp"), "not a readable VRPLIB/TSPLIB file")
    (tmp_path / "bad.csv").write_text("id,x,y\nd,0,0\na,1,x\n")
    assert_one_line_error(sudoless(tmp_path, "routes", "solve", "bad.csv"), "line 3 column y")
    (tmp_path / "ok.csv").write_text("id,x,y\nd,0,0\na,1,1\nb,2,2\n")
    assert_one_line_error(
        sudoless(tmp_path, "routes", "solve", "ok.csv", "-k", "2", "--min-stops", "2"), "needs 4 locations"
    )
    assert_one_line_error(sudoless(tmp_path, "routes", "solve", "ok.csv", "--time-limit", "0"), "--time-limit")
    assert_one_line_error(sudoless(tmp_path, "routes", "solve", "ok.csv", "--solver", "exact", "-k", "0"), "at least 1")
    (tmp_path / "plan.json").write_text('{"routes": [{"stops": ["a", "zz"]}]}')
    assert_one_line_error(sudoless(tmp_path, "routes", "check", "ok.csv", "plan.json"), "'zz'")
    (tmp_path / "three.json").write_text('{"routes": [["a"], ["b"], []]}')
    assert_one_line_error(
        sudoless(tmp_path, "routes", "check", "ok.csv", "three.json", "--min-stops", "1"), "the 3 routes of three.json"
    )
    (tmp_path / "none.json").write_text('{"routes": []}')
    assert_one_line_error(sudoless(tmp_path, "routes", "check", "ok.csv", "none.json"), "no routes; pass -k")


def long_decimals(doc: object) -> list[float]:
    """Every float in a JSON document with more than six decimals."""
    if isinstance(doc, dict):
        return [x for v in doc.values() for x in long_decimals(v)]
    if isinstance(doc, list):
        return [x for v in doc for x in long_decimals(v)]
    return [doc] if isinstance(doc, float) and round(doc, 6) != doc else []


@pytest.mark.parametrize(("customers", "solver"), [(8, "auto"), (14, "engine")], ids=["exact", "pyvrp"])
def test_idle_dispatchers_are_reported_and_min_stops_puts_all_to_work(
    tmp_path: Path, customers: int, solver: str
) -> None:
    """A tight cluster by the depot: for total distance one route is optimal, so two of three dispatchers idle."""
    stops = tmp_path / "cluster.csv"
    rows = ["id,x,y", "depot,0,0"] + [
        f"c{i},{10 + 2 * math.cos(i):.3f},{10 + 2 * math.sin(i):.3f}" for i in range(1, customers + 1)
    ]
    stops.write_text("\n".join(rows) + "\n")
    solve = ["routes", "solve", str(stops), "-k", "3", "--solver", solver, "--time-limit", "2", "--json"]
    idle = sudoless(tmp_path, *solve, "-o", "idle.json")
    assert idle.returncode == 0, idle.stderr
    doc = json.loads(idle.stdout)
    assert doc["idle"] == [2, 3] and [r["dispatcher"] for r in doc["routes"]] == [1, 2, 3]
    assert len(doc["routes"][0]["stops"]) == customers and doc["routes"][1]["stops"] == doc["routes"][2]["stops"] == []
    assert long_decimals(doc) == [] and not re.search(r"\d\.\d{7,}", idle.stdout), idle.stdout
    assert idle.stderr.strip().splitlines() == [
        "sudoless routes: dispatchers 2 and 3 have no stops; --min-stops 1 makes every dispatcher take at least one"
    ]
    # the checker sees the idle dispatchers too, and refuses the plan once every dispatcher must work
    checked = sudoless(tmp_path, "routes", "check", str(stops), "idle.json", "--json")
    assert checked.returncode == 0 and json.loads(checked.stdout)["idle"] == [2, 3], checked.stdout
    assert long_decimals(json.loads(checked.stdout)) == []
    refused = sudoless(tmp_path, "routes", "check", str(stops), "idle.json", "--min-stops", "1")
    assert refused.returncode == 1 and "dispatcher(s) 2, 3 have fewer than 1 stops" in refused.stdout

    busy = sudoless(tmp_path, *solve, "--min-stops", "1", "-o", "busy.json")
    assert busy.returncode == 0, busy.stderr
    plan = json.loads(busy.stdout)
    assert plan["feasible"] and plan["idle"] == [] and all(r["stops"] for r in plan["routes"])
    assert len(plan["routes"]) == 3 and "no stops" not in busy.stderr
    assert sorted(s for r in plan["routes"] for s in r["stops"]) == sorted(f"c{i}" for i in range(1, customers + 1))
    # three routes out and back are longer than one: the price of using every dispatcher
    assert plan["total_distance"] > doc["total_distance"]
    accepted = sudoless(tmp_path, "routes", "check", str(stops), "busy.json", "-k", "3", "--min-stops", "1", "--json")
    assert accepted.returncode == 0, accepted.stdout
    report = json.loads(accepted.stdout)
    assert report["feasible"] and report["idle"] == [] and report["total_distance"] == plan["total_distance"]
