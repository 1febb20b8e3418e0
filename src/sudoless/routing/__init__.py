"""Routes for many dispatchers: one depot, K dispatchers, work limits; exact, divide and conquer, engine, Spark.

The public surface: :class:`Problem` and :class:`Solution` (model), :func:`read_problem` (formats),
:func:`solve` (auto and every solver by name) and :func:`check` (independent feasibility and cost check).
"""

from sudoless.routing.check import check
from sudoless.routing.formats import read_problem, read_solution, write_solution
from sudoless.routing.model import Metric, Objective, Problem, Solution

__all__ = ["Metric", "Objective", "Problem", "Solution", "check", "read_problem", "read_solution", "write_solution"]
