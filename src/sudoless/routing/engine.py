"""The engine solver: PyVRP on the whole instance (or one part), with what it lacks added on top.

PyVRP itself is reached through :mod:`sudoless.routing.pyvrp_adapter`. Open-source PyVRP has no balancing
objective, so the makespan objective is added on top: from a giant tour cut for the makespan, PyVRP is asked
for plans whose every route stays under ever lower caps (:mod:`sudoless.routing.minmax`); the last plan is
polished by sudoless' min-max local search. Minimum stops, which PyVRP lacks too: the adapter rewards PyVRP for
every route it uses (so it fills the fleet, exactly what one stop each asks), and the same local search repairs
routes still short of a higher minimum (its moves fix them first).
"""

from __future__ import annotations

import time

from sudoless.errors import InputError
from sudoless.routing.check import check
from sudoless.routing.farthest import SHARE, reach_farthest_bound
from sudoless.routing.improve import improve
from sudoless.routing.minmax import lower_cap
from sudoless.routing.model import Objective, Problem, Solution
from sudoless.routing.pyvrp_adapter import PyVRPInstance
from sudoless.routing.split import cut
from sudoless.routing.tsp import giant_tour
from sudoless.routing.windows import refuse

BLEND_START = 0.3  # of the budget for the shortest plan that the blend's capped probes start from
POLISH = 0.05  # of the budget left to the min-max local search after the capped probes


def _tour_cut(problem: Problem, time_limit: float) -> list[list[int]]:
    """A giant tour cut by Split for the problem's objective: the makespan's start, the total's fallback."""
    return cut(problem, giant_tour(problem, seconds=min(1.0, 0.02 * time_limit)))


def _keeps(problem: Problem, polished: list[list[int]], routes: list[list[int]]) -> bool:
    """Whether ``polished`` keeps every limit and window and beats ``routes`` (or ``routes`` did not keep them)."""
    if not check(problem, polished).feasible:
        return False
    return not check(problem, routes).feasible or problem.score(
        [problem.route_length(r) for r in polished]
    ) <= problem.score([problem.route_length(r) for r in routes])


def solve_engine(problem: Problem, time_limit: float = 10.0, seed: int = 0, workers: int = 1) -> Solution:
    """PyVRP on the whole (dense) problem, with min-max balancing and minimum stops added on top; ``workers``
    processes probe caps for the makespan in parallel (:mod:`sudoless.routing.minmax`)."""
    refuse(problem, "engine")
    started = time.monotonic()
    deadline = started + time_limit
    if problem.objective == Objective.MAKESPAN:
        tight = reach_farthest_bound(problem, seconds=SHARE * time_limit, seed=seed)
        if tight is not None:
            bound = problem.farthest_bound()
            return Solution(tight, "engine", time.monotonic() - started, bound=bound, optimal=True)
    balanced = problem.objective != Objective.TOTAL
    time_limit = deadline - time.monotonic()  # what the attempt at the bound left
    probes = 0
    if balanced:  # a cut giant tour, then ever lower caps on the route length (sudoless.routing.minmax)
        if problem.objective == Objective.MAKESPAN and not problem.timed:
            start = _tour_cut(problem, time_limit)
        else:  # the blend (or windows, which the cut ignores): from the shortest plan, which PyVRP knows how to find
            start, _ = PyVRPInstance(problem).solve(BLEND_START * time_limit, seed)
        routes, probes = lower_cap(problem, start, deadline - POLISH * time_limit, seed, workers)
    elif problem.timed:  # PyVRP alone: the cut does not know the windows
        routes, ok = PyVRPInstance(problem).solve(time_limit * (0.8 if problem.min_stops > 1 else 1.0), seed)
        if not ok:
            raise InputError(
                f"{problem.name}: no plan found that keeps every time window and limit in {time_limit:g} s; "
                "allow more time or more dispatchers"
            )
        if problem.min_stops <= 1:  # PyVRP fills the fleet itself (pyvrp_adapter): nothing left to repair
            return Solution(routes, "engine", time.monotonic() - started)
    else:
        routes, ok = PyVRPInstance(problem).solve(time_limit * (0.7 if problem.min_stops else 0.95), seed)
        if not ok:  # PyVRP ended over a limit (seen on 1,500-customer parts with max stops): a cut that keeps them
            fallback = _tour_cut(problem, time_limit)
            if check(problem.with_(min_stops=0), fallback).feasible:
                routes = fallback  # else PyVRP's plan, and the local search below repairs what it can
    remaining = max(0.0, deadline - time.monotonic())
    if balanced or problem.min_stops or remaining > 0.2:
        polished = improve(problem, routes, seconds=max(0.2, remaining), seed=seed)
        # the local search does not know the windows: with them its plan counts only when it keeps them all
        if not problem.timed or _keeps(problem, polished, routes):
            routes = polished
    return Solution(routes, "engine", time.monotonic() - started, notes={"probes": probes})
