"""Divide and conquer: one shortest tour, cut into K routes, each re-optimised, then improved across routes.

1. A giant tour over all customers (fast_tsp; stitched from pieces above a few thousand nodes).
2. Prins' Split cuts it optimally into routes within the work limits (min/max stops, capacity, distance),
   for the objective (total or longest route); when no cut respects the limits, a penalised cut is repaired
   by the local search.
3. Each route is re-ordered by fast_tsp; relocate/swap/2-opt* moves improve across neighbouring routes.
4. Until the time is up, from the best plan: either ruin and recreate (remove a customer and its nearest
   neighbours, re-insert each where it costs least) or a new giant tour (the routes ordered around the depot
   from a random start, a stretch shuffled) split again; then the local search; the best plan is kept.
It needs a dense instance and pays up to :data:`PART_SIZE` customers; above, :mod:`sudoless.routing.auto`
cuts the instance into parts along a giant tour first (:mod:`sudoless.routing.spark`), each part solved by
divide and conquer, the routes stitched and improved. This module never starts Spark itself.
"""

from __future__ import annotations

import time

import numpy as np

from sudoless.errors import InputError
from sudoless.routing.check import check
from sudoless.routing.farthest import SHARE, reach_farthest_bound
from sudoless.routing.improve import improve, neighbours, ruin_and_recreate
from sudoless.routing.model import Objective, Problem, Solution
from sudoless.routing.split import cut, rank, split
from sudoless.routing.timed_divide import solve_divide_timed
from sudoless.routing.tsp import giant_tour, reoptimise

PART_SIZE = 1500  # customers above which the instance is solved in parts (sudoless.routing.auto decides)


def _reorder(problem: Problem, routes: list[list[int]], rng: np.random.Generator) -> np.ndarray:
    """A giant tour from routes: sorted by the angle of their centre around the depot, from a random start."""
    routes = [r for r in routes if r]
    if problem.coords is None:
        order = rng.permutation(len(routes))
    else:
        centre = np.array([problem.coords[r].mean(axis=0) for r in routes]) - problem.coords[0]
        order = np.argsort(np.arctan2(centre[:, 1], centre[:, 0]))
        order = np.roll(order, int(rng.integers(len(order))))
    pieces = []
    for k in order:
        r = routes[k]
        pieces.append(r if rng.random() < 0.5 else r[::-1])
    return np.asarray([i for r in pieces for i in r], dtype=np.int64)


def _kick(tour: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A double-bridge move on a short stretch of the tour: pieces B and C of A B C D swap places, so some
    customers change neighbours (and so routes) while most of the order survives."""
    m = len(tour)
    if m < 8:
        return rng.permutation(tour)
    width = int(min(m, max(8, m // 10)))
    start = int(rng.integers(0, m - width + 1))
    a, b = sorted(rng.choice(np.arange(1, width), size=2, replace=False))
    piece = tour[start : start + width]
    mixed = np.concatenate((piece[:a], piece[b:], piece[a:b]))
    return np.concatenate((tour[:start], mixed, tour[start + width :]))


def _changed(before: list[list[int]], after: list[list[int]]) -> list[int]:
    """Customers of the routes in ``after`` that are not routes of ``before``."""
    old = {tuple(r) for r in before}
    return [i for r in after if tuple(r) not in old for i in r]


def _feasible(problem: Problem, routes: list[list[int]]) -> bool:
    return check(problem, routes).feasible


def solve_divide(
    problem: Problem, time_limit: float = 10.0, seed: int = 0, initial: list[list[int]] | None = None
) -> Solution:
    """Divide and conquer within ``time_limit`` seconds (wall clock); reproducible for a seed and budget.

    For the makespan it first tries to reach the farthest bound (:mod:`sudoless.routing.farthest`). Needs a
    dense problem. With time windows: :mod:`sudoless.routing.timed_divide` (``initial`` is not used there).
    """
    if not problem.dense:
        raise InputError(
            f"{problem.name}: divide and conquer needs a dense distance matrix, which {problem.n} locations do not "
            "have; use --solver auto (parts of the instance)"
        )
    if problem.timed:  # the cut and the local search below do not know the windows: parts close in time
        return solve_divide_timed(problem, time_limit=time_limit, seed=seed)
    started = time.monotonic()
    deadline = started + time_limit
    if initial is None and problem.objective == Objective.MAKESPAN:
        tight = reach_farthest_bound(problem, seconds=SHARE * time_limit, seed=seed)
        if tight is not None:
            return Solution(
                tight,
                "divide",
                time.monotonic() - started,
                bound=problem.farthest_bound(),
                optimal=True,
                notes={"farthest_bound": True},
            )
    rng = np.random.default_rng(seed)
    near = neighbours(problem)
    if initial is None:
        tour = giant_tour(problem, seconds=min(2.0, 0.1 * time_limit))
        routes = [reoptimise(problem, r, 0.05) for r in cut(problem, tour)]
    else:
        routes = [list(r) for r in initial]
    routes = improve(problem, routes, seconds=max(0.0, deadline - time.monotonic()), seed=seed, near=near)
    best, best_value = routes, rank(problem, routes)
    best_ok = _feasible(problem, best)
    rounds = 0
    while time.monotonic() < deadline - 0.05:
        rounds += 1
        changed: list[int] | None = None
        if rounds % 3:  # two rounds in three: ruin a neighbourhood of the best plan and rebuild it
            size = int(rng.integers(5, max(6, min(40, problem.n // 5))))
            rebuilt = ruin_and_recreate(problem, best, rng, near, size)
            changed = _changed(best, rebuilt)
        else:  # one in three: a new giant tour from the best routes, a stretch shuffled, split again
            resplit = split(problem, _kick(_reorder(problem, best, rng), rng))
            if resplit is None:
                continue
            rebuilt = resplit
        candidate = improve(
            problem,
            rebuilt,
            seconds=max(0.0, deadline - time.monotonic()),
            seed=seed + rounds,
            near=near,
            focus=changed,
        )
        value, ok = rank(problem, candidate), _feasible(problem, candidate)
        if (ok and not best_ok) or (ok == best_ok and value < best_value):
            best, best_value, best_ok = candidate, value, ok
    return Solution(best, "divide", time.monotonic() - started, notes={"rounds": rounds})
