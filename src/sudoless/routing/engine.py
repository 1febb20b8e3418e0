"""PyVRP as the engine: the whole instance (or one part) solved by its iterated local search.

PyVRP works on integer distances: rounded instances go as they are, others are scaled by :data:`SCALE` and
re-measured with the true distances afterwards. Max stops become a second load dimension (each stop weighs 1),
capacity the first. Open-source PyVRP has no balancing objective, so the makespan objective is added on top:
from a giant tour cut for the makespan, PyVRP is asked for plans whose every route stays under ever lower caps
(:mod:`sudoless.routing.minmax`); the last plan is polished by sudoless' min-max local search. Minimum stops,
which PyVRP lacks too: PyVRP is rewarded for every route it uses (so it fills the fleet, exactly what one stop
each asks), and the same local search repairs routes still short of a higher minimum (its moves fix them first).
"""

from __future__ import annotations

import time

import numpy as np

from sudoless.errors import InputError
from sudoless.extras import install_hint
from sudoless.routing.check import check
from sudoless.routing.decompose import Part
from sudoless.routing.improve import improve
from sudoless.routing.model import Metric, Objective, Problem, Solution

SCALE = 1000.0
BLEND_START = 0.3  # of the budget for the shortest plan that the blend's capped probes start from
POLISH = 0.05  # of the budget left to the min-max local search after the capped probes


def _pyvrp():  # type: ignore[no-untyped-def]
    try:
        import pyvrp
    except ImportError:
        raise install_hint("the engine solver", "routing", "pyvrp") from None
    return pyvrp


class Engine:
    """One problem translated to PyVRP data; solves with or without a cap on route distance."""

    def __init__(self, problem: Problem) -> None:
        self.pyvrp = _pyvrp()
        self.problem = problem
        matrix = problem.matrix
        assert matrix is not None, "the engine needs a dense problem"
        integral = problem.metric in (Metric.ROUNDED,) or bool(np.allclose(matrix, np.round(matrix)))
        self.scale = 1.0 if integral else SCALE
        self.matrix = np.round(matrix * self.scale).astype(np.int64)
        demands = np.asarray(problem.demands, dtype=float)
        self.qscale = 1.0 if np.allclose(demands, np.round(demands)) else SCALE

    def data(self, cap: float | None):  # type: ignore[no-untyped-def]
        pv, p = self.pyvrp, self.problem
        coords = p.coords if p.coords is not None else np.zeros((p.n + 1, 2))
        dims: list[int] = []
        loads: list[list[int]] = [[] for _ in range(p.n + 1)]
        if p.capacity is not None:
            dims.append(int(round(p.capacity * self.qscale)))
            for i in range(1, p.n + 1):
                loads[i].append(int(round(float(p.demands[i]) * self.qscale)))  # type: ignore[index]
        if p.max_stops is not None:
            dims.append(p.max_stops)
            for i in range(1, p.n + 1):
                loads[i].append(1)
        limit = min(x for x in (cap, p.max_distance, float("inf")) if x is not None)
        vehicle = {"num_available": p.dispatchers, "capacity": dims}
        if np.isfinite(limit):
            # never below the longest out-and-back in PyVRP's rounded units: a cap at exactly twice the
            # farthest distance would otherwise exclude that location's own route after rounding
            alone = int((self.matrix[0, 1:] + self.matrix[1:, 0]).max())
            vehicle["max_distance"] = max(int(np.floor(limit * self.scale + 1e-6)), alone)
        durations = np.zeros_like(self.matrix)
        clients = [pv.Client(location=i, delivery=loads[i]) for i in range(1, p.n + 1)]
        depot = pv.Depot(location=0)
        if p.timed:  # travel time = distance; rounded up, so a plan on time in PyVRP's units is on time exactly
            durations = self._up(p.matrix)  # type: ignore[arg-type]
            early, late, serve = self._windows()
            clients = [
                pv.Client(
                    location=i, delivery=loads[i], service_duration=serve[i], tw_early=early[i], tw_late=late[i]
                )
                for i in range(1, p.n + 1)
            ]
            depot = pv.Depot(location=0, tw_early=early[0], tw_late=late[0], service_duration=serve[0])
            vehicle.update(tw_early=early[0], tw_late=late[0])
        elif p.min_stops >= 1:
            # every dispatcher must work: a "duration" of `reward` on each leg between two clients, costed per
            # unit, makes a plan with r routes cost its distance + reward * (n - r). Cutting a route in two at a
            # leg (i, j) adds at most d(i, 0) + d(0, j) < reward (and keeps every limit under the triangle
            # inequality), so PyVRP's best plans use the whole fleet and, among those, the shortest wins: an exact
            # reformulation for one stop each, a head start above one
            reward = int(self.matrix[1:, 0].max() + self.matrix[0, 1:].max()) + 1
            durations[1:, 1:] = reward
            np.fill_diagonal(durations, 0)
            vehicle["unit_duration_cost"] = 1
        return pv.ProblemData(
            locations=[pv.Location(float(x), float(y)) for x, y in coords],
            clients=clients,
            depots=[depot],
            vehicle_types=[pv.VehicleType(**vehicle)],
            distance_matrices=[self.matrix],
            duration_matrices=[durations],
        )

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
        from pyvrp.stop import FirstFeasible, MaxRuntime, MultipleCriteria

        stop = MaxRuntime(max(0.05, seconds))
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
        )
        routes = [[a.idx + 1 for a in route if a.is_client()] for route in result.best.routes()]
        return routes, bool(result.best.is_feasible())


def _tour_cut(problem: Problem, time_limit: float) -> list[list[int]]:
    """A giant tour cut by Split for the problem's objective: the makespan's start, the total's fallback."""
    from sudoless.routing.divide import cut
    from sudoless.routing.tsp import giant_tour

    return cut(problem, giant_tour(problem, seconds=min(1.0, 0.02 * time_limit)))


def resolve(part: Part, routes: list[list[int]], seconds: float, seed: int) -> list[list[int]]:
    """PyVRP on the customers of ``routes`` (parent indices, ``part`` holds them), started from those routes:
    its routes in parent indices when they keep every limit and are no worse, else ``routes`` unchanged. Route-
    based decomposition, on the cores of one machine (sectors) and on Spark (the second pass at scale)."""
    from sudoless.routing.decompose import stitch

    problem = part.build()
    local = {int(c): i + 1 for i, c in enumerate(part.members)}
    start = [[local[c] for c in r] for r in routes]
    found, ok = Engine(problem).solve(seconds, seed, initial=start)

    def cost(plan: list[list[int]]) -> float:
        return problem.score([problem.route_length(r) for r in plan])

    if not ok or not check(problem, found).feasible or cost(found) > cost(start):
        return routes
    return stitch([part], [found])


def solve_engine(problem: Problem, time_limit: float = 10.0, seed: int = 0, workers: int = 1) -> Solution:
    """PyVRP on the whole (dense) problem, with min-max balancing and minimum stops added on top; ``workers``
    processes probe caps for the makespan in parallel (:mod:`sudoless.routing.minmax`)."""
    from sudoless.routing.windows import refuse

    refuse(problem, "engine")
    started = time.monotonic()
    deadline = started + time_limit
    if problem.objective == Objective.MAKESPAN:
        from sudoless.routing.farthest import SHARE, reach_farthest_bound

        tight = reach_farthest_bound(problem, seconds=SHARE * time_limit, seed=seed)
        if tight is not None:
            bound = problem.farthest_bound()
            return Solution(tight, "engine", time.monotonic() - started, bound=bound, optimal=True)
    balanced = problem.objective != Objective.TOTAL
    time_limit = deadline - time.monotonic()  # what the attempt at the bound left
    probes = 0
    if balanced:  # a cut giant tour, then ever lower caps on the route length (sudoless.routing.minmax)
        from sudoless.routing.minmax import lower_cap

        if problem.objective == Objective.MAKESPAN:
            start = _tour_cut(problem, time_limit)
        else:  # the blend: from the shortest plan, which may be the best blend already
            start, _ = Engine(problem).solve(BLEND_START * time_limit, seed)
        routes, probes = lower_cap(problem, start, deadline - POLISH * time_limit, seed, workers)
    elif problem.timed:  # PyVRP alone: the cut and the local search below do not know the windows
        routes, ok = Engine(problem).solve(time_limit, seed)
        if not ok:
            raise InputError(
                f"{problem.name}: no plan found that keeps every time window and limit in {time_limit:g} s; "
                "allow more time or more dispatchers"
            )
        return Solution(routes, "engine", time.monotonic() - started)
    else:
        routes, ok = Engine(problem).solve(time_limit * (0.7 if problem.min_stops else 0.95), seed)
        if not ok:  # PyVRP ended over a limit (seen on 1,500-customer parts with max stops): a cut that keeps them
            fallback = _tour_cut(problem, time_limit)
            if check(problem.with_(min_stops=0), fallback).feasible:
                routes = fallback  # else PyVRP's plan, and the local search below repairs what it can
    remaining = max(0.0, deadline - time.monotonic())
    if balanced or problem.min_stops or remaining > 0.2:
        routes = improve(problem, routes, seconds=max(0.2, remaining), seed=seed)
    return Solution(routes, "engine", time.monotonic() - started, notes={"probes": probes})
