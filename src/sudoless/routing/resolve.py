"""Route-based decomposition: a group of routes re-optimised by PyVRP as an instance of its own, never worse.

A group of a plan's routes (neighbours around the depot, :func:`sudoless.routing.decompose.sectors`) is far
faster to search than the whole instance, and starting from its current routes the search only has to improve
them. Used on the cores of one machine (:mod:`sudoless.routing.cores`) and on Spark, as the second pass at scale
(:mod:`sudoless.routing.spark`).
"""

from __future__ import annotations

from sudoless.routing.check import check
from sudoless.routing.decompose import Part, stitch
from sudoless.routing.pyvrp_adapter import PyVRPInstance


def resolve(part: Part, routes: list[list[int]], seconds: float, seed: int) -> list[list[int]]:
    """PyVRP on the customers of ``routes`` (parent indices, ``part`` holds them), started from those routes:
    its routes in parent indices when they keep every limit and are no worse, else ``routes`` unchanged."""
    problem = part.build()
    local = {int(c): i + 1 for i, c in enumerate(part.members)}
    start = [[local[c] for c in r] for r in routes]
    found, ok = PyVRPInstance(problem).solve(seconds, seed, initial=start)

    def cost(plan: list[list[int]]) -> float:
        return problem.score([problem.route_length(r) for r in plan])

    if not ok or not check(problem, found).feasible or cost(found) > cost(start):
        return routes
    return stitch([part], [found])
