"""City scale (10,000-100,000 locations): parts of one giant tour solved in parallel on Spark, then stitched.

Memory stays linear in n: the giant tour is built from a space-filling-curve order and fast_tsp on pieces
(never a dense n x n matrix), parts carry coordinates only and build their dense matrix (at most
PART_SIZE^2) on the executor that solves them. Without a session one is started on the ``spark_master``
setting (``SUDOLESS_SPARK_MASTER``, default ``local[*]``); with ``spark=False`` the parts are solved one after
the other in this process (what small instances and tests of the decomposition want), and with ``spark="processes"`` on
this machine's cores without a JVM (what ~1,000 customers in 2 parts want: Spark's start-up would eat the budget).

Each part is solved by the :class:`PartSolver` the caller gives (:mod:`sudoless.routing.auto` holds the two
in use: PyVRP's engine and divide and conquer), so this module imports no solver. After stitching, when the
whole instance still fits a dense matrix, the routes seed PyVRP on the whole instance (PyVRP parts) or get a
last pass of local search (the others), across the part borders; above that, when the first pass leaves at
least a second per part, the plan's routes are grouped by their angle around the depot (groups that cross the
former borders) and each group is re-optimised by PyVRP from its routes (PyVRP parts), or, for the others with a
generous budget, the instance is solved again on shifted parts (the tour rotated by half a part) and the better
plan is kept.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sudoless.config import PYSPARK_PYTHON, environment_value, export, load_settings
from sudoless.extras import install_hint
from sudoless.processes import usable_cpus
from sudoless.routing.check import check
from sudoless.routing.decompose import Part, partition, sectors, stitch, subproblem
from sudoless.routing.improve import improve
from sudoless.routing.model import Problem, Solution
from sudoless.routing.pool import start_method
from sudoless.routing.pyvrp_adapter import PyVRPInstance
from sudoless.routing.resolve import resolve
from sudoless.routing.timecuts import window_partition
from sudoless.routing.tsp import giant_tour

PART_SIZE = 1000
SPARK_FROM = 5000  # customers from which a Spark session is worth its start-up
TASK_OVERHEAD = 3.0  # seconds a part costs beyond its solver's budget (matrix, solver data, worker start)
SECOND_PASS_FROM = 1.0  # seconds per group at least for the second pass over route groups to be worth running


PartSolve = Callable[[Problem, float, int], Solution]  # a part, seconds, seed -> its solution


@dataclass(frozen=True)
class PartSolver:
    """How the parts are solved: ``solve`` on each part (a module-level function: it is shipped to Spark's
    executors by reference), ``name`` for the plan's label, ``pyvrp`` whether the stitched plan is refined by
    PyVRP (on the whole instance, or on groups of routes) rather than by local search or shifted parts."""

    name: str
    solve: PartSolve
    pyvrp: bool


def solve_part(payload: tuple[Part, PartSolve, float, int]) -> list[list[int]]:
    """Solve one part with the given solver; routes in the parent's indices. Runs on Spark executors."""
    part, solve, seconds, seed = payload
    solution = solve(part.build(), seconds, seed)
    return stitch([part], [[r for r in solution.routes if r]])


def local_session() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise install_hint("solving on Spark", "spark", "pyspark") from None
    master = load_settings().spark_master
    # executors on this machine (local mode) must run this interpreter, which can import sudoless
    export(PYSPARK_PYTHON, sys.executable, replace=False)
    return (
        SparkSession.builder.master(master).appName("sudoless-routes").config("spark.ui.enabled", "false").getOrCreate()
    )


def resolve_part(payload: tuple[Part, list[list[int]], float, int]) -> list[list[int]]:
    """Re-optimise one group of routes, started from them (never worse). Runs on Spark executors."""
    return resolve(*payload)


def run_tasks(task: Callable[[Any], list[list[int]]], payloads: list[Any], spark: Any) -> list[list[int]]:
    """``task`` on every payload (in this process with ``spark`` False, on this machine's cores with
    ``"processes"``, else as tasks of the Spark session ``spark``); all routes, in the payloads' order. Also
    the parts and groups of a dispatch day (:mod:`sudoless.routing.dispatch_divide`)."""
    if spark is False:
        results = [task(p) for p in payloads]
    elif spark == "processes":
        from concurrent.futures import ProcessPoolExecutor

        workers = min(len(payloads), usable_cpus())
        # forked only from a single-threaded process (sudoless.routing.pool says why)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(start_method())) as pool:
            results = list(pool.map(task, payloads))
    else:
        context = spark.sparkContext
        if context.master.startswith("local") and not environment_value(PYSPARK_PYTHON):
            context.pythonExec = sys.executable  # a session made elsewhere would start the first python3 on PATH
        results = context.parallelize(payloads, len(payloads)).map(task).collect()
    return [route for routes in results for route in routes]


def _run(parts: list[Part], solve: PartSolve, seconds: float, seed: int, spark: Any) -> list[list[int]]:
    return run_tasks(solve_part, [(part, solve, seconds, seed + k) for k, part in enumerate(parts)], spark)


def solve_parts(
    problem: Problem,
    solver: PartSolver,
    time_limit: float = 60.0,
    seed: int = 0,
    spark: Any = None,
    part_size: int = PART_SIZE,
) -> Solution:
    """Decompose, solve the parts with ``solver`` (on Spark unless ``spark`` is False), stitch and improve
    across borders. Without a session (``spark`` None) one is started from :data:`SPARK_FROM` customers."""
    started = time.monotonic()
    deadline = started + time_limit
    if spark is None:
        spark = local_session() if problem.n >= SPARK_FROM else False
    if spark is False:
        slots = 1
    elif spark == "processes":
        slots = usable_cpus()
    else:
        slots = max(1, int(spark.sparkContext.defaultParallelism))
    if problem.timed:  # parts close in place and in time (a giant tour would mix dawn and dusk)
        parts = window_partition(problem, part_size, seed)
    else:
        parts = partition(problem, giant_tour(problem, seconds=min(5.0, 0.1 * time_limit)), part_size)
    waves = -(-len(parts) // slots)
    per_wave = (deadline - time.monotonic()) / waves
    two_passes = not problem.dense and len(parts) > 1 and per_wave > 4 * TASK_OVERHEAD + 2.0
    first = 0.6 if problem.dense else 0.5 if two_passes else 0.95
    # each task also builds its matrix and solver data (about a second at 1,000 customers): keep that aside
    per_part = max(0.5, first * (deadline - time.monotonic()) / waves - TASK_OVERHEAD)
    began = time.monotonic()
    routes = _run(parts, solver.solve, per_part, seed, spark)
    overhead = max(0.0, (time.monotonic() - began) / waves - per_part)  # what a wave really cost beyond solving
    passes = 1
    if problem.dense and solver.pyvrp:
        # the stitched plan seeds PyVRP on the whole instance, which re-optimises across the part borders
        polished, ok = PyVRPInstance(problem).solve(max(0.1, deadline - time.monotonic()), seed, initial=routes)
        if ok and problem.score([problem.route_length(r) for r in polished]) <= problem.score(
            [problem.route_length(r) for r in routes]
        ):
            routes = polished
        passes = 2
    elif problem.dense and not problem.timed:  # the local search does not know the windows
        routes = improve(problem, routes, seconds=max(0.0, deadline - time.monotonic()), seed=seed)
    elif len(parts) > 1 and solver.pyvrp and check(problem, routes).feasible:
        # second pass on the routes: grouped by angle around the depot (so the groups cross the first pass's
        # borders), each group re-optimised by PyVRP from its routes with the time left, never worse. Runs
        # whenever the first pass leaves a second per group: its waves cost less than TASK_OVERHEAD assumes
        # (measured: 32 of 60 s used at 20,000 locations, 154 of 300 s at 100,000, without this pass)
        groups = sectors(problem, routes, len(parts), 0.5 / len(parts))
        per_part = 0.9 * (deadline - time.monotonic()) / (-(-len(groups) // slots)) - overhead
        if per_part >= SECOND_PASS_FROM:
            tasks = []
            for k, g in enumerate(groups):
                part = subproblem(problem, sorted(c for r in g for c in r), len(g), f"{problem.name}/group{k + 1}")
                tasks.append((part, g, per_part, seed + 7919 + k))
            routes = run_tasks(resolve_part, tasks, spark)
            passes = 2
    elif two_passes:
        # second pass on shifted parts: the stitched routes give the order, the cut points move by half a part
        order = np.asarray([i for r in _by_angle(problem, routes) for i in r], dtype=np.int64)
        order = np.roll(order, -(part_size // 2))
        shifted = partition(problem, order, part_size)
        per_part = max(0.5, 0.9 * (deadline - time.monotonic()) / (-(-len(shifted) // slots)) - overhead)
        again = _run(shifted, solver.solve, per_part, seed + 7919, spark)
        if problem.score([problem.route_length(r) for r in again]) < problem.score(
            [problem.route_length(r) for r in routes]
        ):
            routes = again
        passes = 2
    return Solution(
        routes,
        f"{solver.name}+parts",
        time.monotonic() - started,
        notes={"parts": len(parts), "passes": passes, "spark": spark is not False},
    )


def _by_angle(problem: Problem, routes: list[list[int]]) -> list[list[int]]:
    """Routes sorted by the angle of their centre around the depot, so neighbouring routes stay together."""
    routes = [r for r in routes if r]
    if problem.coords is None:
        return routes
    centre = np.array([problem.coords[r].mean(axis=0) for r in routes]) - problem.coords[0]
    return [routes[k] for k in np.argsort(np.arctan2(centre[:, 1], centre[:, 0]))]
