"""Small instances made on the spot, the VRPLIB/TSPLIB files of tests/fixtures/routing, and a brute-force oracle."""

from __future__ import annotations

import itertools

import numpy as np

from sudoless.routing.model import Objective, Problem
from support.files import FIXTURES

#: Instance files written by tests/fixtures/routing/generate.py, which also proves the optima the tests state.
INSTANCES = FIXTURES / "routing"


def random_problem(n: int, dispatchers: int, seed: int = 0, **limits: object) -> Problem:
    rng = np.random.default_rng(seed)
    coords = rng.uniform(0, 100, size=(n + 1, 2))
    demands = np.concatenate(([0.0], rng.integers(1, 10, size=n).astype(float)))
    return Problem(coords=coords, dispatchers=dispatchers, demands=demands, name=f"random{n}", **limits)  # type: ignore[arg-type]


def brute_force(problem: Problem) -> float:
    """The optimal objective by enumerating every assignment of locations to dispatchers and every order."""
    best_order: dict[frozenset[int], float] = {}

    def route_best(members: frozenset[int]) -> float:
        if members not in best_order:
            best_order[members] = (
                min(problem.route_length(list(p)) for p in itertools.permutations(members)) if members else 0.0
            )
        return best_order[members]

    best = np.inf
    n, k = problem.n, problem.dispatchers
    for labels in itertools.product(range(k), repeat=n):
        if labels and labels[0] != 0:  # dispatchers are interchangeable: the first location rides with #0
            continue
        groups = [frozenset(i + 1 for i, lab in enumerate(labels) if lab == d) for d in range(k)]
        if any(len(g) < problem.min_stops for g in groups):
            continue
        if problem.max_stops is not None and any(len(g) > problem.max_stops for g in groups):
            continue
        if problem.capacity is not None and any(problem.demands[list(g)].sum() > problem.capacity for g in groups if g):
            continue
        lengths = [route_best(g) for g in groups]
        if problem.max_distance is not None and max(lengths) > problem.max_distance + 1e-9:
            continue
        best = min(best, problem.score(lengths))
    return float(best)


__all__ = ["INSTANCES", "Objective", "brute_force", "random_problem"]
