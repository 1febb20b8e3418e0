"""Divide and conquer under time windows: parts close in place and time solved by PyVRP, then route groups.

The Split-based divide and conquer (:mod:`sudoless.routing.divide`) cuts a giant tour by distance and load and
moves customers with a local search that knows neither; under windows both would return late plans. Here:

1. The customers are cut into parts of about :data:`PART` customers that are close in place and in time
   (:func:`sudoless.routing.timecuts.window_groups`); each part gets a share of the dispatchers proportional to
   its work and is solved by PyVRP, which keeps the windows natively.
2. Until the time is up, the plan's routes are grouped in rounds, alternately by angle around the depot and by
   the middle of their windows, the borders turning each round; each group is re-optimised by PyVRP from its
   routes (:mod:`sudoless.routing.resolve`: never worse, every limit kept) with the fleet's spare dispatchers.
3. For the makespan and the blend, the rest of the budget goes to ever lower caps on the route length
   (:mod:`sudoless.routing.minmax`), which PyVRP answers with the windows too.

An instance that PyVRP cannot split (one part, or a part without a plan on time) is solved whole first.
"""

from __future__ import annotations

import time

import numpy as np

from sudoless.errors import InputError
from sudoless.routing.check import check
from sudoless.routing.decompose import sectors, stitch, subproblem
from sudoless.routing.minmax import lower_cap
from sudoless.routing.model import Objective, Problem, Solution
from sudoless.routing.pyvrp_adapter import PyVRPInstance
from sudoless.routing.resolve import resolve
from sudoless.routing.timecuts import time_sectors, window_partition

PART = 100  # customers per part (and per group in the rounds): PyVRP reaches good plans there in a second or two
FIRST_SHARE = 0.35  # of the budget for the parts
ROUND_SECONDS = 2.0  # a round of groups at most ...
ROUND_SHARE = 0.15  # ... and at most this share of the budget
BALANCE_SHARE = 0.5  # of the budget left to the capped probes for the makespan and the blend
GOLDEN = 0.6180339887  # turns the group borders by an irrational share of the routes each round


def _parts(problem: Problem, seconds: float, seed: int) -> tuple[list[list[int]] | None, int]:
    """The first plan from window-aware parts and their number, or None when there is one part or a part has no
    plan on time."""
    try:
        parts = window_partition(problem, PART, seed)
    except InputError:  # a part would need more dispatchers than its share
        return None, 0
    if len(parts) < 2:
        return None, 0
    found = []
    for k, part in enumerate(parts):
        routes, ok = PyVRPInstance(part.build()).solve(seconds / len(parts), seed + k)
        if not ok:
            return None, 0
        found.append(routes)
    routes = stitch(parts, found)
    return (routes, len(parts)) if check(problem, routes).feasible else (None, 0)


def _round(problem: Problem, routes: list[list[int]], rounds: int, seconds: float, seed: int) -> list[list[int]]:
    """One round: the routes grouped (by angle on even rounds, by window middle on odd ones), each group
    re-optimised by PyVRP in turn with the dispatchers the plan leaves spare."""
    count = max(2, round(problem.n / PART))
    turn = (rounds * GOLDEN) % 1.0
    groups = time_sectors(problem, routes, count, turn) if rounds % 2 else sectors(problem, routes, count, turn)
    plan = [list(r) for g in groups for r in g]
    at = 0
    for k, group in enumerate(groups):
        spare = max(0, problem.dispatchers - len([r for r in plan if r]))
        members = np.asarray(sorted(c for r in group for c in r), dtype=np.int64)
        part = subproblem(problem, members, len(group) + spare, f"{problem.name}/group{k + 1}")
        found = resolve(part, group, seconds / len(groups), seed + k)
        plan[at : at + len(group)] = found
        at += len(found)
    return plan


def solve_divide_timed(problem: Problem, time_limit: float = 10.0, seed: int = 0) -> Solution:
    """Divide and conquer with time windows within ``time_limit`` seconds (needs a dense problem)."""
    started = time.monotonic()
    deadline = started + time_limit
    total = problem if problem.objective == Objective.TOTAL else problem.with_(objective=Objective.TOTAL)
    routes, parts = _parts(total, FIRST_SHARE * time_limit, seed)
    if routes is None:
        routes, ok = PyVRPInstance(total).solve(FIRST_SHARE * time_limit, seed)
        if not ok or not check(total, routes).feasible:
            raise InputError(
                f"{problem.name}: no plan found that keeps every time window and limit in {time_limit:g} s; "
                "allow more time or more dispatchers"
            )
    rounds = 0
    balance = 0.0 if problem.objective == Objective.TOTAL else BALANCE_SHARE * (deadline - time.monotonic())
    slot = min(ROUND_SECONDS, ROUND_SHARE * time_limit)
    while deadline - balance - time.monotonic() > 0.3:
        seconds = min(slot, deadline - balance - time.monotonic())
        routes = _round(total, routes, rounds, seconds, seed + 7919 * (rounds + 1))
        rounds += 1
    probes = 0
    if balance:
        routes, probes = lower_cap(problem, routes, deadline, seed)
    routes = [r for r in routes if r] if not problem.min_stops else routes
    # parts 0: PyVRP solved the whole instance first
    notes: dict[str, object] = {"parts": parts, "rounds": rounds, "probes": probes}
    return Solution(routes, "divide", time.monotonic() - started, notes=notes)
