"""One entry point for every solver: a table from name to solver, and ``auto``, which picks one by size and
constraints.

``auto``: up to :data:`EXACT_UP_TO` locations the exact MILP (it proves optimality in seconds there); for total
distance on an instance that fits a dense matrix, PyVRP on every core (:mod:`sudoless.routing.cores`: whole-
instance searches, then sectors of routes re-optimised in parallel; on one core, or under
:data:`CORES_FROM` locations, PyVRP alone); above the dense limit, parts of one giant tour solved on Spark and
stitched. For the makespan (and the blend) on a dense instance, PyVRP asked for plans under ever lower caps on
the route length (:mod:`sudoless.routing.minmax`), on every core: it beat divide and conquer's min-max search on
kroA200, lin318, rat783 and pcb1173 in the benchmark (benchmarks/README.md, routing.py). Time windows change
none of these choices: every solver keeps them (:mod:`sudoless.routing.windows`). A dispatch day
(:func:`solve_dispatch`) has its own table: exact, engine, and divide and cores through
:mod:`sudoless.routing.dispatch_divide`.

Whatever the name, an instance too big for the named solver goes in parts (:mod:`sudoless.routing.spark`):
``divide`` above :data:`~sudoless.routing.divide.PART_SIZE` customers, ``engine`` and ``cores`` above the dense
limit. This module decides where a session of Spark is started; the solvers below it never do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sudoless.errors import InputError
from sudoless.processes import usable_cpus
from sudoless.routing.cores import solve_cores
from sudoless.routing.dispatch import Dispatch, Goal, Plan
from sudoless.routing.dispatch_divide import PART, solve_dispatch_divide
from sudoless.routing.dispatch_exact import EXACT_ORDERS, solve_dispatch_exact
from sudoless.routing.dispatch_pyvrp import solve_dispatch_engine
from sudoless.routing.divide import PART_SIZE, solve_divide
from sudoless.routing.engine import solve_engine
from sudoless.routing.exact import solve_exact
from sudoless.routing.model import Objective, Problem, Solution
from sudoless.routing.spark import SPARK_FROM, PartSolver, solve_parts
from sudoless.routing.windows import refuse

EXACT_UP_TO = 10
CORES_FROM = 100  # below, one PyVRP search reaches the best-knowns in seconds: a second core has nothing to add

Solver = Callable[[Problem, float, int, Any], Solution]  # problem, seconds, seed, Spark session -> solution


def divide_or_parts(problem: Problem, time_limit: float, seed: int, spark: Any = None) -> Solution:
    """Divide and conquer; above :data:`PART_SIZE` customers (or without a dense matrix) on parts of a giant
    tour, each solved the same way (on Spark from :data:`SPARK_FROM` customers unless ``spark`` says)."""
    if problem.n > PART_SIZE or not problem.dense:
        return solve_parts(problem, DIVIDE_PARTS, time_limit=time_limit, seed=seed, spark=spark)
    return solve_divide(problem, time_limit=time_limit, seed=seed)


DIVIDE_PARTS = PartSolver("divide", divide_or_parts, pyvrp=False)
ENGINE_PARTS = PartSolver("engine", solve_engine, pyvrp=True)


def _exact(problem: Problem, time_limit: float, seed: int, spark: Any) -> Solution:
    return solve_exact(problem, time_limit=time_limit, seed=seed)


def _engine(problem: Problem, time_limit: float, seed: int, spark: Any) -> Solution:
    if not problem.dense:
        return solve_parts(problem, ENGINE_PARTS, time_limit=time_limit, seed=seed, spark=spark)
    return solve_engine(problem, time_limit=time_limit, seed=seed)


def _cores(problem: Problem, time_limit: float, seed: int, spark: Any) -> Solution:
    if not problem.dense:  # above the dense limit: the parts
        return _parts(problem, time_limit, seed, spark)
    return solve_cores(problem, time_limit=time_limit, seed=seed)


def _parts(problem: Problem, time_limit: float, seed: int, spark: Any) -> Solution:
    """Parts of a giant tour: on this machine's cores below :data:`SPARK_FROM` customers (Spark's start-up would
    eat the budget), on Spark above; PyVRP parts for total distance, divide and conquer for the balanced ones."""
    cores = usable_cpus()
    sub = ENGINE_PARTS if problem.objective == Objective.TOTAL else DIVIDE_PARTS
    if spark is None and problem.n < SPARK_FROM:
        spark = "processes" if cores > 1 else False
    size = max(300, -(-problem.n // max(2, cores))) if problem.n < SPARK_FROM else 1000
    return solve_parts(problem, sub, time_limit=time_limit, seed=seed, spark=spark, part_size=size)


#: Every solver by name. ``parts`` is only ever chosen by ``auto`` (instances above the dense limit).
SOLVERS: dict[str, Solver] = {
    "exact": _exact,
    "divide": divide_or_parts,
    "engine": _engine,
    "cores": _cores,
    "parts": _parts,
}
NAMES = ("auto", "exact", "divide", "engine", "cores")  # the names a user may give


def choose(problem: Problem) -> str:
    """The solver ``auto`` runs; time windows change nothing here, as every solver keeps them."""
    if problem.n <= EXACT_UP_TO:
        return "exact"
    if not problem.dense:
        return "parts"
    several = usable_cpus() > 1
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
    if solver not in NAMES:
        raise InputError(f"unknown solver '{solver}'; use one of {', '.join(NAMES)}")
    started = time.monotonic()
    chosen = choose(problem) if solver == "auto" else solver
    if problem.timed:
        refuse(problem, chosen if problem.dense else "parts")
    solution = SOLVERS[chosen](problem, time_limit, seed, spark)
    if solver == "auto":
        solution.solver = f"auto:{solution.solver}"
    if problem.objective == Objective.MAKESPAN:  # every plan's longest route is at least the farthest bound
        solution.bound = max(solution.bound or 0.0, problem.farthest_bound())
        value = solution.objective(problem)
        solution.optimal = solution.optimal or value <= solution.bound * (1 + 1e-9)
    solution.seconds = time.monotonic() - started
    return solution


def solve_dispatch(
    dispatch: Dispatch,
    solver: str = "auto",
    time_limit: float = 10.0,
    seed: int = 0,
    objective: str = "cost",
    weight: float = 1.0,
    spark: Any = None,
) -> Plan:
    """Plan a dispatch day: ``exact`` (enumeration) up to :data:`EXACT_ORDERS` orders under ``auto``, else
    PyVRP (``engine``); ``divide`` cuts it into parts and rounds of route groups
    (:mod:`sudoless.routing.dispatch_divide`), as Spark tasks when ``spark`` is a session, and ``cores`` runs
    them in one process per core.

    ``objective``: ``cost`` (the plan's cost, penalties included), ``makespan`` (the longest working time of
    any vehicle; every order must then be required, as leaving orders out would shorten any day) or ``blend``
    (cost + ``weight`` x makespan). The vehicles' work limits (minimum and maximum stops, minimum working
    minutes) hold under every objective and solver."""
    goal = Goal(objective, weight)
    if objective == "makespan" and dispatch.optional:
        raise InputError(
            f"{dispatch.name}: the makespan objective needs every order required (leaving orders out would shorten "
            "any day); remove the penalties or use the cost or blend objective"
        )
    if time_limit <= 0:
        raise InputError(f"time limit must be positive, got {time_limit:g}")
    if solver not in NAMES:
        raise InputError(f"unknown solver '{solver}'; use one of {', '.join(NAMES)}")
    started = time.monotonic()
    chosen = solver if solver != "auto" else ("exact" if len(dispatch.orders) <= EXACT_ORDERS else "engine")
    if chosen == "exact":
        plan = solve_dispatch_exact(dispatch, goal=goal)
    elif chosen == "engine":
        plan = solve_dispatch_engine(dispatch, goal, time_limit, seed)
    elif chosen == "divide":
        plan = solve_dispatch_divide(dispatch, goal, time_limit, seed, run=False if spark is None else spark)
    else:  # cores: the parts and groups in one process per core, a part per core at least
        cores = usable_cpus()
        part = min(PART, -(-len(dispatch.orders) // cores))
        plan = solve_dispatch_divide(
            dispatch, goal, time_limit, seed, run="processes" if cores > 1 else False, part=part, solver="cores"
        )
    if solver == "auto":
        plan.solver = f"auto:{plan.solver}"
    plan.seconds, plan.goal = time.monotonic() - started, goal
    return plan
