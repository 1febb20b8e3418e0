"""Solomon's text format for time-window instances (also Gehring & Homberger's, which is the same).

A name line, ``VEHICLE`` with the fleet size and capacity, then ``CUSTOMER`` and one line per location:
number, x, y, demand, ready time, due date, service time; location 0 is the depot, whose window is the day.
Distances are real-valued Euclidean and travel time equals distance, the convention of the literature's
best-knowns. Ids are the file's own customer numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.routing.model import Metric


def is_solomon(text: str) -> bool:
    """Whether ``text`` looks like a Solomon file (a VEHICLE and a CUSTOMER section)."""
    words = text[:2000].upper().split()
    return "VEHICLE" in words and "CUSTOMER" in words


def read_solomon(path: Path) -> dict[str, Any]:
    """:class:`Problem` fields, plus ``dispatchers`` (the file's fleet size)."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if not is_solomon("\n".join(lines)):
        raise InputError(f"{path}: not a Solomon file (expected VEHICLE and CUSTOMER sections)")
    name = next((line.strip() for line in lines if line.strip()), path.stem)
    fleet: tuple[int, float] | None = None
    rows: list[list[float]] = []
    section = ""
    for number, raw in enumerate(lines, start=1):
        words = raw.split()
        if not words:
            continue
        head = words[0].upper()
        if head in ("VEHICLE", "CUSTOMER"):
            section = head
            continue
        if not words[0].lstrip("-").replace(".", "", 1).isdigit():
            continue  # a column header line
        try:
            values = [float(w) for w in words]
        except ValueError:
            raise InputError(f"{path} line {number}: {raw.strip()!r} has a field that is not a number") from None
        if section == "VEHICLE" and fleet is None:
            if len(values) != 2:
                raise InputError(f"{path} line {number}: expected 'vehicles capacity', got {raw.strip()!r}")
            fleet = (int(values[0]), values[1])
        elif section == "CUSTOMER":
            if len(values) != 7:
                raise InputError(
                    f"{path} line {number}: expected 7 fields (number x y demand ready due service), got {len(values)}"
                )
            rows.append(values)
    if fleet is None:
        raise InputError(f"{path}: no 'vehicles capacity' line under VEHICLE")
    if len(rows) < 2:
        raise InputError(f"{path}: needs the depot and at least one customer under CUSTOMER")
    table = np.asarray(rows, dtype=float)
    ids = [str(int(v)) if float(v).is_integer() else str(v) for v in table[:, 0]]
    if len(set(ids)) != len(ids):
        raise InputError(f"{path}: a customer number appears twice")
    demands = table[:, 3].copy()
    demands[0] = 0.0
    return {
        "name": name,
        "ids": tuple(ids),
        "coords": table[:, 1:3].copy(),
        "demands": demands,
        "windows": table[:, 4:6].copy(),
        "service": table[:, 6].copy(),
        "capacity": fleet[1],
        "dispatchers": fleet[0],
        "metric": Metric.EUCLIDEAN,
    }
