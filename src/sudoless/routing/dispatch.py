"""A dispatch day: several depots, a mixed fleet, orders with windows, optional orders with a penalty.

:class:`Problem` (one depot, K identical dispatchers) stays the model of the benchmarks and of the min-max work;
a :class:`Dispatch` is what a dispatcher plans in the morning, and it is its own model rather than more
optional fields on :class:`Problem`, so that no solver of the single-depot kind can be handed a fleet it would
silently treat as identical vehicles from one depot.

Locations are indexed with the depots first (``0..D-1``), then the orders (``D..D+n-1``). Every vehicle starts
at its own depot and ends at its own (possibly another) one, has a capacity per dimension (demands are
vectors), a fixed cost, a cost per distance unit and per minute of its route's duration, a shift
(``shift_start`` .. ``shift_end``), a maximum duration and distance, and a profile: the distance and duration
matrices it drives on (a van and a bicycle see different travel times; the seed's per-dispatcher W^k).

Times are minutes (a clock time ``HH:MM`` is minutes since midnight). The schedule rules, which
:func:`drive` computes and :mod:`sudoless.routing.dispatch_check` recomputes with code of its own: service at
an order starts when the vehicle arrives or when the window opens, whichever is later, and must start by the
window's end; the vehicle leaves its depot no earlier than its shift starts, and as late as it can without
coming back later than it could (the shortest working time the windows allow); it is back by the shift's end;
its working time (leaving to coming back) is at most its maximum duration. A driver's breaks are taken where
the vehicle is (after a stop's service, or at the start depot before the first drive), each for its full
duration and starting within its window, in the order they are listed; they are part of the working time, and a
vehicle left at its depot takes none. A route's cost is the vehicle's
fixed cost plus its costs per distance and per minute; an unvisited optional order costs its penalty; a plan's
cost is the sum.

This module imports nothing else of :mod:`sudoless.routing`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from sudoless.errors import InputError

INF = math.inf


@dataclass(frozen=True)
class Break:
    """A break the driver must take: ``duration`` minutes, starting between ``earliest`` and ``latest`` (as
    OR-Tools, VROOM and Optaplanner state a break: a window for its start), wherever the vehicle is then."""

    duration: float
    earliest: float = 0.0
    latest: float = INF


@dataclass(frozen=True)
class Vehicle:
    """One vehicle (one driver). ``capacity`` has one figure per demand dimension (``inf``: no limit)."""

    id: str
    start: int  # location index of the depot it leaves
    end: int  # location index of the depot it returns to
    capacity: tuple[float, ...] = ()
    fixed_cost: float = 0.0
    distance_cost: float = 1.0
    time_cost: float = 0.0
    shift_start: float = 0.0
    shift_end: float = INF
    max_duration: float = INF
    max_distance: float = INF
    profile: int = 0
    breaks: tuple[Break, ...] = ()
    # the work each driver is given: at least / at most this many stops, at least this many working minutes
    # (a driver with a minimum is never left idle; the makespan's balance is the objective, these are limits)
    min_stops: int = 0
    max_stops: float = INF
    min_duration: float = 0.0


@dataclass(frozen=True)
class Profile:
    """How a vehicle moves: its distance and duration matrices over all locations, and where they come from
    (``matrix`` a given file; ``coordinates`` computed from them at ``speed`` distance units a minute)."""

    name: str
    distance: np.ndarray = field(repr=False)
    duration: np.ndarray = field(repr=False)
    source: str = "coordinates"  # or "matrix"
    speed: float = 1.0


@dataclass(frozen=True)
class Dispatch:
    """A dispatch instance (see the module docstring for the conventions)."""

    ids: tuple[str, ...]
    depots: int  # the first ``depots`` locations are depots
    vehicles: tuple[Vehicle, ...]
    profiles: tuple[Profile, ...]
    demands: np.ndarray = field(repr=False)  # (L, dims); zero rows for the depots
    windows: np.ndarray = field(repr=False)  # (L, 2) opening and closing; (0, inf) without one
    service: np.ndarray = field(repr=False)  # (L,) minutes
    penalty: np.ndarray = field(repr=False)  # (L,) nan for a required order, else what leaving it out costs
    dimensions: tuple[str, ...] = ()
    coords: np.ndarray | None = field(default=None, repr=False)  # (L, 2) x, y or lat, lon
    geo: bool = False  # coords are latitude and longitude (great circle, metres)
    clock: bool = False  # times were given as HH:MM (shown so)
    metres: bool = False  # distances are metres (lat/lon or a road matrix JSON): shown as km
    name: str = "dispatch"

    def __post_init__(self) -> None:
        size = len(self.ids)
        if self.depots < 1 or size <= self.depots:
            raise InputError(f"{self.name}: needs at least one depot and one order")
        if len(set(self.ids)) != size:
            twice = next(x for j, x in enumerate(self.ids) if x in self.ids[:j])
            raise InputError(f"{self.name}: id {twice!r} is used twice (depots and orders share one id space)")
        if not self.vehicles:
            raise InputError(f"{self.name}: no vehicles")
        dims = len(self.dimensions)
        if np.shape(self.demands) != (size, dims):
            raise InputError(f"{self.name}: demands have shape {np.shape(self.demands)}, expected ({size}, {dims})")
        for profile in self.profiles:
            for what in (profile.distance, profile.duration):
                if np.shape(what) != (size, size):
                    raise InputError(
                        f"{self.name}: profile {profile.name} has a {np.shape(what)} matrix for {size} locations"
                    )
        for v in self.vehicles:
            if len(v.capacity) != dims:
                raise InputError(f"vehicle {v.id}: {len(v.capacity)} capacities for {dims} demand dimensions")
            if not (0 <= v.start < self.depots and 0 <= v.end < self.depots):
                raise InputError(f"vehicle {v.id}: its depots must be depots")
            if not 0 <= v.profile < len(self.profiles):
                raise InputError(f"vehicle {v.id}: profile {v.profile} is not defined")
            if v.shift_start > v.shift_end:
                raise InputError(f"vehicle {v.id}: its shift starts after it ends")
            for n, b in enumerate(v.breaks, start=1):
                if not (b.duration > 0 and math.isfinite(b.duration)) or b.earliest > b.latest:
                    raise InputError(
                        f"vehicle {v.id}: break {n} needs a positive duration and a window that opens first"
                    )
            if v.min_stops > v.max_stops:
                raise InputError(f"vehicle {v.id}: min_stops {v.min_stops} is over max_stops {v.max_stops:g}")
            if v.min_duration > v.max_duration:
                raise InputError(f"vehicle {v.id}: min_duration {v.min_duration:g} is over max_duration")
        bad = np.flatnonzero(self.windows[:, 0] > self.windows[:, 1])
        if len(bad):
            raise InputError(f"{self.name}: order {self.ids[int(bad[0])]} opens after it closes")

    @property
    def orders(self) -> range:
        """The location indices of the orders."""
        return range(self.depots, len(self.ids))

    def required(self, i: int) -> bool:
        return bool(np.isnan(self.penalty[i]))

    @property
    def minimums(self) -> bool:
        """Whether any vehicle must be given some work (a minimum of stops or of working minutes)."""
        return any(v.min_stops > 0 or v.min_duration > 0 for v in self.vehicles)

    @property
    def optional(self) -> bool:
        """Whether any order may be left out at its penalty."""
        return bool(np.any(~np.isnan(self.penalty[self.depots :])))

    def index(self, location_id: str) -> int:
        """The location index of an id of the input files."""
        try:
            return self.ids.index(location_id)
        except ValueError:
            raise InputError(f"{self.name}: unknown id {location_id!r}") from None

    def vehicle(self, vehicle_id: str) -> int:
        for k, v in enumerate(self.vehicles):
            if v.id == vehicle_id:
                return k
        raise InputError(f"{self.name}: unknown vehicle {vehicle_id!r}")


class Stop(NamedTuple):
    location: int
    arrival: float
    wait: float
    departure: float
    load: tuple[float, ...]  # still on board after the stop, per dimension


class Pause(NamedTuple):
    """A break as taken: its number (1-based, in the vehicle's list), after how many stops (0: at the start
    depot, before the first drive), where, when it starts and ends, and how long the driver waited for its
    window first."""

    number: int
    after: int
    location: int
    start: float
    end: float
    wait: float


class Trip(NamedTuple):
    """One vehicle's day: when it leaves and is back, its stops, and what it costs."""

    departure: float
    stops: list[Stop]
    back: float
    distance: float
    duration: float
    cost: float
    late: list[int]  # the orders reached after their window closed
    pauses: tuple[Pause, ...] = ()
    late_breaks: tuple[int, ...] = ()  # the breaks (numbers) that could not start by their window's end


def drive(dispatch: Dispatch, k: int, route: list[int], after: tuple[int, ...] | None = None) -> Trip:
    """Vehicle ``k``'s trip through ``route`` (order location indices) under the module's rules. An empty route
    is a vehicle left at its depot: no cost. Late arrivals are kept and listed (a check reports them).

    With breaks, ``after`` places them (stops before each, in the vehicle's order); by default they go where
    :func:`_best_places` finds best."""
    v = dispatch.vehicles[k]
    if not route:
        return Trip(v.shift_start, [], v.shift_start, 0.0, 0.0, 0.0, [])
    if after is not None or not v.breaks:
        return _schedule(dispatch, k, route, after or ())
    return _schedule(dispatch, k, route, _best_places(dispatch, k, route))


class _Part(NamedTuple):
    """The day so far as a function of the departure D: service there ends at max(D + span, ready); it is on
    time iff D <= deadline (and ``late`` is False); ``places`` says after which stop each break was taken."""

    span: float
    ready: float
    deadline: float
    late: bool
    places: tuple[int, ...]

    def then(self, travel: float, opens: float, closes: float, spent: float) -> _Part:
        """This part, a drive, and a visit with its window (an order, or a break with no drive)."""
        late = self.late or self.ready + travel > closes + 1e-9
        deadline = min(self.deadline, closes - self.span - travel)
        return _Part(
            self.span + travel + spent, max(self.ready + travel + spent, opens + spent), deadline, late, self.places
        )

    def beats(self, other: _Part) -> bool:
        """Whatever follows, this part ends no later and stays on time for every departure the other does."""
        return (
            self.late <= other.late
            and self.span <= other.span + 1e-12
            and self.ready <= other.ready + 1e-12
            and self.deadline >= other.deadline - 1e-12
        )


def _best_places(dispatch: Dispatch, k: int, route: list[int]) -> tuple[int, ...]:
    """Where vehicle ``k`` best takes its breaks along ``route``: on time if it can be, then within its shift
    and maximum, then the shortest working time, then the earliest return. Parts of the day are composed
    left to right keeping, per number of breaks taken, only those no other part beats (a dominance that holds
    whatever follows), so a long route with two breaks is not C(n+2, 2) schedules."""
    v = dispatch.vehicles[k]
    duration = dispatch.profiles[v.profile].duration
    path = [v.start, *route, v.end]
    fronts: list[list[_Part]] = [[_Part(0.0, -INF, INF, False, ())]] + [[] for _ in v.breaks]
    for p in range(len(route) + 1):
        if p:
            i, travel = route[p - 1], float(duration[path[p - 1], path[p]])
            opens, closes, spent = (
                float(dispatch.windows[i, 0]),
                float(dispatch.windows[i, 1]),
                float(dispatch.service[i]),
            )
            fronts = [[part.then(travel, opens, closes, spent) for part in front] for front in fronts]
        for m, rest in enumerate(v.breaks):
            taken = [
                part.then(0.0, rest.earliest, rest.latest, rest.duration)._replace(places=(*part.places, p))
                for part in fronts[m]
            ]
            fronts[m + 1] = _pareto(fronts[m + 1] + taken)
        fronts = [_pareto(front) for front in fronts]
    back_travel = float(duration[path[-2], path[-1]])

    def key(part: _Part) -> tuple[float, ...]:
        span, ready = part.span + back_travel, part.ready + back_travel
        back = max(v.shift_start + span, ready)
        leave = max(v.shift_start, min(part.deadline, back - span))
        late = part.late or part.deadline < v.shift_start - 1e-9
        working = max(leave + span, ready) - leave
        return (late, back > v.shift_end + 1e-9 or working > v.max_duration + 1e-9, round(working, 9), back)

    return min(fronts[-1], key=key).places


def _pareto(parts: list[_Part]) -> list[_Part]:
    """The parts no other part beats (the first of equals)."""
    kept: list[_Part] = []
    for part in parts:
        if any(other.beats(part) for other in kept):
            continue
        kept = [other for other in kept if not part.beats(other)]
        kept.append(part)
    return kept


def _schedule(dispatch: Dispatch, k: int, route: list[int], after: tuple[int, ...]) -> Trip:
    """The trip with the breaks placed by ``after``: the orders and the breaks as one sequence of visits (a
    break is a visit at the place the vehicle is, with its window and its duration as service)."""
    v = dispatch.vehicles[k]
    profile = dispatch.profiles[v.profile]
    path = [v.start, *route, v.end]
    distance = float(sum(profile.distance[a, b] for a, b in zip(path[:-1], path[1:], strict=True)))
    # (place, opens, closes, service, order location or -break number)
    visits: list[tuple[int, float, float, float, int]] = []
    for p in range(len(route) + 1):
        if p:
            i = route[p - 1]
            visits.append(
                (i, float(dispatch.windows[i, 0]), float(dispatch.windows[i, 1]), float(dispatch.service[i]), i)
            )
        visits += [
            (path[p], b.earliest, b.latest, b.duration, -(n + 1))
            for n, (b, where) in enumerate(zip(v.breaks, after, strict=True))
            if where == p
        ]
    places = [v.start, *(x[0] for x in visits), v.end]
    travel = [0.0 if a == b else float(profile.duration[a, b]) for a, b in zip(places[:-1], places[1:], strict=True)]
    opens, closes, serve = [x[1] for x in visits], [x[2] for x in visits], [x[3] for x in visits]
    # earliest service starts, leaving at the shift start: they fix the earliest possible return
    clock = v.shift_start
    for j in range(len(visits)):
        clock = max(clock + travel[j], opens[j]) + serve[j]
    back = clock + travel[-1]
    # the latest departure that still comes back then (every service no later than it can be)
    latest = back - travel[-1]
    for j in reversed(range(len(visits))):
        latest = min(closes[j], latest - serve[j]) - travel[j]
    departure = max(v.shift_start, latest)
    on_board = dispatch.demands[route].sum(axis=0) if dispatch.dimensions else np.zeros(0)
    clock, stops, late, pauses, late_breaks = departure, [], [], [], []
    for j, (place, _, _, _, what) in enumerate(visits):
        arrival = clock + travel[j]
        begin = max(arrival, opens[j])
        clock = begin + serve[j]
        if what >= 0:
            if arrival > closes[j] + 1e-9:
                late.append(what)
            on_board = on_board - dispatch.demands[what]
            stops.append(Stop(what, arrival, begin - arrival, clock, tuple(float(x) for x in on_board)))
        else:
            if arrival > closes[j] + 1e-9:
                late_breaks.append(-what)
            pauses.append(Pause(-what, len(stops), place, begin, clock, begin - arrival))
    back = clock + travel[-1]
    duration = back - departure
    cost = v.fixed_cost + v.distance_cost * distance + v.time_cost * duration
    return Trip(departure, stops, back, distance, duration, cost, late, tuple(pauses), tuple(late_breaks))


class Limit(enum.Enum):
    """Which rule a route breaks: what a solver reasons on, never the wording of the message (which carries
    order, depot and dimension names that may contain any word)."""

    ROAD = "road"
    CAPACITY = "capacity"
    WINDOW = "window"
    SHIFT = "shift"
    DURATION = "duration"
    DISTANCE = "distance"
    STOPS = "stops"  # over the maximum of stops
    WORK = "work"  # short of the minimum work (stops or working minutes)


class Infeasibility(NamedTuple):
    """One broken rule of a route: the rule, and the sentence that tells a person about it."""

    limit: Limit
    text: str


def violations(
    dispatch: Dispatch, k: int, route: list[int], trip: Trip | None = None, minimums: bool = True
) -> list[Infeasibility]:
    """What is wrong with vehicle ``k`` driving ``route`` (empty when nothing is): roads missing from its
    matrix, capacity per dimension, windows, shift end, maximum duration and distance, and its work (minimum
    and maximum stops, minimum working minutes; an idle vehicle with a minimum is short of it too). Without
    ``minimums`` the minimum work is left out: what a search that fills short routes later needs to know."""
    v, trip = dispatch.vehicles[k], trip or drive(dispatch, k, route)
    problems: list[Infeasibility] = []
    path = [v.start, *route, v.end] if route else []
    matrix = dispatch.profiles[v.profile].distance
    problems += [
        Infeasibility(Limit.ROAD, f"has no road from {dispatch.ids[a]} to {dispatch.ids[b]}")
        for a, b in zip(path, path[1:], strict=False)
        if not math.isfinite(float(matrix[a, b]))
    ]
    if route:
        load = dispatch.demands[route].sum(axis=0)
        for d, name in enumerate(dispatch.dimensions):
            if load[d] > v.capacity[d] + 1e-9:
                text = f"carries {load[d]:g} {name}, over its capacity {v.capacity[d]:g}"
                problems.append(Infeasibility(Limit.CAPACITY, text))
        problems += [
            Infeasibility(Limit.WINDOW, f"reaches {dispatch.ids[i]} after its window closes") for i in trip.late
        ]
        problems += [
            Infeasibility(Limit.WINDOW, f"cannot start break {n} before its window closes") for n in trip.late_breaks
        ]
        if trip.back > v.shift_end + 1e-9:
            text = f"is back at {trip.back:g}, after its shift ends at {v.shift_end:g}"
            problems.append(Infeasibility(Limit.SHIFT, text))
        if trip.duration > v.max_duration + 1e-9:
            text = f"works {trip.duration:g} minutes, over its maximum {v.max_duration:g}"
            problems.append(Infeasibility(Limit.DURATION, text))
        if trip.distance > v.max_distance * (1 + 1e-9) + 1e-9:
            text = f"drives {trip.distance:g}, over its maximum {v.max_distance:g}"
            problems.append(Infeasibility(Limit.DISTANCE, text))
    if len(route) > v.max_stops:
        problems.append(Infeasibility(Limit.STOPS, f"makes {len(route)} stops, over its maximum {v.max_stops:g}"))
    if minimums:
        problems += [Infeasibility(Limit.WORK, text) for text in short_of_work(v, len(route), trip.duration)]
    return problems


def short_of_work(v: Vehicle, stops: int, duration: float) -> list[str]:
    """How vehicle ``v`` with ``stops`` stops and ``duration`` working minutes falls short of its minimum work."""
    problems = []
    if stops < v.min_stops:
        problems.append(f"makes {stops} stops, under its minimum {v.min_stops}")
    if duration < v.min_duration - 1e-9:
        problems.append(f"works {duration:g} minutes, under its minimum {v.min_duration:g}")
    return problems


def infeasibilities(
    dispatch: Dispatch, k: int, route: list[int], trip: Trip | None = None, minimums: bool = True
) -> list[str]:
    """:func:`violations` in words, for a person (the plan's list, the check's report)."""
    return [problem.text for problem in violations(dispatch, k, route, trip, minimums)]


@dataclass
class Plan:
    """One route per vehicle (order location indices; empty: the vehicle stays at its depot)."""

    routes: list[list[int]]
    solver: str
    seconds: float = 0.0
    optimal: bool = False
    notes: dict[str, object] = field(default_factory=dict)  # what the solver did (parts, rounds, probes)
    goal: Goal | None = None  # what it was solved for (None: the cost)

    def served(self) -> set[int]:
        return {i for route in self.routes for i in route}

    def unserved(self, dispatch: Dispatch) -> list[int]:
        served = self.served()
        return [i for i in dispatch.orders if i not in served]

    def cost(self, dispatch: Dispatch) -> float:
        trips = sum(drive(dispatch, k, r).cost for k, r in enumerate(self.routes))
        return trips + sum(_penalty(dispatch, i) for i in self.unserved(dispatch))


OBJECTIVES = ("cost", "makespan", "blend")  # a dispatch's objectives (the blend: cost + weight x makespan)


@dataclass(frozen=True)
class Goal:
    """What a dispatch plan is judged by: its ``cost`` (penalties included), its ``makespan`` (the longest
    working time of any vehicle, in minutes), or the ``blend``: cost + ``weight`` x makespan."""

    objective: str = "cost"
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise InputError(f"unknown dispatch objective '{self.objective}'; use {', '.join(OBJECTIVES)}")
        if not (math.isfinite(self.weight) and self.weight >= 0):
            raise InputError(f"the makespan weight must be a number >= 0, got {self.weight:g}")

    @property
    def balanced(self) -> bool:
        return self.objective != "cost"

    def value(self, dispatch: Dispatch, routes: list[list[int]]) -> float:
        trips = [drive(dispatch, k, r) for k, r in enumerate(routes)]
        served = {i for r in routes for i in r}
        cost = sum(t.cost for t in trips) + sum(_penalty(dispatch, i) for i in dispatch.orders if i not in served)
        return self.combine(cost, max((t.duration for t in trips), default=0.0))

    def combine(self, cost: float, makespan: float) -> float:
        """The value of a plan of this ``cost`` (penalties included) and ``makespan``."""
        if self.objective == "makespan":
            return makespan
        return cost + self.weight * makespan if self.objective == "blend" else cost


def longest(dispatch: Dispatch, routes: list[list[int]]) -> float:
    """The makespan: the longest working time of any vehicle."""
    return max((drive(dispatch, k, r).duration for k, r in enumerate(routes)), default=0.0)


def feasible(dispatch: Dispatch, routes: list[list[int]], minimums: bool = True) -> bool:
    """Every vehicle keeps every limit (without ``minimums``: but its minimum work) and every required order is
    served once (the solvers' own test; plans are checked independently by
    :mod:`sudoless.routing.dispatch_check`)."""
    served = [i for r in routes for i in r]
    if len(served) != len(set(served)) or any(dispatch.required(i) for i in set(dispatch.orders) - set(served)):
        return False
    return not any(infeasibilities(dispatch, k, r, minimums=minimums) for k, r in enumerate(routes))


def _penalty(dispatch: Dispatch, i: int) -> float:
    return INF if dispatch.required(i) else float(dispatch.penalty[i])


def why_unserved(dispatch: Dispatch, i: int) -> str:
    """Why an order is not in the plan, in words: nothing in the fleet could serve it alone, or its penalty
    is below what serving it would add."""
    name = dispatch.ids[i]
    fits = [
        k
        for k, v in enumerate(dispatch.vehicles)
        if all(dispatch.demands[i, d] <= v.capacity[d] + 1e-9 for d in range(len(dispatch.dimensions)))
    ]
    if not fits:
        return f"{name}: its demand is over every vehicle's capacity"
    alone = [k for k in fits if not infeasibilities(dispatch, k, [i])]
    if not alone:
        return f"{name}: no vehicle can reach it within its window, shift and limits"
    if dispatch.required(i):
        return f"{name}: required, but the solver found no plan that serves it"
    return f"{name}: left out; serving it would cost more than its penalty {float(dispatch.penalty[i]):g}"


def distance_text(dispatch: Dispatch, distance: float | None) -> str:
    """A distance for people: kilometres with one decimal when the unit is metres, else the figure itself
    (``-`` for a route over a pair without a road, whose figures the plan leaves empty)."""
    if distance is None or not math.isfinite(distance):
        return "-"
    if dispatch.metres:
        return f"{distance / 1000:.1f} km"
    return f"{distance:.1f}" if abs(distance - round(distance)) > 1e-9 else f"{distance:g}"


def money_text(cost: float | None) -> str:
    return "-" if cost is None or not math.isfinite(cost) else f"{cost:.2f}"


def clock_text(minutes: float | None) -> str:
    """``HH:MM`` of minutes since midnight (rounded to the minute; past midnight as 24:10 and on)."""
    if minutes is None or not math.isfinite(minutes):
        return "-"
    whole = int(round(minutes))
    return f"{whole // 60:02d}:{whole % 60:02d}"
