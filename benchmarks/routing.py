"""Routes for many dispatchers: sudoless' solvers next to Google OR-Tools' routing solver, same wall-clock budget.

Three parts, each on the same instances and the same ``--time-limit`` for every solver, one after the other:

* **CVRP** on the CVRPLIB X instances of ``DIR/cvrplib`` (rounded Euclidean distances, the BKS
  convention; unlimited fleet as for X, given here as K + max(2, K/10) dispatchers, K = the -kK of the name):
  ``divide``, ``engine``, ``auto`` and OR-Tools (PATH_CHEAPEST_ARC then GUIDED_LOCAL_SEARCH), gap to the BKS.
* **min-max mTSP** on TSPLIB eil51, kroA200, lin318, rat783, pcb1173 with m = 3, 5, 10, 20 salesmen (real-valued
  distances, depot = node 1, every salesman visits at least one city), from ``DIR/tsplib``: the longest tour
  of ``divide``, ``engine``, ``auto`` and OR-Tools (global span cost on a distance dimension), gap to the
  reference value (``MTSP_BEST`` below: the best published, or lower values from the 2023 run logs).
* ``--vrptw DIR``: time windows on the Solomon and Gehring-Homberger instances (``DIR`` holds ``BKS.json`` and
  the family folders): ``auto`` beside PyVRP alone and OR-Tools, gaps to both best-known conventions, one
  JSON line per run in ``--results`` (resumable, ``--jobs``, ``--shard``); see vrptw.py.
* ``--scale N``: a generated instance of N uniform locations (capacity 100, demands 1-10): sudoless ``auto``
  (parts on Spark) against PyVRP alone on the whole instance when its matrices fit ``--pyvrp-gib`` (default
  2 GiB, about 9,000 locations).
* ``--dispatch N``: a generated dispatch day of N orders (``sudoless.routing.dispatch_sample``: two depots, a
  mixed fleet of vans, trucks and bikes with their own speeds, costs and shifts, windows, two load dimensions,
  one order in five optional): ``--dispatch-solvers`` (default engine, divide, cores) at ``--time-limit`` each,
  the plan's cost (penalties included) after the independent check, wall time and the load average.

Every plan goes through the independent checker; an infeasible plan is reported as such, not as a cost.

The instance files are not part of the repository: ``DIR`` is ``--instance-dir DIR`` or the environment variable
``SUDOLESS_BENCHMARK_INSTANCES``, holding ``cvrplib/X-*.vrp`` with their ``.sol`` (the best-known solution, whose
``Cost`` line is the BKS) and ``tsplib/*.tsp``; benchmarks/README.md says where to download them. ``--scale``
alone needs no files.

    .venv/bin/python benchmarks/routing.py --quick                  # 3 X instances + 6 mTSP cases at 10 s
    .venv/bin/python benchmarks/routing.py --time-limit 30          # all 23 X instances and 20 mTSP cases
    .venv/bin/python benchmarks/routing.py --skip-cvrp --mtsp-time-limit 60
    .venv/bin/python benchmarks/routing.py --skip-cvrp --skip-mtsp --scale 20000 --time-limit 120
    .venv/bin/python benchmarks/routing.py --skip-cvrp --skip-mtsp --vrptw DIR --time-limit 30 --jobs 2
    .venv/bin/python benchmarks/routing.py --skip-cvrp --skip-mtsp --dispatch 1000 --time-limit 60

Results: tables on stdout and ``benchmarks/results/routing.json``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "routing.json"
QUICK_X = ["X-n101-k25", "X-n157-k13", "X-n303-k21"]
QUICK_MTSP = [("eil51", 3), ("eil51", 10), ("kroA200", 5), ("kroA200", 10), ("lin318", 5), ("rat783", 20)]
# Reference longest-tour values. Where the published tables are the best known (eil51, the bound-tight cases,
# kroA200 m=5) they are the lowest of the BKS and the per-method values in the comparison sheet He_Results.xlsx
# of github.com/Sasanm88/m-TSP (Mahmoudinazlou & Kwon, "A hybrid genetic algorithm for the min-max multiple
# traveling salesman problem", Computers & Operations Research 162:106455, 2024), which collects MASVND (Wang et
# al. 2017), ES (Karabulut et al. 2021) and HSNR (He & Hao 2022). Those tables stop in 2022: for kroA200 m=3,
# lin318 m=3/5, rat783 m=3/5/10 and pcb1173 m=3/5/10 the later version of the same sheet (extra_files/, commit
# 828b34c) holds run logs of 2023 with lower values, used here (the lowest value in those logs). A plan below a
# reference is "at least as good as any value found in print or in those logs", not a proven best-known.
MTSP_BEST = {
    ("eil51", 3): 159.57,
    ("eil51", 5): 118.13,
    ("eil51", 10): 112.07,
    ("kroA200", 3): 10731.66,
    ("kroA200", 5): 7415.54,
    ("kroA200", 10): 6223.22,
    ("kroA200", 20): 6223.22,
    ("lin318", 3): 15808.24,
    ("lin318", 5): 11292.82,
    ("lin318", 10): 9731.17,
    ("lin318", 20): 9731.17,
    ("rat783", 3): 3139.68,
    ("rat783", 5): 2055.61,
    ("rat783", 10): 1337.24,
    ("rat783", 20): 1231.69,
    ("pcb1173", 3): 20148.38,
    ("pcb1173", 5): 12906.07,
    ("pcb1173", 10): 8081.15,
    ("pcb1173", 20): 6528.86,
}
SOLVERS = ["divide", "engine", "auto", "ortools"]


INSTANCES_VARIABLE = "SUDOLESS_BENCHMARK_INSTANCES"


def instance_dir(option: Path | None, needed: list[str]) -> Path:
    """The folder of downloaded instances: ``--instance-dir``, else ``$SUDOLESS_BENCHMARK_INSTANCES``; it must
    hold the subfolders the chosen parts read (``cvrplib``, ``tsplib``). Exits with one line saying what to do."""
    folder = option or (Path(os.environ[INSTANCES_VARIABLE]) if os.environ.get(INSTANCES_VARIABLE) else None)
    if folder is None:
        sys.exit(
            f"routing.py: give the folder of the instance files with --instance-dir DIR or {INSTANCES_VARIABLE}"
            " (benchmarks/README.md says where to download them), or run --scale with --skip-cvrp --skip-mtsp"
        )
    missing = [sub for sub in needed if not (folder / sub).is_dir()]
    if missing:
        sys.exit(f"routing.py: {folder} has no {' or '.join(missing)} folder; see benchmarks/README.md for the layout")
    return folder


def best_known(bench: Path, name: str) -> float:
    """The BKS of a CVRPLIB instance: the ``Cost`` line of its ``.sol`` file (CVRPLIB ships the best-known
    solution beside each instance)."""
    path = bench / "cvrplib" / f"{name}.sol"
    if not path.is_file():
        sys.exit(f"routing.py: {path}: missing; download the instance's .sol file beside its .vrp")
    for line in path.read_text().splitlines():
        if line.strip().lower().startswith("cost"):
            return float(line.split()[1])
    sys.exit(f"routing.py: {path}: no 'Cost' line")


# -- OR-Tools ---------------------------------------------------------------------------------------------


def solve_ortools(problem: Any, seconds: float, balanced: bool) -> list[list[int]]:
    """OR-Tools routing with the usual recipe: arc cost = distance (scaled to integers), capacity dimension,
    and for min-max a distance dimension with a global span cost. No minimum stops: forcing one city per salesman
    as a hard constraint left OR-Tools without a first solution in 10 s for m = 10 and 20, and an idle salesman
    never shortens the longest tour; its plans are checked with that rule relaxed (``min_stops_relaxed``)."""
    from ortools.constraint_solver import pywrapcp

    scale = 1.0 if problem.metric.value == "rounded" else 1000.0
    matrix = np.round(problem.matrix * scale).astype(np.int64).tolist()
    n1, k = problem.n + 1, problem.dispatchers
    manager = pywrapcp.RoutingIndexManager(n1, k, 0)
    routing = pywrapcp.RoutingModel(manager)

    def distance(a: int, b: int) -> int:
        return matrix[manager.IndexToNode(a)][manager.IndexToNode(b)]

    arc = routing.RegisterTransitCallback(distance)
    routing.SetArcCostEvaluatorOfAllVehicles(arc)
    if problem.capacity is not None:
        demands = [int(round(q)) for q in problem.demands]
        demand = routing.RegisterUnaryTransitCallback(lambda i: demands[manager.IndexToNode(i)])
        routing.AddDimensionWithVehicleCapacity(demand, 0, [int(problem.capacity)] * k, True, "load")
    if balanced:
        routing.AddDimension(arc, 0, int(sum(max(row) for row in matrix)), True, "distance")
        routing.GetDimensionOrDie("distance").SetGlobalSpanCostCoefficient(100)
    import vrptw  # beside this file

    return vrptw.guided_routes(routing, manager, k, seconds)


# -- one run ----------------------------------------------------------------------------------------------


def run(problem: Any, solver: str, seconds: float, seed: int) -> dict[str, Any]:
    from sudoless.routing import check
    from sudoless.routing.auto import solve

    started = time.monotonic()
    if solver == "ortools":
        routes = solve_ortools(problem, seconds, balanced=problem.objective.value == "makespan")
        label = "ortools"
    else:
        solution = solve(problem, solver=solver, time_limit=seconds, seed=seed)
        routes, label = solution.routes, solution.solver
    wall = time.monotonic() - started
    relaxed = solver == "ortools" and problem.min_stops > 0
    report = check(problem.with_(min_stops=0) if relaxed else problem, routes) if routes else None
    return {
        "solver": solver,
        "ran": label,
        "wall_s": round(wall, 2),
        "feasible": bool(report and report.feasible),
        "violations": report.violations[:3] if report else ["none"],
        "total": report.total if report else None,
        "makespan": report.makespan if report else None,
        "routes": len([r for r in routes if r]),
        "min_stops_relaxed": relaxed,
        "plan": routes,
    }


def gap(value: float | None, best: float) -> float | None:
    return None if value is None else 100.0 * (value - best) / best


# -- the parts --------------------------------------------------------------------------------------------


def cvrp(bench: Path, names: list[str], seconds: float, seed: int, solvers: list[str]) -> list[dict[str, Any]]:
    from sudoless.routing import read_problem

    bks = {name: best_known(bench, name) for name in names}
    rows = []
    for name in names:
        k = int(name.rsplit("-k", 1)[1])
        problem = read_problem(bench / "cvrplib" / f"{name}.vrp", dispatchers=k + max(2, k // 10))
        for solver in solvers:
            result = run(problem, solver, seconds, seed)
            result.pop("plan")
            result.update(
                instance=name,
                n=problem.n,
                bks=bks[name],
                gap_pct=gap(result["total"], bks[name]) if result["feasible"] else None,
            )
            rows.append(result)
            print(
                f"  {name:12} {solver:7} {result['total']}  gap {_pct(result['gap_pct'])}  "
                f"{result['wall_s']} s  {'' if result['feasible'] else 'INFEASIBLE'}",
                file=sys.stderr,
                flush=True,
            )
    return rows


def mtsp(
    bench: Path, cases: list[tuple[str, int]], seconds: float, seed: int, solvers: list[str]
) -> list[dict[str, Any]]:
    from sudoless.routing import read_problem

    rows = []
    for name, m in cases:
        problem = read_problem(
            bench / "tsplib" / f"{name}.tsp", dispatchers=m, metric="euclidean", objective="makespan", min_stops=1
        )
        best = MTSP_BEST[(name, m)]
        for solver in solvers:
            result = run(problem, solver, seconds, seed)
            verified = longest_tour(bench / "tsplib" / f"{name}.tsp", result["plan"], m)
            result.update(
                verified_makespan=verified,
                instance=name,
                m=m,
                n=problem.n,
                best=best,
                bound=round(problem.farthest_bound(), 2),
                gap_pct=gap(result["makespan"], best) if result["feasible"] and verified else None,
            )
            rows.append(result)
            print(
                f"  {name:8} m={m:<3} {solver:7} {result['makespan']}  gap {_pct(result['gap_pct'])}  "
                f"{result['wall_s']} s  {'recomputed' if verified else 'NOT VERIFIED'}",
                file=sys.stderr,
                flush=True,
            )
    return rows


def longest_tour(path: Path, routes: list[list[int]], m: int) -> float | None:
    """The plan's longest tour recomputed from the raw TSPLIB file, without sudoless' parser, distances or
    checker (depot = node 1, customer i = node i + 1); None unless every city is served exactly once by at
    most m tours. Plans shorter than published values are checked here, not taken on trust."""
    nodes: list[tuple[float, float]] = []
    reading = False
    for line in path.read_text().splitlines():
        word = line.strip()
        if word.startswith("NODE_COORD_SECTION"):
            reading = True
        elif word == "EOF":
            break
        elif reading and word:
            _, x, y = word.split()[:3]
            nodes.append((float(x), float(y)))
    tours = [r for r in routes if r]  # OR-Tools may leave a salesman idle (see solve_ortools)
    if sorted(i for r in tours for i in r) != list(range(1, len(nodes))) or len(tours) > m:
        return None
    return max(sum(math.dist(nodes[a], nodes[b]) for a, b in zip([0, *r], [*r, 0], strict=True)) for r in tours)


def pyvrp_alone(problem: Any, seconds: float, seed: int) -> list[list[int]]:
    """``pyvrp.solve`` on the whole instance with ``MaxRuntime(seconds)``: the int64 matrix is built in row
    blocks (no float64 n x n copy) and serves as distance and duration (no time limits here, so durations
    are never read); PyVRP builds its initial solution before its clock starts, so wall time can exceed it."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    n1 = problem.n + 1
    matrix = np.empty((n1, n1), dtype=np.int64)
    everyone = np.arange(n1)
    for a in range(0, n1, 1000):
        rows = everyone[a : a + 1000]
        matrix[rows] = np.round(problem.distances(rows, everyone)).astype(np.int64)
    data = pyvrp.ProblemData(
        locations=[pyvrp.Location(float(x), float(y)) for x, y in problem.coords],
        clients=[pyvrp.Client(location=i, delivery=[int(problem.demands[i])]) for i in range(1, n1)],
        depots=[pyvrp.Depot(location=0)],
        vehicle_types=[pyvrp.VehicleType(num_available=problem.dispatchers, capacity=[int(problem.capacity)])],
        distance_matrices=[matrix],
        duration_matrices=[matrix],
    )
    del matrix
    result = pyvrp.solve(data, stop=MaxRuntime(seconds), seed=seed, display=False, collect_stats=False)
    return [[a.idx + 1 for a in route if a.is_client()] for route in result.best.routes()]


def scale(n: int, seconds: float, seed: int, pyvrp_gib: float = 2.0) -> list[dict[str, Any]]:
    from sudoless.routing import Problem, check

    rng = np.random.default_rng(seed)
    coords = rng.uniform(0, 100_000, size=(n + 1, 2))
    demands = np.concatenate(([0.0], rng.integers(1, 11, size=n).astype(float)))
    k = math.ceil(demands.sum() / 100) + max(2, n // 1000)
    problem = Problem(
        coords=coords, dispatchers=k, demands=demands, capacity=100.0, metric="rounded", name=f"uniform{n}"
    )
    rows = [dict(run(problem, "auto", seconds, seed), instance=problem.name, n=n)]
    gib = 8 * (n + 1) ** 2 / 2**30 * 3  # our int64 matrix + PyVRP's distance and duration copies
    if gib <= pyvrp_gib:  # the machine is shared: only with the memory explicitly allowed
        started = time.monotonic()
        routes = pyvrp_alone(problem, seconds, seed)
        report = check(problem, routes)
        rows.append(
            {
                "solver": "pyvrp",
                "ran": "pyvrp whole",
                "wall_s": round(time.monotonic() - started, 2),
                "feasible": report.feasible,
                "total": report.total,
                "makespan": report.makespan,
                "routes": len(routes),
                "instance": problem.name,
                "n": n,
            }
        )
    else:
        rows.append(
            {
                "solver": "pyvrp",
                "ran": f"not run: needs about {gib:.0f} GiB (--pyvrp-gib)",
                "instance": problem.name,
                "n": n,
                "feasible": False,
                "total": None,
                "wall_s": None,
                "routes": None,
            }
        )
    for row in rows:
        print(
            f"  {row['instance']} {row['solver']:7} total {row['total']}  {row['wall_s']} s  {row['ran']}",
            file=sys.stderr,
            flush=True,
        )
    return rows


def dispatch_day(n: int, seconds: float, seed: int, solvers: list[str]) -> list[dict[str, Any]]:
    """Each solver on a generated dispatch day of ``n`` orders for ``seconds``; engine is PyVRP alone."""
    from sudoless.routing.auto import solve_dispatch
    from sudoless.routing.dispatch_check import check_dispatch
    from sudoless.routing.dispatch_sample import generated_day
    from sudoless.routing.sheets import plan_document

    day = generated_day(n, seed=seed)
    rows = []
    for solver in solvers:
        load = os.getloadavg()[0]
        started = time.monotonic()
        plan = solve_dispatch(day, solver=solver, time_limit=seconds, seed=seed)
        wall = time.monotonic() - started
        report = check_dispatch(day, plan_document(day, plan))
        row = {
            "instance": day.name,
            "solver": solver,
            "feasible": report.feasible,
            "cost": round(report.cost, 2),
            "makespan": round(max(t["duration"] for t in report.trips), 2),
            "vehicles_used": sum(1 for r in plan.routes if r),
            "unserved": len(report.unserved),
            "wall_s": round(wall, 1),
            "load_before": round(load, 2),
            "load_after": round(os.getloadavg()[0], 2),
            "notes": plan.notes,
        }
        rows.append(row)
        print(
            f"  {day.name} {solver:7} cost {row['cost']} feasible {row['feasible']} {row['wall_s']} s "
            f"(load {row['load_before']} -> {row['load_after']}) {plan.notes}",
            file=sys.stderr,
            flush=True,
        )
    return rows


# -- printing ---------------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}%"


def table(title: str, rows: list[dict[str, Any]], key: str, solvers: list[str]) -> dict[str, float | None]:
    from rich.console import Console
    from rich.table import Table

    out = Table(title=title)
    out.add_column("instance")
    out.add_column("best", justify="right")
    for solver in solvers:
        out.add_column(f"{solver} {key}", justify="right")
        out.add_column("gap", justify="right")
    cases: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
    for row in rows:
        case = (row["instance"], row.get("m"))
        cases.setdefault(case, {})[row["solver"]] = row
    means: dict[str, float | None] = {}
    for (instance, m), by in cases.items():
        any_row = next(iter(by.values()))
        label = instance if m is None else f"{instance} m={m}"
        cells = [label, f"{any_row.get('bks', any_row.get('best'))}"]
        for solver in solvers:
            row = by.get(solver)
            value = None if row is None or not row["feasible"] else row[key]
            cells += [
                "infeasible" if row and not row["feasible"] else f"{value:.2f}" if value is not None else "-",
                _pct(row["gap_pct"]) if row else "-",
            ]
        out.add_row(*cells)
    cells = ["mean gap", ""]
    for solver in solvers:
        gaps = [r["gap_pct"] for r in rows if r["solver"] == solver]
        ok = [g for g in gaps if g is not None]
        means[solver] = sum(ok) / len(ok) if ok and len(ok) == len(gaps) else None
        cells += ["", _pct(means[solver]) if means[solver] is not None else f"{len(gaps) - len(ok)} infeasible"]
    out.add_row(*cells, style="bold")
    Console(width=max(160, 30 + 24 * len(solvers))).print(out)
    return means


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=30.0, help="wall seconds per instance and solver (CVRP)")
    parser.add_argument(
        "--mtsp-time-limit",
        type=float,
        default=None,
        help="seconds per min-max case (default: --time-limit; the issue's protocol says 60)",
    )
    parser.add_argument("--quick", action="store_true", help="3 X instances and 6 min-max cases, 10 s each")
    parser.add_argument("--instances", default=None, help="comma-separated X instance names")
    parser.add_argument("--cases", default=None, help="comma-separated min-max cases, e.g. kroA200:10,rat783:20")
    parser.add_argument("--solvers", default=",".join(SOLVERS))
    parser.add_argument("--skip-cvrp", action="store_true")
    parser.add_argument("--skip-mtsp", action="store_true")
    parser.add_argument("--scale", type=int, action="append", default=[], help="generated instance size (repeat)")
    parser.add_argument(
        "--pyvrp-gib",
        type=float,
        default=2.0,
        help="memory PyVRP alone may take at --scale (its matrices grow as n^2; 20,000 locations need about 9 GiB)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--instance-dir",
        type=Path,
        default=None,
        help=f"folder holding cvrplib/ and tsplib/ (default: ${INSTANCES_VARIABLE}); see benchmarks/README.md",
    )
    parser.add_argument(
        "--vrptw",
        type=Path,
        default=None,
        help="time windows: folder holding BKS.json and solomon/, homberger_200/, homberger_1000/ (Solomon-format "
        "files); auto beside PyVRP alone and OR-Tools, --time-limit each (--large-time-limit on 1,000 customers)",
    )
    parser.add_argument("--vrptw-families", default="solomon,homberger_200", help="comma-separated family folders")
    parser.add_argument("--vrptw-instances", default=None, help="comma-separated names, e.g. C101,r1_2_1 (default all)")
    parser.add_argument(
        "--vrptw-solvers",
        default="auto,pyvrp,ortools",
        help="comma-separated, ours first (the ratio lines compare it with the others): sudoless solver names "
        "(auto, divide, engine, cores), pyvrp (PyVRP alone) and ortools",
    )
    parser.add_argument(
        "--large-time-limit", type=float, default=120.0, help="seconds per run on homberger_1000 (a sample of 10)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="time-window runs at once, each in its own process")
    parser.add_argument("--shard", default=None, help="I/K: run every K-th time-window run from the I-th")
    parser.add_argument(
        "--results",
        type=Path,
        default=HERE / "results" / "vrptw.jsonl",
        help="JSON-lines file the time-window runs append to; runs already in it are skipped (resume, shards)",
    )
    parser.add_argument(
        "--summary-only", action="store_true", help="print the time-window summary of --results, run nothing"
    )
    parser.add_argument("--dispatch", type=int, action="append", default=[], help="generated dispatch day (orders)")
    parser.add_argument("--dispatch-solvers", default="engine,divide,cores", help="comma-separated, for --dispatch")
    args = parser.parse_args()
    needed = [sub for sub, skip in (("cvrplib", args.skip_cvrp), ("tsplib", args.skip_mtsp)) if not skip]
    bench = instance_dir(args.instance_dir, needed) if needed else Path()
    solvers = args.solvers.split(",")
    seconds = 10.0 if args.quick and "--time-limit" not in sys.argv else args.time_limit
    mtsp_seconds = args.mtsp_time_limit or seconds
    names = (
        args.instances.split(",")
        if args.instances
        else QUICK_X
        if args.quick
        else sorted(
            (p.stem for p in (bench / "cvrplib").glob("X-*.vrp")), key=lambda s: int(s.split("-n")[1].split("-")[0])
        )
    )
    cases = QUICK_MTSP if args.quick else sorted(MTSP_BEST)
    if args.cases:
        cases = [(name, int(m)) for name, m in (c.split(":") for c in args.cases.split(","))]
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "time_limit_s": seconds,
        "mtsp_time_limit_s": mtsp_seconds,
        "seed": args.seed,
    }
    try:
        import ortools

        report["ortools"] = ortools.__version__
    except ImportError:
        solvers = [s for s in solvers if s != "ortools"]
        print("OR-Tools not installed (pip install -e '.[bench]'): its column is skipped", file=sys.stderr)

    report["pyvrp"] = importlib.metadata.version("pyvrp")  # pyvrp has no __version__
    if not args.skip_cvrp:
        print(f"CVRP, {seconds:g} s per solver and instance", file=sys.stderr)
        report["cvrp"] = cvrp(bench, names, seconds, args.seed, solvers)
        report["cvrp_mean_gap_pct"] = table(
            f"CVRP X instances, {seconds:g} s wall each, gap to BKS", report["cvrp"], "total", solvers
        )
    if not args.skip_mtsp:
        print(f"min-max mTSP, {mtsp_seconds:g} s per solver and case", file=sys.stderr)
        report["mtsp"] = mtsp(bench, cases, mtsp_seconds, args.seed, solvers)
        report["mtsp_mean_gap_pct"] = table(
            f"min-max mTSP, {mtsp_seconds:g} s wall each, longest tour vs best published",
            report["mtsp"],
            "makespan",
            solvers,
        )
    if args.vrptw:
        import vrptw  # beside this file

        if "ortools" not in report:
            args.vrptw_solvers = ",".join(s for s in args.vrptw_solvers.split(",") if s != "ortools")
        report["vrptw"] = vrptw.main(args)
    for n in args.scale:
        report.setdefault("scale", []).extend(scale(n, seconds, args.seed, args.pyvrp_gib))
    for n in args.dispatch:
        print(f"dispatch day of {n} orders, {seconds:g} s per solver", file=sys.stderr)
        report.setdefault("dispatch", []).extend(dispatch_day(n, seconds, args.seed, args.dispatch_solvers.split(",")))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"results: {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
