"""What each driver is handed: the plan of a dispatch as one JSON document and as a text table per driver.

The JSON document (``"kind": "dispatch"``): the plan's ``cost`` (trips plus the penalties of the orders left
out), ``total_distance``, ``total_duration``, ``penalties``; ``drivers``, one per vehicle in the vehicles
file's order, each with its ``vehicle`` id, ``start_depot`` and ``end_depot``, ``departure`` and ``return``
(minutes), ``distance``, ``duration``, ``cost`` and ``stops``: each with the order's ``id``, ``arrival``,
``wait``, ``departure`` and ``load`` (what is still on board after it, one figure per demand dimension, in the
order of ``dimensions``); ``unserved``: each order left out with its ``id`` and the ``reason``. Every id is the
input file's own. :func:`~sudoless.routing.dispatch_check.check_dispatch` recomputes every figure of it.
"""

from __future__ import annotations

from typing import Any

from sudoless.routing.dispatch import Dispatch, Plan, clock_text, drive, infeasibilities, why_unserved
from sudoless.routing.model import rounded


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
                "departure": rounded(trip.departure),
                "return": rounded(trip.back),
                "distance": rounded(trip.distance),
                "duration": rounded(trip.duration),
                "cost": rounded(trip.cost),
                "stops": [
                    {
                        "id": dispatch.ids[s.location],
                        "arrival": rounded(s.arrival),
                        "wait": rounded(s.wait),
                        "departure": rounded(s.departure),
                        "load": [rounded(x) for x in s.load],
                    }
                    for s in trip.stops
                ],
            }
        )
    left = plan.unserved(dispatch)
    penalties = sum(float(dispatch.penalty[i]) for i in left if not dispatch.required(i))
    return {
        "kind": "dispatch",
        "instance": dispatch.name,
        "solver": plan.solver,
        "cost": rounded(trips + penalties),
        "total_distance": rounded(distance),
        "total_duration": rounded(duration),
        "penalties": rounded(penalties),
        "dimensions": list(dispatch.dimensions),
        "time_unit": "minutes since midnight" if dispatch.clock else "minutes",
        "drivers": drivers,
        "unserved": [{"id": dispatch.ids[i], "reason": why_unserved(dispatch, i)} for i in left],
        "violations": violations,
        "seconds": round(plan.seconds, 3),
        "optimal": plan.optimal,
    }


def _time(dispatch: Dispatch, minutes: float) -> str:
    return clock_text(minutes) if dispatch.clock else f"{minutes:g}"


def _figure(x: float) -> str:
    return f"{x:.1f}" if abs(x - round(x)) > 1e-9 else f"{x:g}"


def driver_tables(dispatch: Dispatch, document: dict[str, Any]) -> str:
    """One table per driver (stop, arrival, wait, departure, load after it) and the orders left out."""
    lines: list[str] = []
    dims = document["dimensions"]
    for driver in document["drivers"]:
        head = f"{driver['vehicle']}: {driver['start_depot']} -> {driver['end_depot']}"
        if not driver["stops"]:
            lines += [f"{head}: stays at the depot", ""]
            continue
        lines.append(
            f"{head}, leaves {_time(dispatch, driver['departure'])}, back {_time(dispatch, driver['return'])}, "
            f"distance {_figure(driver['distance'])}, cost {_figure(driver['cost'])}"
        )
        rows = [["#", "stop", "arrival", "wait", "departure", *(f"load {d}" for d in dims)]]
        for n, stop in enumerate(driver["stops"], start=1):
            rows.append(
                [
                    str(n),
                    stop["id"],
                    _time(dispatch, stop["arrival"]),
                    f"{stop['wait']:.0f}" if dispatch.clock else _figure(stop["wait"]),
                    _time(dispatch, stop["departure"]),
                    *(_figure(x) for x in stop["load"]),
                ]
            )
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
        lines += [
            "  "
            + "  ".join(
                cell.rjust(w) if c != 1 else cell.ljust(w) for c, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
            for row in rows
        ]
        lines.append("")
    for entry in document["unserved"]:
        lines.append(f"unserved {entry['reason']}")
    lines.append(
        f"{document['solver']}: cost {_figure(document['cost'])} (distance {_figure(document['total_distance'])}, "
        f"penalties {_figure(document['penalties'])}) in {document['seconds']} s"
        + (" (optimal)" if document["optimal"] else "")
    )
    return "\n".join(lines)
