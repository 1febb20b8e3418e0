"""Time windows: sudoless beside PyVRP alone and OR-Tools on the Solomon and Gehring-Homberger instances.

Run through ``routing.py --vrptw DIR`` (see its help). ``DIR`` holds ``BKS.json`` and the family folders
``solomon/``, ``homberger_200/`` and ``homberger_1000/`` of Solomon-format text files (the VRPTW collection of the
VROOM project's benchmark scripts, ``benchmarks/VRPTW/``; benchmarks/README.md says where to get it). Each
(instance, solver) run gets the same wall-clock budget, its plan goes through :func:`sudoless.routing.check`
(windows included), and one JSON line is appended to the results file as soon as it ends: a killed run resumes
where it stopped, and ``--shard I/K`` splits one table over several processes or machines writing the same file.

``BKS.json`` has two conventions (its README): the key ``R101`` is the literature's hierarchical objective
(fewest vehicles, then distance; ``solved_with_vehicles``), ``R101_distance`` (Solomon only) is distance alone.
All three solvers here minimise distance alone with the file's fleet as the limit, so the distance-only gap is
the fair one; the hierarchical gap is printed beside it (a plan with more vehicles can be below it).
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import sys
import time
import traceback
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from statistics import fmean
from typing import Any

import numpy as np

FAMILIES = ("solomon", "homberger_200", "homberger_1000")
SOLVERS = ("auto", "pyvrp", "ortools")
UNIT = 1000.0  # PyVRP and OR-Tools take integers: distances and times in thousandths
LARGE_SAMPLE = 10  # Gehring-Homberger 1000: a sample of this many (the protocol)


@dataclass(frozen=True)
class Task:
    """One run: an instance of a family, a solver, its budget and seed. ``key`` identifies it in the results."""

    family: str
    instance: str
    solver: str
    seconds: float
    seed: int

    @property
    def key(self) -> tuple[str, str, str, float, int]:
        return (self.family, self.instance, self.solver, float(self.seconds), int(self.seed))


def row_key(row: dict[str, Any]) -> tuple[str, str, str, float, int]:
    return (row["family"], row["instance"], row["solver"], float(row["seconds"]), int(row["seed"]))


# -- the instances and their best-knowns -------------------------------------------------------------------


def best_knowns(bks: dict[str, Any], name: str) -> dict[str, Any]:
    """The two conventions of ``BKS.json`` for ``name``: hierarchical (key ``name``) and distance-only (key
    ``name_distance``), each a cost and the vehicles that plan used; None where the file has no entry."""
    hier, dist = bks.get(name) or {}, bks.get(f"{name}_distance") or {}
    return {
        "bks_hier": hier.get("best_known_cost"),
        "bks_hier_vehicles": hier.get("solved_with_vehicles"),
        "bks_dist": dist.get("best_known_cost"),
        "bks_dist_vehicles": dist.get("solved_with_vehicles"),
    }


def read_bks(path: Path) -> dict[str, Any]:
    """``BKS.json`` as a dict; a missing or malformed file stops the run with one line saying so."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        sys.exit(f"routing.py: {path}: missing; --vrptw DIR must hold BKS.json beside the family folders")
    except json.JSONDecodeError as error:
        sys.exit(f"routing.py: {path} line {error.lineno}: not JSON ({error.msg})")
    if not isinstance(data, dict):
        sys.exit(f"routing.py: {path}: expected an object of instance names")
    return data


def instance_names(folder: Path, family: str, chosen: set[str] | None, sample: int | None) -> list[str]:
    """The instances of one family folder, in a natural order (``r1_2_10`` after ``r1_2_9``); ``chosen``
    filters by name, ``sample`` keeps that many drawn with a fixed seed (the same sample on every machine)."""
    path = folder / family
    if not path.is_dir():
        sys.exit(f"routing.py: {folder} has no {family}/ folder; see benchmarks/README.md for the layout")
    names = sorted((p.stem for p in path.glob("*.txt")), key=natural)
    if chosen is not None:
        names = [n for n in names if n in chosen]
    if sample is not None and len(names) > sample:
        names = sorted(random.Random(0).sample(names, sample), key=natural)
    return names


def natural(name: str) -> tuple[Any, ...]:
    """Sort key putting digit runs in numeric order."""
    parts: list[Any] = []
    number = ""
    for char in name.lower() + "\0":
        if char.isdigit():
            number += char
            continue
        if number:
            parts.append((0, int(number)))
            number = ""
        parts.append((1, char))
    return tuple(parts)


def shard(tasks: list[Task], spec: str | None) -> list[Task]:
    """Every K-th task starting at I for ``spec`` = ``I/K`` (1 <= I <= K); all of them without a spec."""
    if not spec:
        return tasks
    try:
        i, k = (int(x) for x in spec.split("/"))
    except ValueError:
        sys.exit(f"routing.py: --shard {spec!r}: expected I/K, e.g. 1/2")
    if not 1 <= i <= k:
        sys.exit(f"routing.py: --shard {spec!r}: I must be between 1 and K")
    return tasks[i - 1 :: k]


# -- the results file ---------------------------------------------------------------------------------------


def read_results(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines results file (none if it does not exist yet). A line that is not a result
    stops the run with its file and line number: resuming must not silently re-run or drop anything."""
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            row_key(row)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            sys.exit(
                f"routing.py: {path} line {number}: not a result line (JSON with family, instance, solver, "
                "seconds, seed); remove the line or give another --results file"
            )
        rows.append(row)
    return rows


def append_result(path: Path, row: dict[str, Any]) -> None:
    """One line, one write, on a file opened for appending: concurrent shards never interleave a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(row, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


# -- the solvers ---------------------------------------------------------------------------------------------


def integer_data(problem: Any) -> dict[str, Any]:
    """The instance in thousandths, as a PyVRP or OR-Tools user would write it: distances rounded, travel
    times rounded up and windows shrunk inwards (a plan on time in these units is on time in real ones)."""
    n1 = problem.n + 1
    d = problem.distances(np.arange(n1), np.arange(n1))
    return {
        "distance": np.round(d * UNIT).astype(np.int64),
        "travel": np.ceil(d * UNIT - 1e-9).astype(np.int64),
        "service": [int(math.ceil(s * UNIT)) for s in problem.service],
        "ready": [int(math.ceil(r * UNIT)) for r in problem.windows[:, 0]],
        "due": [int(math.floor(r * UNIT)) for r in problem.windows[:, 1]],
        "demand": [int(math.ceil(q)) for q in problem.demands],
        "capacity": int(math.floor(problem.capacity)),
    }


def solve_pyvrp(problem: Any, seconds: float, seed: int) -> list[list[int]]:
    """``pyvrp.solve`` on the whole instance with ``MaxRuntime(seconds)``, the depot's window as the shift."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    data = integer_data(problem)
    clients = [
        pyvrp.Client(
            location=i,
            delivery=[data["demand"][i]],
            service_duration=data["service"][i],
            tw_early=data["ready"][i],
            tw_late=data["due"][i],
        )
        for i in range(1, problem.n + 1)
    ]
    early, late = data["ready"][0], data["due"][0]
    model = pyvrp.ProblemData(
        locations=[pyvrp.Location(float(x), float(y)) for x, y in problem.coords],
        clients=clients,
        depots=[pyvrp.Depot(location=0, tw_early=early, tw_late=late)],
        vehicle_types=[
            pyvrp.VehicleType(
                num_available=problem.dispatchers, capacity=[data["capacity"]], tw_early=early, tw_late=late
            )
        ],
        distance_matrices=[data["distance"]],
        duration_matrices=[data["travel"]],
    )
    result = pyvrp.solve(model, stop=MaxRuntime(seconds), seed=seed, display=False, collect_stats=False)
    return [[a.idx + 1 for a in route if a.is_client()] for route in result.best.routes()]


def solve_ortools(problem: Any, seconds: float, seed: int) -> list[list[int]]:
    """OR-Tools' routing library as its VRPTW example does it: arc cost = distance, a capacity dimension, a
    time dimension (service + travel, waiting allowed) with each customer's window on its cumul and the depot's
    on every vehicle's start and end; PATH_CHEAPEST_ARC then GUIDED_LOCAL_SEARCH until the time limit. OR-Tools
    takes no seed; its search is deterministic. No plan (an empty list) when it finds no first solution."""
    from ortools.constraint_solver import pywrapcp

    del seed
    data = integer_data(problem)
    n1, k = problem.n + 1, problem.dispatchers
    manager = pywrapcp.RoutingIndexManager(n1, k, 0)
    routing = pywrapcp.RoutingModel(manager)
    distance = data["distance"].tolist()
    duration = (data["travel"] + np.asarray(data["service"], dtype=np.int64)[:, None]).tolist()
    arc = routing.RegisterTransitMatrix(distance)
    routing.SetArcCostEvaluatorOfAllVehicles(arc)
    load = routing.RegisterUnaryTransitVector(data["demand"])
    routing.AddDimensionWithVehicleCapacity(load, 0, [data["capacity"]] * k, True, "load")
    horizon = data["due"][0]
    routing.AddDimension(routing.RegisterTransitMatrix(duration), horizon, horizon, False, "time")
    times = routing.GetDimensionOrDie("time")
    for i in range(1, n1):
        times.CumulVar(manager.NodeToIndex(i)).SetRange(data["ready"][i], data["due"][i])
    for v in range(k):
        times.CumulVar(routing.Start(v)).SetRange(data["ready"][0], horizon)
        times.CumulVar(routing.End(v)).SetRange(data["ready"][0], horizon)
    return guided_routes(routing, manager, k, seconds)


def guided_routes(routing: Any, manager: Any, k: int, seconds: float) -> list[list[int]]:
    """OR-Tools' usual search on a built model (PATH_CHEAPEST_ARC, then GUIDED_LOCAL_SEARCH until ``seconds``),
    read back as one node list per vehicle; no plan (an empty list) when it finds no first solution. Shared with
    routing.py's CVRP and min-max runs."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(int(seconds * 1000))
    found = routing.SolveWithParameters(params)
    if found is None:
        return []
    routes = []
    for v in range(k):
        index, route = found.Value(routing.NextVar(routing.Start(v))), []
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = found.Value(routing.NextVar(index))
        routes.append(route)
    return routes


def run_task(task: Task, folder: Path, bks: dict[str, Any]) -> dict[str, Any]:
    """Solve one instance with one solver, check the plan independently, return the result line. An
    exception in a solver is a result too (``error``), so one bad run never stops the table."""
    from sudoless.processes import usable_cpus
    from sudoless.routing import check, read_problem
    from sudoless.routing.auto import solve

    row: dict[str, Any] = {**asdict(task), **best_knowns(bks, task.instance), "load_start": os.getloadavg()[0]}
    row["cpus"] = usable_cpus()  # a run pinned to fewer CPUs (taskset, a cpuset) says so in its line
    problem = read_problem(folder / task.family / f"{task.instance}.txt")
    row.update(n=problem.n, fleet=problem.dispatchers)
    started = time.monotonic()
    try:
        if task.solver == "pyvrp":
            routes, label = solve_pyvrp(problem, task.seconds, task.seed), "pyvrp"
        elif task.solver == "ortools":
            routes, label = solve_ortools(problem, task.seconds, task.seed), "ortools"
        else:
            solution = solve(problem, solver=task.solver, time_limit=task.seconds, seed=task.seed)
            routes, label = solution.routes, solution.solver
    except Exception as error:  # noqa: BLE001 - recorded in the row, the table goes on
        routes, label = [], "error"
        row["error"] = "".join(traceback.format_exception_only(error)).strip()[:300]
    row["wall_s"] = round(time.monotonic() - started, 2)
    report = check(problem, routes) if routes else None
    feasible = bool(report and report.feasible)
    total = round(report.total, 2) if report else None  # the literature compares totals rounded to 2 decimals
    row.update(
        ran=label,
        feasible=feasible,
        violations=(report.violations[:3] if report else ["no plan"]),
        total=total,
        vehicles=len([r for r in routes if r]),
        gap_dist_pct=gap(total, row["bks_dist"]) if feasible else None,
        gap_hier_pct=gap(total, row["bks_hier"]) if feasible else None,
        load_end=os.getloadavg()[0],
        finished=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return row


def gap(value: float | None, best: float | None) -> float | None:
    return None if value is None or not best else round(100.0 * (value - best) / best, 4)


# -- the run ---------------------------------------------------------------------------------------------------


def execute(tasks: list[Task], folder: Path, bks: dict[str, Any], results: Path, jobs: int) -> list[dict[str, Any]]:
    """Run ``tasks`` (``jobs`` at a time, each in a process of its own when more than one), appending each
    result line as it ends, under a progress bar."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    rows: list[dict[str, Any]] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True, width=160)) as progress:
        bar = progress.add_task("time windows", total=len(tasks))

        def done(row: dict[str, Any]) -> None:
            append_result(results, row)
            rows.append(row)
            progress.console.print(line(row))
            progress.advance(bar)

        if jobs <= 1:
            for task in tasks:
                progress.update(bar, description=f"{task.instance} {task.solver}")
                done(run_task(task, folder, bks))
            return rows
        # spawn: the solvers start pools of their own (``cores``), which a forked worker must not inherit
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            waiting = list(tasks)
            running: dict[Future[dict[str, Any]], Task] = {}
            while waiting or running:
                while waiting and len(running) < jobs:
                    task = waiting.pop(0)
                    running[pool.submit(run_task, task, folder, bks)] = task
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = running.pop(future)
                    try:
                        done(future.result())
                    except Exception as error:  # noqa: BLE001 - a worker that died: no line, so a resumed run tries again
                        progress.console.print(f"  {task.instance} {task.solver}: worker failed: {error}")
    return rows


def line(row: dict[str, Any]) -> str:
    state = "" if row["feasible"] else f"INFEASIBLE {row['violations'][:1]}"
    return (
        f"  {row['instance']:9} {row['solver']:8} {row['total']}  dist gap {pct(row['gap_dist_pct'])}  "
        f"hier gap {pct(row['gap_hier_pct'])}  {row['vehicles']} veh  {row['wall_s']} s  "
        f"load {row['load_start']:.1f}  {state}"
    )


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}%"


# -- the summary -------------------------------------------------------------------------------------------------


def summarise(rows: Iterable[dict[str, Any]], solvers: Iterable[str]) -> list[dict[str, Any]]:
    """Per family and solver: runs, feasible plans, mean gap to each convention's best-known (over the feasible
    plans of instances that have that best-known), mean vehicles, mean wall time and the load averages seen."""
    rows = list(rows)
    out = []
    for family in FAMILIES:
        for solver in solvers:
            mine = [r for r in rows if r["family"] == family and r["solver"] == solver]
            if not mine:
                continue
            ok = [r for r in mine if r["feasible"]]
            dist = [r["gap_dist_pct"] for r in ok if r["gap_dist_pct"] is not None]
            hier = [r["gap_hier_pct"] for r in ok if r["gap_hier_pct"] is not None]
            loads = [r[k] for r in mine for k in ("load_start", "load_end") if r.get(k) is not None]
            out.append(
                {
                    "family": family,
                    "solver": solver,
                    "runs": len(mine),
                    "feasible": len(ok),
                    "mean_gap_dist_pct": fmean(dist) if dist else None,
                    "with_dist_bks": len(dist),
                    "mean_gap_hier_pct": fmean(hier) if hier else None,
                    "with_hier_bks": len(hier),
                    "mean_vehicles": fmean(r["vehicles"] for r in ok) if ok else None,
                    "mean_bks_hier_vehicles": fmean(r["bks_hier_vehicles"] for r in ok if r["bks_hier_vehicles"])
                    if any(r["bks_hier_vehicles"] for r in ok)
                    else None,
                    "mean_wall_s": fmean(r["wall_s"] for r in mine),
                    "load_min": min(loads, default=None),
                    "load_max": max(loads, default=None),
                    "load_mean": fmean(loads) if loads else None,
                }
            )
    return out


def ratios(rows: Iterable[dict[str, Any]], ours: str, other: str) -> list[dict[str, Any]]:
    """Per family, ``ours`` against ``other`` on the instances where both have a feasible plan: the geometric
    mean of the total ratio, and how often ours is shorter, equal (to 0.01) or longer."""
    by: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for row in rows:
        if row["feasible"]:
            by.setdefault((row["family"], row["instance"]), {})[row["solver"]] = row
    out = []
    for family in FAMILIES:
        pairs = [
            (s[ours]["total"], s[other]["total"])
            for (f, _), s in by.items()
            if f == family and ours in s and other in s
        ]
        if not pairs:
            continue
        out.append(
            {
                "family": family,
                "ours": ours,
                "other": other,
                "paired": len(pairs),
                "ratio": math.exp(fmean(math.log(a / b) for a, b in pairs)),
                "shorter": sum(a < b - 0.005 for a, b in pairs),
                "equal": sum(abs(a - b) <= 0.005 for a, b in pairs),
                "longer": sum(a > b + 0.005 for a, b in pairs),
            }
        )
    return out


def instance_class(name: str) -> str:
    """The class of an instance: the letters and first digit of its name (``RC1`` for ``RC105`` and ``rc1_2_3``),
    Solomon's six groups of clustered, random and mixed customers with short (1) or long (2) horizons."""
    match = re.match(r"[A-Za-z]+\d", name)
    return match.group(0).upper() if match else name


def by_class(rows: Iterable[dict[str, Any]], solvers: Iterable[str]) -> list[dict[str, Any]]:
    """Per family, class and solver: the mean gap over feasible plans, to the distance-only best-known where
    the family has it, else to the hierarchical one (``convention`` says which), and the feasible count."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["family"], instance_class(row["instance"]), row["solver"]), []).append(row)
    out = []
    for family, klass, solver in sorted(groups, key=lambda k: (FAMILIES.index(k[0]), k[1])):
        if solver not in solvers:
            continue
        mine = groups[(family, klass, solver)]
        ok = [r for r in mine if r["feasible"]]
        convention = "dist" if any(r["bks_dist"] for r in mine) else "hier"
        gaps = [r[f"gap_{convention}_pct"] for r in ok if r[f"gap_{convention}_pct"] is not None]
        out.append(
            {
                "family": family,
                "class": klass,
                "solver": solver,
                "convention": convention,
                "runs": len(mine),
                "feasible": len(ok),
                "mean_gap_pct": fmean(gaps) if gaps else None,
            }
        )
    return out


def print_summary(rows: list[dict[str, Any]], solvers: list[str]) -> dict[str, Any]:
    """The summary table and the ratio lines on stdout; returns them for the JSON report."""
    from rich.console import Console
    from rich.table import Table

    summary = summarise(rows, solvers)
    table = Table(title="time windows: mean gap per family and solver (feasible plans)")
    for name in ("family", "solver", "runs", "feasible", "gap dist-only", "gap hierarchical", "vehicles", "BKS veh"):
        table.add_column(name, justify="left" if name in ("family", "solver") else "right")
    table.add_column("wall s", justify="right")
    table.add_column("load", justify="right")
    for s in summary:
        table.add_row(
            s["family"],
            s["solver"],
            str(s["runs"]),
            str(s["feasible"]),
            f"{pct(s['mean_gap_dist_pct'])} ({s['with_dist_bks']})" if s["with_dist_bks"] else "-",
            f"{pct(s['mean_gap_hier_pct'])} ({s['with_hier_bks']})" if s["with_hier_bks"] else "-",
            f"{s['mean_vehicles']:.2f}" if s["mean_vehicles"] is not None else "-",
            f"{s['mean_bks_hier_vehicles']:.2f}" if s["mean_bks_hier_vehicles"] is not None else "-",
            f"{s['mean_wall_s']:.1f}",
            f"{s['load_min']:.1f}-{s['load_max']:.1f}" if s["load_min"] is not None else "-",
        )
    console = Console(width=160)
    console.print(table)
    classes = by_class(rows, solvers)
    per_class = Table(title="mean gap per class (to the distance-only best-known where given, else hierarchical)")
    for name in ("family", "class", "convention", *solvers):
        per_class.add_column(name, justify="right" if name in solvers else "left")
    cells: dict[tuple[str, str, str], dict[str, str]] = {}
    for c in classes:
        cells.setdefault((c["family"], c["class"], c["convention"]), {})[c["solver"]] = (
            f"{pct(c['mean_gap_pct'])} ({c['feasible']}/{c['runs']})"
        )
    for (family, klass, convention), by in cells.items():
        per_class.add_row(family, klass, convention, *(by.get(s, "-") for s in solvers))
    console.print(per_class)
    lines = [r for other in solvers[1:] for r in ratios(rows, solvers[0], other)]
    for r in lines:
        console.print(
            f"{r['family']}: {r['ours']} / {r['other']} = {r['ratio']:.4f} (geometric mean of totals, "
            f"{r['paired']} instances both feasible): shorter {r['shorter']}, equal {r['equal']}, longer {r['longer']}"
        )
    return {"summary": summary, "classes": classes, "ratios": lines}


def main(args: Any) -> dict[str, Any]:
    """The time-window part of routing.py: build the task list, skip what the results file has, run the
    rest, print the summary of every matching line (this run's and earlier ones')."""
    folder: Path = args.vrptw
    bks = read_bks(folder / "BKS.json")
    families = args.vrptw_families.split(",")
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        sys.exit(f"routing.py: --vrptw-families: unknown {', '.join(unknown)}; use {', '.join(FAMILIES)}")
    solvers = args.vrptw_solvers.split(",")
    chosen = set(args.vrptw_instances.split(",")) if args.vrptw_instances else None
    tasks: list[Task] = []
    for family in families:
        large = family == "homberger_1000"
        seconds = args.large_time_limit if large else args.time_limit
        for name in instance_names(folder, family, chosen, LARGE_SAMPLE if large else None):
            tasks.extend(Task(family, name, solver, seconds, args.seed) for solver in solvers)
    tasks = shard(tasks, args.shard)
    wanted = {t.key for t in tasks}
    latest = {row_key(r): r for r in read_results(args.results) if row_key(r) in wanted}  # a re-run's line wins
    previous, have = list(latest.values()), set(latest)
    todo = [t for t in tasks if t.key not in have]
    print(
        f"time windows: {len(tasks)} runs, {len(have)} already in {args.results}, {len(todo)} to go, "
        f"{args.jobs} at a time; load average {os.getloadavg()}",
        file=sys.stderr,
    )
    rows = previous + (execute(todo, folder, bks, args.results, args.jobs) if not args.summary_only else [])
    return print_summary(rows, solvers)
