"""Local search across routes: relocate, swap and 2-opt* between a customer's nearest neighbours' routes.

A move changes two routes; it is judged on those two only, lexicographically: first the limit violations
(excess load, stops outside [min, max], distance over the maximum), then the objective: the sum of the two
lengths (total), their maximum and then their sum (makespan; a move never raises the longest route), or
total + weight x longest (blend). Starting from a cut that breaks limits, the same search repairs it.
Routes are then re-ordered with fast_tsp; both repeat until nothing improves or the time is up.
"""

from __future__ import annotations

import time

import numpy as np

from sudoless.routing.model import Objective, Problem
from sudoless.routing.tsp import reoptimise

EPS = 1e-9


def neighbours(problem: Problem, count: int = 12) -> np.ndarray:
    """For each location, its ``count`` nearest other customers (row 0 unused)."""
    n = problem.n
    count = min(count, n - 1)
    if count <= 0:
        return np.zeros((n + 1, 0), dtype=np.int64)
    if problem.coords is not None and problem.metric.value != "matrix":
        from scipy.spatial import cKDTree

        tree = cKDTree(problem.coords[1:])
        _, idx = tree.query(problem.coords, k=count + 1)
        idx = idx + 1
        out = np.array([[j for j in row if j != i][:count] for i, row in enumerate(idx)], dtype=np.int64)
        return out
    matrix = problem.full_matrix[:, 1:]
    idx = np.argsort(matrix, axis=1)[:, : count + 1] + 1
    return np.array([[j for j in row if j != i][:count] for i, row in enumerate(idx)], dtype=np.int64)


class _State:
    def __init__(self, problem: Problem, routes: list[list[int]]) -> None:
        self.p = problem
        self.d = problem.full_matrix
        self.q = problem.demands
        self.routes = [list(r) for r in routes] + [[] for _ in range(problem.dispatchers - len(routes))]
        self.lengths = [problem.route_length(r) for r in self.routes]
        self.loads = [float(self.q[r].sum()) if r else 0.0 for r in self.routes]
        self.where = np.zeros(problem.n + 1, dtype=np.int64)
        self.pos = np.zeros(problem.n + 1, dtype=np.int64)
        for k in range(len(self.routes)):
            self._index(k)

    def _index(self, k: int) -> None:
        for p, i in enumerate(self.routes[k]):
            self.where[i], self.pos[i] = k, p

    def excess(self, length: float, load: float, stops: int) -> float:
        p = self.p
        e = 0.0
        if p.capacity is not None and load > p.capacity + EPS:
            e += load - p.capacity
        if p.max_stops is not None and stops > p.max_stops:
            e += stops - p.max_stops
        if stops < p.min_stops:
            e += p.min_stops - stops
        if p.max_distance is not None and length > p.max_distance + EPS:
            e += (length - p.max_distance) / max(p.max_distance, 1.0)
        return e

    def broken(self) -> bool:
        """Whether any route breaks a limit."""
        return any(self.excess(x, q, len(r)) > 0 for x, q, r in zip(self.lengths, self.loads, self.routes, strict=True))

    def better(self, a: int, b: int, la: float, lb: float, qa: float, qb: float, sa: int, sb: int) -> bool:
        """Whether routes a and b with new lengths/loads/stops beat their current state."""
        old_e = self.excess(self.lengths[a], self.loads[a], len(self.routes[a])) + self.excess(
            self.lengths[b], self.loads[b], len(self.routes[b])
        )
        new_e = self.excess(la, qa, sa) + self.excess(lb, qb, sb)
        if new_e < old_e - EPS:
            return True
        if new_e > old_e + EPS:
            return False
        old_t, new_t = self.lengths[a] + self.lengths[b], la + lb
        objective = self.p.objective
        if objective == Objective.TOTAL:
            return new_t < old_t - EPS
        if objective == Objective.MAKESPAN:
            old_m, new_m = max(self.lengths[a], self.lengths[b]), max(la, lb)
            if new_m < old_m - EPS:
                return True
            return new_m <= old_m + EPS and new_t < old_t - EPS
        others = max((x for k, x in enumerate(self.lengths) if k not in (a, b)), default=0.0)
        old_v = old_t + self.p.makespan_weight * max(others, self.lengths[a], self.lengths[b])
        return new_t + self.p.makespan_weight * max(others, la, lb) < old_v - EPS

    def set(self, k: int, route: list[int]) -> None:
        self.routes[k] = route
        self.lengths[k] = self.p.route_length(route)
        self.loads[k] = float(self.q[route].sum()) if route else 0.0
        self._index(k)

    def length(self, route: list[int]) -> float:
        if not route:
            return 0.0
        d = self.d
        if len(route) < 12:
            total = d[0, route[0]] + d[route[-1], 0]
            for x, y in zip(route[:-1], route[1:], strict=True):
                total += d[x, y]
            return float(total)
        path = np.fromiter(route, dtype=np.int64, count=len(route))
        return float(d[0, path[0]] + d[path[-1], 0] + d[path[:-1], path[1:]].sum())

    def try_pair(self, u: int, v: int) -> bool:
        """Try relocate, swap and 2-opt* between u's route and v's route (v may be 0: an empty route)."""
        a = int(self.where[u])
        candidates = [int(self.where[v])] if v else [k for k, r in enumerate(self.routes) if not r][:1]
        for b in candidates:
            if a == b:
                continue
            ra, rb, pu = self.routes[a], self.routes[b], int(self.pos[u])
            qu = float(self.q[u])
            without = ra[:pu] + ra[pu + 1 :]
            la0 = self.length(without)
            spots = range(len(rb) + 1) if not v else (int(self.pos[v]), int(self.pos[v]) + 1)
            for at in spots:  # relocate u into b before/after v
                nb = rb[:at] + [u] + rb[at:]
                lb = self.length(nb)
                if self.better(a, b, la0, lb, self.loads[a] - qu, self.loads[b] + qu, len(without), len(nb)):
                    self.set(a, without)
                    self.set(b, nb)
                    return True
            if not v:
                continue
            pv = int(self.pos[v])
            qv = float(self.q[v])
            na, nb = ra[:pu] + [v] + ra[pu + 1 :], rb[:pv] + [u] + rb[pv + 1 :]
            la, lb = self.length(na), self.length(nb)
            if self.better(a, b, la, lb, self.loads[a] - qu + qv, self.loads[b] - qv + qu, len(na), len(nb)):
                self.set(a, na)
                self.set(b, nb)
                return True
            for na, nb in (
                (ra[: pu + 1] + rb[pv + 1 :], rb[: pv + 1] + ra[pu + 1 :]),
                (ra[: pu + 1] + rb[: pv + 1][::-1], ra[pu + 1 :][::-1] + rb[pv + 1 :]),
            ):
                la, lb = self.length(na), self.length(nb)
                qa = float(self.q[na].sum()) if na else 0.0
                qb = self.loads[a] + self.loads[b] - qa
                if self.better(a, b, la, lb, qa, qb, len(na), len(nb)):
                    self.set(a, na)
                    self.set(b, nb)
                    return True
        return False


def improve(
    problem: Problem,
    routes: list[list[int]],
    seconds: float = 5.0,
    seed: int = 0,
    near: np.ndarray | None = None,
    focus: list[int] | None = None,
) -> list[list[int]]:
    """Local search from ``routes`` until no move helps or ``seconds`` pass; needs a dense problem.

    ``focus``: customers that changed (after a ruin and recreate); the search starts from their routes and
    widens only to the routes that its moves touch, instead of scanning every customer each pass.
    """
    rng = np.random.default_rng(seed)
    near = neighbours(problem) if near is None else near
    deadline = time.monotonic() + seconds
    state = _State(problem, routes)
    dirty = set(range(len(state.routes))) if focus is None else {int(state.where[u]) for u in focus}
    scan = set(dirty)
    while True:
        # re-order the routes that changed (fast_tsp), then move customers between routes until nothing helps
        for k in dirty:
            if len(state.routes[k]) > 2:
                state.set(k, reoptimise(problem, state.routes[k], seconds=0.05))
        dirty = set()
        while scan:
            before = [list(r) for r in state.routes]
            pool = range(1, problem.n + 1) if focus is None else [i for k in scan for i in state.routes[k]]
            focus = []  # after the first pass, only the routes that the last pass changed are scanned
            repairing = state.broken()  # a plan that breaks limits is repaired to the end of the pass
            improved = False
            for u in rng.permutation(np.asarray(pool, dtype=np.int64)):
                if time.monotonic() >= deadline and not repairing:
                    break
                for v in [*near[u], 0]:
                    if state.try_pair(int(u), int(v)):
                        improved = True
                        break
            scan = {k for k, (x, y) in enumerate(zip(before, state.routes, strict=True)) if x != y}
            dirty |= scan
            if not improved or (time.monotonic() >= deadline and not state.broken()):
                scan = set()
        if not dirty or time.monotonic() >= deadline:
            break
        scan = set(dirty)
        focus = []
    return list(state.routes) if problem.min_stops else [r for r in state.routes if r]


def ruin_and_recreate(
    problem: Problem, routes: list[list[int]], rng: np.random.Generator, near: np.ndarray, size: int
) -> list[list[int]]:
    """Remove a random customer and its nearest neighbours, then insert each back where it costs least
    (within capacity, max stops and max distance; for the makespan, where the route stays shortest)."""
    d, q = problem.full_matrix, problem.demands
    seed = int(rng.integers(1, problem.n + 1))
    removed = [seed, *[int(v) for v in near[seed][: max(0, size - 1)]]]
    gone = set(removed)
    routes = [[i for i in r if i not in gone] for r in routes]
    routes += [[] for _ in range(problem.dispatchers - len(routes))]
    lengths = [problem.route_length(r) for r in routes]
    loads = [float(q[r].sum()) if r else 0.0 for r in routes]
    balanced = problem.objective == Objective.MAKESPAN
    for u in rng.permutation(removed):
        u = int(u)
        best, where = np.inf, None
        for k, r in enumerate(routes):
            if problem.capacity is not None and loads[k] + q[u] > problem.capacity + EPS:
                continue
            if problem.max_stops is not None and len(r) >= problem.max_stops:
                continue
            path = np.array([0, *r, 0])
            deltas = d[path[:-1], u] + d[u, path[1:]] - d[path[:-1], path[1:]]
            at = int(np.argmin(deltas))
            delta = float(deltas[at])
            if problem.max_distance is not None and lengths[k] + delta > problem.max_distance + EPS:
                continue
            value = lengths[k] + delta + 1e-6 * delta if balanced else delta
            if value < best:
                best, where = value, (k, at, delta)
        if where is None:  # nowhere fits: the least bad route, repaired by the local search
            k = int(np.argmin(lengths))
            where = (k, 0, float(d[0, u] * 2))
        k, at, delta = where
        routes[k].insert(at, u)
        lengths[k] += delta
        loads[k] += float(q[u])
    return routes if problem.min_stops else [r for r in routes if r]
