"""Prins' Split: cut one giant tour into at most K routes, optimally for the tour's order.

A route serves a contiguous piece of the tour, from the depot and back. Split is a shortest path over tour
positions where an arc (i, j) is the route serving positions i..j-1; arcs that break a limit (capacity,
min/max stops, max distance) are absent. With a fleet limit the path is computed layer by layer (one layer
per route). For the makespan objective the same DP minimises the longest route instead of the sum, then a
second pass minimises the total among the splits that reach that makespan.

When no feasible cut exists (measured on about half of CVRPLIB's fixed-fleet instances), ``penalty`` turns
the limits into costs (excess x penalty) so a cut always exists; local search then repairs it. :func:`cut`
does both: the best feasible cut of the tour either way round, else a penalised one.
"""

from __future__ import annotations

import numpy as np

from sudoless.errors import InputError
from sudoless.routing.model import Objective, Problem

WINDOW_CELLS = 30_000_000  # positions x window entries kept in memory at most


def _segments(problem: Problem, tour: np.ndarray, penalty: float | None) -> np.ndarray:
    """``cost[j, b]`` of the route serving positions j-1-b..j-1 (b+1 stops), inf where not allowed."""
    m = len(tour)
    depot = problem.legs(np.zeros(m, dtype=np.int64), tour)
    inner = np.concatenate(([0.0], np.cumsum(problem.legs(tour[:-1], tour[1:])))) if m > 1 else np.zeros(1)
    loads: np.ndarray = np.concatenate((np.zeros(1), np.cumsum(problem.demands[tour])))
    window = m if problem.max_stops is None else min(m, problem.max_stops)
    if problem.capacity is not None and penalty is None:
        # the longest piece whose load fits, from any start: bounds the window
        ends = np.searchsorted(loads, loads[:-1] + problem.capacity + 1e-9, side="right") - 1
        window = min(window, int((ends - np.arange(m)).max()))
    window = max(1, min(window, max(1, WINDOW_CELLS // max(m, 1))))
    j = np.arange(1, m + 1)[:, None]
    b = np.arange(window)[None, :]
    start = j - 1 - b
    valid = start >= 0
    s = np.where(valid, start, 0)
    e = np.broadcast_to(j - 1, s.shape)
    dist = depot[s] + inner[e] - inner[s] + depot[e]
    cost = dist.copy()
    stops = b + 1
    load = loads[np.broadcast_to(j, s.shape)] - loads[s]
    excess = np.zeros_like(cost)
    if problem.capacity is not None:
        excess += np.maximum(0.0, load - problem.capacity)
    if problem.max_distance is not None:
        excess += np.maximum(0.0, dist - problem.max_distance)
    if problem.max_stops is not None:
        excess += np.maximum(0, stops - problem.max_stops)
    if penalty is None:
        cost[excess > 1e-9] = np.inf
    else:
        cost += penalty * excess
    cost[~valid] = np.inf
    if problem.min_stops > 1:
        cost[np.broadcast_to(stops < problem.min_stops, cost.shape)] = np.inf
    return cost


def _layers(cost: np.ndarray, routes: int, makespan: bool) -> tuple[np.ndarray, np.ndarray]:
    """values[k, j]: best value serving the first j positions with exactly k routes; choice[k, j] the b used."""
    m, window = cost.shape
    values = np.full((routes + 1, m + 1), np.inf)
    values[0, 0] = 0.0
    choice = np.zeros((routes + 1, m + 1), dtype=np.int64)
    j = np.arange(1, m + 1)[:, None]
    start = j - 1 - np.arange(window)[None, :]
    s = np.maximum(start, 0)
    for k in range(1, routes + 1):
        previous = values[k - 1][s]
        previous[start < 0] = np.inf
        total = np.maximum(previous, cost) if makespan else previous + cost
        best = np.argmin(total, axis=1)
        values[k, 1:] = total[np.arange(m), best]
        choice[k, 1:] = best
    return values, choice


def _unlimited(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bellman over positions without a fleet limit: value, choice and number of routes per position."""
    m, window = cost.shape
    value = np.full(m + 1, np.inf)
    value[0] = 0.0
    count = np.zeros(m + 1, dtype=np.int64)
    choice = np.zeros(m + 1, dtype=np.int64)
    for j in range(1, m + 1):
        width = min(window, j)
        candidates = value[j - 1 - np.arange(width)] + cost[j - 1, :width]
        b = int(np.argmin(candidates))
        value[j], choice[j], count[j] = candidates[b], b, count[j - 1 - b] + 1
    return value, choice, count


def _routes(tour: np.ndarray, cuts: list[int]) -> list[list[int]]:
    bounds = [0, *cuts]
    return [tour[a:b].tolist() for a, b in zip(bounds[:-1], bounds[1:], strict=False)]


def split(
    problem: Problem, tour: np.ndarray | list[int], objective: Objective | None = None, penalty: float | None = None
) -> list[list[int]] | None:
    """The best cut of ``tour`` (customer indices, no depot) into at most ``problem.dispatchers`` routes
    (exactly that many non-empty ones when ``min_stops`` >= 1); None when no cut respects the limits."""
    tour = np.asarray(tour, dtype=np.int64)
    m, fleet = len(tour), problem.dispatchers
    objective = objective or problem.objective
    cost = _segments(problem, tour, penalty)
    exact = problem.min_stops >= 1
    if objective == Objective.TOTAL and not exact:
        value, choice, count = _unlimited(cost)
        if np.isfinite(value[m]) and count[m] <= fleet:
            cuts, j = [], m
            while j > 0:
                cuts.append(j)
                j = j - 1 - int(choice[j])
            return _routes(tour, cuts[::-1])
    fleet = min(fleet, m)
    if objective != Objective.TOTAL:
        values, _ = _layers(cost, fleet, makespan=True)
        ks = [fleet] if exact else list(range(1, fleet + 1))
        longest = min(values[k, m] for k in ks)
        if not np.isfinite(longest):
            return None
        if objective == Objective.MAKESPAN:
            cost = np.where(cost <= longest * (1 + 1e-12) + 1e-9, cost, np.inf)
        else:  # blend: keep the longest route near its optimum, trading it against the total below
            cost = cost + problem.makespan_weight * np.where(cost > longest, cost - longest, 0.0)
    values, choice = _layers(cost, fleet, makespan=False)
    ks = [fleet] if exact else list(range(1, fleet + 1))
    k = min(ks, key=lambda r: values[r, m])
    if not np.isfinite(values[k, m]):
        return None
    cuts, j = [], m
    while k > 0:
        cuts.append(j)
        j = j - 1 - int(choice[k, j])
        k -= 1
    return _routes(tour, cuts[::-1])


def cut(problem: Problem, tour: np.ndarray) -> list[list[int]]:
    """The tour (either way round) cut into routes by Split; a penalised cut when no cut keeps the limits."""
    best = None
    for candidate in (tour, tour[::-1]):
        routes = split(problem, candidate)
        if routes is not None and (best is None or rank(problem, routes) < rank(problem, best)):
            best = routes
    if best is None:  # no feasible cut: a penalised one, repaired by the local search
        best = split(problem, tour, penalty=10.0 * problem.farthest_bound() + 1.0)
    if best is None:
        raise InputError(
            f"{problem.name}: no way to give {problem.dispatchers} dispatchers at least {problem.min_stops} stops each"
        )
    return best


def rank(problem: Problem, routes: list[list[int]]) -> tuple[float, float]:
    """The objective, then the total distance: on the plateaus of the makespan, shorter other routes win."""
    lengths = [problem.route_length(r) for r in routes]
    return round(problem.score(lengths), 9), sum(lengths)
