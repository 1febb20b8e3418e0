"""Both (all) cores on one instance: searches in parallel processes that share their best plan between rounds.

One PyVRP search per process is what a single core gives; a second core only pays when its work is combined.
Two ways are used, both keep the best plan and hand it to every process at the next round:

* total distance (PyVRP): first every process searches the whole instance with its own seed; then the best
  plan's routes are grouped by the angle of their centre around the depot into one sector per process, and
  each process re-optimises the customers of its sector as an instance of its own, started from their current
  routes (route-based decomposition, the strategy Santini, Schneider, Vidal and Vigo found best inside VRP
  heuristics, INFORMS J. Computing 35(3), 2023). A sector's new routes replace the old ones only when they are
  shorter, so the whole plan never gets worse; the sector borders turn each round so every neighbourhood
  sits inside a sector some of the time. A sector of half the customers is searched far faster than the
  whole instance, which is where the second core's gain comes from.
* the makespan: probes of ever lower caps on the route length run asynchronously, one per process, each from
  the best plan at its start (:mod:`sudoless.routing.minmax`).

The processes are started once per solve and keep the problem (with its matrix), so a round only ships routes
(:mod:`sudoless.routing.pool`).
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from sudoless.processes import usable_cpus
from sudoless.routing.check import check
from sudoless.routing.decompose import sectors, subproblem
from sudoless.routing.engine import solve_engine
from sudoless.routing.model import Objective, Problem, Solution
from sudoless.routing.pool import shared_problem, start_method, worker_pool
from sudoless.routing.resolve import resolve

WHOLE_SHARE = 0.3  # of the budget for the whole-instance searches before the sectors (total distance)
ROUND_SECONDS = 2.0  # a sector round at most; shorter budgets get shorter rounds
ROUND_SHARE = 0.15  # ... and at most this share of the budget
SETUP = 0.4  # seconds a round costs beyond its solver budget (shipping routes, building the sector's data)
GOLDEN = 0.6180339887  # turns the sector borders by an irrational share of the routes each round


def _whole(task: tuple[float, int]) -> list[list[int]]:
    """PyVRP on the whole instance, then sudoless' local search for what PyVRP lacks (runs in a worker)."""
    seconds, seed = task
    return solve_engine(shared_problem(), time_limit=seconds, seed=seed).routes


def _sector(task: tuple[np.ndarray, list[list[int]], int, float, int]) -> list[list[int]]:
    """PyVRP on the customers of some routes, started from those routes (runs in a worker)."""
    members, routes, dispatchers, seconds, seed = task
    problem = shared_problem()
    return resolve(subproblem(problem, members, dispatchers, f"{problem.name}/sector"), routes, seconds, seed)


def _sector_round(
    pool: ProcessPoolExecutor,
    problem: Problem,
    best: list[list[int]],
    workers: int,
    turn: float,
    seconds: float,
    seed: int,
) -> list[list[int]]:
    """One round: each sector re-optimised in its own process; improved sectors replace theirs in ``best``.

    Each sector may use every spare dispatcher; when the improved sectors together use too many, they are
    taken one at a time, the largest gain first, while the plan stays within the fleet.
    """
    groups = sectors(problem, best, workers, turn)
    spare = max(0, problem.dispatchers - len([r for r in best if r]))
    tasks = [
        (np.asarray(sorted(c for r in g for c in r), dtype=np.int64), g, len(g) + spare, seconds, seed + k)
        for k, g in enumerate(groups)
    ]
    found = list(pool.map(_sector, tasks))
    gains = [_total(problem, g) - _total(problem, f) if f else 0.0 for g, f in zip(groups, found, strict=True)]
    plan = [list(g) for g in groups]
    for k in sorted(range(len(groups)), key=lambda j: -gains[j]):
        if gains[k] <= 1e-9:
            break
        trial = [*plan[:k], found[k], *plan[k + 1 :]]
        if check(problem, [r for g in trial for r in g]).feasible:
            plan = trial
    return [r for g in plan for r in g]


def _total(problem: Problem, routes: list[list[int]]) -> float:
    return problem.score([problem.route_length(r) for r in routes])


def _better(problem: Problem, candidate: list[list[int]], best: list[list[int]] | None) -> bool:
    if not candidate or not check(problem, candidate).feasible:
        return False
    return best is None or _total(problem, candidate) < _total(problem, best) - 1e-9


def solve_cores(problem: Problem, time_limit: float = 10.0, seed: int = 0, workers: int | None = None) -> Solution:
    """Search with ``workers`` processes (default: every core) for ``time_limit`` seconds, sharing the best.

    Total distance: PyVRP, whole instance then sectors; the makespan: capped probes in parallel. Needs a dense
    problem; with one worker it is the plain solver.
    """
    started = time.monotonic()
    deadline = started + time_limit
    workers = workers or usable_cpus()
    method = start_method()
    if problem.objective != Objective.TOTAL:
        solution = solve_engine(problem, time_limit=time_limit, seed=seed, workers=workers)
        solution.solver = "engine+cores"
        solution.notes.update(workers=workers, start_method=method)
        return solution
    best: list[list[int]] | None = None
    rounds = 0
    with worker_pool(problem, workers) as pool:
        whole = max(0.2, WHOLE_SHARE * time_limit - SETUP)
        for routes in pool.map(_whole, [(whole, seed + w) for w in range(workers)]):
            if _better(problem, routes, best):
                best = routes
        slot = min(ROUND_SECONDS, ROUND_SHARE * time_limit)
        while best is not None and deadline - time.monotonic() > SETUP + 0.3:
            left = deadline - time.monotonic()
            seconds = max(0.2, left / max(1, math.floor(left / slot)) - SETUP)
            turn = (rounds * GOLDEN) % 1.0
            best = _sector_round(pool, problem, best, workers, turn, seconds, seed + 7919 * (rounds + 1))
            rounds += 1
    if best is None:  # no worker found a feasible plan: the plain solver says why
        return solve_engine(problem, time_limit=max(0.5, deadline - time.monotonic()), seed=seed)
    return Solution(
        [r for r in best if r] if not problem.min_stops else best,
        "engine+cores",
        time.monotonic() - started,
        notes={"workers": workers, "rounds": rounds, "start_method": method},
    )
