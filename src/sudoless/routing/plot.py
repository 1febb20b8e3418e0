"""A PNG map of the routes: the depot, every location, one coloured line per dispatcher."""

from __future__ import annotations

from pathlib import Path

from sudoless.errors import InputError
from sudoless.routing.model import Metric, Problem, Solution


def plot_routes(problem: Problem, solution: Solution, path: str | Path, title: str | None = None) -> Path:
    """Draw the solution to ``path`` (PNG); longitude is x and latitude y for great-circle instances."""
    if problem.coords is None:
        raise InputError(f"{problem.name}: a map needs coordinates; this instance has only a distance matrix")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xy = problem.coords[:, ::-1] if problem.metric == Metric.GEO else problem.coords
    figure, axes = plt.subplots(figsize=(8, 8), dpi=110)
    colours = plt.get_cmap("tab20")
    routes = [r for r in solution.routes if r]
    for k, route in enumerate(routes):
        path_xy = xy[[0, *route, 0]]
        axes.plot(path_xy[:, 0], path_xy[:, 1], "-", lw=0.9 if problem.n > 500 else 1.4, color=colours(k % 20))
    size = 2 if problem.n > 2000 else 8
    axes.scatter(xy[1:, 0], xy[1:, 1], s=size, c="black", zorder=3)
    axes.scatter([xy[0, 0]], [xy[0, 1]], s=120, marker="s", c="red", zorder=4, label="depot")
    lengths = solution.lengths(problem)
    axes.set_title(
        title
        or f"{problem.name}: {len(routes)} routes, total {sum(lengths):,.1f}, "
        f"longest {max(lengths, default=0):,.1f} ({solution.solver})",
        fontsize=10,
    )
    axes.set_aspect("equal", adjustable="datalim")
    axes.legend(loc="best", fontsize=8)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, format="png")
    plt.close(figure)
    return path
