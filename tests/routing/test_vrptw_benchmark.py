"""benchmarks/vrptw.py, the time-window part of benchmarks/routing.py: its reading of the best-knowns and the
results file, its summary and ratio figures, and a whole run on a tiny Solomon file (tests/fixtures/routing/tw8.txt)
that must resume without re-running anything. The best-knowns here are made up for the test."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "routing" / "tw8.txt"


def _load() -> Any:
    spec = importlib.util.spec_from_file_location("vrptw_benchmark", ROOT / "benchmarks" / "vrptw.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


vrptw = _load()


def _row(family: str, instance: str, solver: str, total: float | None, **extra: Any) -> dict[str, Any]:
    row = {
        "family": family,
        "instance": instance,
        "solver": solver,
        "seconds": 30.0,
        "seed": 1,
        "feasible": total is not None,
        "total": total,
        "vehicles": 10,
        "wall_s": 30.5,
        "bks_hier": 100.0,
        "bks_hier_vehicles": 9,
        "bks_dist": None,
        "load_start": 2.0,
        "load_end": 4.0,
    }
    row.update(extra)
    row["gap_dist_pct"] = vrptw.gap(total, row["bks_dist"]) if total is not None else None
    row["gap_hier_pct"] = vrptw.gap(total, row["bks_hier"]) if total is not None else None
    return row


def test_best_knowns_keep_the_two_conventions_apart() -> None:
    bks = {
        "R101": {"best_known_cost": 1650.8, "solved_with_vehicles": 19},
        "R101_distance": {"best_known_cost": 1642.88, "solved_with_vehicles": 20},
        "r1_2_1": {"best_known_cost": 4784.11, "solved_with_vehicles": 20},
    }
    assert vrptw.best_knowns(bks, "R101") == {
        "bks_hier": 1650.8,
        "bks_hier_vehicles": 19,
        "bks_dist": 1642.88,
        "bks_dist_vehicles": 20,
    }
    assert vrptw.best_knowns(bks, "r1_2_1")["bks_dist"] is None
    assert vrptw.best_knowns(bks, "unknown") == dict.fromkeys(
        ("bks_hier", "bks_hier_vehicles", "bks_dist", "bks_dist_vehicles")
    )


def test_instances_come_in_natural_order_and_the_sample_is_fixed(tmp_path: Path) -> None:
    (tmp_path / "homberger_1000").mkdir()
    names = [f"r1_10_{i}" for i in range(1, 13)]
    for name in names:
        (tmp_path / "homberger_1000" / f"{name}.txt").write_text("")
    assert vrptw.instance_names(tmp_path, "homberger_1000", None, None) == names
    sample = vrptw.instance_names(tmp_path, "homberger_1000", None, 5)
    assert len(sample) == 5 and sample == sorted(sample, key=vrptw.natural)
    assert vrptw.instance_names(tmp_path, "homberger_1000", None, 5) == sample
    assert vrptw.instance_names(tmp_path, "homberger_1000", {"r1_10_2", "x"}, None) == ["r1_10_2"]
    with pytest.raises(SystemExit, match="has no solomon/ folder"):
        vrptw.instance_names(tmp_path, "solomon", None, None)


def test_shards_cover_every_run_once() -> None:
    tasks = [vrptw.Task("solomon", f"C10{i}", s, 30.0, 1) for i in range(1, 6) for s in ("auto", "pyvrp", "ortools")]
    parts = [vrptw.shard(tasks, f"{i}/3") for i in (1, 2, 3)]
    assert sorted(t.key for p in parts for t in p) == sorted(t.key for t in tasks)
    assert sum(len(p) for p in parts) == len(tasks)
    assert vrptw.shard(tasks, None) == tasks
    for bad in ("0/2", "3/2", "x"):
        with pytest.raises(SystemExit, match="--shard"):
            vrptw.shard(tasks, bad)


def test_results_file_names_a_bad_line(tmp_path: Path) -> None:
    results = tmp_path / "r.jsonl"
    assert vrptw.read_results(results) == []
    vrptw.append_result(results, _row("solomon", "C101", "auto", 828.94))
    vrptw.append_result(results, _row("solomon", "C101", "pyvrp", 830.0))
    rows = vrptw.read_results(results)
    assert [vrptw.row_key(r) for r in rows] == [
        ("solomon", "C101", "auto", 30.0, 1),
        ("solomon", "C101", "pyvrp", 30.0, 1),
    ]
    with results.open("a") as handle:
        handle.write('{"family": "solomon"}\n')
    with pytest.raises(SystemExit, match=r"r\.jsonl line 3: not a result line"):
        vrptw.read_results(results)


def test_summary_means_counts_and_ratios() -> None:
    rows = [
        _row("solomon", "A", "auto", 101.0, bks_dist=100.0),
        _row("solomon", "A", "pyvrp", 102.0, bks_dist=100.0),
        _row("solomon", "B", "auto", 203.0, bks_dist=200.0, vehicles=12),
        _row("solomon", "B", "pyvrp", None, bks_dist=200.0),
        _row("homberger_200", "c", "auto", 95.0),
        _row("homberger_200", "c", "pyvrp", 95.0),
    ]
    summary = {(s["family"], s["solver"]): s for s in vrptw.summarise(rows, ["auto", "pyvrp"])}
    auto = summary[("solomon", "auto")]
    assert (auto["runs"], auto["feasible"], auto["with_dist_bks"]) == (2, 2, 2)
    assert auto["mean_gap_dist_pct"] == pytest.approx(1.25)  # (1 % + 1.5 %) / 2
    assert auto["mean_gap_hier_pct"] == pytest.approx((1.0 + 103.0) / 2)
    assert auto["mean_vehicles"] == pytest.approx(11.0)
    assert (auto["load_min"], auto["load_max"]) == (2.0, 4.0)
    pyvrp = summary[("solomon", "pyvrp")]
    assert (pyvrp["runs"], pyvrp["feasible"], pyvrp["mean_gap_dist_pct"]) == (2, 1, pytest.approx(2.0))
    gh = summary[("homberger_200", "auto")]
    assert gh["mean_gap_dist_pct"] is None and gh["with_dist_bks"] == 0
    assert gh["mean_gap_hier_pct"] == pytest.approx(-5.0)

    lines = {r["family"]: r for r in vrptw.ratios(rows, "auto", "pyvrp")}
    assert lines["solomon"]["paired"] == 1  # B: PyVRP's plan is infeasible, so B is not compared
    assert lines["solomon"]["ratio"] == pytest.approx(101.0 / 102.0)
    assert (lines["solomon"]["shorter"], lines["solomon"]["equal"], lines["solomon"]["longer"]) == (1, 0, 0)
    assert (lines["homberger_200"]["ratio"], lines["homberger_200"]["equal"]) == (pytest.approx(1.0), 1)


def _routing(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(ROOT / "benchmarks" / "routing.py"), "--skip-cvrp", "--skip-mtsp", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_a_whole_run_checks_every_plan_and_resumes(tmp_path: Path) -> None:
    folder = tmp_path / "vrptw"
    (folder / "solomon").mkdir(parents=True)
    shutil.copy(FIXTURE, folder / "solomon" / "tw8.txt")
    # made-up best-knowns, one per convention; tw8's optimum is unknown to this test, only the arithmetic is checked
    (folder / "BKS.json").write_text(
        json.dumps(
            {
                "tw8": {"best_known_cost": 250.0, "solved_with_vehicles": 2},
                "tw8_distance": {"best_known_cost": 240.0, "solved_with_vehicles": 3},
            }
        )
    )
    solvers = "auto,pyvrp,ortools" if importlib.util.find_spec("ortools") else "auto,pyvrp"
    results = tmp_path / "runs.jsonl"
    common = ("--vrptw", folder, "--vrptw-families", "solomon", "--vrptw-solvers", solvers, "--time-limit", "1")
    first = _routing(*common, "--results", results, "--output", tmp_path / "report.json", "--jobs", "2")
    assert first.returncode == 0, first.stderr
    rows = vrptw.read_results(results)
    assert sorted(r["solver"] for r in rows) == sorted(solvers.split(","))
    for row in rows:
        assert row["feasible"], row
        assert row["gap_dist_pct"] == pytest.approx(100 * (row["total"] - 240.0) / 240.0, abs=1e-3)
        assert row["gap_hier_pct"] == pytest.approx(100 * (row["total"] - 250.0) / 250.0, abs=1e-3)
        assert row["vehicles"] <= 3
    assert "time windows: mean gap" in first.stdout and "auto / pyvrp" in first.stdout

    again = _routing(*common, "--results", results, "--output", tmp_path / "report.json")
    assert again.returncode == 0, again.stderr
    assert f"{len(rows)} already in" in again.stderr and "0 to go" in again.stderr
    assert len(vrptw.read_results(results)) == len(rows)
    report = json.loads((tmp_path / "report.json").read_text())
    assert {s["solver"] for s in report["vrptw"]["summary"]} == set(solvers.split(","))


def test_classes_group_both_naming_schemes() -> None:
    assert [vrptw.instance_class(n) for n in ("RC105", "rc1_2_3", "C101", "c2_10_1", "R211", "r1_2_10")] == [
        "RC1",
        "RC1",
        "C1",
        "C2",
        "R2",
        "R1",
    ]
    rows = [
        _row("solomon", "R101", "auto", 101.0, bks_dist=100.0),
        _row("solomon", "R102", "auto", 103.0, bks_dist=100.0),
        _row("solomon", "R102", "pyvrp", None, bks_dist=100.0),
        _row("homberger_200", "r1_2_1", "auto", 98.0),
    ]
    got = {(c["family"], c["class"], c["solver"]): c for c in vrptw.by_class(rows, ["auto", "pyvrp"])}
    assert got[("solomon", "R1", "auto")]["mean_gap_pct"] == pytest.approx(2.0)
    assert got[("solomon", "R1", "auto")]["convention"] == "dist"
    assert (got[("solomon", "R1", "pyvrp")]["feasible"], got[("solomon", "R1", "pyvrp")]["runs"]) == (0, 1)
    assert got[("solomon", "R1", "pyvrp")]["mean_gap_pct"] is None
    assert got[("homberger_200", "R1", "auto")]["convention"] == "hier"
    assert got[("homberger_200", "R1", "auto")]["mean_gap_pct"] == pytest.approx(-2.0)
