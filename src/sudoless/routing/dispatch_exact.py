"""The optimal plan of a small dispatch, by enumeration: every vehicle's every order sequence, then the best
split of the orders between the vehicles (and, for optional ones, the penalty), by dynamic programming over
subsets.

For each vehicle and subset of orders it keeps the sequences no other beats in both cost and working time (a
Pareto list), so one enumeration serves every objective: the cost takes each subset's cheapest, the makespan its
shortest, and the blend (cost + weight x makespan) the best over caps on the working time (for each cap, the
cheapest plan whose every vehicle stays under it). Work limits (minimum and maximum stops, minimum working
minutes) are limits of a vehicle's route like the others; an idle vehicle with a minimum is not an option.

It follows :func:`~sudoless.routing.dispatch.drive`'s rules exactly, so on the instances it takes (up to
:data:`EXACT_ORDERS` orders) its value is the optimum the other solvers are measured against in the tests.
"""

from __future__ import annotations

import math
import time
from dataclasses import astuple

from sudoless.errors import InputError
from sudoless.routing.dispatch import Dispatch, Goal, Limit, Plan, drive, infeasibilities, violations

EXACT_ORDERS = 8
# the rules no later stop can mend: the load and the stops only grow, a stop reached late stays late, and so
# does a break that no place along the route starts in time (the places a later stop adds are later still)
LASTING = frozenset({Limit.CAPACITY, Limit.WINDOW, Limit.STOPS})

Option = tuple[float, float, tuple[int, ...]]  # working time, cost, the sequence


def _options(dispatch: Dispatch, k: int) -> dict[int, list[Option]]:
    """For vehicle ``k``: the feasible sequences of each subset of orders (bit j = order j) that no other
    sequence of the subset beats in both working time and cost."""
    orders = list(dispatch.orders)
    best: dict[int, list[Option]] = {}
    if not infeasibilities(dispatch, k, []):
        best[0] = [(0.0, 0.0, ())]

    def keep(bits: int, option: Option) -> None:
        front = best.setdefault(bits, [])
        if any(d <= option[0] + 1e-12 and c <= option[1] + 1e-12 for d, c, _ in front):
            return
        front[:] = [o for o in front if not (option[0] <= o[0] and option[1] <= o[1])] + [option]

    def extend(sequence: list[int], mask: int) -> None:
        for j, i in enumerate(orders):
            if mask >> j & 1:
                continue
            route = [*sequence, i]
            trip = drive(dispatch, k, route)
            problems = violations(dispatch, k, route, trip)
            if any(p.limit in LASTING for p in problems):  # no extension of this route is feasible: stop there
                continue
            bits = mask | 1 << j
            if not problems:
                keep(bits, (trip.duration, trip.cost, tuple(route)))
            extend(route, bits)

    extend([], 0)
    return best


def _split(
    dispatch: Dispatch, tables: list[dict[int, tuple[float, tuple[int, ...]]]], makespan: bool
) -> tuple[float, list[list[int]]]:
    """The best split of the orders between the vehicles, each taking one of its options (value, route) per
    subset: the least sum (with the penalties of orders left out) or, with ``makespan``, the least maximum."""
    orders = list(dispatch.orders)
    value: dict[int, float] = {0: 0.0}
    choice: list[dict[int, tuple[int, tuple[int, ...]]]] = []
    for options in tables:
        step: dict[int, float] = {}
        picked: dict[int, tuple[int, tuple[int, ...]]] = {}
        for mask, so_far in value.items():
            for own, (price, route) in options.items():
                if own & mask:
                    continue
                total = max(so_far, price) if makespan else so_far + price
                if total < step.get(mask | own, math.inf) - 1e-12:
                    step[mask | own], picked[mask | own] = total, (mask, route)
        value = step
        choice.append(picked)
    best_mask, best_value = -1, math.inf
    for mask, so_far in value.items():
        left = [orders[j] for j in range(len(orders)) if not mask >> j & 1]
        if any(dispatch.required(i) for i in left):
            continue
        total = so_far if makespan else so_far + sum(float(dispatch.penalty[i]) for i in left)
        if total < best_value - 1e-12:
            best_mask, best_value = mask, total
    if best_mask < 0:
        return math.inf, []
    routes: list[list[int]] = [[] for _ in dispatch.vehicles]
    mask = best_mask
    for k in reversed(range(len(dispatch.vehicles))):
        previous, route = choice[k][mask]
        routes[k] = list(route)
        mask = previous
    return best_value, routes


def _pick(options: dict[int, list[Option]], cap: float, makespan: bool) -> dict[int, tuple[float, tuple[int, ...]]]:
    """Each subset's cheapest sequence within ``cap`` minutes (with ``makespan``: its shortest)."""
    out: dict[int, tuple[float, tuple[int, ...]]] = {}
    for mask, front in options.items():
        within = [o for o in front if o[0] <= cap + 1e-9]
        if within:
            d, c, route = min(within, key=lambda o: (o[0], o[1]) if makespan else (o[1], o[0]))
            out[mask] = (d if makespan else c, route)
    return out


def solve_dispatch_exact(dispatch: Dispatch, makespan: bool = False, goal: Goal | None = None) -> Plan:
    """The optimal plan for ``goal`` (default the cost; ``makespan`` is the old spelling of the makespan goal).
    Raises for more than :data:`EXACT_ORDERS` orders; ``optimal`` is False when no plan keeps every limit:
    then the plan is empty, and the check says what is missing."""
    started = time.monotonic()
    goal = goal or Goal("makespan" if makespan else "cost")
    orders = list(dispatch.orders)
    if len(orders) > EXACT_ORDERS:
        raise InputError(
            f"{dispatch.name}: the exact solver takes up to {EXACT_ORDERS} orders, this dispatch has {len(orders)}; "
            "use --solver engine (or auto)"
        )
    tables: dict[tuple[object, ...], dict[int, list[Option]]] = {}
    options = []
    for k, vehicle in enumerate(dispatch.vehicles):
        alike = (*astuple(vehicle)[1:],)  # vehicles alike in all but their id: enumerated once
        if alike not in tables:
            tables[alike] = _options(dispatch, k)
        options.append(tables[alike])
    if goal.objective != "blend":
        makespan = goal.objective == "makespan"
        value, routes = _split(dispatch, [_pick(o, math.inf, makespan) for o in options], makespan)
    else:  # the cheapest plan under each cap on the working time; the best of cost + weight x cap
        caps = sorted({d for o in options for front in o.values() for d, _, _ in front})
        floor, _ = _split(dispatch, [_pick(o, math.inf, False) for o in options], False)
        value, routes = math.inf, []
        for cap in caps:
            if floor + goal.weight * cap >= value - 1e-12:
                break  # no cheaper plan than the cheapest of all: higher caps cannot win
            cost, found = _split(dispatch, [_pick(o, cap, False) for o in options], False)
            if cost + goal.weight * cap < value - 1e-12:
                value, routes = cost + goal.weight * cap, found
    feasible = math.isfinite(value)
    if not feasible:
        routes = [[] for _ in dispatch.vehicles]
    return Plan(routes, "exact", seconds=time.monotonic() - started, optimal=feasible, goal=goal)
