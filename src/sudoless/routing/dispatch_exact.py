"""The optimal plan of a small dispatch, by enumeration: every vehicle's every order sequence, then the best
split of the orders between the vehicles (and, for optional ones, the penalty), by dynamic programming over
subsets.

It follows :func:`~sudoless.routing.dispatch.drive`'s rules exactly, so on the instances it takes (up to
:data:`EXACT_ORDERS` orders) its cost is the optimum the other solvers are measured against in the tests.
"""

from __future__ import annotations

import math
import time
from dataclasses import astuple

from sudoless.errors import InputError
from sudoless.routing.dispatch import Dispatch, Limit, Plan, drive, violations

EXACT_ORDERS = 8
# the rules no later stop can mend: the load only grows, a stop reached late stays late, and so does a break
# that no place along the route starts in time (the places a later stop adds are later still)
LASTING = frozenset({Limit.CAPACITY, Limit.WINDOW})


def _best_routes(dispatch: Dispatch, k: int, makespan: bool) -> dict[int, tuple[float, tuple[int, ...]]]:
    """For vehicle ``k``: the cheapest (or, for the makespan, shortest in working time) feasible sequence of each
    subset of orders (bit j = order j)."""
    orders = list(dispatch.orders)
    best: dict[int, tuple[float, tuple[int, ...]]] = {0: (0.0, ())}

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
            value = trip.duration if makespan else trip.cost
            if not problems and value < best.get(bits, (math.inf, ()))[0]:
                best[bits] = (value, tuple(route))
            extend(route, bits)

    extend([], 0)
    return best


def solve_dispatch_exact(dispatch: Dispatch, makespan: bool = False) -> Plan:
    """The optimal plan: the cheapest, or with ``makespan`` the one whose longest working time is shortest (raises
    for more than :data:`EXACT_ORDERS` orders; ``optimal`` False when none is feasible: then the plan leaves out
    what it must, and the check says so)."""
    started = time.monotonic()
    orders = list(dispatch.orders)
    if len(orders) > EXACT_ORDERS:
        raise InputError(
            f"{dispatch.name}: the exact solver takes up to {EXACT_ORDERS} orders, this dispatch has {len(orders)}; "
            "use --solver engine (or auto)"
        )
    # cost[mask]: the cheapest way for the vehicles so far to serve exactly mask
    cost: dict[int, float] = {0: 0.0}
    choice: list[dict[int, tuple[int, tuple[int, ...]]]] = []
    tables: dict[tuple[object, ...], dict[int, tuple[float, tuple[int, ...]]]] = {}
    for k, vehicle in enumerate(dispatch.vehicles):
        # vehicles alike in all but their id have the same best routes: enumerated once
        alike = (*astuple(vehicle)[1:],)
        if alike not in tables:
            tables[alike] = _best_routes(dispatch, k, makespan)
        options = tables[alike]
        step: dict[int, float] = {}
        picked: dict[int, tuple[int, tuple[int, ...]]] = {}
        for mask, value in cost.items():
            for own, (price, route) in options.items():
                if own & mask:
                    continue
                total = max(value, price) if makespan else value + price
                if total < step.get(mask | own, math.inf) - 1e-12:
                    step[mask | own], picked[mask | own] = total, (mask, route)
        cost = step
        choice.append(picked)
    best_mask, best_value = 0, math.inf
    for mask, value in cost.items():
        left = [orders[j] for j in range(len(orders)) if not mask >> j & 1]
        if any(dispatch.required(i) for i in left):
            continue
        total = value if makespan else value + sum(float(dispatch.penalty[i]) for i in left)
        if total < best_value - 1e-12:
            best_mask, best_value = mask, total
    feasible = math.isfinite(best_value)
    if not feasible:
        best_mask = max(cost, key=lambda m: bin(m).count("1"))
    routes: list[list[int]] = [[] for _ in dispatch.vehicles]
    mask = best_mask
    for k in reversed(range(len(dispatch.vehicles))):
        previous, route = choice[k][mask]
        routes[k] = list(route)
        mask = previous
    return Plan(routes, "exact", seconds=time.monotonic() - started, optimal=feasible)
