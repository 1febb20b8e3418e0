"""``sudoless routes solve`` and ``sudoless routes check``: routes for many dispatchers from one depot.

The work is in :mod:`sudoless.routing`; this module parses, calls and prints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sudoless.cli import cli, emit_json, json_option
from sudoless.errors import CheckFailed, FleetSizeError, InputError


@cli.group()
def routes() -> None:
    """Plan one route per dispatcher from a depot (VRPLIB/TSPLIB, Solomon, CSV or JSON instances).

    Time windows and service times (Solomon files, VRPLIB with TIME_WINDOW_SECTION) are kept by the engine,
    cores and exact solvers; a plan then lists each stop's arrival, wait, departure and load left on board. Ids in
    plans are the file's own; for VRPLIB/TSPLIB the depot is 0 and node k+1 is stop k (CVRPLIB .sol numbering).
    """


@routes.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "-k",
    "--dispatchers",
    type=int,
    default=None,
    help="Number of dispatchers (default: the -kK of a CVRPLIB name, else 1).",
)
@click.option(
    "--solver",
    type=click.Choice(["auto", "exact", "divide", "engine", "cores"]),
    default="auto",
    show_default=True,
    help="cores: PyVRP (or, for the makespan, divide) in one process per core, sharing the best plan.",
)
@click.option("--time-limit", type=float, default=10.0, show_default=True, help="Seconds (wall clock).")
@click.option(
    "--objective",
    type=click.Choice(["total", "makespan", "blend"]),
    default="total",
    show_default=True,
    help="Total distance, the longest route (balanced), or total + weight x longest.",
)
@click.option(
    "--makespan-weight",
    type=float,
    default=1.0,
    show_default=True,
    help="Weight of the longest route in the blend objective.",
)
@click.option(
    "--min-stops",
    type=int,
    default=0,
    show_default=True,
    help="Minimum stops per dispatcher; 1 makes every dispatcher work (else the plan may leave some idle).",
)
@click.option("--max-stops", type=int, default=None, help="Maximum stops per dispatcher.")
@click.option("--max-distance", type=float, default=None, help="Maximum route distance per dispatcher.")
@click.option("--capacity", type=float, default=None, help="Vehicle capacity (overrides the file's).")
@click.option(
    "--metric",
    type=click.Choice(["euclidean", "rounded", "geo"]),
    default=None,
    help="Distance: real planar, rounded per edge (TSPLIB nint), great circle on lat/lon. Default: the file's "
    "(VRPLIB/TSPLIB EUC_2D rounded, as their best-knowns; Solomon real; CSV/JSON real or geo).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the solution (.json, .csv or .geojson).",
)
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None, help="Write a PNG map.")
@json_option
def solve(
    file: Path,
    dispatchers: int | None,
    solver: str,
    time_limit: float,
    objective: str,
    makespan_weight: float,
    min_stops: int,
    max_stops: int | None,
    max_distance: float | None,
    capacity: float | None,
    metric: str | None,
    seed: int,
    output: Path | None,
    plot_path: Path | None,
    as_json: bool,
) -> None:
    """Solve the instance in FILE; prints the routes (or one JSON document with --json).

    Exits 1 when the solver's plan breaks a limit (the independent check fails).
    """
    from sudoless.routing import check, read_problem, write_solution
    from sudoless.routing.auto import solve as run
    from sudoless.routing.model import describe_idle

    if time_limit <= 0:
        raise InputError(f"--time-limit must be positive, got {time_limit:g}")
    if min_stops < 0:
        raise InputError(f"--min-stops must be >= 0, got {min_stops}")
    problem = read_problem(
        file,
        dispatchers=dispatchers,
        metric=metric,
        objective=objective,
        makespan_weight=makespan_weight,
        min_stops=min_stops,
        max_stops=max_stops,
        max_distance=max_distance,
        capacity=capacity,
    )
    solution = run(problem, solver=solver, time_limit=time_limit, seed=seed)
    report = check(problem, solution.routes)
    if output is not None:
        write_solution(output, solution, problem)
    if plot_path is not None:
        from sudoless.routing.plot import plot_routes

        plot_routes(problem, solution, plot_path)
    summary: dict[str, Any] = solution.summary(problem)  # the JSON form, which the text form reads back too
    summary["feasible"] = report.feasible
    summary["violations"] = report.violations
    if as_json:
        emit_json(summary)
    else:
        for route in summary["routes"]:
            click.echo(
                f"dispatcher {route['dispatcher']}: {' '.join(route['stops']) or '(idle)'}  "
                f"[distance {route['distance']}, load {route['load']}]"
            )
        gap = f", gap {summary['gap']:.2%}" if summary["gap"] is not None else ""
        click.echo(
            f"{summary['solver']}: total {summary['total_distance']}, longest {summary['makespan']}, "
            f"objective {summary['objective']} in {summary['seconds']} s"
            f"{' (optimal)' if solution.optimal else gap}"
        )
        for line in report.violations:
            click.echo(f"violation: {line}", err=True)
    idle: list[int] = summary["idle"]
    if idle:  # on stderr in both modes: the plan is valid, but the user may have expected every dispatcher
        click.echo(
            f"sudoless routes: {describe_idle(idle)}; --min-stops 1 makes every dispatcher take at least one",
            err=True,
        )
    if not report.feasible:
        raise CheckFailed()


@routes.command("check")
@click.argument("file", type=click.Path(path_type=Path))
@click.argument("solution", type=click.Path(path_type=Path))
@click.option(
    "-k",
    "--dispatchers",
    type=int,
    default=None,
    help="Number of dispatchers (default: the number of routes in SOLUTION).",
)
@click.option(
    "--objective",
    type=click.Choice(["total", "makespan", "blend"]),
    default=None,
    help="Default: the solution file's, else total.",
)
@click.option("--min-stops", type=int, default=0, show_default=True)
@click.option("--max-stops", type=int, default=None)
@click.option("--max-distance", type=float, default=None)
@click.option(
    "--metric",
    type=click.Choice(["euclidean", "rounded", "geo"]),
    default=None,
    help="Default: the metric the plan records (our JSON output does), else the file's: VRPLIB/TSPLIB "
    "EUC_2D rounded per edge (TSPLIB nint, the convention of the CVRPLIB/TSPLIB best-knowns), EXPLICIT its "
    "matrix, Solomon real-valued euclidean (its literature's convention), CSV/JSON euclidean or geo on lat/lon.",
)
@json_option
def check_command(
    file: Path,
    solution: Path,
    dispatchers: int | None,
    objective: str | None,
    min_stops: int,
    max_stops: int | None,
    max_distance: float | None,
    metric: str | None,
    as_json: bool,
) -> None:
    """Check SOLUTION (our JSON output or a CVRPLIB .sol) against FILE: each location once, limits, costs.

    Everything is recomputed from FILE: route distances, loads, time windows and each stop's arrival, wait,
    departure and load; every such figure the plan states (totals, per route, per stop) must match. The fleet
    is the solution's number of routes unless -k says otherwise (then more routes than K is a violation).
    Exits 1 when the solution is infeasible or any figure it claims is wrong.
    """
    from sudoless.routing import check, read_problem
    from sudoless.routing.formats import locate, read_stops

    plan: dict[str, object] = {}
    limits: dict[str, float] = {}
    if solution.suffix.lower() == ".json" and solution.is_file():
        try:
            doc = json.loads(solution.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            doc = None
        if isinstance(doc, dict):
            plan = doc
            objective = objective or doc.get("objective_kind")
            weight = doc.get("makespan_weight")
            if isinstance(weight, int | float) and not isinstance(weight, bool):
                limits["makespan_weight"] = float(weight)
            if metric is None and doc.get("metric") in ("euclidean", "rounded", "geo"):
                metric = doc["metric"]
    # the solution is read first: without -k its routes are the fleet (a CVRPLIB X .sol, a plan of ours)
    stops = read_stops(solution)
    fleet = dispatchers if dispatchers is not None else len(stops.routes)
    if fleet < 1:
        raise InputError(f"{solution}: no routes; pass -k/--dispatchers to check against a fleet size")
    try:
        problem = read_problem(
            file,
            dispatchers=fleet,
            metric=metric,
            objective=objective or "total",
            min_stops=min_stops,
            max_stops=max_stops,
            max_distance=max_distance,
            **limits,
        )
    except FleetSizeError as exc:
        where = "-k" if dispatchers is not None else f"the {fleet} routes of {solution}"
        raise FleetSizeError(f"{exc} (fleet size from {where})") from None
    routes_found = locate(stops, problem, solution)
    report = check(problem, routes_found, plan=plan)
    if as_json:
        emit_json(report.as_dict())
    else:
        status = "feasible" if report.feasible else "INFEASIBLE"
        click.echo(
            f"{status}: {len(routes_found)} routes, total {report.total:g}, longest {report.makespan:g} "
            f"({problem.metric.value} distances)"
        )
        for line in report.violations:
            click.echo(f"violation: {line}")
    if not report.feasible:
        raise CheckFailed()
