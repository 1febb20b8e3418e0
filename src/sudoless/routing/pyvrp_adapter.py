"""PyVRP, the iterated local search behind the engine solvers: one problem translated to its data, solved.

PyVRP works on integer distances: rounded instances go as they are, others are scaled by :data:`SCALE` and
re-measured with the true distances afterwards. Max stops become a second load dimension (each stop weighs 1),
capacity the first. Time windows go natively (travel time = distance, rounded up so a plan on time in PyVRP's
units is on time exactly). Minimum stops, which PyVRP lacks: PyVRP is rewarded for every route it uses (so it
fills the fleet, exactly what one stop each asks); the reward rides on the durations, or with windows (whose
durations are travel times) on the distances, when no distance limit needs them exact. A cap on the route
length (the probes of :mod:`sudoless.routing.minmax`) becomes PyVRP's max_distance.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from sudoless.extras import install_hint
from sudoless.routing.model import Metric, Problem

if TYPE_CHECKING:
    import pyvrp

SCALE = 1000.0
#: "no limit" and "unreachable" in PyVRP's integers
UNREACHABLE = 10**12


def units(x: float, scale: float, up: bool) -> int:
    """``x`` in PyVRP's integer units, rounded towards the safe side: a demand or a travel time up, a capacity
    or a limit down, so that a plan feasible in PyVRP's units is feasible in the real ones (an infinite
    value, no road, becomes :data:`UNREACHABLE`)."""
    if not math.isfinite(x):
        return UNREACHABLE
    value = x * scale
    return int(min(UNREACHABLE, math.ceil(value - 1e-9) if up else math.floor(value + 1e-9)))


#: PyVRP's own ceiling on its penalty per unit of excess load, lateness or distance (pyvrp.PenaltyParams)
DEFAULT_MAX_PENALTY = 1e5


def _pyvrp() -> ModuleType:
    try:
        import pyvrp
    except ImportError:
        raise install_hint("the engine solver", "routing", "pyvrp") from None
    return pyvrp


def max_penalty(data: pyvrp.ProblemData) -> float:
    """The ceiling for PyVRP's penalty per unit of excess load, lateness or distance: ten times the most that one
    unit over a limit can save (a detour of two legs at the dearest vehicle type's unit costs, a prize, a
    fixed cost), so that breaking a limit never pays.

    PyVRP's default ceiling (100,000) is absolute, so once our distances and costs are scaled to integers
    (large coordinates, a cost of a few hundred per unit) one unit over capacity or over a window could cost
    less than the detour that keeps it, and PyVRP returned such plans as its best. The ceiling must not be
    higher than that either: PyVRP multiplies it by the excess in 64-bit integers, and an earlier ceiling of
    ten times the cost of every leg of the matrix (about 10^12 on 1,000 customers in thousandths) overflowed
    on a plan some thousand time units late: PyVRP's local search then took wrapped-around costs for
    improvements and never returned (Gehring-Homberger r2_10_2; benchmarks/README.md, routing.py)."""
    figures = [float(c.prize) for c in data.clients()]
    for vehicle in data.vehicle_types():
        figures.append(float(vehicle.fixed_cost))
        leg = 0.0
        for cost, matrix in (
            (vehicle.unit_distance_cost, data.distance_matrix(vehicle.profile)),
            (vehicle.unit_duration_cost, data.duration_matrix(vehicle.profile)),
        ):
            if cost:
                values = np.asarray(matrix, dtype=np.int64)
                reachable = values[values < UNREACHABLE]
                leg += float(cost) * float(reachable.max(initial=0))
        figures.append(2.0 * leg)
    return max(DEFAULT_MAX_PENALTY, 10.0 * max(figures, default=0.0))


def solve_params(data: pyvrp.ProblemData) -> pyvrp.SolveParams:
    """PyVRP's parameters for ``data``: its defaults but the penalty ceiling (:func:`max_penalty`)."""
    pv = _pyvrp()
    params: pyvrp.SolveParams = pv.SolveParams(penalty=pv.PenaltyParams(max_penalty=max_penalty(data)))
    return params


class PyVRPInstance:
    """One problem translated to PyVRP data; solves with or without a cap on route distance."""

    def __init__(self, problem: Problem) -> None:
        self.pyvrp = _pyvrp()
        self.problem = problem
        matrix = problem.full_matrix
        integral = problem.metric in (Metric.ROUNDED,) or bool(np.allclose(matrix, np.round(matrix)))
        self.scale = 1.0 if integral else SCALE
        self.matrix = np.round(matrix * self.scale).astype(np.int64)
        demands = np.asarray(problem.demands, dtype=float)
        self.qscale = 1.0 if np.allclose(demands, np.round(demands)) else SCALE

    def data(self, cap: float | None) -> pyvrp.ProblemData:
        pv, p = self.pyvrp, self.problem
        coords = p.coords if p.coords is not None else np.zeros((p.n + 1, 2))
        dims: list[int] = []
        loads: list[list[int]] = [[] for _ in range(p.n + 1)]
        if p.capacity is not None:
            dims.append(units(p.capacity, self.qscale, up=False))
            for i in range(1, p.n + 1):
                loads[i].append(units(float(p.demands[i]), self.qscale, up=True))
        if p.max_stops is not None:
            dims.append(p.max_stops)
            for i in range(1, p.n + 1):
                loads[i].append(1)
        limit = min(x for x in (cap, p.max_distance, float("inf")) if x is not None)
        vehicle: dict[str, Any] = {"num_available": p.dispatchers, "capacity": dims}
        if np.isfinite(limit):
            # never below the longest out-and-back in PyVRP's rounded units: a cap at exactly twice the
            # farthest distance would otherwise exclude that location's own route after rounding
            alone = int((self.matrix[0, 1:] + self.matrix[1:, 0]).max())
            vehicle["max_distance"] = max(int(np.floor(limit * self.scale + 1e-6)), alone)
        durations = np.zeros_like(self.matrix)
        distances = self.matrix
        clients = [pv.Client(location=i, delivery=loads[i]) for i in range(1, p.n + 1)]
        depot = pv.Depot(location=0)
        if p.timed:  # travel time = distance; rounded up, so a plan on time in PyVRP's units is on time exactly
            durations = self._up(p.full_matrix)
            early, late, serve = self._windows()
            clients = [
                pv.Client(location=i, delivery=loads[i], service_duration=serve[i], tw_early=early[i], tw_late=late[i])
                for i in range(1, p.n + 1)
            ]
            depot = pv.Depot(location=0, tw_early=early[0], tw_late=late[0], service_duration=serve[0])
            vehicle.update(tw_early=early[0], tw_late=late[0])
            if p.min_stops >= 1 and not np.isfinite(limit):
                # the durations are travel times here, so the reward for every route (below) goes on the
                # distances between clients instead; only the cost sees it (there is no distance limit)
                distances = self.matrix + self._reward()
                np.fill_diagonal(distances, 0)
        elif p.min_stops >= 1:
            # every dispatcher must work: a "duration" of `reward` on each leg between two clients, costed per
            # unit, makes a plan with r routes cost its distance + reward * (n - r). Cutting a route in two at a
            # leg (i, j) adds at most d(i, 0) + d(0, j) < reward (and keeps every limit under the triangle
            # inequality), so PyVRP's best plans use the whole fleet and, among those, the shortest wins: an exact
            # reformulation for one stop each, a head start above one
            durations = self._reward()
            np.fill_diagonal(durations, 0)
            vehicle["unit_duration_cost"] = 1
        data: pyvrp.ProblemData = pv.ProblemData(
            locations=[pv.Location(float(x), float(y)) for x, y in coords],
            clients=clients,
            depots=[depot],
            vehicle_types=[pv.VehicleType(**vehicle)],
            distance_matrices=[distances],
            duration_matrices=[durations],
        )
        return data

    def _reward(self) -> np.ndarray:
        """``reward`` on every leg between two clients, 0 elsewhere: more than a route split at any leg adds."""
        reward = int(self.matrix[1:, 0].max() + self.matrix[0, 1:].max()) + 1
        legs = np.zeros_like(self.matrix)
        legs[1:, 1:] = reward
        return legs

    def _up(self, values: np.ndarray) -> np.ndarray:
        return np.ceil(np.asarray(values, dtype=float) * self.scale - 1e-9).astype(np.int64)

    def _windows(self) -> tuple[list[int], list[int], list[int]]:
        """Opening (rounded up), closing (rounded down) and service (rounded up) times in PyVRP's units."""
        p, huge = self.problem, np.iinfo(np.int64).max
        n1 = p.n + 1
        windows = p.windows if p.windows is not None else np.array([[0.0, np.inf]] * n1)
        early = [int(x) for x in self._up(windows[:, 0])]
        late = [huge if not np.isfinite(x) else int(np.floor(x * self.scale + 1e-9)) for x in windows[:, 1]]
        serve = [int(x) for x in self._up(p.service if p.service is not None else np.zeros(n1))]
        return early, late, serve

    def solve(
        self,
        seconds: float,
        seed: int,
        cap: float | None = None,
        initial: list[list[int]] | None = None,
        until_feasible: bool = False,
    ) -> tuple[list[list[int]], bool]:
        """Routes and whether PyVRP found them feasible; ``until_feasible`` stops at the first feasible plan."""
        from pyvrp.stop import FirstFeasible, MaxRuntime, MultipleCriteria, StoppingCriterion

        stop: StoppingCriterion = MaxRuntime(max(0.05, seconds))
        if until_feasible:
            stop = MultipleCriteria([stop, FirstFeasible()])
        data = self.data(cap)
        start = None
        if initial:
            try:
                start = self.pyvrp.Solution(data, [[i - 1 for i in r] for r in initial if r])
            except RuntimeError:
                start = None
        result = self.pyvrp.solve(
            data,
            stop=stop,
            seed=seed,
            display=False,
            collect_stats=False,
            initial_solution=start,
            params=solve_params(data),
        )
        routes = [[a.idx + 1 for a in route if a.is_client()] for route in result.best.routes()]
        return routes, bool(result.best.is_feasible())
