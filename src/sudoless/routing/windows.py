"""Which solvers may be given time windows and service durations, and one clear refusal for the others.

The windows themselves (their conventions and a route's schedule) are part of the model
(:mod:`sudoless.routing.model`); a solver that does not know them would return a plan that silently ignores
them, so it refuses the instance instead.
"""

from __future__ import annotations

from sudoless.errors import InputError
from sudoless.routing.model import Objective, Problem

WINDOW_SOLVERS = ("engine", "cores", "exact")  # the solvers that respect time windows (PyVRP natively, the MILP)


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
