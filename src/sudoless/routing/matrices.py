"""Given distance and duration matrices: a square CSV with the ids in its header, or the table JSON an OSRM
or Valhalla server answers (exported by the user; nothing here talks to a server).

- CSV: the first row is a corner cell and then the ids; each next row an id and its distances to the header's
  ids, in that order (the rows may come in any order, but every id once). An empty cell means unreachable.
- OSRM ``table`` JSON: ``durations`` (seconds) and/or ``distances`` (metres), row i to column j.
- Valhalla ``sources_to_targets`` JSON: a list of rows of ``{"from_index", "to_index", "time" (seconds),
  "distance" (kilometres)}`` (or one flat list of them).

Neither JSON carries the locations' ids: the file needs an ``"ids"`` list beside the matrix (one line to add to
an exported file), in the order of its rows. Durations become minutes (the unit of every time in a
:class:`~sudoless.routing.dispatch.Dispatch`), distances metres.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.routing.model import Metric, Problem


@dataclass(frozen=True)
class Matrix:
    """Distances and/or durations (minutes) between ``ids``; a missing one is None."""

    ids: tuple[str, ...]
    distance: np.ndarray | None = field(default=None, repr=False)
    duration: np.ndarray | None = field(default=None, repr=False)

    def reorder(self, ids: tuple[str, ...], where: str) -> Matrix:
        """The same matrix over ``ids`` (every one must be in it)."""
        position = {x: i for i, x in enumerate(self.ids)}
        missing = [x for x in ids if x not in position]
        if missing:
            raise InputError(
                f"{where}: no row for id {missing[0]!r}"
                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                + "; the matrix needs every order and depot"
            )
        index = np.array([position[x] for x in ids], dtype=np.int64)

        def pick(m: np.ndarray | None) -> np.ndarray | None:
            return None if m is None else m[np.ix_(index, index)]

        return Matrix(ids, pick(self.distance), pick(self.duration))


def read_matrix(path: Path) -> Matrix:
    """A CSV (distances, in the file's unit) or an OSRM/Valhalla JSON (see the module docstring)."""
    if not path.is_file():
        raise InputError(f"{path}: no such matrix file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the matrix ({exc})") from None
    if path.suffix.lower() == ".json":
        return _read_json(path, text)
    return Matrix(*_read_csv(path, text))


def read_durations(path: Path) -> np.ndarray:
    """A CSV of durations in minutes, in the shape of :func:`read_matrix`'s CSV (its ids are checked by the
    caller through :meth:`Matrix.reorder`)."""
    return read_matrix(path).distance  # type: ignore[return-value]  # a CSV always has its one matrix


def _number(path: Path, line: int, column: str, cell: str) -> float:
    cell = cell.strip()
    if cell == "":
        return math.inf
    try:
        value = float(cell)
    except ValueError:
        raise InputError(f"{path} line {line}: {column}: {cell!r} is not a number") from None
    if value < 0 or math.isnan(value):
        raise InputError(f"{path} line {line}: {column}: {cell!r} must be a number >= 0")
    return value


def _read_csv(path: Path, text: str) -> tuple[tuple[str, ...], np.ndarray]:
    first_line = text.split("\n", 1)[0]
    separator = (
        ";" if ";" in first_line and "," not in first_line else ","
    )  # as a spreadsheet with decimal commas writes
    rows = [row for row in csv.reader(text.splitlines(), delimiter=separator) if any(cell.strip() for cell in row)]
    if len(rows) < 2:
        raise InputError(f"{path}: a matrix CSV needs a header of ids and one row per id")
    header = tuple(cell.strip() for cell in rows[0][1:])
    if len(set(header)) != len(header) or "" in header:
        raise InputError(f"{path} line 1: the header's ids must be distinct and not empty")
    position = {x: i for i, x in enumerate(header)}
    matrix = np.full((len(header), len(header)), np.nan)
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header) + 1:
            raise InputError(f"{path} line {line}: {len(row)} cells, expected {len(header) + 1} (an id and one per id)")
        name = row[0].strip()
        if name not in position:
            raise InputError(f"{path} line {line}: id {name!r} is not in the header")
        i = position[name]
        if not np.all(np.isnan(matrix[i])):
            raise InputError(f"{path} line {line}: id {name!r} has a second row")
        matrix[i] = [_number(path, line, header[j], cell) for j, cell in enumerate(row[1:])]
    missing = [header[i] for i in range(len(header)) if np.all(np.isnan(matrix[i]))]
    if missing:
        raise InputError(f"{path}: no row for id {missing[0]!r}; the matrix must be square")
    return header, matrix


def _grid(path: Path, value: Any, key: str, size: int, scale: float) -> np.ndarray:
    if (
        not isinstance(value, list)
        or len(value) != size
        or any(not isinstance(r, list) or len(r) != size for r in value)
    ):
        raise InputError(f"{path}: {key!r} must be {size} rows of {size} numbers (one per id)")
    out = np.empty((size, size))
    for i, row in enumerate(value):
        for j, x in enumerate(row):
            if x is None:
                out[i, j] = math.inf  # OSRM's null: no route
            elif isinstance(x, int | float) and not isinstance(x, bool) and x >= 0:
                out[i, j] = float(x) * scale
            else:
                raise InputError(f"{path}: {key!r} row {i + 1} column {j + 1}: {x!r} is not a number >= 0")
    return out


def _read_json(path: Path, text: str) -> Matrix:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} line {exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected an object with 'ids' and 'durations'/'distances' or 'sources_to_targets'")
    ids = doc.get("ids")
    if not isinstance(ids, list) or not ids or any(not isinstance(x, str | int) for x in ids):
        raise InputError(f"{path}: needs an 'ids' list naming the matrix's rows in order (order and depot ids)")
    names = tuple(str(x) for x in ids)
    if len(set(names)) != len(names):
        raise InputError(f"{path}: 'ids' has an id twice")
    size = len(names)
    if "sources_to_targets" in doc:
        return _valhalla(path, doc["sources_to_targets"], names)
    distance = _grid(path, doc["distances"], "distances", size, 1.0) if "distances" in doc else None
    duration = _grid(path, doc["durations"], "durations", size, 1 / 60) if "durations" in doc else None
    if distance is None and duration is None:
        raise InputError(f"{path}: no 'durations', 'distances' or 'sources_to_targets'")
    return Matrix(names, distance, duration)


def _valhalla(path: Path, cells: Any, names: tuple[str, ...]) -> Matrix:
    flat = [c for row in cells for c in (row if isinstance(row, list) else [row])] if isinstance(cells, list) else None
    size = len(names)
    if flat is None or len(flat) != size * size or any(not isinstance(c, dict) for c in flat):
        raise InputError(f"{path}: 'sources_to_targets' must hold {size} x {size} objects (one per pair of ids)")
    distance, duration = np.full((size, size), math.inf), np.full((size, size), math.inf)
    for c in flat:
        i, j = c.get("from_index"), c.get("to_index")
        if not isinstance(i, int) or not isinstance(j, int) or not (0 <= i < size and 0 <= j < size):
            raise InputError(f"{path}: sources_to_targets entry {c!r} has no valid from_index/to_index")
        for key, grid, scale in (("distance", distance, 1000.0), ("time", duration, 1 / 60)):
            x = c.get(key)
            if isinstance(x, int | float) and not isinstance(x, bool) and x >= 0:
                grid[i, j] = float(x) * scale
            elif x is not None:
                raise InputError(f"{path}: sources_to_targets {i}->{j}: {key} {x!r} is not a number >= 0")
    return Matrix(names, distance, duration)


def with_matrix(problem: Problem, path: Path) -> Problem:
    """``problem`` (an instance file's, one depot) with the distances of the matrix file at ``path`` in place of
    those from its coordinates; its ids must all be in the matrix. Travel time stays the distance there (the
    instance's convention), so only the distances are taken, and every pair needs one."""
    given = read_matrix(path)
    if given.distance is None:
        raise InputError(f"{path}: has durations only; an instance file's routes need distances")
    grid = given.reorder(problem.ids, str(path)).distance
    assert grid is not None
    if not np.all(np.isfinite(grid)):
        a, b = (int(x) for x in np.argwhere(~np.isfinite(grid))[0])
        raise InputError(
            f"{path}: no distance from {problem.ids[a]} to {problem.ids[b]}; pairs without a road are handled with "
            "--orders/--vehicles only"
        )
    return problem.with_(matrix=grid, metric=Metric.MATRIX)
