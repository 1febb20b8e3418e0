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

    Time windows and service times (Solomon files, VRPLIB with TIME_WINDOW_SECTION) are kept by every solver and
    objective (divide cuts by place and time; the makespan is the longest route's distance); a plan then lists
    each stop's arrival, wait, departure and load left on board. Ids in plans are the file's own; for
    VRPLIB/TSPLIB the depot is 0 and node k+1 is stop k (CVRPLIB .sol numbering).
    """


def dispatch_options(func: Any) -> Any:
    """The options of a dispatch day (orders and vehicles files), shared by solve and check."""
    for option in reversed(
        [
            click.option(
                "--orders",
                type=click.Path(path_type=Path),
                default=None,
                help="Orders CSV/JSON (id, x/y or lat/lon, demand or demand_<name>, window_start, window_end, "
                "service, penalty); with --vehicles, instead of FILE (docs/routing.md).",
            ),
            click.option(
                "--vehicles",
                type=click.Path(path_type=Path),
                default=None,
                help="Vehicles CSV/JSON (id, depot, depot_x/y or depot_lat/lon, end_depot, capacity, shift_start, "
                "shift_end, max_duration, max_distance, fixed_cost, distance_cost, time_cost, speed, matrix).",
            ),
            click.option(
                "--matrix",
                type=click.Path(path_type=Path),
                default=None,
                help="Distances between the orders and depots (or an instance FILE's locations, ids as in the "
                "plan): a square CSV with ids in its header, or an OSRM/Valhalla table JSON with an 'ids' list "
                "(durations too, when it has them).",
            ),
            click.option(
                "--durations",
                type=click.Path(path_type=Path),
                default=None,
                help="Travel times in minutes, a square CSV like --matrix (default: distance / --speed).",
            ),
            click.option(
                "--speed",
                type=float,
                default=None,
                help="Distance units a minute for travel times (default 1 on x/y, 500 m/min on lat/lon or a JSON "
                "matrix in metres).",
            ),
        ]
    ):
        func = option(func)
    return func


def read_dispatch_files(
    orders: Path | None, vehicles: Path | None, matrix: Path | None, durations: Path | None, speed: float | None
) -> Any:
    """The dispatch of --orders and --vehicles (both needed; --matrix and friends need them)."""
    from sudoless.routing.orders import read_dispatch

    if orders is None or vehicles is None:
        raise InputError("--orders and --vehicles go together: give both (or an instance FILE instead)")
    if speed is not None and speed <= 0:
        raise InputError(f"--speed must be positive, got {speed:g}")
    return read_dispatch(orders, vehicles, matrix=matrix, durations=durations, speed=speed)


def refuse_single_depot_options(given: dict[str, Any]) -> None:
    """Options of the one-depot problem have no meaning for a dispatch: refused, never silently dropped."""
    if given.get("--objective"):
        raise InputError(
            "--objective applies to solving: a dispatch plan states the objective it was solved for, and its check "
            "recomputes the cost, the makespan and the blend"
        )
    for name, value in given.items():
        if value:
            raise InputError(
                f"{name} applies to an instance FILE, not to --orders/--vehicles (put such limits in the vehicles "
                "file: capacity, max_distance, shift_start, min_stops, max_stops, min_duration, ...)"
            )


@routes.command()
@click.argument("file", type=click.Path(path_type=Path), required=False)
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
    help="cores: PyVRP in one process per core, sharing the best plan. Every solver keeps time windows, and for "
    "--orders/--vehicles every depot, vehicle and limit (divide and cores: parts of the day, then route groups).",
)
@click.option("--time-limit", type=float, default=10.0, show_default=True, help="Seconds (wall clock).")
@click.option(
    "--objective",
    type=click.Choice(["total", "makespan", "blend"]),
    default="total",
    show_default=True,
    help="Total distance, the longest route (balanced), or total + weight x longest. For --orders/--vehicles: "
    "total is the cost, makespan the longest working time, blend cost + weight x makespan.",
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
@dispatch_options
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    default=None,
    help="With --orders: write a self-contained HTML page (map, the day per driver, one printable page each), "
    "or with .pdf the same as a PDF.",
)
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
    orders: Path | None,
    vehicles: Path | None,
    matrix: Path | None,
    durations: Path | None,
    speed: float | None,
    report_path: Path | None,
    as_json: bool,
) -> None:
    """Solve the instance in FILE, or the dispatch day of --orders and --vehicles; prints the routes (one table
    per driver for a dispatch), or one JSON document with --json.

    Exits 1 when the solver's plan breaks a limit (the independent check fails).
    """
    from sudoless.routing import check, read_problem, write_solution
    from sudoless.routing.auto import solve as run
    from sudoless.routing.model import describe_idle

    if time_limit <= 0:
        raise InputError(f"--time-limit must be positive, got {time_limit:g}")
    if orders is not None or vehicles is not None:
        if file is not None:
            raise InputError("give an instance FILE or --orders/--vehicles, not both")
        refuse_single_depot_options(
            {
                "--dispatchers": dispatchers,
                "--min-stops": min_stops,
                "--max-stops": max_stops,
                "--max-distance": max_distance,
                "--capacity": capacity,
                "--metric": metric,
                "--plot": plot_path,
            }
        )
        solve_dispatch_files(
            read_dispatch_files(orders, vehicles, matrix, durations, speed),
            solver,
            time_limit,
            seed,
            output,
            report_path,
            as_json,
            objective={"total": "cost"}.get(objective, objective),
            weight=makespan_weight,
        )
        return
    if file is None:
        raise InputError("give an instance FILE, or --orders and --vehicles")
    refuse_dispatch_only(durations, speed, report_path, metric, matrix)
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
    if matrix is not None:
        from sudoless.routing.matrices import with_matrix

        problem = with_matrix(problem, matrix)
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


def refuse_dispatch_only(
    durations: Path | None, speed: float | None, report_path: Path | None, metric: str | None, matrix: Path | None
) -> None:
    """With an instance FILE, travel time is the distance and there is no per-driver report yet: say so."""
    for name, value in (("--durations", durations), ("--speed", speed), ("--report", report_path)):
        if value is not None:
            raise InputError(f"{name} goes with --orders/--vehicles, not with an instance FILE")
    if matrix is not None and metric is not None:
        raise InputError("--matrix gives the distances: leave out --metric")


def solve_dispatch_files(
    dispatch: Any,
    solver: str,
    time_limit: float,
    seed: int,
    output: Path | None,
    report_path: Path | None,
    as_json: bool,
    objective: str = "cost",
    weight: float = 1.0,
) -> None:
    """Solve a dispatch, check the plan's document independently, write and print it (exit 1 if it fails)."""
    from sudoless.routing.auto import solve_dispatch
    from sudoless.routing.dispatch_check import check_dispatch
    from sudoless.routing.sheets import driver_tables, plan_document

    if output is not None and output.suffix.lower() != ".json":
        raise InputError(f"{output}: a dispatch plan is written as .json")
    if report_path is not None:
        from sudoless.routing.pdf import check_report_name

        check_report_name(report_path.name, f"--report {report_path}")
    plan = solve_dispatch(dispatch, solver=solver, time_limit=time_limit, seed=seed, objective=objective, weight=weight)
    document = plan_document(dispatch, plan)
    report = check_dispatch(dispatch, document)
    document["feasible"] = report.feasible
    document["violations"] = sorted(set(document["violations"]) | set(report.violations))
    if output is not None:
        output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    if report_path is not None:
        from sudoless.routing.pdf import write_report

        write_report(dispatch, document, report_path)
    if as_json:
        emit_json(document)
    else:
        click.echo(driver_tables(dispatch, document))
        for line in document["violations"]:
            click.echo(f"violation: {line}", err=True)
    if not report.feasible:
        raise CheckFailed()


@routes.command("check")
@click.argument("file", type=click.Path(path_type=Path), required=False)
@click.argument("solution", type=click.Path(path_type=Path), required=False)
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
@dispatch_options
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
    orders: Path | None,
    vehicles: Path | None,
    matrix: Path | None,
    durations: Path | None,
    speed: float | None,
    as_json: bool,
) -> None:
    """Check SOLUTION (our JSON output or a CVRPLIB .sol) against FILE: each location once, limits, costs; or,
    with --orders and --vehicles, the one argument is a dispatch plan (our JSON) checked against them.

    A dispatch plan is checked for each vehicle's depots, capacity in every dimension, windows, shift, maximum
    working time and distance, required orders served, and every figure it states (cost, distances, times,
    loads, the unserved list), all recomputed from the input files.

    Everything is recomputed from FILE: route distances, loads, time windows and each stop's arrival, wait,
    departure and load; every such figure the plan states (totals, per route, per stop) must match. The fleet
    is the solution's number of routes unless -k says otherwise (then more routes than K is a violation).
    Exits 1 when the solution is infeasible or any figure it claims is wrong.
    """
    from sudoless.routing import check, read_problem
    from sudoless.routing.formats import locate, read_stops

    if orders is not None or vehicles is not None:
        if solution is not None or file is None:
            raise InputError("with --orders/--vehicles give one argument: the plan (JSON) to check")
        refuse_single_depot_options(
            {
                "--dispatchers": dispatchers,
                "--objective": objective,
                "--min-stops": min_stops,
                "--max-stops": max_stops,
                "--max-distance": max_distance,
                "--metric": metric,
            }
        )
        check_dispatch_file(read_dispatch_files(orders, vehicles, matrix, durations, speed), file, as_json)
        return
    if file is None or solution is None:
        raise InputError("give the instance FILE and the SOLUTION to check (or --orders, --vehicles and a plan)")
    refuse_dispatch_only(durations, speed, None, metric, matrix)
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
    if matrix is not None:
        from sudoless.routing.matrices import with_matrix

        problem = with_matrix(problem, matrix)
    elif plan.get("metric") == "matrix" and problem.metric != "matrix":
        raise InputError(f"{solution}: the plan was made on a given matrix; pass the same --matrix to check it")
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


def check_dispatch_file(dispatch: Any, path: Path, as_json: bool) -> None:
    """Check the dispatch plan in ``path`` (exit 1 when it breaks a rule or misstates a figure)."""
    from sudoless.routing.dispatch_check import check_dispatch

    if not path.is_file():
        raise InputError(f"{path}: no such plan file")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a JSON plan ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("drivers"), list):
        raise InputError(f"{path}: a dispatch plan is an object with a 'drivers' list (routes solve --orders -o)")
    report = check_dispatch(dispatch, doc)
    if as_json:
        emit_json(report.as_dict())
    else:
        status = "feasible" if report.feasible else "INFEASIBLE"
        used = sum(1 for t in report.trips if t["stops"])
        click.echo(
            f"{status}: {used} of {len(report.trips)} vehicles used, cost {report.cost:g}, distance "
            f"{report.distance:g}, {len(report.unserved)} order(s) unserved"
        )
        for line in report.violations:
            click.echo(f"violation: {line}")
    if not report.feasible:
        raise CheckFailed()
