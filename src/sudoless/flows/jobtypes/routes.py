"""The ``routes`` job type: plan dispatchers' routes as one step of a flow.

Properties (``input`` is required):

=====================  ======================================================================
``input``              instance file (.vrp/.tsp, .csv, .json), relative to the working directory
``dispatchers``        number of dispatchers (default: the -kK of a CVRPLIB name, else 1)
``solver``             auto, exact, divide or engine (default auto)
``time.limit``         seconds (default 10; the job's own timeout also caps it)
``objective``          total, makespan or blend (default total)
``min.stops``          minimum stops per dispatcher (default 0)
``max.stops``          maximum stops per dispatcher
``max.distance``       maximum route distance per dispatcher
``metric``             euclidean, rounded or geo (default: the file's)
``seed``               default 0
``output``             solution file (.json, .csv or .geojson)
``plot``               PNG map of the routes
=====================  ======================================================================

Output properties for dependants: ``total_distance``, ``makespan``, ``objective``, ``routes``, ``solver``.

A dispatch day instead of ``input`` (docs/routing.md): ``orders`` and ``vehicles`` files, with ``matrix``,
``durations`` and ``speed`` as ``routes solve`` takes them, ``solver``, ``time.limit``, ``seed``, ``objective``
(total: the cost, makespan: the longest working time, blend: cost + ``makespan.weight`` x makespan); ``output`` is
then the plan (.json) and ``report`` the HTML page (or, named .pdf, the same as a PDF). Its outputs: ``cost``,
``total_distance``, ``vehicles`` (used), ``unserved`` (how many orders were left out) and ``solver``. The options of
one depot (``dispatchers``, the stop and distance limits, ``metric``, ``plot``) are refused with it: the work limits
are columns of the vehicles file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, overload

from sudoless.errors import InputError, SudolessError
from sudoless.flows.jobtypes import JobContext, JobResult, register

T = TypeVar("T")
SINGLE_DEPOT = ("input", "dispatchers", "min.stops", "max.stops", "max.distance", "metric", "plot")


@overload
def _opt(ctx: JobContext, name: str, kind: Callable[[str], T]) -> T | None: ...


@overload
def _opt(ctx: JobContext, name: str, kind: Callable[[str], T], default: T) -> T: ...


def _opt(ctx: JobContext, name: str, kind: Callable[[str], T], default: T | None = None) -> T | None:
    """Property ``name`` read as ``kind`` (int, float, str), ``default`` when it is empty or missing."""
    raw = ctx.props.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise InputError(f"property {name}={raw!r} is not a valid {kind.__name__}") from None


@register("routes")
class RoutesJob:
    """Runs :func:`sudoless.routing.auto.solve` in-process and checks the result independently."""

    def run(self, ctx: JobContext) -> JobResult:
        if ctx.props.get("orders") or ctx.props.get("vehicles"):
            return self.dispatch(ctx)
        return self.instance(ctx)

    def dispatch(self, ctx: JobContext) -> JobResult:
        """A dispatch day: solved, checked independently, written."""
        from sudoless.routing import check_dispatch, plan_document, read_dispatch, solve_dispatch

        ctx.started(None)
        try:
            single = [p for p in SINGLE_DEPOT if ctx.props.get(p, "").strip()]
            if single:
                raise InputError(f"property {single[0]} applies to an instance 'input', not to orders/vehicles")
            if not ctx.props.get("orders") or not ctx.props.get("vehicles"):
                raise InputError("a dispatch needs both 'orders' and 'vehicles' files")
            optional = {key: ctx.path(ctx.props[key]) for key in ("matrix", "durations") if ctx.props.get(key)}
            dispatch = read_dispatch(
                ctx.path(ctx.props["orders"]),
                ctx.path(ctx.props["vehicles"]),
                speed=_opt(ctx, "speed", float),
                **optional,
            )
            limit = _opt(ctx, "time.limit", float, 10.0)
            if ctx.timeout:
                limit = min(limit, ctx.timeout)
            objective = _opt(ctx, "objective", str, "total")
            plan = solve_dispatch(
                dispatch,
                solver=_opt(ctx, "solver", str, "auto"),
                time_limit=limit,
                seed=_opt(ctx, "seed", int, 0),
                objective={"total": "cost"}.get(objective, objective),
                weight=_opt(ctx, "makespan.weight", float, 1.0),
            )
            document = plan_document(dispatch, plan)
            report = check_dispatch(dispatch, document)
            document["feasible"], document["violations"] = report.feasible, report.violations
            if ctx.props.get("output") and not ctx.props["output"].lower().endswith(".json"):
                raise InputError(f"property output={ctx.props['output']!r}: a dispatch's output is a .json file")
            if ctx.props.get("report"):
                from sudoless.routing.pdf import check_report_name

                check_report_name(ctx.props["report"], f"property report={ctx.props['report']!r}")
            if ctx.props.get("output"):
                import json

                target = ctx.path(ctx.props["output"])
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
            if ctx.props.get("report"):
                from sudoless.routing.pdf import write_report

                page = ctx.path(ctx.props["report"])
                page.parent.mkdir(parents=True, exist_ok=True)
                write_report(dispatch, document, page)
        except (OSError, SudolessError) as exc:
            ctx.log.line(f"routes: {exc}", "ERROR")
            return JobResult(False, message=str(exc))
        used = sum(1 for d in document["drivers"] if d["stops"])
        ctx.log.line(
            f"{plan.solver}: {used} of {len(dispatch.vehicles)} vehicles, cost {report.cost:g}, "
            f"{len(report.unserved)} order(s) left out in {plan.seconds:.1f} s"
        )
        for entry in document["unserved"]:
            ctx.log.line(f"routes: unserved {entry['reason']}", "WARN")
        outputs = {
            "cost": f"{report.cost:g}",
            "total_distance": f"{report.distance:g}",
            "vehicles": str(used),
            "unserved": str(len(report.unserved)),
            "solver": plan.solver,
        }
        return _result(ctx, report.feasible, report.violations, outputs)

    def instance(self, ctx: JobContext) -> JobResult:
        """An instance file (one depot, K dispatchers)."""
        from sudoless.routing import check, read_problem, write_solution
        from sudoless.routing.auto import solve
        from sudoless.routing.model import describe_idle

        ctx.started(None)
        try:
            if not ctx.props.get("input"):
                ctx.log.line("routes job needs an 'input' instance file", "ERROR")
                return JobResult(False, message="no input")
            problem = read_problem(
                ctx.path(ctx.props["input"]),
                dispatchers=_opt(ctx, "dispatchers", int),
                metric=_opt(ctx, "metric", str),
                objective=_opt(ctx, "objective", str),
                min_stops=_opt(ctx, "min.stops", int),
                max_stops=_opt(ctx, "max.stops", int),
                max_distance=_opt(ctx, "max.distance", float),
            )
            limit = _opt(ctx, "time.limit", float, 10.0)
            if ctx.timeout:
                limit = min(limit, ctx.timeout)
            solution = solve(
                problem,
                solver=_opt(ctx, "solver", str, "auto"),
                time_limit=limit,
                seed=_opt(ctx, "seed", int, 0),
            )
            report = check(problem, solution.routes)
            if ctx.props.get("output"):
                target = ctx.path(ctx.props["output"])
                target.parent.mkdir(parents=True, exist_ok=True)
                write_solution(target, solution, problem)
            if ctx.props.get("plot"):
                from sudoless.routing.plot import plot_routes

                plot_routes(problem, solution, ctx.path(ctx.props["plot"]))
        except (OSError, ValueError, SudolessError) as exc:  # ValueError: an unknown metric or objective name
            ctx.log.line(f"routes: {exc}", "ERROR")
            return JobResult(False, message=str(exc))
        used = len([r for r in solution.routes if r])
        ctx.log.line(
            f"{solution.solver}: {used} routes, total {report.total:g}, longest {report.makespan:g} "
            f"in {solution.seconds:.1f} s"
        )
        if report.idle:
            ctx.log.line(f"routes: {describe_idle(report.idle)}; min.stops=1 makes every dispatcher take one", "WARN")
        outputs = {
            "total_distance": f"{report.total:g}",
            "makespan": f"{report.makespan:g}",
            "objective": f"{report.objective:g}",
            "routes": str(used),
            "solver": solution.solver,
        }
        return _result(ctx, report.feasible, report.violations, outputs)


def _result(ctx: JobContext, feasible: bool, violations: list[str], outputs: dict[str, str]) -> JobResult:
    """The job's result from the independent check: an infeasible plan fails the job, each violation logged."""
    if not feasible:
        for line in violations:
            ctx.log.line(f"routes: {line}", "ERROR")
        return JobResult(False, outputs=outputs, message="infeasible plan")
    return JobResult(True, outputs=outputs)
