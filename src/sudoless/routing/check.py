"""An independent check of a solution: every location visited once, every limit respected, costs recomputed.

It shares nothing with the solvers but the instance: distances are recomputed here in plain Python from the
coordinates (or the given matrix) rather than taken from :class:`Problem`'s cached matrix, so a bug in the
solvers' distance code cannot hide itself. Time windows are checked on a schedule recomputed here too (same
conventions as :mod:`sudoless.routing.windows`, separate code). Given the plan document, every figure in it
(totals, each route's distance, load and times, each stop's arrival, wait, departure and load) is compared with
the recomputation: the check trusts no field of the plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

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
    times: list[dict[str, Any]] = field(default_factory=list)  # per route: start, end, stops' times (timed only)
    ids: tuple[str, ...] = ()  # the instance's location ids, to compare a plan's stop ids with

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
            **({"route_times": [_rounded_times(t) for t in self.times]} if self.times else {}),
        }


def _rounded_times(times: dict[str, Any]) -> dict[str, Any]:
    return {
        "start": rounded(times["start"]),
        "end": rounded(times["end"]),
        "schedule": [{key: rounded(v) for key, v in stop.items() if key != "id"} for stop in times["schedule"]],
    }


def _distance(problem: Problem, i: int, j: int) -> float:
    if problem.metric == Metric.MATRIX or problem.coords is None:
        return float(problem.full_matrix[i][j])
    (x1, y1), (x2, y2) = problem.coords[i], problem.coords[j]
    if problem.metric == Metric.GEO:
        p1, p2 = math.radians(x1), math.radians(x2)
        h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(y2 - y1) / 2) ** 2
        return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, max(0.0, h))))
    d = math.hypot(float(x1) - float(x2), float(y1) - float(y2))
    return float(int(d + 0.5)) if problem.metric == Metric.ROUNDED else d


def _timed(problem: Problem, k: int, route: list[int], bad: list[str]) -> dict[str, Any]:
    """Route ``k``'s schedule recomputed from the instance, its window and day-length violations appended."""

    def opens(i: int) -> float:
        return 0.0 if problem.windows is None else float(problem.windows[i][0])

    def closes(i: int) -> float:
        return math.inf if problem.windows is None else float(problem.windows[i][1])

    def serve(i: int) -> float:
        return 0.0 if problem.service is None else float(problem.service[i])

    if not route:
        return {"start": opens(0), "end": opens(0), "schedule": []}
    start = max(opens(0), opens(route[0]) - _distance(problem, 0, route[0]))
    on_board = sum(float(problem.demands[i]) for i in route)
    clock, here, stops = start + serve(0), 0, []
    for i in route:
        arrival = clock + _distance(problem, here, i)
        if arrival > closes(i) + TOLERANCE:
            bad.append(f"route {k} reaches {problem.ids[i]} at {arrival:g}, after its window closes at {closes(i):g}")
        begin = max(arrival, opens(i))
        on_board -= float(problem.demands[i])
        clock, here = begin + serve(i), i
        stops.append({"arrival": arrival, "wait": begin - arrival, "departure": clock, "load": on_board, "id": i})
    end = clock + _distance(problem, here, 0)
    if end > closes(0) + TOLERANCE:
        bad.append(f"route {k} is back at the depot at {end:g}, after the day ends at {closes(0):g}")
    return {"start": start, "end": end, "schedule": stops}


def _differs(mine: float, value: object) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return True
    return abs(mine - float(value)) > 1e-6 * max(1.0, abs(mine))


def _compare_plan(report: CheckReport, plan: dict[str, Any], bad: list[str]) -> None:
    """Every figure of the plan document against the recomputation (a field present must be right)."""
    mine = {"total_distance": report.total, "makespan": report.makespan, "objective": report.objective}
    for key, value in mine.items():
        if key in plan and _differs(value, plan[key]):
            report.claimed[key] = plan[key]
            bad.append(f"claimed {key} {plan[key]!r} differs from the recomputed {value:g}")
    claimed_routes = plan.get("routes")
    if not isinstance(claimed_routes, list):
        return
    for k, entry in enumerate(claimed_routes, start=1):
        if not isinstance(entry, dict) or k > len(report.lengths):
            continue
        figures = {"distance": report.lengths[k - 1], "load": report.loads[k - 1]}
        if k <= len(report.times):
            figures.update(start=report.times[k - 1]["start"], end=report.times[k - 1]["end"])
        for key, value in figures.items():
            if key in entry and _differs(value, entry[key]):
                bad.append(f"route {k}: claimed {key} {entry[key]!r} differs from the recomputed {value:g}")
        if "dispatcher" in entry and entry["dispatcher"] != k:
            bad.append(f"route {k}: claimed dispatcher {entry['dispatcher']!r}, but it is route {k} of the plan")
        stops = entry.get("schedule")
        if stops is None:
            continue
        mine_stops = report.times[k - 1]["schedule"] if k <= len(report.times) else []
        if not isinstance(stops, list) or len(stops) != len(mine_stops):
            bad.append(f"route {k}: the schedule does not list its {len(mine_stops)} stops")
            continue
        for j, (theirs, ours) in enumerate(zip(stops, mine_stops, strict=True), start=1):
            if not isinstance(theirs, dict):
                bad.append(f"route {k} stop {j}: not an object")
                continue
            if "id" in theirs and theirs["id"] != report.ids[ours["id"]]:
                actual = report.ids[ours["id"]]
                bad.append(f"route {k} stop {j}: claimed id {theirs['id']!r}, the route's stop {j} is {actual}")
            for key, value in ours.items():
                if key != "id" and key in theirs and _differs(value, theirs[key]):
                    bad.append(
                        f"route {k} stop {j}: claimed {key} {theirs[key]!r} differs from the recomputed {value:g}"
                    )


def check(
    problem: Problem,
    routes: list[list[int]],
    claimed: dict[str, float] | None = None,
    plan: dict[str, Any] | None = None,
) -> CheckReport:
    """Check ``routes`` (location indices, depot implicit) against every rule of ``problem``; ``claimed``
    totals or a whole ``plan`` document (our JSON output) have every figure compared with the recomputation."""
    report = CheckReport(feasible=True, ids=problem.ids)
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
        load = sum(float(problem.demands[i]) for i in valid)
        report.lengths.append(length)
        report.loads.append(load)
        if problem.timed:
            report.times.append(_timed(problem, k, valid, bad))
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
    _compare_plan(report, {**(plan or {}), **(claimed or {})}, bad)
    report.feasible = not bad
    return report
