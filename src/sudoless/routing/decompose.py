"""Cutting a big instance into parts that are solved on their own, and stitching the parts' routes.

Parts are contiguous pieces of one giant tour, so each is a compact region; each gets a share of the
dispatchers proportional to its work (demand when there is a capacity, else stops), never fewer than its
limits need. A part is a :class:`Problem` of its own (depot + its customers) with a dense matrix, small enough
for the sub-solvers; its routes map back through ``members``. Once a plan exists, :func:`sectors` groups its
routes instead (route-based decomposition), so a group can be re-optimised starting from its routes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence, Sized
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np

from sudoless.errors import InputError
from sudoless.routing.model import Metric, Problem

T = TypeVar("T")


@dataclass(frozen=True)
class Part:
    """One region: the parent indices of its customers and what is needed to build its sub-problem.

    It holds coordinates, not a matrix, so thousands of parts stay small on the driver and in transit; the
    sub-problem (with its dense matrix) is built where it is solved.
    """

    members: np.ndarray  # parent indices of the part's customers 1..m
    fields: dict[str, Any]  # Problem's fields

    def build(self) -> Problem:
        return Problem(**self.fields)


def subproblem(problem: Problem, members: np.ndarray | list[int], dispatchers: int, name: str) -> Part:
    members = np.asarray(members, dtype=np.int64)
    nodes = np.concatenate(([0], members))
    fields: dict[str, Any] = {
        "coords": None if problem.coords is None else problem.coords[nodes],
        "demands": problem.demands[nodes],
        "ids": tuple(problem.ids[i] for i in nodes),
        "dispatchers": dispatchers,
        "name": name,
        "capacity": problem.capacity,
        "min_stops": problem.min_stops,
        "max_stops": problem.max_stops,
        "max_distance": problem.max_distance,
        "objective": problem.objective,
        "makespan_weight": problem.makespan_weight,
        "metric": problem.metric,
        "windows": None if problem.windows is None else problem.windows[nodes],
        "service": None if problem.service is None else problem.service[nodes],
    }
    if problem.metric == Metric.MATRIX or problem.coords is None:
        fields["matrix"] = problem.distances(nodes, nodes)
    return Part(members, fields)


def dispatcher_shares(problem: Problem, groups: list[np.ndarray]) -> list[int]:
    """Dispatchers per group: proportional to its work, at least what its limits need, at most all."""
    if problem.capacity:
        work = np.array([float(problem.demands[g].sum()) for g in groups])
    else:
        work = np.array([float(len(g)) for g in groups])
    work = np.maximum(work, 1e-9)
    need = []
    for g, w in zip(groups, work, strict=False):
        k = 1
        if problem.capacity:
            k = max(k, math.ceil(w / problem.capacity - 1e-9))
        if problem.max_stops:
            k = max(k, math.ceil(len(g) / problem.max_stops))
        need.append(k)
    if sum(need) > problem.dispatchers:
        raise InputError(
            f"{problem.name}: the {len(groups)} parts need {sum(need)} dispatchers at least, "
            f"only {problem.dispatchers} are given; use fewer parts or more dispatchers"
        )
    shares = [max(k, int(round(problem.dispatchers * w / work.sum()))) for k, w in zip(need, work, strict=False)]
    while sum(shares) > problem.dispatchers:  # trim the largest surplus first
        k = max(range(len(shares)), key=lambda i: shares[i] - need[i])
        shares[k] -= 1
    if problem.min_stops:
        shares = [min(s, len(g) // problem.min_stops) for s, g in zip(shares, groups, strict=False)]
        spare = problem.dispatchers - sum(shares)
        for k in np.argsort([-len(g) for g in groups]):
            while spare > 0 and (shares[k] + 1) * problem.min_stops <= len(groups[k]):
                shares[k] += 1
                spare -= 1
        if spare:
            raise InputError(
                f"{problem.name}: cannot give every one of {problem.dispatchers} dispatchers "
                f"{problem.min_stops} stops across the parts"
            )
    return shares


def partition(problem: Problem, tour: np.ndarray, size: int) -> list[Part]:
    """Cut ``tour`` into pieces of about ``size`` customers and make a part of each."""
    pieces = max(1, round(len(tour) / size))
    pieces = min(pieces, problem.dispatchers)
    return parts_of(problem, [g for g in np.array_split(tour, pieces) if len(g)])


def parts_of(problem: Problem, groups: list[np.ndarray]) -> list[Part]:
    """A part of each group of customers, with its share of the dispatchers (:func:`dispatcher_shares`)."""
    shares = dispatcher_shares(problem, groups)
    return [
        subproblem(problem, g, k, f"{problem.name}/part{p + 1}")
        for p, (g, k) in enumerate(zip(groups, shares, strict=False))
    ]


def stitch(parts: list[Part], routes_per_part: list[list[list[int]]]) -> list[list[int]]:
    """The parts' routes in parent indices."""
    out: list[list[int]] = []
    for part, routes in zip(parts, routes_per_part, strict=False):
        out.extend([int(part.members[i - 1]) for i in route] for route in routes)
    return out


def sectors(problem: Problem, routes: list[list[int]], count: int, turn: float) -> list[list[list[int]]]:
    """The routes in ``count`` groups of about equal customers, contiguous by the angle of each route's centre
    around the depot; ``turn`` (0..1) rotates where the first group starts, as a share of the routes."""
    routes = [r for r in routes if r]
    if problem.coords is not None:
        centre = np.array([problem.coords[r].mean(axis=0) for r in routes]) - problem.coords[0]
        order = np.argsort(np.arctan2(centre[:, 1], centre[:, 0]))
    else:
        order = np.arange(len(routes))
    return in_order(routes, order, count, turn)


def in_order(
    routes: Sequence[T], order: np.ndarray, count: int, turn: float, size: Callable[[T], int] | None = None
) -> list[list[T]]:
    """``routes`` (non-empty) taken in ``order`` from a ``turn`` share of the way round, in ``count``
    contiguous groups of about equal customers (``size`` of each: its customers; a dispatch's rounds group
    vehicle numbers, sized by their routes)."""
    order = np.roll(order, -int(turn * len(routes)))
    sizes = np.cumsum([size(routes[k]) if size else len(cast(Sized, routes[k])) for k in order])
    edges = [0, *[int(np.searchsorted(sizes, sizes[-1] * g / count)) + 1 for g in range(1, count)], len(order)]
    groups = [[routes[k] for k in order[a:b]] for a, b in zip(edges[:-1], edges[1:], strict=False)]
    return [g for g in groups if g]
