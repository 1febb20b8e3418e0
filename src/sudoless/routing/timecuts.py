"""Cuts that know the time windows: customers grouped by where they are and when they may be served.

A giant tour (the cut used without windows) puts neighbours together whatever their windows, so a part may
hold a customer open at dawn beside one open at dusk, which no route can serve together: its routes then
mostly drive back and forth. Here each customer is a point in three dimensions, its position and the middle
of its window scaled so the day spans as much as the map does, and the points are grouped by k-means. Each
group is a region and a period, the shape a driver's route takes under windows. Without coordinates (a given
matrix) the groups are runs of customers sorted by window middle. The rounds that follow group a plan's
routes alternately by angle around the depot and by the middle of their windows (:func:`time_sectors`).
"""

from __future__ import annotations

import numpy as np

from sudoless.routing.decompose import Part, in_order, parts_of
from sudoless.routing.model import Problem

ITERATIONS = 25  # k-means rounds at most; the groups settle in a handful


def _middles(problem: Problem) -> np.ndarray:
    """The middle of each location's window; the day's own middle where a window is open-ended."""
    if problem.windows is None:
        return np.zeros(problem.n + 1)
    return middles(np.asarray(problem.windows, dtype=float))


def middles(w: np.ndarray) -> np.ndarray:
    """The middle of each window (rows: opening, closing; row 0 the depot's, the day); an open end counts as
    the day's end (the depot's closing, else the latest finite time)."""
    day_end = w[0, 1] if np.isfinite(w[0, 1]) else float(np.nanmax(np.where(np.isfinite(w[:, 1]), w[:, 1], w[:, 0])))
    late = np.where(np.isfinite(w[:, 1]), w[:, 1], day_end)
    return (w[:, 0] + late) / 2.0


def features(problem: Problem) -> np.ndarray | None:
    """Customers 1..n as (x, y, scaled window middle); None without coordinates."""
    if problem.coords is None:
        return None
    return place_and_time(np.asarray(problem.coords[1:], dtype=float), _middles(problem)[1:])


def place_and_time(xy: np.ndarray, mid: np.ndarray) -> np.ndarray:
    """Points (x, y, window middle) with the middles scaled so the day spans as much as the map does."""
    spread = float(np.ptp(xy, axis=0).max()) if len(xy) else 0.0
    span = float(np.ptp(mid)) if len(mid) else 0.0
    scale = spread / span if span > 0 else 0.0
    return np.column_stack((xy, mid * scale))


def window_groups(problem: Problem, count: int, seed: int = 0) -> list[np.ndarray]:
    """Customers (indices 1..n) in at most ``count`` non-empty groups of customers close in place and time."""
    n = problem.n
    count = max(1, min(count, n))
    if count == 1:
        return [np.arange(1, n + 1, dtype=np.int64)]
    points = features(problem)
    if points is None:
        order = np.argsort(_middles(problem)[1:], kind="stable") + 1
        return [g.astype(np.int64) for g in np.array_split(order, count) if len(g)]
    return [g + 1 for g in kmeans(points, count, seed)]


def kmeans(points: np.ndarray, count: int, seed: int = 0) -> list[np.ndarray]:
    """Row indices of ``points`` in at most ``count`` non-empty groups of near points (Lloyd's k-means from
    ``count`` random points; also the cut of a dispatch day, :mod:`sudoless.routing.dispatch_divide`)."""
    n = len(points)
    count = max(1, min(count, n))
    rng = np.random.default_rng(seed)
    centres = points[rng.choice(n, size=count, replace=False)]
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(ITERATIONS):
        gaps = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        new = np.argmin(gaps, axis=1)
        if np.array_equal(new, labels) and _ > 0:
            break
        labels = new
        for k in range(count):
            members = points[labels == k]
            centres[k] = members.mean(axis=0) if len(members) else points[rng.integers(n)]
    groups = [np.flatnonzero(labels == k).astype(np.int64) for k in range(count)]
    return [g for g in groups if len(g)]


def time_sectors(problem: Problem, routes: list[list[int]], count: int, turn: float) -> list[list[list[int]]]:
    """The routes in ``count`` groups of about equal customers, contiguous by the middle of their customers'
    windows (so routes working the same hours meet); ``turn`` (0..1) rotates the first group's start."""
    routes = [r for r in routes if r]
    middles = _middles(problem)
    order = np.argsort([float(middles[r].mean()) for r in routes], kind="stable")
    return in_order(routes, order, count, turn)


def window_partition(problem: Problem, size: int, seed: int = 0) -> list[Part]:
    """Parts of about ``size`` customers close in place and time, each with its share of the dispatchers."""
    count = min(problem.dispatchers, max(1, round(problem.n / size)))
    return parts_of(problem, window_groups(problem, count, seed))
