"""A dispatch as PyVRP data, solved: PyVRP has every part of it natively (several depots, one vehicle type per
vehicle with its own depots, capacities, costs, shift, maximum duration and distance, a routing profile per
distinct matrix, optional clients with a prize).

PyVRP 0.14 has no breaks. A driver's break is taken where the vehicle is, so it is given to PyVRP as a group of
pseudo-clients of which exactly one is visited (a required mutually exclusive :class:`pyvrp.ClientGroup`): one
at a copy of each place the break could follow (the vehicle's start depot and the orders whose window opens
early enough; at most :data:`HOSTS`), with the break's duration as service and its window. A copy is reachable
in this vehicle's own profile only (where it is as far from everything as the place it copies, and at no
distance from it) and dearer than any whole route in every other, so only this vehicle takes the break, and a
detour to take it costs its real distance. From PyVRP's routes the pseudo-clients are dropped;
:func:`~sudoless.routing.dispatch.drive` places the breaks on the order sequence again, at their best place. A
vehicle with breaks is planned as used (the group is required; a route of breaks only becomes a vehicle left at
its depot), which makes its fixed cost look sunk: the engine (:func:`_cheapest`) also tries the groups
optional, at a prize (:meth:`DispatchModel._break_prize`).

PyVRP works in integers. Distances and times are scaled by 1 when every figure of theirs is a whole number,
else by 1000; travel and service times are rounded up and window ends down, so a plan on time in PyVRP's units
is on time exactly. Costs are put on one integer scale (:func:`_cost_scale`) so that the fixed costs, the costs
per distance and per minute and the penalties keep their ratios. The plan PyVRP returns is measured again with
the true figures (:func:`~sudoless.routing.dispatch.drive`) and checked independently by the caller.

A maximum of stops per vehicle is one more load dimension (each order weighs 1 in it). What PyVRP lacks, the
engine adds on top (:func:`solve_dispatch_engine`): the makespan and the blend through plans under ever lower caps
on every vehicle's working time, and minimum work per driver through a local search
(:mod:`sudoless.routing.dispatch_search`).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from sudoless.routing.dispatch import Dispatch, Goal, Plan, drive, feasible, infeasibilities, longest
from sudoless.routing.dispatch_search import search
from sudoless.routing.pyvrp_adapter import UNREACHABLE, _pyvrp, solve_params, units

if TYPE_CHECKING:
    import pyvrp


HOSTS = 25  # the most places a vehicle's breaks are offered to PyVRP at


def _scale(values: list[np.ndarray]) -> float:
    finite = [v[np.isfinite(v)] for v in values]
    return 1.0 if all(np.allclose(v, np.round(v)) for v in finite) else 1000.0


def _cost_scale(weights: list[float]) -> int:
    """The smallest power of ten that turns every nonzero cost weight into an integer within 0.1 %."""
    for power in range(0, 10):
        m = 10**power
        if all(w == 0 or (round(w * m) > 0 and abs(round(w * m) - w * m) <= 1e-3 * w * m) for w in weights):
            return m
    return 10**9


class DispatchModel:
    """One dispatch translated to PyVRP data."""

    def __init__(self, dispatch: Dispatch, optional_breaks: bool = False) -> None:
        self.pyvrp = _pyvrp()
        self.dispatch = dispatch
        self.optional_breaks = optional_breaks
        d = dispatch
        self.ds = _scale([p.distance for p in d.profiles] + [np.array([v.max_distance for v in d.vehicles])])
        times = [p.duration for p in d.profiles] + [d.windows.ravel(), d.service]
        times.append(np.array([x for v in d.vehicles for x in (v.shift_start, v.shift_end, v.max_duration)]))
        times.append(np.array([x for v in d.vehicles for b in v.breaks for x in (b.duration, b.earliest, b.latest)]))
        # the places each vehicle's breaks can follow, copied per vehicle: (vehicle, place)
        self.copies = [(k, h) for k, v in enumerate(d.vehicles) if v.breaks for h in self._hosts(k)]
        self.ts = _scale(times)
        self.qs = _scale([d.demands, np.array([c for v in d.vehicles for c in v.capacity])])
        weights = [w for v in d.vehicles for w in (v.fixed_cost, v.distance_cost / self.ds, v.time_cost / self.ts)]
        weights += [float(x) for x in d.penalty if np.isfinite(x)]
        self.cs = _cost_scale(weights)

    def _break_prize(self, k: int) -> int:
        """With optional breaks, what leaving one out costs in PyVRP: just under what using the vehicle for its
        breaks alone would (its fixed cost and the breaks' minutes), so that an idle vehicle is not put to work
        for them and a working one takes them when they cost less than that."""
        if not self.optional_breaks:
            return 0
        v = self.dispatch.vehicles[k]
        alone = v.fixed_cost + v.time_cost * sum(b.duration for b in v.breaks)
        return max(1, round(alone * self.cs) - 1)

    def _hosts(self, k: int) -> list[int]:
        """Where vehicle ``k`` may take a break: its start depot and the orders whose service can end before the
        last of its breaks must start; at most :data:`HOSTS` of them, those whose window is nearest the breaks'
        (each is a location copied into the matrices, and the breaks are placed again afterwards anyway)."""
        d, v = self.dispatch, self.dispatch.vehicles[k]
        first, last = min(b.earliest for b in v.breaks), max(b.latest for b in v.breaks)
        fits = [i for i in d.orders if float(d.windows[i, 0] + d.service[i]) <= last]
        if len(fits) > HOSTS:
            fits = sorted(sorted(fits, key=lambda i: max(0.0, first - float(d.windows[i, 1] + d.service[i])))[:HOSTS])
        return [v.start, *fits]

    def _grid(self, m: np.ndarray, scale: float, vehicle: int | None = None) -> np.ndarray:
        """A matrix in PyVRP's units over the locations and the copies: a copy as its place for ``vehicle``'s
        own profile, unreachable for every other."""
        out = np.where(np.isfinite(m), np.ceil(np.where(np.isfinite(m), m, 0) * scale - 1e-9), UNREACHABLE)
        out = out.astype(np.int64)
        if not self.copies:
            return out
        place = np.array([*range(len(m)), *(h if k == vehicle else -1 for k, h in self.copies)])
        grid = out[np.ix_(np.maximum(place, 0), np.maximum(place, 0))]
        # another vehicle's copy: dearer than any whole route, yet far below UNREACHABLE, whose product with the
        # penalty ceiling overflowed PyVRP's 64-bit costs (no feasible plan for 40 orders, 4 drivers, a break each)
        finite = out[out < UNREACHABLE]
        forbidden = int(min(UNREACHABLE, (int(finite.max(initial=0)) + 1) * (len(m) + 1)))
        grid[place < 0, :] = forbidden
        grid[:, place < 0] = forbidden
        np.fill_diagonal(grid, 0)
        return grid

    def data(self) -> pyvrp.ProblemData:
        pv, d = self.pyvrp, self.dispatch
        coords = d.coords if d.coords is not None else np.zeros((len(d.ids), 2))
        depots = [pv.Depot(location=i) for i in range(d.depots)]
        counted = any(v.max_stops < np.inf for v in d.vehicles)  # stops as one more load dimension ...
        clients = []
        for i in d.orders:
            optional = not d.required(i)
            clients.append(
                pv.Client(
                    location=i,
                    delivery=[units(float(q), self.qs, up=True) for q in d.demands[i]] + [1] * counted,
                    service_duration=units(float(d.service[i]), self.ts, up=True),
                    tw_early=units(float(d.windows[i, 0]), self.ts, up=True),
                    tw_late=units(float(d.windows[i, 1]), self.ts, up=False),
                    prize=round(float(d.penalty[i]) * self.cs) if optional else 0,
                    required=not optional,
                    name=d.ids[i],
                )
            )
        groups: list[pyvrp.ClientGroup] = []
        at = {copy: len(d.ids) + n for n, copy in enumerate(self.copies)}
        for k, v in enumerate(d.vehicles):
            for b in v.breaks if self.copies else ():
                members = []
                for h in (h for kk, h in self.copies if kk == k):
                    members.append(len(clients))
                    clients.append(
                        pv.Client(
                            location=at[k, h],
                            delivery=[0] * len(d.dimensions),
                            service_duration=units(b.duration, self.ts, up=True),
                            tw_early=units(b.earliest, self.ts, up=True),
                            tw_late=units(b.latest, self.ts, up=False),
                            required=False,
                            prize=self._break_prize(k),
                            group=len(groups),
                            name=f"{v.id} break",
                        )
                    )
                groups.append(pv.ClientGroup(members, required=not self.optional_breaks))
        profiles: list[tuple[np.ndarray, np.ndarray, int | None]] = [(p.distance, p.duration, None) for p in d.profiles]
        own: dict[int, int] = {}
        for k, v in enumerate(d.vehicles):
            if v.breaks and self.copies:
                own[k] = len(profiles)
                base = d.profiles[v.profile]
                profiles.append((base.distance, base.duration, k))
        types = []
        for k, v in enumerate(d.vehicles):
            stops = [units(v.max_stops, 1, up=False)] if counted else []  # ... of which v carries max_stops
            options: dict[str, Any] = {
                "num_available": 1,
                "capacity": [units(c, self.qs, up=False) for c in v.capacity] + stops,
                "start_depot": v.start,
                "end_depot": v.end,
                "fixed_cost": round(v.fixed_cost * self.cs),
                "tw_early": units(v.shift_start, self.ts, up=True),
                "tw_late": units(v.shift_end, self.ts, up=False),
                "shift_duration": units(v.max_duration, self.ts, up=False),
                "max_distance": units(v.max_distance, self.ds, up=False),
                "unit_distance_cost": round(v.distance_cost * self.cs / self.ds),
                "unit_duration_cost": round(v.time_cost * self.cs / self.ts),
                "profile": own.get(k, v.profile),
                "name": v.id,
            }
            types.append(pv.VehicleType(**options))
        data: pyvrp.ProblemData = pv.ProblemData(
            locations=[pv.Location(float(x), float(y)) for x, y in [*coords, *(coords[h] for _, h in self.copies)]],
            clients=clients,
            depots=depots,
            vehicle_types=types,
            distance_matrices=[self._grid(dist, self.ds, k) for dist, _, k in profiles],
            duration_matrices=[self._grid(dur, self.ts, k) for _, dur, k in profiles],
            groups=groups,
        )
        return data

    def _params(self, data: pyvrp.ProblemData) -> pyvrp.SolveParams:
        """PyVRP's parameters; with breaks, the penalty ceiling of the day without its breaks' copies (whose
        forbidden cells would only inflate it: the ceiling follows the dearest leg)."""
        if not self.copies:
            return solve_params(data)
        copies, self.copies = self.copies, []
        try:
            return solve_params(self.data())
        finally:
            self.copies = copies

    def solve(
        self, seconds: float, seed: int, until_feasible: bool = False, initial: list[list[int]] | None = None
    ) -> tuple[list[list[int]], bool]:
        """One route per vehicle (order location indices) and whether PyVRP found the plan feasible;
        ``until_feasible`` stops at the first feasible plan; ``initial`` (one route per vehicle) is where the
        search starts."""
        from pyvrp.stop import FirstFeasible, MaxRuntime, MultipleCriteria, StoppingCriterion

        began = time.monotonic()
        data = self.data()
        # building the data is part of the budget (seconds at 1,000 orders with a profile per vehicle kind)
        stop: StoppingCriterion = MaxRuntime(max(0.05, seconds - (time.monotonic() - began)))
        if until_feasible:
            stop = MultipleCriteria([stop, FirstFeasible()])
        start = None
        if initial is not None and any(initial):
            depots = self.dispatch.depots
            try:
                start = self.pyvrp.Solution(
                    data, [self.pyvrp.Route(data, [i - depots for i in r], k) for k, r in enumerate(initial) if r]
                )
            except (RuntimeError, ValueError, TypeError, IndexError):  # PyVRP refuses it: start from scratch
                start = None
        with warnings.catch_warnings():
            # PyVRP warns when its penalties reach their ceiling (no feasible plan in sight); the independent
            # check of the plan says what is wrong with it, in the instance's own words
            warnings.simplefilter("ignore", category=self.pyvrp.exceptions.PenaltyBoundWarning)
            result = self.pyvrp.solve(
                data,
                stop=stop,
                seed=seed,
                display=False,
                collect_stats=False,
                initial_solution=start,
                params=self._params(data),
            )
        routes: list[list[int]] = [[] for _ in self.dispatch.vehicles]
        for route in result.best.routes():
            # pseudo-clients (breaks) come after the orders: dropped, drive() places the breaks again
            orders = len(self.dispatch.orders)
            routes[route.vehicle_type()] = [
                self.dispatch.depots + a.idx for a in route if a.is_client() and a.idx < orders
            ]
        return routes, bool(result.best.is_feasible())


START_SHARE = 0.3  # of the budget for the cheapest plan that the makespan's and the blend's probes start from
SEARCH_SHARE = 0.2  # of the budget left to the local search (minimum work, the blend)
PROBE_SHARE = 0.1  # of the budget per capped probe


def _rank(dispatch: Dispatch, goal: Goal, routes: list[list[int]]) -> tuple[bool, float]:
    """Plans in order of preference: those keeping every limit but the minimum work first, then by value."""
    return not feasible(dispatch, routes, minimums=False), goal.value(dispatch, routes)


def _cheapest(
    dispatch: Dispatch, goal: Goal, seconds: float, seed: int, initial: list[list[int]] | None
) -> list[list[int]]:
    """PyVRP's cheapest plan within ``seconds``. With breaks, the required-break model (which plans every
    vehicle with breaks as used) has 70 % of the time and the optional-break one (which may leave such a vehicle
    idle, and may miss a break) the rest; the better plan that holds every rule is kept."""
    if not any(v.breaks for v in dispatch.vehicles):
        return DispatchModel(dispatch).solve(seconds, seed, initial=initial)[0]
    candidates = [
        DispatchModel(dispatch).solve(seconds * 0.7, seed, initial=initial)[0],
        DispatchModel(dispatch, optional_breaks=True).solve(seconds * 0.3, seed, initial=initial)[0],
    ]
    return min(candidates, key=lambda routes: _rank(dispatch, goal, routes))


def solve_dispatch_engine(
    dispatch: Dispatch,
    goal: Goal | None = None,
    time_limit: float = 10.0,
    seed: int = 0,
    initial: list[list[int]] | None = None,
) -> Plan:
    """PyVRP on the whole dispatch for ``goal`` (default: the cost), from ``initial`` when given (never worse
    than it then); the probes and the local search of the module docstring added when the goal or the minimum
    work need them."""
    started = time.monotonic()
    goal = goal or Goal()
    deadline = started + time_limit
    polish = goal.objective == "blend" or dispatch.minimums
    first = time_limit * (START_SHARE if goal.balanced else 1 - SEARCH_SHARE if polish else 1.0)
    routes = _cheapest(dispatch, goal, first, seed, initial)
    if initial is not None and _rank(dispatch, goal, initial) <= _rank(dispatch, goal, routes):
        routes = [list(r) for r in initial]
    probes = 0
    if goal.balanced and feasible(dispatch, routes, minimums=False):
        routes, probes = _lower_caps(dispatch, goal, routes, deadline - SEARCH_SHARE * time_limit * polish, seed)
    if polish:
        routes = search(dispatch, goal, routes, deadline, seed)
    plan = Plan(routes, "engine", seconds=time.monotonic() - started, goal=goal)
    plan.notes["probes"] = probes
    return plan


def _lower_caps(
    dispatch: Dispatch, goal: Goal, routes: list[list[int]], deadline: float, seed: int
) -> tuple[list[list[int]], int]:
    """Plans under ever lower caps on every vehicle's working time, by bisection between ``routes``' longest day
    and the longest of the orders' shortest single trips; the best for ``goal`` is kept. For the makespan each
    probe stops at its first plan under the cap; for the blend it searches its whole share for the cheapest."""
    best, high = routes, longest(dispatch, routes)
    best_value = goal.value(dispatch, routes)
    alone = [
        min(
            (
                drive(dispatch, k, [i]).duration
                for k in range(len(dispatch.vehicles))
                if not infeasibilities(dispatch, k, [i], minimums=False)
            ),
            default=0.0,
        )
        for i in dispatch.orders
    ]
    low = max(alone, default=0.0)
    probe = PROBE_SHARE * max(0.0, deadline - time.monotonic()) / (1 - SEARCH_SHARE)
    probes = 0
    while high - low > 1e-3 * max(high, 1.0) and time.monotonic() + probe <= deadline:
        cap = (low + high) / 2
        capped = replace(
            dispatch,
            vehicles=tuple(
                replace(v, max_duration=min(v.max_duration, cap), min_duration=min(v.min_duration, cap))
                for v in dispatch.vehicles
            ),
        )
        probes += 1
        found, ok = DispatchModel(capped).solve(probe, seed + probes, goal.objective == "makespan", initial=best)
        if ok and feasible(dispatch, found, minimums=False) and longest(dispatch, found) <= cap + 1e-9:
            high = longest(dispatch, found)
            value = goal.value(dispatch, found)
            if value < best_value:
                best, best_value = found, value
        else:
            low = cap
    return best, probes
