"""A local search on a dispatch plan, for what PyVRP does not know: minimum work per driver, and the blend.

PyVRP has maximum stops (a load dimension, :mod:`sudoless.routing.dispatch_pyvrp`) and caps on the working
time (the probes of the makespan), but no minimum of stops or working minutes per vehicle, and no objective
that mixes the cost with the longest day. This search moves one order at a time, from its route (or from the
unserved optional ones) to the cheapest place in any route, or leaves an optional order out, and keeps a move
when the plan gets better: first the total shortfall of the minimums (stops short, plus minutes short as a share
of the minimum), then the goal's value. Every route keeps every other limit after every move, so the search
never breaks what PyVRP built. Small parts are its scale (a move is tried at every position): the
decompositions hand it parts of about a hundred orders (:mod:`sudoless.routing.dispatch_divide`).
"""

from __future__ import annotations

import time

import numpy as np

from sudoless.routing.dispatch import Dispatch, Goal, drive, infeasibilities

UNSERVED = -1  # the "route" of optional orders left out


class _State:
    """A plan with each vehicle's working time, cost and shortfall, kept up to date move by move."""

    def __init__(self, dispatch: Dispatch, goal: Goal, routes: list[list[int]]) -> None:
        self.dispatch, self.goal = dispatch, goal
        self.routes = [list(r) for r in routes]
        served = {i for r in self.routes for i in r}
        self.left = {i for i in dispatch.orders if i not in served}
        self.figures = [self.measure(k, r) for k, r in enumerate(self.routes)]

    def measure(self, k: int, route: list[int]) -> tuple[float, float, float] | None:
        """(working time, cost, shortfall) of vehicle ``k`` on ``route``; None when it breaks a hard limit."""
        trip = drive(self.dispatch, k, route)
        if infeasibilities(self.dispatch, k, route, trip, minimums=False):
            return None
        v = self.dispatch.vehicles[k]
        short = max(0, v.min_stops - len(route)) + max(0.0, v.min_duration - trip.duration) / max(1.0, v.min_duration)
        return trip.duration, trip.cost, short

    def score(self, changed: dict[int, tuple[float, float, float]], left: set[int]) -> tuple[float, float]:
        """(shortfall, value) of the plan with the ``changed`` vehicles' figures and ``left`` out."""
        figures = [changed.get(k, f) for k, f in enumerate(self.figures)]
        known = [f for f in figures if f is not None]
        short = sum(f[2] for f in known) + 1e6 * (len(figures) - len(known))
        cost = sum(f[1] for f in known) + sum(float(self.dispatch.penalty[i]) for i in left)
        makespan = max((f[0] for f in known), default=0.0)
        if self.goal.objective == "makespan":
            return short, makespan
        return short, cost + (self.goal.weight * makespan if self.goal.objective == "blend" else 0.0)


def search(dispatch: Dispatch, goal: Goal, routes: list[list[int]], deadline: float, seed: int = 0) -> list[list[int]]:
    """Improve ``routes`` by single-order moves until none helps or ``deadline`` (monotonic clock) passes."""
    state = _State(dispatch, goal, routes)
    if any(f is None for f in state.figures):
        return routes  # a route already over a hard limit: not this search's to repair
    rng = np.random.default_rng(seed)
    current = state.score({}, state.left)
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        for i in rng.permutation(list(dispatch.orders)):
            if time.monotonic() >= deadline:
                break
            i = int(i)
            home = next((k for k, r in enumerate(state.routes) if i in r), UNSERVED)
            if home == UNSERVED and dispatch.required(i):
                continue
            best = _best_move(state, i, home, current)
            if best is not None:
                current, changed, left = best
                for k, (route, figures) in changed.items():
                    state.routes[k], state.figures[k] = route, figures
                state.left = left
                improved = True
    return state.routes


def _best_move(
    state: _State, i: int, home: int, current: tuple[float, float]
) -> tuple[tuple[float, float], dict[int, tuple[list[int], tuple[float, float, float]]], set[int]] | None:
    """The best place for order ``i`` (now in route ``home``), if it beats ``current``."""
    dispatch = state.dispatch
    if home == UNSERVED:
        without: list[int] = []
        base: dict[int, tuple[list[int], tuple[float, float, float]]] = {}
        left = state.left - {i}
    else:
        without = [j for j in state.routes[home] if j != i]
        figures = state.measure(home, without)
        if figures is None:
            return None
        base = {home: (without, figures)}
        left = set(state.left)
    best = None
    if home != UNSERVED and not dispatch.required(i):  # leave it out
        score = state.score({k: f for k, (_, f) in base.items()}, left | {i})
        if score < current:
            best = (score, dict(base), left | {i})
    for k, route in enumerate(state.routes):
        start = without if k == home else route
        for p in range(len(start) + 1):
            trial = [*start[:p], i, *start[p:]]
            if k == home and trial == state.routes[home]:
                continue
            figures = state.measure(k, trial)
            if figures is None:
                continue
            changed = {**base, k: (trial, figures)}
            score = state.score({j: f for j, (_, f) in changed.items()}, left)
            if score < (best[0] if best else current):
                best = (score, changed, left)
    if best is None or not best[0] < tuple(x - 1e-9 for x in current):
        return None
    return best
