"""Single tours with fast_tsp: the giant tour of divide and conquer and the re-optimisation of each route.

fast_tsp takes integer distances in 0..65535, so real-valued distances are scaled to that range first; the
caller re-measures the tour with the true distances. Instances above :data:`TOUR_LIMIT` nodes never build a
dense matrix: their tour is stitched from pieces (see :func:`giant_tour`).
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from sudoless.extras import install_hint
from sudoless.routing.model import Problem

TOUR_LIMIT = 3000  # nodes above which one dense TSP is not built
UINT16 = 65535


def _fast_tsp() -> ModuleType:
    try:
        import fast_tsp
    except ImportError:
        raise install_hint("routing", "routing", "fast_tsp") from None
    return fast_tsp


def scaled(matrix: np.ndarray) -> list[list[int]]:
    top = float(matrix.max())
    integral = bool(np.allclose(matrix, np.round(matrix)))
    factor = 1.0 if top <= 0 or (integral and top <= UINT16) else UINT16 / top
    out = np.round(matrix * factor).astype(np.int64)
    out = np.minimum(out, out.T)  # exact symmetry after rounding
    return out.tolist()


def order(problem: Problem, nodes: list[int] | np.ndarray, seconds: float = 0.5) -> list[int]:
    """``nodes`` (which must include the depot 0) in tour order starting at the depot."""
    nodes = list(nodes)
    if len(nodes) <= 3:
        return nodes
    matrix = problem.distances(nodes, nodes)
    tour = _fast_tsp().find_tour(scaled(matrix), duration_seconds=max(0.01, seconds), stop_when_converged=True)
    start = tour.index(0)
    tour = tour[start:] + tour[:start]
    return [nodes[i] for i in tour]


def reoptimise(problem: Problem, route: list[int], seconds: float = 0.2) -> list[int]:
    """The route's stops in a shorter order when fast_tsp finds one (never longer)."""
    if len(route) <= 2:
        return list(route)
    path = order(problem, [0, *route], seconds)[1:]
    return path if problem.route_length(path) < problem.route_length(route) - 1e-9 else list(route)


def giant_tour(problem: Problem, seconds: float = 2.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """One tour over all customers (depot excluded), starting next to the depot.

    Up to :data:`TOUR_LIMIT` nodes: fast_tsp on the full matrix. Above, the customers are ordered along a
    space-filling (Hilbert) curve, cut into pieces of TOUR_LIMIT / 2, each piece re-solved as a path between
    its neighbours: memory stays linear in n.
    """
    n = problem.n
    if n + 1 <= TOUR_LIMIT or problem.coords is None:
        tour = order(problem, list(range(n + 1)), seconds)
        return np.asarray(tour[1:], dtype=np.int64)
    sequence = 1 + np.argsort(hilbert_keys(problem.coords[1:]))
    piece = TOUR_LIMIT // 2
    out: list[int] = []
    budget = seconds / max(1, n // piece)
    for start in range(0, n, piece):
        chunk = sequence[start : start + piece].tolist()
        # fix the chunk's ends by adding the depot as a dummy between last and first: a TSP through the chunk
        # cut at the dummy is a good open path
        nodes = [0, *chunk]
        path = order(problem, nodes, budget)[1:]
        if out and path and problem.legs([out[-1]], [path[-1]])[0] < problem.legs([out[-1]], [path[0]])[0]:
            path = path[::-1]
        out.extend(path)
    return np.asarray(out, dtype=np.int64)


def hilbert_keys(points: np.ndarray, bits: int = 16) -> np.ndarray:
    """Position of each point along a Hilbert curve over the bounding box (neighbours stay close)."""
    low, high = points.min(axis=0), points.max(axis=0)
    span = np.where(high - low > 0, high - low, 1.0)
    side = (1 << bits) - 1
    x = ((points[:, 0] - low[0]) / span[0] * side).astype(np.int64)
    y = ((points[:, 1] - low[1]) / span[1] * side).astype(np.int64)
    key = np.zeros(len(points), dtype=np.int64)
    s = 1 << (bits - 1)
    while s > 0:
        rx = (x & s) > 0
        ry = (y & s) > 0
        key += s * s * ((3 * rx) ^ ry)
        flip = ~ry
        swap_x = np.where(flip & rx, side - x, x)
        swap_y = np.where(flip & rx, side - y, y)
        x, y = np.where(flip, swap_y, x), np.where(flip, swap_x, y)
        s >>= 1
    return key
