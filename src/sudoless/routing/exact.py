"""The exact solver: a MILP on HiGHS that proves optimality on small instances (about 15-20 locations).

Why HiGHS and this model: HiGHS is MIT-licensed, pip-installable and already the routing extra's LP/MILP
solver (OR-Tools' CP-SAT proves slightly larger instances, but adds a 30 MB dependency for an oracle that is
only meant for tiny instances). The seed's three-index model (one copy of every arc per dispatcher) carries
K-fold symmetry and did not prove 15 customers in 60 s when we tried it, so this is the two-index
directed model: one binary per arc, the number of routes = arcs leaving the depot. Routes are kept connected
to the depot by MTZ-style potentials that also carry the work limits:

* stops: s_j >= s_i + 1 when arc (i, j) is used; min/max stops bound s at the last/any stop;
* load: l_j >= l_i + q_j, within the capacity;
* distance: a_j >= a_i + d_ij (distance travelled on arrival); a_i + d_i0 <= max distance and <= T, the
  longest route, which is what the makespan objective minimises.

* time windows: service start times t_j >= t_i + service_i + d_ij, each within its window, the depot
  reached by its closing time (travel time = distance).

A divide-and-conquer run (PyVRP with time windows) first gives an incumbent and the big-M values; the MILP
result replaces it only when better. Beyond the time limit the answer is the best solution with HiGHS'
bound and the gap.
"""

from __future__ import annotations

import os
import sys
import time
from types import ModuleType
from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.extras import install_hint
from sudoless.routing.check import check
from sudoless.routing.divide import solve_divide
from sudoless.routing.engine import solve_engine
from sudoless.routing.model import Objective, Problem, Solution, ceil_routes, service, window
from sudoless.routing.windows import refuse

EXACT_LIMIT = 60  # locations above which the MILP is refused (it would not prove anything)


def _highspy() -> ModuleType:
    try:
        import highspy
    except ImportError:
        raise install_hint("the exact solver", "routing", "highspy") from None
    return highspy


def solve_exact(problem: Problem, time_limit: float = 30.0, seed: int = 0) -> Solution:
    """Optimal routes (``optimal`` True) or the best found with a proven ``bound`` within ``time_limit``."""
    if problem.n > EXACT_LIMIT:
        raise InputError(
            f"{problem.name}: {problem.n} locations is too many for the exact solver "
            f"(at most {EXACT_LIMIT}); use --solver divide or engine"
        )
    started = time.monotonic()
    if problem.timed:  # divide does not know the windows: PyVRP gives the incumbent
        refuse(problem, "exact")
        incumbent = solve_engine(problem, time_limit=min(2.0, 0.2 * time_limit), seed=seed)
    else:
        incumbent = solve_divide(problem, time_limit=min(2.0, 0.2 * time_limit), seed=seed)
    if incumbent.optimal:  # divide reached a lower bound (the farthest one for the makespan): nothing to prove
        incumbent.solver, incumbent.seconds = "exact", time.monotonic() - started
        return incumbent
    lengths = incumbent.lengths(problem)
    highspy = _highspy()
    n, d = problem.n, problem.full_matrix
    h = _quiet_highs(highspy)
    h.setOptionValue("random_seed", int(seed))
    h.setOptionValue("threads", 1)
    h.setOptionValue("time_limit", max(1.0, time_limit - (time.monotonic() - started)))
    nodes = range(n + 1)
    x = {(i, j): h.addBinary(name=f"x{i}_{j}") for i in nodes for j in nodes if i != j}
    for i in range(1, n + 1):
        h.addConstr(sum(x[i, j] for j in nodes if j != i) == 1)
        h.addConstr(sum(x[j, i] for j in nodes if j != i) == 1)
    out_depot = sum(x[0, j] for j in range(1, n + 1))
    in_depot = sum(x[j, 0] for j in range(1, n + 1))
    h.addConstr(out_depot == in_depot)
    if problem.min_stops >= 1:
        h.addConstr(out_depot == min(problem.dispatchers, n))
    else:
        h.addConstr(out_depot <= problem.dispatchers)
        h.addConstr(out_depot >= ceil_routes(problem))
    top = problem.max_stops or n
    s = {i: h.addVariable(lb=1, ub=top) for i in range(1, n + 1)}
    for i in range(1, n + 1):
        for j in range(1, n + 1):
            if i != j:
                h.addConstr(s[j] >= s[i] + 1 - (top + 1) * (1 - x[i, j]))
                if problem.min_stops > 1:  # s must count exactly, or a short route could claim more stops
                    h.addConstr(s[j] <= s[i] + 1 + (top + 1) * (1 - x[i, j]))
        if problem.min_stops > 1:  # counting starts at 1 on the first stop, so s at the last stop = stops
            h.addConstr(s[i] <= 1 + (top - 1) * (1 - x[0, i]))
            h.addConstr(s[i] >= problem.min_stops * x[i, 0])
    if problem.capacity is not None:
        q, cap = problem.demands, problem.capacity
        load = {i: h.addVariable(lb=float(q[i]), ub=cap) for i in range(1, n + 1)}
        for i in range(1, n + 1):
            for j in range(1, n + 1):
                if i != j:
                    h.addConstr(load[j] >= load[i] + float(q[j]) - cap * (1 - x[i, j]))
    makespan = None
    balanced = problem.objective != Objective.TOTAL
    if balanced or problem.max_distance is not None:
        horizon = max(lengths) if balanced or problem.max_distance is None else problem.max_distance
        horizon = float(min(horizon, problem.max_distance or horizon)) + 1e-6
        big = horizon + float(d.max())
        arrive = {i: h.addVariable(lb=float(d[0, i]), ub=horizon) for i in range(1, n + 1)}
        makespan = h.addVariable(lb=problem.farthest_bound(), ub=horizon) if balanced else None
        for i in range(1, n + 1):
            for j in range(1, n + 1):
                if i != j:
                    h.addConstr(arrive[j] >= arrive[i] + float(d[i, j]) - big * (1 - x[i, j]))
            if makespan is not None:
                h.addConstr(makespan >= arrive[i] + float(d[i, 0]) - big * (1 - x[i, 0]))
            if problem.max_distance is not None:
                h.addConstr(arrive[i] + float(d[i, 0]) * x[i, 0] <= problem.max_distance + big * (1 - x[i, 0]))
    if problem.timed:
        _windows(h, problem, x)
    total = sum(float(d[i, j]) * v for (i, j), v in x.items())
    if makespan is None:  # the total objective
        objective = total
    elif problem.objective == Objective.MAKESPAN:
        objective = makespan
    else:
        objective = total + problem.makespan_weight * makespan
    h.minimize(objective)
    status = h.getModelStatus()
    info = h.getInfo()
    optimal = status == highspy.HighsModelStatus.kOptimal
    if status == highspy.HighsModelStatus.kInfeasible:
        raise InputError(f"{problem.name}: no plan respects the limits (the MILP is infeasible)")
    routes = incumbent.routes
    if info.primal_solution_status == 2:  # a feasible MILP solution exists
        values = h.vals(list(x.values())) if hasattr(h, "vals") else [h.val(v) for v in x.values()]
        arcs = {key for key, val in zip(x.keys(), values, strict=False) if val > 0.5}
        found = _follow(arcs, n)
        if (
            problem.score([problem.route_length(r) for r in found]) <= problem.score(lengths) + 1e-9
            or not check(problem, routes).feasible
        ):
            routes = found
    bound: float | None = float(info.mip_dual_bound)
    value = problem.score([problem.route_length(r) for r in routes])
    if optimal:
        bound = min(value, bound) if bound is not None and np.isfinite(bound) else value
    elif bound is not None and not np.isfinite(bound):
        bound = None
    optimal = optimal and (bound is not None and value <= bound + 1e-6 * max(1.0, abs(value)))
    return Solution(
        routes,
        "exact",
        time.monotonic() - started,
        bound=bound,
        optimal=optimal,
        notes={"status": h.modelStatusToString(status)},
    )


def _windows(h: Any, problem: Problem, x: dict[tuple[int, int], Any]) -> None:
    """Service start times t: within each window, t_j >= t_i + service_i + d_ij on a used arc (travel time =
    distance), the depot reached by its closing time (the conventions of :mod:`sudoless.routing.model`)."""
    n, d = problem.n, problem.full_matrix
    opens, closes = window(problem, 0)
    first = opens + service(problem, 0)
    serving = sum(service(problem, i) for i in range(n + 1))
    horizon = closes if np.isfinite(closes) else first + serving + (n + 1) * float(d.max())  # no wait without windows
    t = {
        i: h.addVariable(lb=max(window(problem, i)[0], first + float(d[0, i])), ub=min(window(problem, i)[1], horizon))
        for i in range(1, n + 1)
    }
    big = horizon + serving + float(d.max())
    for i in range(1, n + 1):
        for j in range(1, n + 1):
            if i != j:
                h.addConstr(t[j] >= t[i] + service(problem, i) + float(d[i, j]) - big * (1 - x[i, j]))
        h.addConstr(t[i] + service(problem, i) + float(d[i, 0]) <= closes + big * (1 - x[i, 0]))


def _quiet_highs(highspy: ModuleType) -> Any:
    """A Highs object without its start-up banner, which HiGHS writes to file descriptor 1 (it would break
    ``--json`` output)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return h


def _follow(arcs: set[tuple[int, int]], n: int) -> list[list[int]]:
    after = dict(arcs)
    starts = [j for (i, j) in arcs if i == 0]
    routes = []
    for first in sorted(starts):
        route: list[int] = []
        at = first
        while at != 0 and len(route) <= n:
            route.append(at)
            at = after.get(at, 0)
        routes.append(route)
    return routes
