"""Divide and conquer for a dispatch day: parts of orders and vehicles solved on their own, then rounds of
route groups re-optimised across the part borders; in this process (``divide``), on this machine's cores
(``cores``) or as Spark tasks.

It is the decomposition of the one-depot problem (:mod:`sudoless.routing.timed_divide`,
:mod:`sudoless.routing.spark`) with a fleet to share out:

1. The orders are cut into parts close in place and in time (:func:`~sudoless.routing.timecuts.kmeans` on the
   position and the scaled window middle, the cut the windows need; without coordinates, runs of orders by
   nearest depot and window middle). Each part gets vehicles in proportion to its work (demand in every
   dimension, else orders), each vehicle going where its depot is cheapest to reach in its own matrix, so a
   part's vans leave from the depot beside it and the mixed fleet stays mixed.
2. Each part is a dispatch of its own (every depot, its orders, its vehicles, the matrices cut down to them),
   solved by the engine (:func:`~sudoless.routing.dispatch_pyvrp.solve_dispatch_engine`: PyVRP, the capped
   probes of the makespan and the blend, the local search of the minimum work) for the plan's goal.
3. Until the time is up, the vehicles are grouped in rounds, alternately by the angle of their route's centre
   around the middle of the map and by the middle of their orders' windows, the borders turning each round;
   each group, with the optional orders left out nearest to it, is solved again from its routes and replaces
   them when the whole plan is no worse for the goal.
4. The rest goes to the engine on the whole day, from the plan: PyVRP across every border at once, and for
   the makespan and the blend its capped probes.

The parts and the groups are shipped by :func:`sudoless.routing.spark.run_tasks`: one after the other, in
processes, or on a Spark session. A part without a plan keeping its limits (a cut that gave it too few
vehicles) makes the engine solve the whole day first.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sudoless.processes import usable_cpus
from sudoless.routing.decompose import in_order
from sudoless.routing.dispatch import Dispatch, Goal, Plan, Trip, drive, feasible
from sudoless.routing.dispatch_pyvrp import solve_dispatch_engine
from sudoless.routing.spark import run_tasks
from sudoless.routing.timecuts import kmeans, middles, place_and_time

PART = 100  # orders per part and per group: PyVRP reaches good plans there in a second or two
FIRST_SHARE = 0.4  # of the budget for the parts
ROUND_SHARE = 0.15  # of the budget per round of groups
WHOLE_SHARE = 0.3  # of the budget after the parts left to the engine on the whole day, from the plan
GOLDEN = 0.6180339887  # turns the group borders by an irrational share of the vehicles each round


@dataclass(frozen=True)
class DispatchPart:
    """Some orders and vehicles of a dispatch as a dispatch of their own (built where it is cut, small enough
    to ship: its matrices cover its depots and orders only)."""

    members: np.ndarray  # parent location indices of its orders
    fleet: tuple[int, ...]  # parent vehicle indices
    dispatch: Dispatch

    def local(self, routes: list[list[int]]) -> list[list[int]]:
        """Parent routes of its vehicles in its own location indices."""
        at = {int(i): self.dispatch.depots + j for j, i in enumerate(self.members)}
        return [[at[i] for i in r] for r in routes]

    def parent(self, routes: list[list[int]]) -> list[list[int]]:
        depots = self.dispatch.depots
        return [[int(self.members[i - depots]) for i in r] for r in routes]


def sub_dispatch(dispatch: Dispatch, members: np.ndarray | list[int], fleet: list[int], name: str) -> DispatchPart:
    """The orders ``members`` and vehicles ``fleet`` of ``dispatch`` as a part (every depot kept, so the
    vehicles' depots keep their indices)."""
    members = np.asarray(sorted(int(i) for i in members), dtype=np.int64)
    nodes = np.concatenate((np.arange(dispatch.depots), members))
    grid = np.ix_(nodes, nodes)
    part = replace(
        dispatch,
        ids=tuple(dispatch.ids[i] for i in nodes),
        vehicles=tuple(dispatch.vehicles[k] for k in fleet),
        profiles=tuple(replace(p, distance=p.distance[grid], duration=p.duration[grid]) for p in dispatch.profiles),
        demands=dispatch.demands[nodes],
        windows=dispatch.windows[nodes],
        service=dispatch.service[nodes],
        penalty=dispatch.penalty[nodes],
        coords=None if dispatch.coords is None else dispatch.coords[nodes],
        name=name,
    )
    return DispatchPart(members, tuple(fleet), part)


def solve_part(payload: tuple[DispatchPart, Goal, float, int, list[list[int]] | None]) -> list[list[int]]:
    """The engine on one part (from ``initial``, parent routes, when given): one route per vehicle of the part,
    in parent indices. Runs wherever :func:`~sudoless.routing.spark.run_tasks` sends it."""
    part, goal, seconds, seed, initial = payload
    start = None if initial is None else part.local(initial)
    return part.parent(solve_dispatch_engine(part.dispatch, goal, seconds, seed, initial=start).routes)


def _middles(dispatch: Dispatch) -> np.ndarray:
    """The middle of each location's window, an open end counting as the end of the fleet's day."""
    ends = [v.shift_end for v in dispatch.vehicles if math.isfinite(v.shift_end)]
    day = np.array([[min(v.shift_start for v in dispatch.vehicles), max(ends) if ends else math.inf]])
    return middles(np.vstack((day, dispatch.windows)))[1:]


def _order_groups(dispatch: Dispatch, count: int, seed: int) -> list[np.ndarray]:
    """The orders (location indices) in at most ``count`` groups close in place and in time."""
    orders = np.arange(dispatch.depots, len(dispatch.ids))
    mid = _middles(dispatch)[orders]
    if dispatch.coords is not None:
        points = place_and_time(np.asarray(dispatch.coords[orders], dtype=float), mid)
        return [orders[g] for g in kmeans(points, count, seed)]
    home = np.argmin(dispatch.profiles[0].distance[: dispatch.depots][:, orders], axis=0)
    order = np.lexsort((mid, home))
    return [orders[g] for g in np.array_split(order, count) if len(g)]


SLACK = 1.2  # a part's vehicles carry this much more than its orders need, before the rest are shared out


def _needs(dispatch: Dispatch, group: np.ndarray) -> np.ndarray:
    """What a group of orders needs, per demand dimension and in working minutes (service, and a way to the
    nearest other order of the group at the slowest vehicle's speed)."""
    d = dispatch.profiles[0].distance[np.ix_(group, group)].astype(float)
    np.fill_diagonal(d, np.inf)
    near = np.where(np.isfinite(d), d, np.nan)
    legs = np.nan_to_num(np.nanmin(near, axis=1) if len(group) > 1 else np.zeros(1), nan=0.0)
    speed = min((p.speed for p in dispatch.profiles), default=1.0) or 1.0
    minutes = float(dispatch.service[group].sum() + legs.sum() / speed)
    return np.concatenate((dispatch.demands[group].sum(axis=0), [minutes]))


def _supply(dispatch: Dispatch, k: int) -> np.ndarray:
    """What vehicle ``k`` brings: its capacity per dimension and its working minutes."""
    v = dispatch.vehicles[k]
    minutes = min(v.shift_end - v.shift_start, v.max_duration)
    return np.array([*v.capacity, minutes if math.isfinite(minutes) else 24 * 60.0])


def _reach(dispatch: Dispatch, k: int, group: np.ndarray) -> float:
    """What reaching a group costs vehicle ``k``: its mean way out and back in its own matrix, priced."""
    v = dispatch.vehicles[k]
    p = dispatch.profiles[v.profile]
    legs = p.distance[v.start, group] + p.distance[group, v.end]
    times = p.duration[v.start, group] + p.duration[group, v.end]
    finite = np.isfinite(legs) & np.isfinite(times)
    if not finite.any():
        return math.inf
    return float(v.distance_cost * legs[finite].mean() + v.time_cost * times[finite].mean())


def cut(dispatch: Dispatch, count: int, seed: int = 0) -> list[DispatchPart]:
    """The dispatch in at most ``count`` parts: groups of orders close in place and time, each with vehicles in
    proportion to its work, each vehicle where it is cheapest to send (step 1 of the module docstring)."""
    count = max(1, min(count, len(dispatch.vehicles), len(dispatch.orders)))
    groups = _order_groups(dispatch, count, seed)
    needs = np.array([_needs(dispatch, g) for g in groups])
    held = np.zeros_like(needs)
    pairs = sorted((_reach(dispatch, k, g), k, p) for k in range(len(dispatch.vehicles)) for p, g in enumerate(groups))
    fleets: list[list[int]] = [[] for _ in groups]
    free = set(range(len(dispatch.vehicles)))

    def give(k: int, p: int) -> None:
        fleets[p].append(k)
        held[p] += _supply(dispatch, k)
        free.discard(k)

    # first each part, in turn, the cheapest vehicle to send there until it carries what it needs (and more)
    while free:
        short = [p for p in range(len(groups)) if not fleets[p] or np.any(held[p] < SLACK * needs[p])]
        if not short:
            break
        placed = False
        for p in short:
            k = next((k for _, k, q in pairs if q == p and k in free), None)
            if k is not None:
                give(k, p)
                placed = True
        if not placed:
            break
    # then the rest where the load is highest against what the part's vehicles bring
    for _, k, _ in sorted((min(_reach(dispatch, k, g) for g in groups), k, 0) for k in free):
        load = (needs / np.maximum(held, 1e-9)).max(axis=1)
        give(k, int(np.argmax(load)))
    return [
        sub_dispatch(dispatch, g, sorted(f), f"{dispatch.name}/part{p + 1}")
        for p, (g, f) in enumerate(zip(groups, fleets, strict=True))
    ]


def _centres(dispatch: Dispatch, routes: list[list[int]]) -> np.ndarray:
    """Each vehicle's place: the mean of its orders, or its depot when it is idle."""
    assert dispatch.coords is not None
    coords = np.asarray(dispatch.coords, dtype=float)
    return np.array(
        [coords[r].mean(axis=0) if r else coords[v.start] for v, r in zip(dispatch.vehicles, routes, strict=True)]
    )


def vehicle_groups(dispatch: Dispatch, routes: list[list[int]], count: int, rounds: int) -> list[list[int]]:
    """The vehicles in ``count`` groups of about equal orders, contiguous by the angle of their place around the
    middle of the map (even rounds) or by the middle of their orders' windows (odd ones, and without
    coordinates); the borders turn with ``rounds``."""
    mid = _middles(dispatch)
    if rounds % 2 == 0 and dispatch.coords is not None:
        centre = _centres(dispatch, routes)
        rel = centre - centre.mean(axis=0)
        key = np.arctan2(rel[:, 1], rel[:, 0])
    else:
        key = np.array(
            [
                float(mid[r].mean()) if r else (v.shift_start + min(v.shift_end, v.shift_start + 600)) / 2
                for v, r in zip(dispatch.vehicles, routes, strict=True)
            ]
        )
    vehicles = list(range(len(dispatch.vehicles)))
    turn = (rounds * GOLDEN) % 1.0
    return in_order(vehicles, np.argsort(key, kind="stable"), count, turn, size=lambda k: max(1, len(routes[k])))


def _left_out(dispatch: Dispatch, routes: list[list[int]], groups: list[list[int]]) -> list[list[int]]:
    """The orders no vehicle serves, each given to the group whose place is nearest (round robin without
    coordinates)."""
    served = {i for r in routes for i in r}
    left = [i for i in dispatch.orders if i not in served]
    out: list[list[int]] = [[] for _ in groups]
    if dispatch.coords is None:
        for j, i in enumerate(left):
            out[j % len(groups)].append(i)
        return out
    centres = _centres(dispatch, routes)
    places = np.array([centres[g].mean(axis=0) for g in groups])
    for i in left:
        out[int(np.argmin(((places - np.asarray(dispatch.coords[i], dtype=float)) ** 2).sum(axis=1)))].append(i)
    return out


def _slots(run: Any) -> int:
    if run is False:
        return 1
    if run == "processes":
        return usable_cpus()
    return max(1, int(run.sparkContext.defaultParallelism))


def _round(
    dispatch: Dispatch,
    goal: Goal,
    routes: list[list[int]],
    rounds: int,
    count: int,
    seconds: float,
    seed: int,
    run: Any,
) -> list[list[int]]:
    """One round of groups (step 3 of the module docstring); each group's routes are kept only when the whole
    plan stays no worse."""
    routes = [list(r) for r in routes]
    groups = vehicle_groups(dispatch, routes, count, rounds)
    extra = _left_out(dispatch, routes, groups)
    tasks, parts = [], []
    for g, (fleet, left) in enumerate(zip(groups, extra, strict=True)):
        members = [i for k in fleet for i in routes[k]] + left
        if not members:
            continue
        part = sub_dispatch(dispatch, members, sorted(fleet), f"{dispatch.name}/group{g + 1}")
        parts.append(part)
        tasks.append((part, goal, seconds, seed + g, [routes[k] for k in part.fleet]))
    found = run_tasks(solve_part, tasks, run)
    trips = [drive(dispatch, k, r) for k, r in enumerate(routes)]
    at = 0
    for part in parts:
        new = found[at : at + len(part.fleet)]
        at += len(part.fleet)
        if not feasible(part.dispatch, part.local(new)):
            continue
        # the groups share no vehicle and no order: only this group's trips and penalties change
        before = [trips[k] for k in part.fleet]
        after = [drive(dispatch, k, r) for k, r in zip(part.fleet, new, strict=True)]
        others = max((t.duration for k, t in enumerate(trips) if k not in part.fleet), default=0.0)

        def value(
            chosen: list[Trip], routes_now: list[list[int]], members: np.ndarray = part.members, others: float = others
        ) -> float:
            served = {i for r in routes_now for i in r}
            left = sum(float(dispatch.penalty[i]) for i in members if int(i) not in served)
            return goal.combine(sum(t.cost for t in chosen) + left, max(others, *(t.duration for t in chosen)))

        old = [routes[k] for k in part.fleet]
        if not feasible(part.dispatch, part.local(old)) or value(after, new) <= value(before, old) + 1e-9:
            for k, route, trip in zip(part.fleet, new, after, strict=True):
                routes[k], trips[k] = route, trip
    return routes


def _rank(dispatch: Dispatch, goal: Goal, routes: list[list[int]]) -> tuple[bool, float]:
    return not feasible(dispatch, routes), goal.value(dispatch, routes)


def solve_dispatch_divide(
    dispatch: Dispatch,
    goal: Goal | None = None,
    time_limit: float = 10.0,
    seed: int = 0,
    run: Any = False,
    part: int = PART,
    solver: str = "divide",
) -> Plan:
    """Divide and conquer on a dispatch within ``time_limit`` seconds: parts of about ``part`` orders, run
    here (``run`` False), on this machine's cores (``"processes"``) or on a Spark session (``run`` the
    session). A day of fewer than two parts goes to the engine whole."""
    started = time.monotonic()
    goal = goal or Goal()
    deadline = started + time_limit
    count = min(len(dispatch.vehicles), max(1, round(len(dispatch.orders) / part)))
    if count < 2:
        plan = solve_dispatch_engine(dispatch, goal, time_limit, seed)
        plan.solver, plan.notes = solver, {"parts": 0, "rounds": 0}
        return plan
    slots = _slots(run)
    parts = cut(dispatch, count, seed)
    waves = -(-len(parts) // slots)
    per_part = FIRST_SHARE * time_limit / waves
    found = run_tasks(solve_part, [(p, goal, per_part, seed + k, None) for k, p in enumerate(parts)], run)
    routes: list[list[int]] = [[] for _ in dispatch.vehicles]
    at = 0
    for p in parts:
        for k in p.fleet:
            routes[k] = found[at]
            at += 1
    if not feasible(dispatch, routes):  # a part without a plan: the engine on the whole day
        whole = solve_dispatch_engine(dispatch, goal, FIRST_SHARE * time_limit, seed, initial=routes)
        routes, parts = whole.routes, []
    final = WHOLE_SHARE * (deadline - time.monotonic())
    rounds = 0
    slot = ROUND_SHARE * time_limit
    while deadline - final - time.monotonic() > 0.3:
        seconds = min(slot, deadline - final - time.monotonic()) / waves
        routes = _round(dispatch, goal, routes, rounds, count, seconds, seed + 7919 * (rounds + 1), run)
        rounds += 1
    if final:
        whole = solve_dispatch_engine(dispatch, goal, max(0.1, deadline - time.monotonic()), seed, initial=routes)
        if _rank(dispatch, goal, whole.routes) <= _rank(dispatch, goal, routes):
            routes = whole.routes
    plan = Plan(routes, solver, seconds=time.monotonic() - started, goal=goal)
    plan.notes = {"parts": len(parts), "rounds": rounds}
    return plan
