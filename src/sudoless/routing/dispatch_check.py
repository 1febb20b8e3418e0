"""The independent check of a dispatch plan: every order at most once and every required one served, each
vehicle from its own depot back to its own, capacity in every dimension, windows, shift, maximum working time
and distance, each break of a working driver taken once, where the plan says (after which stop), starting in
its window and lasting its full duration, its work (minimum and maximum stops, minimum working minutes); and
every figure the plan states compared with a recomputation (the blend too, from the weight the plan states).

It shares no code with the solvers or with :func:`~sudoless.routing.dispatch.drive`: distances from
coordinates are recomputed here in plain Python (a given matrix is the input itself and is read as is), and the
schedule is rebuilt here under the rules of :mod:`sudoless.routing.dispatch`, so a bug there cannot hide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sudoless.routing.dispatch import Dispatch
from sudoless.routing.model import EARTH_RADIUS_M

TOLERANCE = 1e-6


@dataclass
class DispatchReport:
    feasible: bool = True
    violations: list[str] = field(default_factory=list)
    cost: float = 0.0
    distance: float = 0.0
    duration: float = 0.0
    penalties: float = 0.0
    trips: list[dict[str, Any]] = field(default_factory=list)  # per vehicle, the recomputed figures
    unserved: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "feasible": self.feasible,
            "violations": self.violations,
            "cost": _round(self.cost),
            "total_distance": _round(self.distance),
            "total_duration": _round(self.duration),
            "makespan": _round(max((t["duration"] for t in self.trips), default=0.0)),
            "penalties": _round(self.penalties),
            "unserved": self.unserved,
            "drivers": [
                {
                    key: _round(v) if isinstance(v, float) else v
                    for key, v in trip.items()
                    if key not in ("stops", "breaks")
                }
                for trip in self.trips
            ],
        }


def _round(x: float) -> float | int | None:
    if not math.isfinite(x):
        return None  # a leg without a road: the violations say which
    return int(round(x)) if abs(x - round(x)) < 1e-9 else round(float(x), 6)


def _leg(dispatch: Dispatch, profile: int, a: int, b: int, what: str) -> float:
    """A distance or duration between two locations, from the coordinates when that is where they come from."""
    p = dispatch.profiles[profile]
    if p.source == "matrix" or dispatch.coords is None:
        return float((p.distance if what == "distance" else p.duration)[a][b])
    (x1, y1), (x2, y2) = (float(c) for c in dispatch.coords[a]), (float(c) for c in dispatch.coords[b])
    if dispatch.geo:
        f1, f2 = math.radians(x1), math.radians(x2)
        h = math.sin((f2 - f1) / 2) ** 2 + math.cos(f1) * math.cos(f2) * math.sin(math.radians(y2 - y1) / 2) ** 2
        d = 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, max(0.0, h))))
    else:
        d = math.hypot(x1 - x2, y1 - y2)
    return d if what == "distance" else d / p.speed


def _placed_breaks(dispatch: Dispatch, k: int, route: list[int], claimed: object, bad: list[str]) -> list[int]:
    """Where the plan says vehicle ``k`` takes each of its breaks (stops before it), from its ``breaks`` list;
    every break of a working vehicle must be there once, after a stop of its route (or at 0, its start depot)."""
    v = dispatch.vehicles[k]
    name = f"vehicle {v.id}"
    entries = claimed if isinstance(claimed, list) else []
    if claimed is not None and not isinstance(claimed, list):
        bad.append(f"{name}: 'breaks' is not a list")
    if not route:
        if entries:
            bad.append(f"{name} stays at its depot but the plan gives it breaks")
        return []
    after: dict[int, int] = {}
    for entry in entries:
        number = entry.get("break") if isinstance(entry, dict) else None
        place = entry.get("after") if isinstance(entry, dict) else None
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= len(v.breaks):
            bad.append(f"{name}: break {number!r} is not one of its {len(v.breaks)} break(s)")
        elif number in after:
            bad.append(f"{name}: break {number} is taken twice")
        elif not isinstance(place, int) or isinstance(place, bool) or not 0 <= place <= len(route):
            bad.append(f"{name}: break {number} is after {place!r} stops, not 0 to {len(route)}")
        else:
            after[number] = place
    for number in range(1, len(v.breaks) + 1):
        if number not in after:
            bad.append(f"{name} does not take break {number}")
    return [after.get(n, -1) for n in range(1, len(v.breaks) + 1)]


def _trip(dispatch: Dispatch, k: int, route: list[int], bad: list[str], claimed: object = None) -> dict[str, Any]:
    v = dispatch.vehicles[k]
    name = f"vehicle {v.id}"
    if len(route) > v.max_stops:
        bad.append(f"{name} makes {len(route)} stops, over its maximum {v.max_stops:g}")
    if len(route) < v.min_stops:
        bad.append(f"{name} makes {len(route)} stops, under its minimum {v.min_stops}")
    if not route:
        _placed_breaks(dispatch, k, route, claimed, bad)
        if v.min_duration > 0:
            bad.append(f"{name} works 0 minutes, under its minimum {v.min_duration:g}")
        return {"vehicle": v.id, "distance": 0.0, "duration": 0.0, "cost": 0.0, "stops": [], "breaks": []}
    path = [v.start, *route, v.end]
    for a, b in zip(path, path[1:], strict=False):
        if not math.isfinite(_leg(dispatch, v.profile, a, b, "distance") + _leg(dispatch, v.profile, a, b, "duration")):
            bad.append(f"{name} has no road from {dispatch.ids[a]} to {dispatch.ids[b]} in its matrix")
    distance = sum(_leg(dispatch, v.profile, a, b, "distance") for a, b in zip(path, path[1:], strict=False))
    # the day as a list of things done where: an order (its index) or a break (minus its number), in plan order;
    # a break is taken where the vehicle is, so the drive to it takes no time
    after = _placed_breaks(dispatch, k, route, claimed, bad)
    sequence: list[int] = []
    for position in range(len(route) + 1):
        if position:
            sequence.append(route[position - 1])
        sequence += [-(n + 1) for n, where in enumerate(after) if where == position]
    here, travel = v.start, []
    for item in sequence:
        there = item if item >= 0 else here
        travel.append(0.0 if there == here else _leg(dispatch, v.profile, here, there, "duration"))
        here = there
    travel.append(0.0 if here == v.end else _leg(dispatch, v.profile, here, v.end, "duration"))

    def window(item: int) -> tuple[float, float, float]:
        """Opening, closing and time spent of an order or a break."""
        if item >= 0:
            return float(dispatch.windows[item][0]), float(dispatch.windows[item][1]), float(dispatch.service[item])
        rest = v.breaks[-item - 1]
        return rest.earliest, rest.latest, rest.duration

    def run(leave: float) -> list[tuple[float, float]]:
        """(arrival, start) at each order and break, leaving the depot at ``leave``."""
        clock, out = leave, []
        for j, item in enumerate(sequence):
            opens, _, spent = window(item)
            arrival = clock + travel[j]
            begin = max(arrival, opens)
            out.append((arrival, begin))
            clock = begin + spent
        return out

    earliest = run(v.shift_start)
    back = earliest[-1][1] + window(sequence[-1])[2] + travel[-1]
    # the latest departure with the same return: every start pushed as late as allowed
    latest_begin = back - travel[-1] - window(sequence[-1])[2]
    for j in range(len(sequence) - 1, -1, -1):
        latest_begin = min(latest_begin, window(sequence[j])[1])
        if j:
            latest_begin = latest_begin - travel[j] - window(sequence[j - 1])[2]
    leave = max(v.shift_start, latest_begin - travel[0])
    times = run(leave)
    back = times[-1][1] + window(sequence[-1])[2] + travel[-1]
    on_board = [sum(float(dispatch.demands[i][d]) for i in route) for d in range(len(dispatch.dimensions))]
    for d, dim in enumerate(dispatch.dimensions):
        if on_board[d] > v.capacity[d] + TOLERANCE:
            bad.append(f"{name} carries {on_board[d]:g} {dim}, over its capacity {v.capacity[d]:g}")
    stops: list[dict[str, Any]] = []
    breaks: list[dict[str, Any]] = []
    for item, (arrival, begin) in zip(sequence, times, strict=True):
        opens, closes, spent = window(item)
        if item < 0:
            if arrival > closes + TOLERANCE:
                bad.append(
                    f"{name} can start break {-item} at {arrival:g} at the earliest, after its window closes at "
                    f"{closes:g}"
                )
            where = dispatch.ids[route[len(stops) - 1]] if stops else dispatch.ids[v.start]
            breaks.append(
                {
                    "break": -item,
                    "after": len(stops),
                    "at": where,
                    "start": begin,
                    "end": begin + spent,
                    "wait": begin - arrival,
                }
            )
            continue
        if arrival > closes + TOLERANCE:
            bad.append(f"{name} reaches {dispatch.ids[item]} at {arrival:g}, after its window closes at {closes:g}")
        on_board = [on_board[d] - float(dispatch.demands[item][d]) for d in range(len(on_board))]
        stops.append(
            {
                "id": dispatch.ids[item],
                "arrival": arrival,
                "wait": begin - arrival,
                "departure": begin + spent,
                "load": list(on_board),
            }
        )
    duration = back - leave
    if back > v.shift_end + TOLERANCE:
        bad.append(f"{name} is back at {back:g}, after its shift ends at {v.shift_end:g}")
    if duration > v.max_duration + TOLERANCE:
        bad.append(f"{name} works {duration:g} minutes, over its maximum {v.max_duration:g}")
    if duration < v.min_duration - TOLERANCE:
        bad.append(f"{name} works {duration:g} minutes, under its minimum {v.min_duration:g}")
    if distance > v.max_distance * (1 + 1e-9) + TOLERANCE:
        bad.append(f"{name} drives {distance:g}, over its maximum {v.max_distance:g}")
    cost = v.fixed_cost + v.distance_cost * distance + v.time_cost * duration
    return {
        "vehicle": v.id,
        "start_depot": dispatch.ids[v.start],
        "end_depot": dispatch.ids[v.end],
        "departure": leave,
        "return": back,
        "distance": distance,
        "duration": duration,
        "cost": cost,
        "stops": stops,
        "breaks": breaks,
    }


def _vehicle_at(dispatch: Dispatch, vehicle_id: str) -> int:
    return next(k for k, v in enumerate(dispatch.vehicles) if v.id == vehicle_id)


def _differs(mine: float, value: object) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return True
    return abs(mine - float(value)) > 1e-6 * max(1.0, abs(mine))


def _compare(
    dispatch: Dispatch, report: DispatchReport, plan: dict[str, Any], drivers: list[Any], bad: list[str]
) -> None:
    """Every figure of the plan document against the recomputation (a field present must be right)."""
    longest = max((t["duration"] for t in report.trips), default=0.0)
    totals: dict[str, float] = {
        "makespan": longest,
        "cost": report.cost,
        "total_distance": report.distance,
        "total_duration": report.duration,
        "penalties": report.penalties,
    }
    weight = plan.get("makespan_weight")
    if "blend" in plan:  # cost + weight x makespan, with the weight the plan says it was solved for
        if isinstance(weight, int | float) and not isinstance(weight, bool) and weight >= 0:
            totals["blend"] = report.cost + float(weight) * longest
        else:
            bad.append(f"the plan states a blend but no makespan_weight to recompute it with: {weight!r}")
    for key, total in totals.items():
        if key in plan and _differs(total, plan[key]):
            bad.append(f"claimed {key} {plan[key]!r} differs from the recomputed {total:g}")
    if "unserved" in plan:
        claimed = plan["unserved"]
        names = (
            sorted(str(x.get("id") if isinstance(x, dict) else x) for x in claimed)
            if isinstance(claimed, list)
            else None
        )
        if names != sorted(report.unserved):
            bad.append(f"claimed unserved {names!r} differs from the orders not visited {sorted(report.unserved)!r}")
    by_vehicle = {t["vehicle"]: t for t in report.trips}
    for entry in drivers:
        mine = by_vehicle.get(entry.get("vehicle"))
        if mine is None:
            continue
        who = f"vehicle {mine['vehicle']}"
        for key in ("start_depot", "end_depot"):
            if key in entry and key in mine and entry[key] != mine[key]:
                bad.append(f"{who}: claimed {key} {entry[key]!r}, but it is based at {mine[key]!r}")
        for key in ("departure", "return", "distance", "duration", "cost"):
            if key in entry and key in mine and _differs(mine[key], entry[key]):
                bad.append(f"{who}: claimed {key} {entry[key]!r} differs from the recomputed {mine[key]:g}")
        for j, (theirs, ours) in enumerate(zip(entry.get("stops", []), mine["stops"], strict=False), start=1):
            if not isinstance(theirs, dict):
                continue
            for key in ("arrival", "wait", "departure"):
                if key in theirs and _differs(ours[key], theirs[key]):
                    bad.append(
                        f"{who} stop {j}: claimed {key} {theirs[key]!r} differs from the recomputed {ours[key]:g}"
                    )
            if "load" in theirs:
                load = theirs["load"]
                if (
                    not isinstance(load, list)
                    or len(load) != len(ours["load"])
                    or any(_differs(a, b) for a, b in zip(ours["load"], load, strict=False))
                ):
                    bad.append(f"{who} stop {j}: claimed load {load!r} differs from the recomputed {ours['load']!r}")
        ours_by_number = {b["break"]: b for b in mine["breaks"]}
        for theirs in entry.get("breaks", []) if isinstance(entry.get("breaks"), list) else []:
            ours = ours_by_number.get(theirs.get("break")) if isinstance(theirs, dict) else None
            if ours is None:
                continue
            for key in ("start", "end", "wait"):
                if key in theirs and _differs(ours[key], theirs[key]):
                    bad.append(
                        f"{who} break {ours['break']}: claimed {key} {theirs[key]!r} differs from the recomputed "
                        f"{ours[key]:g}"
                    )
            if "at" in theirs and theirs["at"] != ours["at"]:
                bad.append(
                    f"{who} break {ours['break']}: claimed at {theirs['at']!r}, but it is taken at {ours['at']!r}"
                )
            rest = dispatch.vehicles[_vehicle_at(dispatch, mine["vehicle"])].breaks[ours["break"] - 1]
            if "duration" in theirs and _differs(rest.duration, theirs["duration"]):
                bad.append(
                    f"{who} break {ours['break']}: claimed duration {theirs['duration']!r}, but the vehicles file "
                    f"gives {rest.duration:g}"
                )


def check_dispatch(dispatch: Dispatch, plan: dict[str, Any]) -> DispatchReport:
    """Check a plan document (our JSON, or any ``{"drivers": [{"vehicle": ID, "stops": [ID or {"id": ID}]}]}``)
    against ``dispatch``; the ids are the input files' own."""
    report = DispatchReport()
    bad = report.violations
    drivers = plan.get("drivers")
    if not isinstance(drivers, list):
        bad.append("the plan has no 'drivers' list")
        drivers = []
    vehicle_index = {v.id: k for k, v in enumerate(dispatch.vehicles)}
    location = {x: i for i, x in enumerate(dispatch.ids)}
    routes: dict[int, list[int]] = {}
    seen: dict[int, str] = {}
    for n, entry in enumerate(drivers, start=1):
        if not isinstance(entry, dict) or entry.get("vehicle") not in vehicle_index:
            vid = entry.get("vehicle") if isinstance(entry, dict) else entry
            bad.append(f"driver {n}: unknown vehicle {vid!r}")
            continue
        k = vehicle_index[entry["vehicle"]]
        if k in routes:
            bad.append(f"vehicle {entry['vehicle']} has two routes")
            continue
        route: list[int] = []
        for stop in entry.get("stops", []):
            name = stop.get("id") if isinstance(stop, dict) else stop
            i = location.get(str(name)) if name is not None else None
            if i is None or i < dispatch.depots:
                bad.append(f"vehicle {entry['vehicle']}: stop {name!r} is not an order")
                continue
            if i in seen:
                bad.append(f"order {name} is visited by vehicle {seen[i]} and vehicle {entry['vehicle']}")
                continue
            seen[i] = entry["vehicle"]
            route.append(i)
        routes[k] = route
    claimed_breaks = {
        vehicle_index[d["vehicle"]]: d.get("breaks")
        for d in drivers
        if isinstance(d, dict) and d.get("vehicle") in vehicle_index
    }
    for k in range(len(dispatch.vehicles)):
        trip = _trip(dispatch, k, routes.get(k, []), bad, claimed_breaks.get(k))
        report.trips.append(trip)
        report.cost += trip["cost"]
        report.distance += trip["distance"]
        report.duration += trip["duration"]
    for i in dispatch.orders:
        if i in seen:
            continue
        report.unserved.append(dispatch.ids[i])
        if dispatch.required(i):
            bad.append(f"order {dispatch.ids[i]} is required and not served")
        else:
            report.penalties += float(dispatch.penalty[i])
    report.cost += report.penalties
    _compare(dispatch, report, plan, [d for d in drivers if isinstance(d, dict)], bad)
    report.feasible = not bad
    return report
