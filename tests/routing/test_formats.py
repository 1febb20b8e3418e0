"""Instance and solution files: VRPLIB/TSPLIB, CSV, JSON in; JSON, CSV, GeoJSON out; errors that name the place."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from sudoless.errors import InputError
from sudoless.routing import Metric, Solution, check, read_problem, read_solution, write_solution


def test_vrplib_file_and_its_best_known_solution(instances: Path) -> None:
    problem = read_problem(instances / "r16-k4.vrp")
    assert (problem.n, problem.dispatchers, problem.capacity, problem.metric) == (16, 4, 80.0, Metric.ROUNDED)
    routes = read_solution(instances / "r16-k4.sol", problem)
    report = check(problem, routes)
    assert report.feasible and report.total == 477


def test_explicit_matrix_instance(instances: Path) -> None:
    problem = read_problem(instances / "m12-k4.vrp")
    assert problem.metric == Metric.MATRIX and problem.n == 12
    report = check(problem, read_solution(instances / "m12-k4.sol", problem))
    assert report.feasible and report.total == 303


def test_csv_and_json_inputs(tmp_path: Path) -> None:
    path = tmp_path / "stops.csv"
    path.write_text("id,x,y,demand\ndepot,0,0,0\na,3,4,2\nb,0,10,1\n")
    problem = read_problem(path, dispatchers=2)
    assert problem.ids == ("depot", "a", "b") and problem.demands.tolist() == [0, 2, 1]
    assert problem.route_length([1]) == pytest.approx(10.0)
    doc = {
        "locations": [{"id": "d", "lat": 52.52, "lon": 13.405}, {"id": "p", "lat": 48.8566, "lon": 2.3522}],
        "capacity": 5,
    }
    (tmp_path / "geo.json").write_text(json.dumps(doc))
    geo = read_problem(tmp_path / "geo.json")
    assert geo.metric == Metric.GEO and geo.capacity == 5
    assert geo.route_length([1]) == pytest.approx(2 * 878_000, rel=0.01)  # Berlin-Paris ~878 km


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("id,x\nd,0\n", "line 1: missing column(s) y"),
        ("id,x,y\nd,0,0\na,1,oops\n", "line 3 column y: 'oops' is not a number"),
        ("id,x,y\nd,0,0\n", "at least one location"),
        ("id,x,y\nd,0,0\na,1,1\na,2,2\n", "'a' appears twice"),
    ],
)
def test_csv_errors_name_the_line(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=None) as info:
        read_problem(path)
    assert fragment in str(info.value) and str(path) in str(info.value)


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_problem(tmp_path / "none.vrp")
    (tmp_path / "x.txt").write_text("1 2")
    with pytest.raises(InputError, match="unknown instance format"):
        read_problem(tmp_path / "x.txt")


def test_outputs_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "stops.csv"
    path.write_text("id,x,y\nd,0,0\na,1,0\nb,0,1\nc,5,5\n")
    problem = read_problem(path, dispatchers=2)
    solution = Solution([[1, 2], [3]], "hand")
    write_solution(tmp_path / "s.json", solution, problem)
    assert read_solution(tmp_path / "s.json", problem) == [[1, 2], [3]]
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["total_distance"] == pytest.approx(2 + np.sqrt(2) + 2 * np.sqrt(50))
    write_solution(tmp_path / "s.csv", solution, problem)
    rows = list(csv.DictReader((tmp_path / "s.csv").open()))
    assert [r["id"] for r in rows] == ["a", "b", "d", "c", "d"]
    write_solution(tmp_path / "s.geojson", solution, problem)
    features = json.loads((tmp_path / "s.geojson").read_text())["features"]
    assert [f["geometry"]["type"] for f in features] == ["Point", "LineString", "LineString"]
    assert features[2]["geometry"]["coordinates"] == [[0, 0], [5, 5], [0, 0]]
