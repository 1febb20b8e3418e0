"""Reading instances and solutions, writing solutions.

In: VRPLIB/TSPLIB files (``.vrp``, ``.tsp``, read with the ``vrplib`` package; node 1 is the depot; with
TIME_WINDOW_SECTION and SERVICE_TIME_SECTION when present), Solomon text files (``.txt``,
:mod:`sudoless.routing.solomon`), CSV with a
header ``id,x,y[,demand]`` or ``id,lat,lon[,demand]`` (depot on the first row), and JSON (``{"locations":
[{"id", "x", "y", "demand"}...], "capacity", "metric", "matrix"}``, depot first). Solutions in: our JSON output
or a CVRPLIB ``.sol`` file. Out: JSON, CSV (one row per stop) and GeoJSON (one LineString per route).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from sudoless.errors import InputError
from sudoless.extras import install_hint
from sudoless.routing.model import Metric, Problem, Solution


def read_problem(
    path: str | Path, dispatchers: int | None = None, metric: Metric | str | None = None, **limits: Any
) -> Problem:
    """The instance in ``path``; ``limits`` are :class:`Problem` fields (capacity, min_stops, objective...).

    Without ``dispatchers`` the fleet is the ``-kK`` of a CVRPLIB name, else the fewest routes the capacity
    allows, else 1.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in (".vrp", ".tsp", ".csv", ".json") and _looks_solomon(path):
        from sudoless.routing.solomon import read_solomon

        fields = read_solomon(path)
        fleet = fields.pop("dispatchers")
        dispatchers = fleet if dispatchers is None else dispatchers
    elif suffix in (".vrp", ".tsp"):
        fields = _read_vrplib(path)
    elif suffix == ".csv":
        fields = _read_csv(path)
    elif suffix == ".json":
        fields = _read_json(path)
    else:
        raise InputError(
            f"{path}: unknown instance format '{suffix}'; use .vrp/.tsp (VRPLIB), .csv, .json "
            "or a Solomon text file (VEHICLE and CUSTOMER sections)"
        )
    if metric is not None:
        fields["metric"] = Metric(metric)
    fields.setdefault("name", path.stem)
    if dispatchers is None:
        match = re.search(r"-k(\d+)", path.stem)
        dispatchers = int(match.group(1)) if match else 1
    limits = {k: v for k, v in limits.items() if v is not None}
    fields.update(limits)
    return Problem(dispatchers=dispatchers, **fields)


def _looks_solomon(path: Path) -> bool:
    from sudoless.routing.solomon import is_solomon

    with path.open(encoding="utf-8", errors="replace") as handle:
        return is_solomon(handle.read(2000))


def _read_vrplib(path: Path) -> dict[str, Any]:
    try:
        import vrplib
    except ImportError:
        raise install_hint("reading VRPLIB files", "routing", "vrplib") from None
    try:
        data = vrplib.read_instance(str(path))
    except Exception as exc:  # vrplib raises bare ValueError/IndexError/KeyError on malformed files
        raise InputError(f"{path}: not a readable VRPLIB/TSPLIB file ({exc.__class__.__name__}: {exc})") from None
    kind = str(data.get("edge_weight_type", "")).upper()
    depot = int(np.atleast_1d(data.get("depot", [0]))[0])
    fields: dict[str, Any] = {"name": str(data.get("name", path.stem)).strip()}
    if kind == "EUC_2D":
        coords = np.asarray(data["node_coord"], dtype=float)
        fields.update(coords=coords, metric=Metric.ROUNDED)
        n1 = len(coords)
    elif kind == "EXPLICIT":
        matrix = np.asarray(data["edge_weight"], dtype=float)
        fields.update(coords=None, matrix=matrix, metric=Metric.MATRIX)
        if "node_coord" in data:
            fields["coords"] = np.asarray(data["node_coord"], dtype=float)
        n1 = len(matrix)
    else:
        raise InputError(f"{path}: EDGE_WEIGHT_TYPE {kind or '(missing)'} is not supported; use EUC_2D or EXPLICIT")
    if depot != 0:
        raise InputError(f"{path}: the depot must be node 1 (DEPOT_SECTION says {depot + 1})")
    fields["ids"] = tuple(str(i) for i in range(n1))  # CVRPLIB numbering: depot 0, customers 1..n
    if "demand" in data:
        fields["demands"] = np.asarray(data["demand"], dtype=float)
    if "capacity" in data:
        fields["capacity"] = float(data["capacity"])
    if "time_window" in data:  # VRPLIB with time windows (VRPTW): ready and due per node, the depot's the day
        fields["windows"] = np.asarray(data["time_window"], dtype=float)
    if "service_time" in data:  # a section per node, or one SERVICE_TIME for every customer
        service = np.asarray(data["service_time"], dtype=float)
        if service.ndim == 0:
            service = np.full(n1, float(service))
            service[0] = 0.0
        fields["service"] = service
    return fields


def _number(value: str, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: {value!r} is not a number") from None


def _read_csv(path: Path) -> dict[str, Any]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise InputError(f"{path}: empty file; expected a header id,x,y[,demand] and the depot on the first row")
    header = [h.strip().lower() for h in rows[0]]
    geo = "lat" in header and ("lon" in header or "lng" in header)
    columns = ["id", "lat", "lon" if "lon" in header else "lng"] if geo else ["id", "x", "y"]
    missing = [c for c in columns if c not in header]
    if missing:
        raise InputError(
            f"{path} line 1: missing column(s) {', '.join(missing)}; the header must be id,x,y[,demand] "
            "or id,lat,lon[,demand]"
        )
    at = [header.index(c) for c in columns]
    demand_at = header.index("demand") if "demand" in header else None
    ids, coords, demands = [], [], []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(header):
            raise InputError(f"{path} line {line}: {len(row)} fields, the header has {len(header)}")
        ids.append(row[at[0]].strip())
        coords.append(
            [
                _number(row[at[1]], f"{path} line {line} column {columns[1]}"),
                _number(row[at[2]], f"{path} line {line} column {columns[2]}"),
            ]
        )
        demands.append(_number(row[demand_at], f"{path} line {line} column demand") if demand_at is not None else 0.0)
    return _fields(path, ids, coords, demands, Metric.GEO if geo else Metric.EUCLIDEAN)


def _fields(
    path: Path, ids: list[str], coords: list[list[float]], demands: list[float], metric: Metric
) -> dict[str, Any]:
    if len(ids) < 2:
        raise InputError(f"{path}: needs the depot and at least one location, got {len(ids)} row(s)")
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise InputError(f"{path}: location id {i!r} appears twice")
        seen.add(i)
    demand = np.asarray(demands, dtype=float)
    demand[0] = 0.0
    return {"ids": tuple(ids), "coords": np.asarray(coords, dtype=float), "demands": demand, "metric": metric}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    locations = doc.get("locations") if isinstance(doc, dict) else doc
    if not isinstance(locations, list):
        raise InputError(f"{path}: expected a list of locations or an object with 'locations'")
    ids, coords, demands = [], [], []
    geo = bool(locations) and isinstance(locations[0], dict) and "lat" in locations[0]
    for k, loc in enumerate(locations):
        if not isinstance(loc, dict):
            raise InputError(f"{path}: locations[{k}] is not an object")
        keys = ("lat", "lon") if geo else ("x", "y")
        if any(key not in loc for key in keys):
            raise InputError(f"{path}: locations[{k}] needs {' and '.join(keys)}")
        ids.append(str(loc.get("id", k)))
        coords.append(
            [
                _number(loc[keys[0]], f"{path}: locations[{k}].{keys[0]}"),
                _number(loc[keys[1]], f"{path}: locations[{k}].{keys[1]}"),
            ]
        )
        demands.append(_number(loc.get("demand", 0), f"{path}: locations[{k}].demand"))
    fields = _fields(path, ids, coords, demands, Metric.GEO if geo else Metric.EUCLIDEAN)
    if isinstance(doc, dict):
        if "capacity" in doc:
            fields["capacity"] = _number(doc["capacity"], f"{path}: capacity")
        if "metric" in doc:
            try:
                fields["metric"] = Metric(doc["metric"])
            except ValueError:
                raise InputError(
                    f"{path}: metric {doc['metric']!r} is not one of {', '.join(m.value for m in Metric)}"
                ) from None
        if "matrix" in doc:
            matrix = np.asarray(doc["matrix"], dtype=float)
            if matrix.shape != (len(ids), len(ids)):
                raise InputError(f"{path}: matrix is {matrix.shape}, expected {len(ids)} x {len(ids)}")
            fields.update(matrix=matrix, metric=Metric.MATRIX)
    return fields


class SolutionStops(NamedTuple):
    """A solution file's routes as written, before any instance is known."""

    routes: list[list[str]]  # stop ids as strings
    numbered: bool  # CVRPLIB ``.sol``: stops are customer numbers 1..n, not location ids


def read_stops(path: str | Path) -> SolutionStops:
    """Read our JSON output (``routes[k].stops``, or a bare list of lists) or a CVRPLIB ``.sol`` file
    (``Route #k: 3 7 12``). The check command counts the routes to size the fleet, then :func:`locate`s them."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() == ".sol" or text.lstrip().startswith("Route"):
        routes = []
        for line, raw in enumerate(text.splitlines(), start=1):
            if raw.strip().lower().startswith("route"):
                _, _, stops = raw.partition(":")
                try:
                    routes.append([str(int(s)) for s in stops.split()])
                except ValueError:
                    raise InputError(f"{path} line {line}: route stops must be integers") from None
        return SolutionStops(routes, numbered=True)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: neither a .sol file nor JSON ({exc})") from None
    raw_routes = doc.get("routes") if isinstance(doc, dict) else doc
    if not isinstance(raw_routes, list):
        raise InputError(f"{path}: no 'routes' list")
    routes = []
    for k, r in enumerate(raw_routes):
        listed = r.get("stops") if isinstance(r, dict) else r
        if not isinstance(listed, list):
            raise InputError(f"{path}: routes[{k}] has no 'stops' list")
        routes.append([str(s) for s in listed])
    return SolutionStops(routes, numbered=False)


def locate(stops: SolutionStops, problem: Problem, path: str | Path) -> list[list[int]]:
    """The routes as location indices of ``problem``; ``path`` names the file in errors."""
    if stops.numbered:
        numbers = [[int(s) for s in r] for r in stops.routes]
        for route in numbers:
            for i in route:
                if not 1 <= i <= problem.n:
                    raise InputError(f"{path}: location {i} is outside 1..{problem.n}")
        return numbers
    index = {loc: i for i, loc in enumerate(problem.ids)}
    for k, r in enumerate(stops.routes):
        for s in r:
            if s not in index:
                raise InputError(f"{path}: routes[{k}] visits {s!r}, which is not a location of {problem.name}")
    return [[index[s] for s in r] for r in stops.routes]


def read_solution(path: str | Path, problem: Problem) -> list[list[int]]:
    """Routes as location indices from our JSON output (stops are ids) or a CVRPLIB ``.sol`` file."""
    return locate(read_stops(path), problem, path)


def write_solution(path: str | Path, solution: Solution, problem: Problem) -> None:
    """Write by suffix: ``.json``, ``.csv`` (dispatcher,sequence,id,x,y) or ``.geojson``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        path.write_text(json.dumps(solution.summary(problem), indent=2) + "\n", encoding="utf-8")
    elif suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle)
            out.writerow(["dispatcher", "sequence", "id", "x", "y", "leg_distance"])
            for k, route in enumerate(solution.routes, start=1):
                path_nodes = [0, *route, 0]
                for seq, (a, b) in enumerate(zip(path_nodes[:-1], path_nodes[1:], strict=False)):
                    xy = problem.coords[b] if problem.coords is not None else (None, None)
                    out.writerow([k, seq + 1, problem.ids[b], xy[0], xy[1], float(problem.legs([a], [b])[0])])
    elif suffix == ".geojson":
        path.write_text(json.dumps(geojson(solution, problem)) + "\n", encoding="utf-8")
    else:
        raise InputError(f"{path}: unknown output format '{suffix}'; use .json, .csv or .geojson")


def geojson(solution: Solution, problem: Problem) -> dict[str, Any]:
    """A FeatureCollection: the depot as a Point and each route as a LineString (lon, lat order for GEO)."""
    if problem.coords is None:
        raise InputError(f"{problem.name}: GeoJSON needs coordinates; this instance has only a distance matrix")
    swap, coords = problem.metric == Metric.GEO, problem.coords

    def point(i: int) -> list[float]:
        x, y = (float(v) for v in coords[i])
        return [y, x] if swap else [x, y]

    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": point(0)},
            "properties": {"id": problem.ids[0], "role": "depot"},
        }
    ]
    for k, (route, length) in enumerate(zip(solution.routes, solution.lengths(problem), strict=False), start=1):
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [point(i) for i in [0, *route, 0]]},
                "properties": {"dispatcher": k, "stops": [problem.ids[i] for i in route], "distance": length},
            }
        )
    return {"type": "FeatureCollection", "features": features}
