"""What each driver is handed: the plan of a dispatch as one JSON document and as a text table per driver.

The JSON document (``"kind": "dispatch"``): the plan's ``cost`` (trips plus the penalties of the orders left
out), ``total_distance``, ``total_duration``, ``makespan`` (the longest working time), ``penalties``;
``drivers``, one per vehicle in the vehicles file's order, each with its ``vehicle`` id, ``start_depot`` and
``end_depot``, ``departure`` and ``return`` (minutes), ``distance``, ``duration``, ``cost`` and ``stops``:
each with the order's ``id``, ``arrival``, ``wait``, ``departure`` and ``load`` (what is still on board after
it, one figure per demand dimension, in the order of ``dimensions``) and ``breaks``: each with its number
``break`` (in the vehicles file's order), ``after`` (how many stops come before it; 0: at the start depot),
``at`` (the id of where it is taken), ``start``, ``end``, ``duration`` and ``wait`` (for its window to open);
``unserved``: each order left out with its ``id`` and the ``reason``; ``objective`` (cost, makespan or blend)
and, for the blend, ``makespan_weight`` and ``blend`` (cost + weight x makespan). Every id is the input file's
own.
:func:`~sudoless.routing.dispatch_check.check_dispatch` recomputes every figure of it.
"""

from __future__ import annotations

import math
from typing import Any

from sudoless.routing.dispatch import (
    Dispatch,
    Goal,
    Plan,
    clock_text,
    distance_text,
    drive,
    infeasibilities,
    money_text,
    why_unserved,
)
from sudoless.routing.model import rounded


def _json(x: float) -> float | int | None:
    """A figure for the JSON plan; None where a leg has no road (an unreachable pair of a given matrix)."""
    return rounded(x) if math.isfinite(x) else None


def plan_document(dispatch: Dispatch, plan: Plan) -> dict[str, Any]:
    """The plan as the JSON document described above."""
    drivers: list[dict[str, Any]] = []
    distance = duration = trips = 0.0
    violations: list[str] = []
    for k, (vehicle, route) in enumerate(zip(dispatch.vehicles, plan.routes, strict=True)):
        trip = drive(dispatch, k, route)
        violations += [f"vehicle {vehicle.id} {p}" for p in infeasibilities(dispatch, k, route, trip)]
        distance, duration, trips = distance + trip.distance, duration + trip.duration, trips + trip.cost
        drivers.append(
            {
                "vehicle": vehicle.id,
                "start_depot": dispatch.ids[vehicle.start],
                "end_depot": dispatch.ids[vehicle.end],
                "departure": _json(trip.departure),
                "return": _json(trip.back),
                "distance": _json(trip.distance),
                "duration": _json(trip.duration),
                "cost": _json(trip.cost),
                "stops": [
                    {
                        "id": dispatch.ids[s.location],
                        "arrival": _json(s.arrival),
                        "wait": _json(s.wait),
                        "departure": _json(s.departure),
                        "load": [_json(x) for x in s.load],
                    }
                    for s in trip.stops
                ],
                "breaks": [
                    {
                        "break": b.number,
                        "after": b.after,
                        "at": dispatch.ids[b.location],
                        "start": _json(b.start),
                        "end": _json(b.end),
                        "duration": _json(b.end - b.start),
                        "wait": _json(b.wait),
                    }
                    for b in trip.pauses
                ],
            }
        )
    left = plan.unserved(dispatch)
    penalties = sum(float(dispatch.penalty[i]) for i in left if not dispatch.required(i))
    goal = plan.goal or Goal()
    blend = {}
    if goal.objective == "blend":  # the weight is stated, so the check can recompute the blend
        blend = {"makespan_weight": goal.weight, "blend": _json(goal.value(dispatch, plan.routes))}
    return {
        "kind": "dispatch",
        "instance": dispatch.name,
        "solver": plan.solver,
        "objective": goal.objective,
        **blend,
        "cost": _json(trips + penalties),
        "total_distance": _json(distance),
        "total_duration": _json(duration),
        "makespan": _json(max((drive(dispatch, k, r).duration for k, r in enumerate(plan.routes)), default=0.0)),
        "penalties": rounded(penalties),
        "dimensions": list(dispatch.dimensions),
        "distance_unit": "m" if dispatch.metres else "",
        "time_unit": "minutes since midnight" if dispatch.clock else "minutes",
        "drivers": drivers,
        "unserved": [{"id": dispatch.ids[i], "reason": why_unserved(dispatch, i)} for i in left],
        "violations": violations,
        "seconds": round(plan.seconds, 3),
        "optimal": plan.optimal,
    }


def _time(dispatch: Dispatch, minutes: float | None) -> str:
    return clock_text(minutes) if dispatch.clock or minutes is None else f"{minutes:g}"


def _figure(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.1f}" if abs(x - round(x)) > 1e-9 else f"{x:g}"


def _wait(dispatch: Dispatch, minutes: float | None) -> str:
    return f"{minutes:.0f}" if dispatch.clock and minutes is not None else _figure(minutes)


def driver_lines(dispatch: Dispatch, document: dict[str, Any], driver: dict[str, Any]) -> list[str]:
    """One driver's table: a head line (depots, times, distance, cost), then a row per stop (arrival, wait,
    departure, load after it) and per break (from its start to its end), in the order of the day."""
    dims = document["dimensions"]
    head = f"{driver['vehicle']}: {driver['start_depot']} -> {driver['end_depot']}"
    if not driver["stops"]:
        return [f"{head}: stays at the depot"]
    lines = [
        f"{head}, leaves {_time(dispatch, driver['departure'])}, back {_time(dispatch, driver['return'])}, "
        f"distance {distance_text(dispatch, driver['distance'])}, cost {money_text(driver['cost'])}"
    ]
    rows = [["#", "stop", "arrival", "wait", "departure", *(f"load {d}" for d in dims)]]
    breaks = driver.get("breaks", [])
    for n, stop in enumerate([None, *driver["stops"]]):
        if stop is not None:
            rows.append(
                [
                    str(n),
                    stop["id"],
                    _time(dispatch, stop["arrival"]),
                    _wait(dispatch, stop["wait"]),
                    _time(dispatch, stop["departure"]),
                    *(_figure(x) for x in stop["load"]),
                ]
            )
        rows += [
            [
                "",
                f"break {rest['break']} at {rest['at']}",
                _time(dispatch, rest["start"]),
                _wait(dispatch, rest["wait"]),
                _time(dispatch, rest["end"]),
                *("" for _ in dims),
            ]
            for rest in breaks
            if rest["after"] == n
        ]
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return lines + [
        "  "
        + "  ".join(
            cell.rjust(w) if c != 1 else cell.ljust(w) for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def driver_tables(dispatch: Dispatch, document: dict[str, Any]) -> str:
    """One table per driver (stop, arrival, wait, departure, load after it; a break as a row of its own between
    the stops, from its start to its end) and the orders left out."""
    lines: list[str] = []
    for driver in document["drivers"]:
        lines += [*driver_lines(dispatch, document, driver), ""]
    for entry in document["unserved"]:
        lines.append(f"unserved {entry['reason']}")
    lines.append(
        f"{document['solver']}: cost {money_text(document['cost'])} (distance "
        f"{distance_text(dispatch, document['total_distance'])}, penalties {document['penalties']:g}) in "
        f"{document['seconds']} s" + (" (optimal)" if document["optimal"] else "")
    )
    return "\n".join(lines)
