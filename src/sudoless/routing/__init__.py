"""Routes for many dispatchers: one depot, K dispatchers, work limits; exact, divide and conquer, engine, Spark.

The public surface: :class:`Problem` and :class:`Solution` (model), :func:`read_problem`, :func:`read_solution`
and :func:`write_solution` (formats), :func:`solve` (``auto`` and every solver by name) and :func:`check` (an
independent feasibility and cost check, :class:`CheckReport`). A dispatch day (several depots, a mixed fleet,
optional orders, several load dimensions): :class:`Dispatch` and :class:`Vehicle`, :func:`read_dispatch`
(orders and vehicles files), :func:`solve_dispatch`, :func:`plan_document` (the per-driver plan) and
:func:`check_dispatch`.

The modules are layered; each imports only from the layers above it (within a layer, in the order listed),
never from below, not even inside a function:

1. ``model`` (the instance, a solution, a route's schedule under time windows); ``windows`` (which solvers
   accept them), ``solomon`` and ``formats``, ``check``; ``dispatch`` (a dispatch day's model and schedule),
   ``matrices`` (given matrices), ``orders`` (orders and vehicles files), ``dispatch_check``, ``sheets``
   (the per-driver plan), ``dispatch_exact`` (enumeration), ``dispatch_search`` (a dispatch's local search),
   ``dispatch_sample`` (a generated day), ``report`` (the HTML page), ``pdf`` (the same as a PDF, and the choice
   between the two); ``split`` (Prins' Split and ``cut``), ``tsp`` (fast_tsp), ``decompose`` (parts and
   sectors), ``timecuts`` (cuts by place and time);
2. ``improve`` (local search), ``pyvrp_adapter`` (PyVRP) and ``dispatch_pyvrp`` (a dispatch in PyVRP),
   ``pool`` (worker processes holding one problem);
3. ``farthest`` (the makespan's farthest bound), ``minmax`` (capped PyVRP probes), ``resolve`` (a group of
   routes re-optimised by PyVRP);
4. the solvers: ``divide``, ``engine``, ``exact`` (its incumbent from divide or engine), ``cores`` (engine on
   every core), ``spark`` (parts of a giant tour, on Spark or not, solved by the part solver it is given),
   ``dispatch_divide`` (a dispatch day's parts and groups, shipped by ``spark``);
5. ``auto`` (a table from name to solver, and the choice; the only module that decides to start Spark) and
   ``plot``.
"""

from sudoless.routing.auto import solve, solve_dispatch
from sudoless.routing.check import CheckReport, check
from sudoless.routing.dispatch import Dispatch, Plan, Vehicle
from sudoless.routing.dispatch_check import DispatchReport, check_dispatch
from sudoless.routing.formats import read_problem, read_solution, write_solution
from sudoless.routing.model import Metric, Objective, Problem, Solution
from sudoless.routing.orders import read_dispatch
from sudoless.routing.sheets import plan_document

__all__ = [
    "CheckReport",
    "Dispatch",
    "DispatchReport",
    "Metric",
    "Objective",
    "Plan",
    "Problem",
    "Solution",
    "Vehicle",
    "check",
    "check_dispatch",
    "plan_document",
    "read_dispatch",
    "read_problem",
    "read_solution",
    "solve",
    "solve_dispatch",
    "write_solution",
]
