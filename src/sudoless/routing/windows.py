"""Time windows and service durations: the schedule of a route, and which solvers may be given them.

Conventions (those of Solomon's benchmark, which the literature's best-knowns assume): travel time equals
distance; a stop's service starts when the vehicle arrives or when the window opens, whichever is later, and
must start no later than the window's due time; the vehicle is back at the depot by the depot's due time. A
route leaves the depot as late as it can without waiting at its first stop (never before the depot opens), so
the waits a driver sees are the ones the windows force. ``load`` after a stop is what is still on board:
the route's deliveries not yet made.

:mod:`sudoless.routing.check` recomputes the same schedule with its own code, so a bug here cannot hide.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sudoless.errors import InputError
from sudoless.routing.model import Objective, Problem

WINDOW_SOLVERS = ("engine", "cores", "exact")  # the solvers that respect time windows (PyVRP natively, the MILP)


class Visit(NamedTuple):
    index: int  # location index
    arrival: float
    wait: float
    departure: float
    load: float  # still on board after the stop


class Schedule(NamedTuple):
    start: float  # leaves the depot
    visits: list[Visit]
    end: float  # back at the depot


def validate(problem: Problem, n1: int) -> None:
    """Shapes and ordering of the windows and service durations (called from :class:`Problem`)."""
    name = problem.name
    if problem.windows is not None:
        windows = np.asarray(problem.windows, dtype=float)
        if windows.shape != (n1, 2):
            raise InputError(f"{name}: time windows have shape {windows.shape}, expected ({n1}, 2)")
        bad = np.flatnonzero(windows[:, 0] > windows[:, 1])
        if len(bad):
            i = int(bad[0])
            raise InputError(
                f"{name}: location {problem.ids[i]} opens at {windows[i, 0]:g}, after it closes at {windows[i, 1]:g}"
            )
        object.__setattr__(problem, "windows", windows)
    if problem.service is not None:
        service = np.asarray(problem.service, dtype=float)
        if service.shape != (n1,) or np.any(service < 0):
            raise InputError(f"{name}: service durations must be {n1} numbers >= 0")
        object.__setattr__(problem, "service", service)


def window(problem: Problem, i: int) -> tuple[float, float]:
    if problem.windows is None:
        return 0.0, float("inf")
    return float(problem.windows[i, 0]), float(problem.windows[i, 1])


def service(problem: Problem, i: int) -> float:
    return 0.0 if problem.service is None else float(problem.service[i])


def schedule(problem: Problem, route: list[int]) -> Schedule:
    """The route's times under the conventions above (late arrivals are kept: the check reports them)."""
    opens, _ = window(problem, 0)
    if not route:
        return Schedule(opens, [], opens)
    path = [0, *route, 0]
    legs = problem.legs(np.asarray(path[:-1]), np.asarray(path[1:]))
    start = max(opens, window(problem, route[0])[0] - float(legs[0]))
    on_board = float(problem.demands[route].sum())  # type: ignore[index]
    at, visits = start + service(problem, 0), []
    for i, leg in zip(route, legs[:-1], strict=True):
        arrival = at + float(leg)
        begin = max(arrival, window(problem, i)[0])
        on_board -= float(problem.demands[i])  # type: ignore[index]
        at = begin + service(problem, i)
        visits.append(Visit(i, arrival, begin - arrival, at, on_board))
    return Schedule(start, visits, at + float(legs[-1]))


def refuse(problem: Problem, solver: str) -> None:
    """One clear line when a solver would ignore the windows (rather than a silently wrong plan)."""
    if not problem.timed:
        return
    if solver not in WINDOW_SOLVERS:
        raise InputError(
            f"{problem.name}: the {solver} solver does not handle time windows or service times; "
            f"use --solver {' or '.join(WINDOW_SOLVERS)} (or auto)"
        )
    if problem.objective != Objective.TOTAL or problem.min_stops:
        raise InputError(
            f"{problem.name}: with time windows only the total objective without --min-stops is supported so far"
        )
