"""A generated dispatch day of any size, for benchmarks and tests of the decompositions: two depots on a
100 x 100 map, orders with windows, service times, two load dimensions (kg, crates) and one in five optional,
and a mixed fleet (vans, trucks, bikes; each kind its own speed, costs and shift; one vehicle in four ending at
the other depot), about one vehicle per eight orders. Reproducible for a seed.
"""

from __future__ import annotations

import numpy as np

from sudoless.routing.dispatch import Dispatch, Profile, Vehicle
from sudoless.routing.orders import planar_or_geo

# kind: capacity (kg, crates), fixed cost, cost per distance, per minute, speed, shift (minutes since midnight)
KINDS = {
    "van": ((150.0, 15.0), 30.0, 1.0, 0.2, 1.0, (480.0, 1080.0)),
    "truck": ((300.0, 25.0), 60.0, 1.5, 0.3, 0.8, (420.0, 1080.0)),
    "bike": ((40.0, 4.0), 0.0, 0.3, 0.1, 0.5, (540.0, 900.0)),
}
ROTA = ("van", "truck", "bike", "van")


def generated_day(orders: int, seed: int = 0, per_vehicle: int = 8) -> Dispatch:
    """A dispatch day of ``orders`` orders and one vehicle per ``per_vehicle`` of them (module docstring)."""
    rng = np.random.default_rng(seed)
    depots = np.array([[25.0, 50.0], [75.0, 50.0]])
    coords = np.vstack((depots, rng.uniform(0, 100, size=(orders, 2))))
    size = len(coords)
    opens = rng.uniform(480, 900, size=orders).round()
    windows = np.vstack(([[0.0, np.inf]] * 2, np.column_stack((opens, opens + rng.uniform(60, 180, orders).round()))))
    service = np.concatenate(([0.0, 0.0], rng.integers(5, 11, orders).astype(float)))
    demands = np.vstack(([[0.0, 0.0]] * 2, np.column_stack((rng.integers(1, 21, orders), rng.integers(0, 3, orders)))))
    penalty = np.full(size, np.nan)
    optional = np.arange(2, size)[np.arange(orders) % 5 == 4]
    penalty[optional] = rng.integers(50, 150, len(optional)).astype(float)
    distance = planar_or_geo(coords, geo=False)
    speeds = sorted({kind[4] for kind in KINDS.values()})
    profiles = tuple(Profile(f"speed {s:g}", distance, distance / s, "coordinates", s) for s in speeds)
    fleet = []
    for k in range(max(2, -(-orders // per_vehicle))):
        kind = ROTA[k % len(ROTA)]
        capacity, fixed, per_distance, per_minute, speed, (start, end) = KINDS[kind]
        fleet.append(
            Vehicle(
                id=f"{kind}{k + 1}",
                start=k % 2,
                end=(k + 1) % 2 if k % 4 == 3 else k % 2,
                capacity=capacity,
                fixed_cost=fixed,
                distance_cost=per_distance,
                time_cost=per_minute,
                shift_start=start,
                shift_end=end,
                profile=speeds.index(speed),
            )
        )
    return Dispatch(
        ids=("north", "south", *[f"o{j + 1}" for j in range(orders)]),
        depots=2,
        vehicles=tuple(fleet),
        profiles=profiles,
        demands=demands.astype(float),
        windows=windows,
        service=service,
        penalty=penalty,
        dimensions=("kg", "crates"),
        coords=coords,
        name=f"day{orders}-{seed}",
    )
