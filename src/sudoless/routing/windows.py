"""Which solvers may be given time windows and service durations, and one clear refusal for the others.

The windows themselves (their conventions and a route's schedule) are part of the model
(:mod:`sudoless.routing.model`). Every solver keeps them now: PyVRP natively (``engine``, ``cores``, the capped
probes of the makespan), the MILP (``exact``), and the decompositions through PyVRP on parts and groups close
in place and time (``divide``, :mod:`sudoless.routing.timed_divide`; ``parts``, :mod:`sudoless.routing.spark`).
A solver added later that does not know them must stay out of :data:`WINDOW_SOLVERS`: it then refuses the
instance in one line rather than return a plan that silently ignores the windows.
"""

from __future__ import annotations

from sudoless.errors import InputError
from sudoless.routing.model import Problem

WINDOW_SOLVERS = ("engine", "cores", "exact", "divide", "parts")  # the solvers that respect time windows


def refuse(problem: Problem, solver: str) -> None:
    """One clear line when a solver would ignore the windows (rather than a silently wrong plan)."""
    if problem.timed and solver not in WINDOW_SOLVERS:
        raise InputError(
            f"{problem.name}: the {solver} solver does not handle time windows or service times; "
            f"use --solver {' or '.join(WINDOW_SOLVERS)} (or auto)"
        )
