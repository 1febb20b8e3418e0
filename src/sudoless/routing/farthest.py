"""The farthest-location bound on the makespan, and reaching it when it is tight.

No route that serves the farthest location is shorter than the trip there and back, so twice the largest
depot distance bounds the longest route from below. With many dispatchers that bound is the optimum (eil51,
kroA200, lin318, rat783 and pcb1173 with 10 or 20 salesmen in the min-max mTSP literature), yet a min-max
search stalls a fraction of a percent above it: every move that shortens the longest route lengthens another
one past it. Reaching the bound is a different and easier question: is there a plan with at most K routes,
none longer than the bound? That is a distance-constrained VRP, which the total-distance machinery answers
directly (the farthest locations end up alone on out-and-back routes, the others are packed into routes no
longer than the bound). A cheap test first (how many routes the giant tour needs when cut at the bound)
skips the attempt when the bound is clearly out of reach, so the min-max search keeps its budget.
"""

from __future__ import annotations

import time

from sudoless.routing.check import check
from sudoless.routing.improve import improve
from sudoless.routing.model import Objective, Problem
from sudoless.routing.pyvrp_adapter import PyVRPInstance
from sudoless.routing.split import split
from sudoless.routing.tsp import giant_tour

REACH_FACTOR = 1.55  # attempt when the tour cut at the bound needs at most this many times K routes
SHARE = 0.4  # of a solver's budget spent on the attempt (it returns as soon as a plan is found)


def bound_question(problem: Problem) -> Problem:
    """The distance-constrained question: total distance, every route at most twice the farthest distance."""
    return problem.with_(objective=Objective.TOTAL, max_distance=problem.farthest_bound(), min_stops=0)


def reach_farthest_bound(problem: Problem, seconds: float, seed: int = 0) -> list[list[int]] | None:
    """Routes whose longest is the farthest bound (so they are optimal for the makespan), or None.

    When the giant tour cut at the bound needs more than K routes, PyVRP answers the distance-constrained
    question (its max_distance constraint, stopped at the first feasible plan). sudoless' own local search,
    started from the same penalised cut, did not get there on kroA200, lin318, rat783 or pcb1173 in 8 s; PyVRP
    did in 2-8 s.
    """
    if problem.objective != Objective.MAKESPAN or not problem.dense or problem.timed:  # windows: no out-and-backs
        return None
    started = time.monotonic()
    bound = problem.farthest_bound()
    if problem.max_distance is not None and problem.max_distance < bound:
        return None
    q = bound_question(problem)
    tour = giant_tour(q, seconds=min(1.0, 0.1 * seconds))
    free = split(q.with_(dispatchers=q.n), tour)  # the routes the tour needs at the cap
    if free is None or len(free) > REACH_FACTOR * problem.dispatchers:
        return None
    if len(free) <= problem.dispatchers:
        routes = free
    else:
        start = split(q, tour, penalty=10.0 * bound + 1.0)  # K routes, some over the cap
        remaining = max(0.1, seconds - (time.monotonic() - started))
        found, _ = PyVRPInstance(q).solve(0.9 * remaining, seed, initial=start, until_feasible=True)
        # PyVRP measures rounded distances: a route may exceed the cap by the rounding; the local search repairs
        routes = improve(q, found, seconds=max(0.05, seconds - (time.monotonic() - started)), seed=seed)
    routes = _spread(problem, routes)
    lengths = [problem.route_length(r) for r in routes]
    if max(lengths, default=0.0) > bound * (1 + 1e-9) or not check(problem, routes).feasible:
        return None
    return routes


def _spread(problem: Problem, routes: list[list[int]]) -> list[list[int]]:
    """With one stop at least per dispatcher and fewer routes than dispatchers, give the stop whose removal
    saves the most its own out-and-back route (never longer than the bound; removing a stop never lengthens a
    route in a metric) until every dispatcher has one."""
    routes = [list(r) for r in routes if r]
    if problem.min_stops != 1:
        return routes
    while len(routes) < problem.dispatchers:
        k = max(range(len(routes)), key=lambda j: len(routes[j]))
        r = routes[k]
        if len(r) < 2:
            break
        length = problem.route_length(r)
        at = max(range(len(r)), key=lambda p: length - problem.route_length(r[:p] + r[p + 1 :]))
        routes.append([r.pop(at)])
    return routes
