"""An independent check of a solution: every location visited once, every limit respected, costs recomputed.

It shares nothing with the solvers but the instance: distances are recomputed here in plain Python from the
coordinates (or the given matrix) rather than taken from :class:`Problem`'s cached matrix, so a bug in the
solvers' distance code cannot hide itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sudoless.routing.model import EARTH_RADIUS_M, Metric, Objective, Problem, idle_dispatchers, rounded

TOLERANCE = 1e-6


@dataclass
class CheckReport:
    feasible: bool
    violations: list[str] = field(default_factory=list)
    lengths: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    total: float = 0.0
    makespan: float = 0.0
    objective: float = 0.0
    claimed: dict[str, float] = field(default_factory=dict)  # values from the solution file that differ
    idle: list[int] = field(default_factory=list)  # 1-based numbers of the dispatchers with no stops

    def as_dict(self) -> dict[str, object]:
        """The JSON form, figures rounded as in a solver's plan."""
        return {
            "feasible": self.feasible,
            "violations": self.violations,
            "total_distance": rounded(self.total),
            "makespan": rounded(self.makespan),
            "objective": rounded(self.objective),
            "route_distances": [rounded(x) for x in self.lengths],
            "route_loads": [rounded(x) for x in self.loads],
            "routes": len(self.lengths),
            "idle": self.idle,
        }


def _distance(problem: Problem, i: int, j: int) -> float:
    if problem.metric == Metric.MATRIX or problem.coords is None:
        return float(problem.matrix[i][j])  # type: ignore[index]
    (x1, y1), (x2, y2) = problem.coords[i], problem.coords[j]
    if problem.metric == Metric.GEO:
        p1, p2 = math.radians(x1), math.radians(x2)
        h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(y2 - y1) / 2) ** 2
        return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, max(0.0, h))))
    d = math.hypot(float(x1) - float(x2), float(y1) - float(y2))
    return float(int(d + 0.5)) if problem.metric == Metric.ROUNDED else d


def check(problem: Problem, routes: list[list[int]], claimed: dict[str, float] | None = None) -> CheckReport:
    """Check ``routes`` (location indices, depot implicit) against every rule of ``problem``."""
    report = CheckReport(feasible=True)
    bad = report.violations
    nonempty = [r for r in routes if r]
    if len(nonempty) > problem.dispatchers:
        bad.append(f"{len(nonempty)} routes for {problem.dispatchers} dispatchers")
    seen: dict[int, int] = {}
    for k, route in enumerate(routes, start=1):
        for i in route:
            if not 1 <= i <= problem.n:
                bad.append(f"route {k} visits index {i}, outside 1..{problem.n}")
                continue
            if i in seen:
                bad.append(f"location {problem.ids[i]} is visited by route {seen[i]} and route {k}")
            seen[i] = k
    missing = [problem.ids[i] for i in range(1, problem.n + 1) if i not in seen]
    if missing:
        bad.append(
            f"{len(missing)} location(s) not visited: {', '.join(missing[:10])}" + (" ..." if len(missing) > 10 else "")
        )
    for k, route in enumerate(routes, start=1):
        valid = [i for i in route if 1 <= i <= problem.n]
        path = [0, *valid, 0] if valid else []
        length = sum(_distance(problem, a, b) for a, b in zip(path[:-1], path[1:], strict=False))
        load = sum(float(problem.demands[i]) for i in valid)  # type: ignore[index]
        report.lengths.append(length)
        report.loads.append(load)
        if problem.capacity is not None and load > problem.capacity + TOLERANCE:
            bad.append(f"route {k} carries {load:g}, over the capacity {problem.capacity:g}")
        if problem.max_stops is not None and len(valid) > problem.max_stops:
            bad.append(f"route {k} has {len(valid)} stops, over the maximum {problem.max_stops}")
        if problem.max_distance is not None and length > problem.max_distance * (1 + 1e-9) + TOLERANCE:
            bad.append(f"route {k} is {length:g} long, over the maximum {problem.max_distance:g}")
    report.idle = idle_dispatchers(routes, problem.dispatchers)
    if problem.min_stops:
        counts = [len(r) for r in routes] + [0] * (problem.dispatchers - len(routes))
        short = [k for k, c in enumerate(counts, start=1) if c < problem.min_stops]
        if short:
            bad.append(f"dispatcher(s) {', '.join(map(str, short[:10]))} have fewer than {problem.min_stops} stops")
    report.total = sum(report.lengths)
    report.makespan = max(report.lengths, default=0.0)
    report.objective = {Objective.TOTAL: report.total, Objective.MAKESPAN: report.makespan}.get(
        problem.objective, report.total + problem.makespan_weight * report.makespan
    )
    for key, value in (claimed or {}).items():
        mine = {"total_distance": report.total, "makespan": report.makespan, "objective": report.objective}.get(key)
        if mine is not None and value is not None and abs(mine - value) > 1e-6 * max(1.0, abs(mine)):
            report.claimed[key] = value
            bad.append(f"claimed {key} {value:g} differs from the recomputed {mine:g}")
    report.feasible = not bad
    return report
