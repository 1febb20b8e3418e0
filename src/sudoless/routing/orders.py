"""Orders and vehicles as a spreadsheet writes them (CSV, or JSON lists of the same fields), read into a
:class:`~sudoless.routing.dispatch.Dispatch`.

Orders, one per row: ``id``; ``x``, ``y`` or ``lat``, ``lon`` (not needed with a matrix); ``demand`` (one
dimension) or ``demand_<name>`` columns (one dimension each, e.g. ``demand_kg``, ``demand_pallets``);
``window_start`` and ``window_end`` (``HH:MM`` or minutes; ``ready``/``due`` are accepted too); ``service``
(minutes); ``penalty`` (empty: the order is required; a number: it may be left out at that cost).

Vehicles, one per row: ``id``; ``depot`` and where it is (``depot_x``, ``depot_y`` or ``depot_lat``,
``depot_lon``; once per depot is enough, and not at all with a matrix); ``end_depot`` (default: the same);
``capacity`` or ``capacity_<name>`` matching the orders' demand columns (empty: no limit); ``shift_start``,
``shift_end`` (``HH:MM`` or minutes); ``max_duration`` (minutes or ``H:MM``); ``max_distance``;
``fixed_cost``, ``distance_cost`` (per distance unit, default 1), ``time_cost`` (per minute of the route);
``speed`` (distance units per minute, for travel times computed from distances); ``matrix`` (a matrix file of
this vehicle's own, relative to the vehicles file: its profile); a break: ``break_duration`` (minutes or
``H:MM``) and ``break_start``, ``break_end`` (the window in which it must start; default the whole day), more
breaks as ``break2_duration``, ``break2_start``, ... (in JSON also ``"breaks": [{"duration", "start", "end"}]``);
``min_stops``, ``max_stops`` and ``min_duration`` (minutes or ``H:MM``), the work each driver is given: every
solver keeps them, and a driver with a minimum is never left idle.

Columns ``name``, ``address``, ``phone``, ``note`` and ``comment`` are for people and are skipped; any other
unknown column is an error, so a misspelt ``servce`` is not silently dropped. Errors name the file, the line
(or JSON item) and the field.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.routing.dispatch import Break, Dispatch, Profile, Vehicle
from sudoless.routing.matrices import Matrix, read_durations, read_matrix
from sudoless.routing.model import EARTH_RADIUS_M

PEOPLE_COLUMNS = {"name", "address", "phone", "note", "notes", "comment"}
ORDER_COLUMNS = {
    "id",
    "x",
    "y",
    "lat",
    "lon",
    "demand",
    "window_start",
    "window_end",
    "ready",
    "due",
    "service",
    "penalty",
}
VEHICLE_COLUMNS = {
    "id",
    "depot",
    "depot_x",
    "depot_y",
    "depot_lat",
    "depot_lon",
    "end_depot",
    "capacity",
    "shift_start",
    "shift_end",
    "max_duration",
    "max_distance",
    "fixed_cost",
    "distance_cost",
    "time_cost",
    "speed",
    "matrix",
    "min_stops",
    "max_stops",
    "min_duration",
}
BREAK_COLUMN = re.compile(r"^break(\d*)_(duration|start|end)$")
METRES_SPEED = 500.0  # metres a minute (30 km/h): travel times from great-circle or road metres by default
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


@dataclass
class Row:
    """One row of a file, with where it is for messages."""

    where: str
    cells: dict[str, Any]
    clock: bool = False  # a time was written as HH:MM

    def text(self, key: str) -> str:
        value = self.cells.get(key)
        return "" if value is None else str(value).strip()

    def has(self, key: str) -> bool:
        return self.text(key) != ""

    def number(self, key: str, default: float = math.nan, minimum: float = 0.0) -> float:
        raw = self.text(key)
        if raw == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            raise InputError(f"{self.where}: {key}: {raw!r} is not a number") from None
        if math.isnan(value) or value < minimum:
            raise InputError(f"{self.where}: {key}: {raw!r} must be a number >= {minimum:g}")
        return value

    def whole(self, key: str, default: float) -> Any:
        """A whole number >= 0 (a count), or ``default`` when the cell is empty."""
        value = self.number(key, default)
        if value != default and value != int(value):
            raise InputError(f"{self.where}: {key}: {self.text(key)!r} must be a whole number")
        return value if value == default else int(value)

    def coordinate(self, key: str) -> float:
        raw = self.text(key)
        try:
            value = float(raw)
        except ValueError:
            raise InputError(f"{self.where}: {key}: {raw!r} is not a number") from None
        if not math.isfinite(value):
            raise InputError(f"{self.where}: {key}: {raw!r} is not a finite number")
        return value

    def time(self, key: str, default: float, clock: bool = True) -> float:
        """Minutes: ``HH:MM`` (or ``HH:MM:SS``) since midnight, or a plain number of minutes; ``clock`` False
        for a duration written ``H:MM`` (which says nothing about how times are shown)."""
        raw = self.text(key)
        match = _CLOCK.match(raw)
        if match:
            hours, minutes, seconds = int(match[1]), int(match[2]), int(match[3] or 0)
            if minutes > 59 or seconds > 59:
                raise InputError(f"{self.where}: {key}: {raw!r} is not a time (HH:MM)")
            self.clock = self.clock or clock
            return hours * 60 + minutes + seconds / 60
        return self.number(key, default)


def delimiter(text: str) -> str:
    """``;`` when the header line has semicolons and no commas (what spreadsheets write where the comma is the
    decimal mark), else ``,``."""
    header = text.split("\n", 1)[0]
    return ";" if ";" in header and "," not in header else ","


def _rows(path: Path, kind: str) -> Iterator[Row]:
    if not path.is_file():
        raise InputError(f"{path}: no such {kind} file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the {kind} ({exc})") from None
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} line {exc.lineno}: not JSON ({exc.msg})") from None
        items = doc.get(kind) if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise InputError(f"{path}: expected a list of {kind} (or an object with a {kind!r} list)")
        for n, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise InputError(f"{path} item {n}: expected an object")
            yield Row(f"{path} item {n}", _flatten(item))
        return
    reader = csv.reader(text.splitlines(), delimiter=delimiter(text))
    header = next(reader, None)
    if not header:
        raise InputError(f"{path}: empty; expected a header line of column names")
    names = [h.strip().lower() for h in header]
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(names):
            raise InputError(f"{path} line {line}: {len(cells)} cells for {len(names)} columns")
        yield Row(f"{path} line {line}", dict(zip(names, cells, strict=False)))


def _flatten(item: dict[str, Any]) -> dict[str, Any]:
    """JSON lists or objects for ``demand``/``capacity`` become the CSV's columns."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        key = str(key).lower()
        if key == "breaks" and isinstance(value, list):
            for n, rest in enumerate(value, start=1):
                fields = rest.items() if isinstance(rest, dict) else [("duration", rest)]
                out.update({f"break{n if n > 1 else ''}_{str(name).lower()}": v for name, v in fields})
        elif key in ("demand", "capacity") and isinstance(value, list):
            out.update({f"{key}_{d + 1}": v for d, v in enumerate(value)})
        elif key in ("demand", "capacity") and isinstance(value, dict):
            out.update({f"{key}_{name}": v for name, v in value.items()})
        else:
            out[key] = value
    return out


def _check_columns(row: Row, known: set[str], prefix: str) -> None:
    for key in row.cells:
        if prefix == "capacity_" and BREAK_COLUMN.match(key):
            continue
        if key not in known and key not in PEOPLE_COLUMNS and not key.startswith(prefix):
            raise InputError(f"{row.where}: unknown field {key!r}; known: {', '.join(sorted(known))}")


def _dimensions(rows: list[Row], prefix: str) -> tuple[str, ...]:
    """The demand (or capacity) dimensions, in the order the columns first appear."""
    keys = list(dict.fromkeys(k for r in rows for k in r.cells if k.startswith(prefix + "_") or k == prefix))
    if prefix in keys and len(keys) > 1:
        raise InputError(f"{rows[0].where}: use either {prefix!r} or {prefix}_<name> columns, not both")
    return tuple(k.removeprefix(prefix + "_") if k != prefix else "" for k in keys)


def _demand_name(dim: str) -> str:
    return dim or "demand"


def read_dispatch(
    orders: Path,
    vehicles: Path,
    matrix: Path | None = None,
    durations: Path | None = None,
    speed: float | None = None,
) -> Dispatch:
    """The dispatch of an orders file and a vehicles file, with an optional distance matrix (CSV or
    OSRM/Valhalla JSON, see :mod:`sudoless.routing.matrices`) and an optional CSV of durations in minutes."""
    order_rows = list(_rows(orders, "orders"))
    vehicle_rows = list(_rows(vehicles, "vehicles"))
    if not order_rows:
        raise InputError(f"{orders}: no orders")
    if not vehicle_rows:
        raise InputError(f"{vehicles}: no vehicles")
    for row in order_rows:
        _check_columns(row, ORDER_COLUMNS, "demand_")
    for row in vehicle_rows:
        _check_columns(row, VEHICLE_COLUMNS, "capacity_")
    dims = _dimensions(order_rows, "demand")
    capacity_dims = _dimensions(vehicle_rows, "capacity")
    extra = [d for d in capacity_dims if d not in dims]
    if extra:
        raise InputError(
            f"{vehicles}: capacity column {'capacity_' + extra[0] if extra[0] else 'capacity'!r} has no matching "
            f"demand column in {orders}"
        )
    # the depots, in the order the vehicles name them, with their coordinates where given
    depot_ids: list[str] = []
    depot_at: dict[str, tuple[float, float]] = {}
    geo_flags: set[bool] = set()
    for row in vehicle_rows:
        for key in ("id", "depot"):
            if not row.has(key):
                raise InputError(f"{row.where}: {key}: missing")
        name = row.text("depot")
        if name not in depot_ids:
            depot_ids.append(name)
        point = _point(row, "depot_")
        if point is not None:
            geo_flags.add(point[1])
            if name in depot_at and depot_at[name] != point[0]:
                raise InputError(f"{row.where}: depot {name!r} is given two different places")
            depot_at[name] = point[0]
    for row in vehicle_rows:
        end = row.text("end_depot")
        if end and end not in depot_ids:
            depot_ids.append(end)
    order_ids: list[str] = []
    order_at: list[tuple[float, float] | None] = []
    for row in order_rows:
        if not row.has("id"):
            raise InputError(f"{row.where}: id: missing")
        order_ids.append(row.text("id"))
        point = _point(row, "")
        if point is not None:
            geo_flags.add(point[1])
        order_at.append(None if point is None else point[0])
    if len(geo_flags) > 1:
        raise InputError(f"{orders}: mixes x/y and lat/lon coordinates; use one kind in both files")
    geo = geo_flags == {True}
    ids = (*depot_ids, *order_ids)
    seen: dict[str, str] = {}
    for name, where in [(d, str(vehicles)) for d in depot_ids] + [(r.text("id"), r.where) for r in order_rows]:
        if name in seen:
            raise InputError(f"{where}: id {name!r} is used twice (depots and orders share one id space)")
        seen[name] = where
    coords: np.ndarray | None = None
    if all(p is not None for p in order_at) and all(d in depot_at for d in depot_ids):
        coords = np.array([depot_at[d] for d in depot_ids] + [p for p in order_at if p is not None], dtype=float)
    elif matrix is None:
        missing = next((r.where for r, p in zip(order_rows, order_at, strict=True) if p is None), None)
        if missing is None:
            depot = next(d for d in depot_ids if d not in depot_at)
            raise InputError(f"{vehicles}: depot {depot!r} has no place: give depot_x/depot_y or depot_lat/depot_lon")
        raise InputError(f"{missing}: needs x/y or lat/lon (or give a matrix)")
    time_fields = ("window_start", "window_end", "ready", "due", "service")
    vehicle_times = ("shift_start", "shift_end", "max_duration", "time_cost")
    timed = any(r.has(k) for r in order_rows for k in time_fields) or any(
        r.has(k) or any(BREAK_COLUMN.match(c) and r.has(c) for c in r.cells)
        for r in vehicle_rows
        for k in vehicle_times
    )
    base = _profile("default", ids, coords, geo, matrix, durations, speed, str(vehicles), timed)
    profiles = [base]
    keys: dict[tuple[str | None, float | None], int] = {(None, None): 0}
    size, n_depots = len(ids), len(depot_ids)
    demands = np.zeros((size, len(dims)))
    windows = np.tile([0.0, math.inf], (size, 1))
    service, penalty = np.zeros(size), np.full(size, np.nan)
    clock = False
    for j, row in enumerate(order_rows):
        i = n_depots + j
        for d, dim in enumerate(dims):
            demands[i, d] = row.number(f"demand_{dim}" if dim else "demand", 0.0)
        start_key = "window_start" if row.has("window_start") or not row.has("ready") else "ready"
        end_key = "window_end" if row.has("window_end") or not row.has("due") else "due"
        windows[i] = row.time(start_key, 0.0), row.time(end_key, math.inf)
        if windows[i, 0] > windows[i, 1]:
            raise InputError(f"{row.where}: {start_key}: the window opens after it closes")
        service[i] = row.number("service", 0.0)
        penalty[i] = row.number("penalty", math.nan)
        clock = clock or row.clock
    fleet: list[Vehicle] = []
    vehicle_names: set[str] = set()
    for row in vehicle_rows:
        name = row.text("id")
        if name in vehicle_names:
            raise InputError(f"{row.where}: id: vehicle {name!r} is listed twice")
        vehicle_names.add(name)
        own_matrix = row.text("matrix")
        own_speed = row.number("speed", math.nan, minimum=1e-9)
        profile_key = (own_matrix or None, None if math.isnan(own_speed) else own_speed)
        if profile_key not in keys:
            source = (vehicles.parent / own_matrix) if own_matrix else matrix
            keys[profile_key] = len(profiles)
            profiles.append(
                _profile(
                    f"vehicle {name}",
                    ids,
                    coords,
                    geo,
                    source,
                    None if own_matrix else durations,
                    None if math.isnan(own_speed) else own_speed,
                    row.where,
                    timed,
                )
            )
        start_at = ids.index(row.text("depot"))
        end_at = ids.index(row.text("end_depot")) if row.has("end_depot") else start_at
        shift_start, shift_end = row.time("shift_start", 0.0), row.time("shift_end", math.inf)
        if shift_start > shift_end:
            raise InputError(f"{row.where}: shift_start: the shift starts after it ends")
        if row.whole("min_stops", 0) > row.whole("max_stops", math.inf):
            raise InputError(f"{row.where}: min_stops: more than max_stops")
        if row.time("min_duration", 0.0, clock=False) > row.time("max_duration", math.inf, clock=False):
            raise InputError(f"{row.where}: min_duration: longer than max_duration")
        fleet.append(
            Vehicle(
                id=name,
                start=start_at,
                end=end_at,
                capacity=tuple(row.number(f"capacity_{dim}" if dim else "capacity", math.inf) for dim in dims),
                fixed_cost=row.number("fixed_cost", 0.0),
                distance_cost=row.number("distance_cost", 1.0),
                time_cost=row.number("time_cost", 0.0),
                shift_start=shift_start,
                shift_end=shift_end,
                max_duration=row.time("max_duration", math.inf, clock=False),
                max_distance=row.number("max_distance", math.inf),
                min_stops=row.whole("min_stops", 0),
                max_stops=row.whole("max_stops", math.inf),
                min_duration=row.time("min_duration", 0.0, clock=False),
                profile=keys[profile_key],
                breaks=_breaks(row),
            )
        )
        clock = clock or row.clock
    return Dispatch(
        ids=ids,
        depots=n_depots,
        vehicles=tuple(fleet),
        profiles=tuple(profiles),
        demands=demands,
        windows=windows,
        service=service,
        penalty=penalty,
        dimensions=tuple(_demand_name(d) for d in dims),
        coords=coords,
        geo=geo,
        clock=clock,
        metres=geo or (matrix is not None and matrix.suffix.lower() == ".json"),
        name=orders.stem,
    )


def _breaks(row: Row) -> tuple[Break, ...]:
    """A vehicle row's breaks, in the order of their numbers (``break_`` is the first, then ``break2_`` ...)."""
    numbers = sorted({int(m[1] or 1) for key in row.cells if (m := BREAK_COLUMN.match(key)) and row.has(key)})
    out = []
    for n in numbers:
        stem = f"break{n if n > 1 else ''}_"
        if not row.has(stem + "duration"):
            raise InputError(f"{row.where}: {stem}duration: missing (the break's minutes, beside its window)")
        duration = row.time(stem + "duration", 0.0, clock=False)
        if duration <= 0:
            raise InputError(f"{row.where}: {stem}duration: a break lasts more than 0 minutes")
        earliest, latest = row.time(stem + "start", 0.0), row.time(stem + "end", math.inf)
        if earliest > latest:
            raise InputError(f"{row.where}: {stem}start: the break's window opens after it closes")
        out.append(Break(duration, earliest, latest))
    return tuple(out)


def _point(row: Row, prefix: str) -> tuple[tuple[float, float], bool] | None:
    """(coordinates, geo) of a row's ``x``/``y`` or ``lat``/``lon`` (with ``prefix``), or None."""
    planar = row.has(prefix + "x") or row.has(prefix + "y")
    geo = row.has(prefix + "lat") or row.has(prefix + "lon")
    if planar and geo:
        raise InputError(f"{row.where}: give {prefix}x/{prefix}y or {prefix}lat/{prefix}lon, not both")
    if not planar and not geo:
        return None
    a, b = (prefix + "lat", prefix + "lon") if geo else (prefix + "x", prefix + "y")
    for key in (a, b):
        if not row.has(key):
            raise InputError(f"{row.where}: {key}: missing")
    first, second = row.coordinate(a), row.coordinate(b)
    if geo and not (-90 <= first <= 90 and -180 <= second <= 180):
        raise InputError(f"{row.where}: {a}/{b}: ({first:g}, {second:g}) is not a latitude and longitude")
    return (first, second), geo


def planar_or_geo(coords: np.ndarray, geo: bool) -> np.ndarray:
    """Distances between all coordinates: Euclidean, or great-circle metres on latitude/longitude."""
    if geo:
        lat, lon = np.radians(coords[:, 0]), np.radians(coords[:, 1])
        h = (
            np.sin((lat[None, :] - lat[:, None]) / 2) ** 2
            + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin((lon[None, :] - lon[:, None]) / 2) ** 2
        )
        return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return np.hypot(coords[:, None, 0] - coords[None, :, 0], coords[:, None, 1] - coords[None, :, 1])


def _profile(
    name: str,
    ids: tuple[str, ...],
    coords: np.ndarray | None,
    geo: bool,
    matrix: Path | None,
    durations: Path | None,
    speed: float | None,
    where: str,
    timed: bool,
) -> Profile:
    """Distances and durations over ``ids``: from a matrix file when given, else from the coordinates."""
    given: Matrix | None = read_matrix(matrix).reorder(ids, str(matrix)) if matrix is not None else None
    metres = geo or (matrix is not None and matrix.suffix.lower() == ".json")
    pace = speed if speed is not None else (METRES_SPEED if metres else 1.0)
    if given is not None and given.distance is not None:
        distance = given.distance
    elif coords is not None:
        distance = planar_or_geo(coords, geo)
    else:
        raise InputError(f"{matrix}: has no distances and the orders have no coordinates to compute them ({where})")
    if durations is not None:
        duration = Matrix(read_matrix(durations).ids, read_durations(durations)).reorder(ids, str(durations)).distance
    elif given is not None and given.duration is not None and speed is None:
        duration = given.duration
    else:
        if given is not None and speed is None and not metres and timed:
            raise InputError(
                f"{matrix}: gives distances only, in a unit this cannot know, and the day has times (windows, "
                "service, shifts, breaks or time costs): add --durations (a CSV of minutes) or --speed (distance "
                "units a minute)"
            )
        duration = distance / pace
    assert duration is not None
    source = "matrix" if given is not None else "coordinates"
    return Profile(name, np.asarray(distance, dtype=float), np.asarray(duration, dtype=float), source, pace)
