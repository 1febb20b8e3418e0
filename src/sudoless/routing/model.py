"""The routing problem: one depot, locations, K dispatchers, work limits and an objective.

Locations are indexed 0..n with 0 the depot; a route is a list of location indices without the depot (it
starts and ends there). Distances come from planar coordinates (optionally rounded per edge, TSPLIB ``nint``,
which the CVRPLIB best-knowns assume), from latitude/longitude (great circle, metres), or from a given matrix.
Up to :data:`DENSE_LIMIT` locations the full matrix is kept; above it distances are computed on demand so
memory stays linear in n (city-scale instances go through :mod:`sudoless.routing.spark`).

Time windows and service durations are optional. Their conventions are those of Solomon's benchmark, which
the literature's best-knowns assume: travel time equals distance; a stop's service starts when the vehicle
arrives or when the window opens, whichever is later, and must start no later than the window's due time; the
vehicle is back at the depot by the depot's due time (the working day). A route leaves the depot as late as it
can without waiting at its first stop (never before the depot opens), so the waits a driver sees are the ones
the windows force. :func:`schedule` computes a route's times; :mod:`sudoless.routing.check` recomputes them
with its own code, so a bug here cannot hide. Which solvers accept windows: :mod:`sudoless.routing.windows`.

This is the lowest layer of :mod:`sudoless.routing`: it imports nothing else of the package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, NamedTuple

import numpy as np

from sudoless.errors import FleetSizeError, InputError

DENSE_LIMIT = 4000
EARTH_RADIUS_M = 6_371_008.8


class Metric(StrEnum):
    EUCLIDEAN = "euclidean"  # real-valued planar distance
    ROUNDED = "rounded"  # planar distance rounded to the nearest integer per edge (TSPLIB nint)
    GEO = "geo"  # great-circle metres; coordinates are (latitude, longitude) in degrees
    MATRIX = "matrix"  # an explicit matrix was given


class Objective(StrEnum):
    TOTAL = "total"  # sum of route distances
    MAKESPAN = "makespan"  # longest route (balanced, min-max)
    BLEND = "blend"  # total + makespan_weight * longest route


@dataclass(frozen=True)
class Problem:
    """A routing instance. ``dispatchers`` routes at most; a route may stay empty unless ``min_stops`` >= 1."""

    coords: np.ndarray | None  # (n+1, 2) float64, row 0 the depot; None with an explicit matrix
    dispatchers: int
    ids: tuple[str, ...] = ()  # empty: "0".."n"
    demands: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (n+1,), depot 0; empty: none
    capacity: float | None = None
    min_stops: int = 0
    max_stops: int | None = None
    max_distance: float | None = None
    objective: Objective = Objective.TOTAL
    makespan_weight: float = 1.0
    metric: Metric = Metric.EUCLIDEAN
    matrix: np.ndarray | None = field(default=None, repr=False)
    name: str = "routes"
    windows: np.ndarray | None = field(default=None, repr=False)  # (n+1, 2) ready, due; row 0 the working day
    service: np.ndarray | None = field(default=None, repr=False)  # (n+1,) service duration at each location

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "objective", Objective(self.objective))
            object.__setattr__(self, "metric", Metric(self.metric))
        except ValueError as exc:
            raise InputError(f"{self.name}: {exc}") from None
        if self.coords is not None:
            n1 = len(self.coords)
        elif self.matrix is not None:
            n1 = len(self.matrix)
        else:
            raise InputError(f"{self.name}: needs coordinates or a distance matrix")
        if n1 < 2:
            raise InputError(f"{self.name}: needs a depot and at least one location, got {n1} rows")
        if self.dispatchers < 1:
            raise FleetSizeError(f"{self.name}: --dispatchers must be at least 1, got {self.dispatchers}")
        if not self.ids:
            object.__setattr__(self, "ids", tuple(str(i) for i in range(n1)))
        if len(self.ids) != n1:
            raise InputError(f"{self.name}: {len(self.ids)} ids for {n1} locations")
        if self.demands is None or np.size(self.demands) == 0:
            object.__setattr__(self, "demands", np.zeros(n1))
        self._check_windows(n1)
        if self.max_stops is not None and self.max_stops < max(self.min_stops, 1):
            raise InputError(f"{self.name}: max stops {self.max_stops} is below min stops {self.min_stops}")
        n = n1 - 1
        if self.max_stops is not None and self.max_stops * self.dispatchers < n:
            raise FleetSizeError(
                f"{self.name}: {self.dispatchers} dispatchers x max {self.max_stops} stops "
                f"cannot serve {n} locations; raise --max-stops or --dispatchers"
            )
        if self.min_stops * self.dispatchers > n:
            raise FleetSizeError(
                f"{self.name}: {self.dispatchers} dispatchers x min {self.min_stops} stops needs "
                f"{self.min_stops * self.dispatchers} locations, there are {n}"
            )
        if self.capacity is not None and np.any(self.demands > self.capacity):
            worst = int(np.argmax(self.demands))
            raise InputError(
                f"{self.name}: location {self.ids[worst]} demands {self.demands[worst]:g}, more than "
                f"the capacity {self.capacity:g}"
            )
        if self.capacity is not None and float(self.demands.sum()) > self.capacity * self.dispatchers + 1e-9:
            raise FleetSizeError(
                f"{self.name}: total demand {float(self.demands.sum()):g} exceeds {self.dispatchers} "
                f"dispatchers x capacity {self.capacity:g}; add dispatchers"
            )
        if self.matrix is None and n1 <= DENSE_LIMIT:
            object.__setattr__(self, "matrix", self._pairwise(np.arange(n1), np.arange(n1)))

    def _check_windows(self, n1: int) -> None:
        """Shapes and ordering of the time windows and service durations, kept as float arrays."""
        if self.windows is not None:
            windows = np.asarray(self.windows, dtype=float)
            if windows.shape != (n1, 2):
                raise InputError(f"{self.name}: time windows have shape {windows.shape}, expected ({n1}, 2)")
            bad = np.flatnonzero(windows[:, 0] > windows[:, 1])
            if len(bad):
                i = int(bad[0])
                raise InputError(
                    f"{self.name}: location {self.ids[i]} opens at {windows[i, 0]:g}, "
                    f"after it closes at {windows[i, 1]:g}"
                )
            object.__setattr__(self, "windows", windows)
        if self.service is not None:
            service = np.asarray(self.service, dtype=float)
            if service.shape != (n1,) or np.any(service < 0):
                raise InputError(f"{self.name}: service durations must be {n1} numbers >= 0")
            object.__setattr__(self, "service", service)

    @property
    def n(self) -> int:
        """Number of locations, the depot excluded."""
        return len(self.ids) - 1

    @property
    def timed(self) -> bool:
        """Whether the instance has time windows or service durations (a schedule per route)."""
        return self.windows is not None or self.service is not None

    @property
    def dense(self) -> bool:
        return self.matrix is not None

    @property
    def full_matrix(self) -> np.ndarray:
        """The dense distance matrix, for the solvers that need one (instances above :data:`DENSE_LIMIT`
        locations have none: they are solved in parts, each with a matrix of its own)."""
        if self.matrix is None:
            raise InputError(
                f"{self.name}: {self.n} locations is above the {DENSE_LIMIT - 1} this solver handles; "
                "use --solver auto (parts of the instance)"
            )
        return self.matrix

    def with_(self, **changes: Any) -> Problem:
        return replace(self, **changes)

    def _pairwise(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._metric(self._coords(a)[:, None, :], self._coords(b)[None, :, :])

    def _coords(self, index: np.ndarray) -> np.ndarray:
        """Coordinates of ``index``: an instance without a kept matrix always has coordinates."""
        if self.coords is None:
            raise InputError(f"{self.name}: distances need coordinates or a distance matrix")
        return self.coords[index]

    def _metric(self, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
        """Distances between broadcast coordinate arrays (last axis = the two coordinates)."""
        if self.metric == Metric.GEO:
            lat1, lon1 = np.radians(pa[..., 0]), np.radians(pa[..., 1])
            lat2, lon2 = np.radians(pb[..., 0]), np.radians(pb[..., 1])
            h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
            return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
        d = np.hypot(pa[..., 0] - pb[..., 0], pa[..., 1] - pb[..., 1])
        return np.floor(d + 0.5) if self.metric == Metric.ROUNDED else d

    def distances(self, a: np.ndarray | list[int], b: np.ndarray | list[int]) -> np.ndarray:
        """The |a| x |b| block of the distance matrix (computed when the full matrix is not kept)."""
        rows, columns = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        if self.matrix is not None:
            return self.matrix[np.ix_(rows, columns)]
        return self._pairwise(rows, columns)

    def legs(self, a: np.ndarray | list[int], b: np.ndarray | list[int]) -> np.ndarray:
        """Distances of the pairs (a[i], b[i])."""
        starts, ends = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        if self.matrix is not None:
            return self.matrix[starts, ends]
        return self._metric(self._coords(starts), self._coords(ends))

    def route_length(self, route: list[int] | np.ndarray) -> float:
        if len(route) == 0:
            return 0.0
        path = np.concatenate(([0], np.asarray(route, dtype=np.int64), [0]))
        return float(self.legs(path[:-1], path[1:]).sum())

    def score(self, lengths: list[float]) -> float:
        """The objective value of a solution whose routes have these lengths."""
        total, longest = float(sum(lengths)), float(max(lengths, default=0.0))
        if self.objective == Objective.TOTAL:
            return total
        if self.objective == Objective.MAKESPAN:
            return longest
        return total + self.makespan_weight * longest

    def farthest_bound(self) -> float:
        """Twice the distance to the farthest location: a lower bound on the longest route."""
        return 2.0 * float(self.distances([0], np.arange(1, self.n + 1)).max())


@dataclass
class Solution:
    """Routes (location indices, depot implicit at both ends) and what the solver knows about them."""

    routes: list[list[int]]
    solver: str
    seconds: float = 0.0
    bound: float | None = None  # a proven lower bound on the objective, when the solver has one
    optimal: bool = False
    notes: dict[str, object] = field(default_factory=dict)

    def lengths(self, problem: Problem) -> list[float]:
        return [problem.route_length(r) for r in self.routes]

    def loads(self, problem: Problem) -> list[float]:
        return [_load(problem, r) for r in self.routes]

    def objective(self, problem: Problem) -> float:
        return problem.score(self.lengths(problem))

    def gap(self, problem: Problem) -> float | None:
        if self.bound is None:
            return None
        value = self.objective(problem)
        return 0.0 if value <= 0 else max(0.0, (value - self.bound) / value)

    def summary(self, problem: Problem) -> dict[str, object]:
        """The JSON form: one route per dispatcher (an idle one has no stops) as location ids, per-route
        distance and load, the idle dispatchers' numbers, totals, bound and gap; figures :func:`rounded`."""
        routes = self.routes + [[] for _ in range(problem.dispatchers - len(self.routes))]
        lengths, loads = [problem.route_length(r) for r in routes], [_load(problem, r) for r in routes]
        gap = self.gap(problem)
        return {
            "instance": problem.name,
            "solver": self.solver,
            "objective_kind": problem.objective.value,
            **({"makespan_weight": problem.makespan_weight} if problem.objective == Objective.BLEND else {}),
            "objective": rounded(problem.score(lengths)),
            "total_distance": rounded(sum(lengths)),
            "makespan": rounded(max(lengths, default=0.0)),
            "metric": problem.metric.value,
            "routes": [
                {
                    "dispatcher": k + 1,
                    "stops": [problem.ids[i] for i in r],
                    "distance": rounded(length),
                    "load": rounded(load),
                    **(_timeline(problem, r) if problem.timed else {}),
                }
                for k, (r, length, load) in enumerate(zip(routes, lengths, loads, strict=True))
            ],
            "idle": idle_dispatchers(routes, problem.dispatchers),
            "seconds": round(self.seconds, 3),
            "bound": None if self.bound is None else rounded(self.bound),
            "gap": None if gap is None else round(gap, 6),
            "optimal": self.optimal,
        }


class Visit(NamedTuple):
    location: int  # location index
    arrival: float
    wait: float
    departure: float
    load: float  # still on board after the stop


class Schedule(NamedTuple):
    start: float  # leaves the depot
    visits: list[Visit]
    end: float  # back at the depot


def window(problem: Problem, i: int) -> tuple[float, float]:
    """Location ``i``'s time window (the whole line without windows)."""
    if problem.windows is None:
        return 0.0, float("inf")
    return float(problem.windows[i, 0]), float(problem.windows[i, 1])


def service(problem: Problem, i: int) -> float:
    """The service duration at location ``i``."""
    return 0.0 if problem.service is None else float(problem.service[i])


def schedule(problem: Problem, route: list[int]) -> Schedule:
    """The route's times under the conventions above (late arrivals are kept: the check reports them)."""
    opens, _ = window(problem, 0)
    if not route:
        return Schedule(opens, [], opens)
    path = [0, *route, 0]
    legs = problem.legs(path[:-1], path[1:])
    start = max(opens, window(problem, route[0])[0] - float(legs[0]))
    on_board = float(problem.demands[route].sum())
    at, visits = start + service(problem, 0), []
    for i, leg in zip(route, legs[:-1], strict=True):
        arrival = at + float(leg)
        begin = max(arrival, window(problem, i)[0])
        on_board -= float(problem.demands[i])
        at = begin + service(problem, i)
        visits.append(Visit(i, arrival, begin - arrival, at, on_board))
    return Schedule(start, visits, at + float(legs[-1]))


def _timeline(problem: Problem, route: list[int]) -> dict[str, object]:
    """A route's times for the JSON plan: departure from and return to the depot, and each stop's arrival,
    wait, departure and load still on board after it (:func:`schedule`)."""
    plan = schedule(problem, route)
    return {
        "start": rounded(plan.start),
        "end": rounded(plan.end),
        "schedule": [
            {
                "id": problem.ids[v.location],
                "arrival": rounded(v.arrival),
                "wait": rounded(v.wait),
                "departure": rounded(v.departure),
                "load": rounded(v.load),
            }
            for v in plan.visits
        ],
    }


def _load(problem: Problem, route: list[int]) -> float:
    return float(problem.demands[route].sum()) if route else 0.0


def idle_dispatchers(routes: list[list[int]], dispatchers: int) -> list[int]:
    """The 1-based numbers of the dispatchers with no stops: empty routes and those past the last route.

    Solvers leave routes empty when fewer routes are cheaper (for total distance under the triangle inequality,
    merging two routes never makes the total longer); ``min_stops=1`` makes every dispatcher take a stop.
    """
    return [k for k in range(1, dispatchers + 1) if k > len(routes) or not routes[k - 1]]


def describe_idle(numbers: list[int]) -> str:
    """``dispatchers 2 and 3 have no stops`` (or ``dispatcher 2 has``), for messages; at most ten numbers named."""
    names = [str(k) for k in numbers[:10]]
    if len(numbers) > 10:
        names.append(f"{len(numbers) - 10} more")
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"dispatcher {listed} has no stops" if len(numbers) == 1 else f"dispatchers {listed} have no stops"


def rounded(x: float) -> float | int:
    """A figure for JSON: an integer when it is one, else six decimals (no ``0.31999999999993634``).

    Six decimals keep claimed costs within :mod:`sudoless.routing.check`'s relative tolerance of 1e-6.
    """
    return int(round(x)) if abs(x - round(x)) < 1e-9 else round(float(x), 6)


def ceil_routes(problem: Problem) -> int:
    """The fewest routes the capacity and stop limits allow (a lower bound on the routes used)."""
    need = 1
    if problem.capacity:
        need = max(need, math.ceil(float(problem.demands.sum()) / problem.capacity - 1e-9))
    if problem.max_stops:
        need = max(need, math.ceil(problem.n / problem.max_stops))
    return need
