"""One entry point for every solver, and ``auto``, which picks one by size and constraints.

``auto``: up to :data:`EXACT_UP_TO` locations the exact MILP (it proves optimality in seconds there); for total
distance on an instance that fits a dense matrix, PyVRP on every core (:mod:`sudoless.routing.cores`: whole-
instance searches, then sectors of routes re-optimised in parallel; on one core, or under
:data:`CORES_FROM` locations, PyVRP alone); above the dense limit, parts of one giant tour solved on Spark and
stitched. For the makespan (and the blend) on a dense instance, PyVRP asked for plans under ever lower caps on
the route length (:mod:`sudoless.routing.minmax`), on every core: it beat divide and conquer's min-max search on
kroA200, lin318, rat783 and pcb1173 in the benchmark (benchmarks/README.md, routing.py). With time windows,
the MILP up to :data:`EXACT_UP_TO`, then PyVRP (alone, or on every core from :data:`CORES_FROM` locations);
divide and the parts refuse them.
"""

from __future__ import annotations

import os
import time
from typing import Any

from sudoless.errors import InputError
from sudoless.routing.model import Objective, Problem, Solution

SOLVERS = ("auto", "exact", "divide", "engine", "cores")
EXACT_UP_TO = 10
CORES_FROM = 100  # below, one PyVRP search reaches the best-knowns in seconds: a second core has nothing to add


def choose(problem: Problem) -> str:
    if problem.timed:  # the MILP and PyVRP know the windows (sudoless.routing.windows)
        if problem.n <= EXACT_UP_TO:
            return "exact"
        several = (os.cpu_count() or 1) > 1
        return "cores" if problem.dense and several and problem.n >= CORES_FROM else "engine"
    if problem.n <= EXACT_UP_TO:
        return "exact"
    if not problem.dense:
        return "parts"
    several = (os.cpu_count() or 1) > 1
    if problem.objective != Objective.TOTAL:  # capped PyVRP probes, in parallel on several cores
        return "cores" if several else "engine"
    if problem.n >= CORES_FROM and not problem.min_stops and several:
        return "cores"
    return "engine"


def solve(
    problem: Problem, solver: str = "auto", time_limit: float = 10.0, seed: int = 0, spark: Any = None
) -> Solution:
    """Solve ``problem`` with the named solver (``auto`` chooses) within about ``time_limit`` seconds."""
    if time_limit <= 0:
        raise InputError(f"time limit must be positive, got {time_limit:g}")
    if solver not in SOLVERS:
        raise InputError(f"unknown solver '{solver}'; use one of {', '.join(SOLVERS)}")
    started = time.monotonic()
    chosen = choose(problem) if solver == "auto" else solver
    if problem.timed:
        from sudoless.routing.windows import refuse

        refuse(problem, chosen if problem.dense else "parts")
    if chosen == "exact":
        from sudoless.routing.exact import solve_exact

        solution = solve_exact(problem, time_limit=time_limit, seed=seed)
    elif chosen == "divide":
        from sudoless.routing.divide import solve_divide

        solution = solve_divide(problem, time_limit=time_limit, seed=seed)
    elif chosen == "cores" and problem.dense:  # above the dense limit: the parts below
        from sudoless.routing.cores import solve_cores

        solution = solve_cores(problem, time_limit=time_limit, seed=seed)
    elif chosen == "engine":
        if not problem.dense:
            from sudoless.routing.spark import solve_parts

            solution = solve_parts(problem, time_limit=time_limit, seed=seed, spark=spark, solver="engine")
        else:
            from sudoless.routing.engine import solve_engine

            solution = solve_engine(problem, time_limit=time_limit, seed=seed)
    else:
        from sudoless.routing.spark import SPARK_FROM, solve_parts

        cores = os.cpu_count() or 1
        sub = "engine" if problem.objective == Objective.TOTAL else "divide"
        if spark is None and problem.n < SPARK_FROM:
            spark = "processes" if cores > 1 else False
        size = max(300, -(-problem.n // max(2, cores))) if problem.n < SPARK_FROM else 1000
        solution = solve_parts(problem, time_limit=time_limit, seed=seed, spark=spark, part_size=size, solver=sub)
    if solver == "auto":
        solution.solver = f"auto:{solution.solver}"
    if problem.objective == Objective.MAKESPAN:  # every plan's longest route is at least the farthest bound
        solution.bound = max(solution.bound or 0.0, problem.farthest_bound())
        value = solution.objective(problem)
        solution.optimal = solution.optimal or value <= solution.bound * (1 + 1e-9)
    solution.seconds = time.monotonic() - started
    return solution
