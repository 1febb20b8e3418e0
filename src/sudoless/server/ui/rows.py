"""The rows of the UI's long tables, built as markup in Python instead of in a template loop.

Why: Jinja spends tens of microseconds on each row of a list (a macro call per status badge, a filter
call per time, a function call per link, an escape per value), 3 to 4 ms of server CPU for the 50 rows of
the executions page, where one join of f-strings over ``html.escape``d values costs a tenth of that.
Every value from the database goes through :func:`html.escape` (quotes included, as it may stand in an
attribute), exactly what the templates' autoescaping does; the markup is the templates' own.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from markupsafe import Markup

from sudoless.flows.sla import SlaRule
from sudoless.server.ui.charts import Chart, run_bars
from sudoless.server.ui.web import format_duration, iso_time, quoted, short_time, status_class, time_html
from sudoless.store.executions import ExecutionRecord, ExecutionSummary
from sudoless.store.schedules import ScheduleRow, ShownSchedule
from sudoless.store.status import TERMINAL_FLOW, Status

__all__ = [
    "chart_marks",
    "execution_rows",
    "grid_heads",
    "grid_rows",
    "recent_rows",
    "run_chart",
    "running_rows",
    "schedule_rows",
    "status_html",
]


@functools.cache
def status_html(status: Status) -> str:
    """A status badge, as the template macro ``status`` draws it."""
    return f'<span class="status {status_class(status)}">{status.value}</span>'


#: Rows kept built, by run: the executions page shows 50, the flow page 50 more, and nearly all are over, so
#: their rows never change; a row kept costs a lookup (a hash of the run's fields) where building it cost
#: about 8 us. Bounded: about 4 MB at most.
ROWS_KEPT = 4096


def _settled(run: ExecutionSummary) -> bool:
    """Whether ``run``'s row is final: the run is over and its duration no longer counts to now."""
    return run.status in TERMINAL_FLOW and (run.start_time < 0 or run.end_time >= 0)


def execution_rows(
    runs: Sequence[ExecutionSummary], now: int, cancellable: Mapping[int, bool], csrf: str, back: str
) -> Markup:
    """The executions page's table body: one ``<tr>`` a run, with a Cancel form where the run is not over
    and ``cancellable`` says its project allows it (the cancel route checks again). A finished run's row is
    the same on every view (:func:`_finished_execution_row`)."""
    token, back_value = escape(csrf), escape(back)
    parts: list[str] = []
    for run in runs:
        if _settled(run):
            parts.append(_finished_execution_row(run))
            continue
        cancel = ""
        if run.status not in TERMINAL_FLOW and cancellable.get(run.project_id):
            ident, flow = run.id, escape(run.flow_id)
            cancel = (
                f'\n      <form method="post" action="/ui/executions/{ident}/cancel" class="inline"'
                f' data-confirm="Cancel execution {ident} of {flow}?">\n'
                f'        <input type="hidden" name="csrf.token" value="{token}">'
                f'<input type="hidden" name="back" value="{back_value}">\n'
                f'        <button type="submit" class="danger small-button" aria-label="Cancel execution {ident}">'
                "Cancel</button>\n      </form>"
            )
        parts.append(_execution_row(run, format_duration(run.duration(now)), cancel))
    return Markup("".join(parts))


@functools.lru_cache(maxsize=ROWS_KEPT)
def _finished_execution_row(run: ExecutionSummary) -> str:
    return _execution_row(run, format_duration(run.duration(0)), "")


def _execution_row(run: ExecutionSummary, duration: str, cancel: str) -> str:
    ident = run.id
    project_url = "/ui/projects/" + quoted(run.project_name)
    return (
        f'  <tr data-exec="{ident}">\n'
        f'    <td><a href="/ui/executions/{ident}">#{ident}</a></td>\n'
        f'    <td><a href="{project_url}">{escape(run.project_name)}</a></td>\n'
        f'    <td><a href="{project_url}/flows/{quoted(run.flow_id)}">{escape(run.flow_id)}</a></td>\n'
        f"    <td>{status_html(run.status)}</td>\n"
        f"    <td>{escape(run.submit_user)}</td>\n"
        f"    <td>{time_html(run.submit_time)}</td>\n"
        f"    <td>{time_html(run.start_time)}</td>\n"
        f"    <td>{time_html(run.end_time)}</td>\n"
        f"    <td>{duration}</td>\n"
        f"    <td>{escape(run.source)}</td>\n"
        f"    <td>{cancel}</td>\n"
        "  </tr>\n"
    )


def recent_rows(runs: Sequence[ExecutionSummary], now: int) -> Markup:
    """A flow page's recent runs: run, status, submitter, submit time, duration (a finished run's row kept
    built, as the executions page's are)."""
    return Markup(
        "".join(
            _finished_recent_row(run) if _settled(run) else _recent_row(run, format_duration(run.duration(now)))
            for run in runs
        )
    )


@functools.lru_cache(maxsize=ROWS_KEPT)
def _finished_recent_row(run: ExecutionSummary) -> str:
    return _recent_row(run, format_duration(run.duration(0)))


def _recent_row(run: ExecutionSummary, duration: str) -> str:
    return (
        f'      <tr><td><a href="/ui/executions/{run.id}">#{run.id}</a></td><td>{status_html(run.status)}</td>'
        f"<td>{escape(run.submit_user)}</td>\n"
        f"        <td>{time_html(run.submit_time)}</td><td>{duration}</td></tr>\n"
    )


def running_rows(runs: Sequence[ExecutionRecord], now: int) -> Markup:
    """The status page's running and queued executions: run, project / flow, status, submitter, submit time,
    duration so far."""
    return Markup(
        "".join(
            f'    <tr><td><a href="/ui/executions/{run.id}">#{run.id}</a></td>'
            f"<td>{escape(run.project_name)} / {escape(run.flow_id)}</td><td>{status_html(run.status)}</td>\n"
            f"      <td>{escape(run.submit_user)}</td><td>{time_html(run.submit_time)}</td>"
            f"<td>{format_duration(run.duration(now))}</td></tr>\n"
            for run in runs
        )
    )


def chart_marks(chart: Chart) -> Markup:
    """The inside of a run chart's ``<svg>``: the duration axis's ticks, then one linked bar a run, whose
    title says its run, status and duration (for screen readers and as a tooltip)."""
    parts = [
        f'      <line class="tick" x1="{chart.axis}" x2="{chart.width}" y1="{y}" y2="{y}"></line>\n'
        f'      <text class="axis" x="{chart.axis - 4}" y="{y + 4}" text-anchor="end">{format_duration(value)}</text>\n'
        for y, value in chart.ticks
    ]
    for bar in chart.bars:
        said = f"#{bar.exec_id} {bar.status.value} in {format_duration(bar.duration)}"
        parts.append(
            f'      <a href="/ui/executions/{bar.exec_id}" aria-label="{said}"><title>{said}</title>\n'
            f'        <rect class="bar {status_class(bar.status)}" x="{bar.x}" y="{bar.y}" width="{bar.width}"'
            f' height="{bar.height}"></rect>\n      </a>\n'
        )
    return Markup("".join(parts))


#: Runs a flow page's chart shows.
CHART_SLOTS = 50


def run_chart(runs: Sequence[ExecutionSummary], now: int) -> tuple[Chart, Markup]:
    """A flow page's chart of its latest runs (newest first, as queried) and its marks. When every run shown
    is settled (:func:`_settled`: its duration no longer counts to now), both are the same on every view
    until the flow runs again, and are kept, by the runs themselves (a new run, or a run whose status or
    times changed, is another key); building them cost about a tenth of the page."""
    shown = tuple(runs[:CHART_SLOTS])
    if all(_settled(run) for run in shown):
        return _settled_chart(shown)
    chart = run_bars(shown, now, CHART_SLOTS)
    return chart, chart_marks(chart)


@functools.lru_cache(maxsize=256)
def _settled_chart(runs: tuple[ExecutionSummary, ...]) -> tuple[Chart, Markup]:
    chart = run_bars(runs, 0, CHART_SLOTS)
    return chart, chart_marks(chart)


def grid_heads(runs: Sequence[ExecutionSummary | ExecutionRecord]) -> Markup:
    """The runs x jobs grid's column heads, oldest run first: each links its run and shows its status and
    when it started (or was submitted, before it started), in UTC until the page's script localises it. A
    summary's head (every grid's runs are summaries) is kept built, as the lists' rows are: it depends on
    the run's fields only."""
    return Markup(
        "".join(_kept_grid_head(run) if isinstance(run, ExecutionSummary) else _grid_head(run) for run in runs)
    )


@functools.lru_cache(maxsize=ROWS_KEPT)
def _kept_grid_head(run: ExecutionSummary) -> str:
    return _grid_head(run)


def _grid_head(run: ExecutionSummary | ExecutionRecord) -> str:
    started = run.start_time if run.start_time >= 0 else run.submit_time
    said = f"#{run.id} {run.status.value}"
    return (
        f'    <th scope="col" class="grid-run" data-exec="{run.id}"><a href="/ui/executions/{run.id}"'
        f' class="grid-run-link" title="{said}"><span class="cell {status_class(run.status)}">'
        f'<span class="visually-hidden">{said}</span></span><time datetime="{iso_time(started)}"'
        f' data-format="short">{short_time(started)}</time></a></th>\n'
    )


def grid_rows(jobs: Sequence[Mapping[str, Any]]) -> Markup:
    """The grid's row heads, one ``<tr>`` a job (its cells are drawn by the page's script)."""
    return Markup(
        "".join(
            f'  <tr data-job="{escape(job["id"])}"><th scope="row" class="grid-job job-name depth-{int(job["depth"])}"'
            f' title="{escape(job["id"])}">{escape(job["name"])}</th></tr>\n'
            for job in jobs
        )
    )


def schedule_rows(
    schedules: Sequence[ScheduleRow | ShownSchedule],
    slas: Mapping[int, Sequence[SlaRule]],
    can_change: Mapping[int, bool],
    csrf: str,
) -> Markup:
    """The schedules page's table body: per schedule its flow, cron, zone, next and last fire, owner and SLA,
    with pause or resume, SLA and remove where ``can_change`` says its project allows it (the routes check
    again)."""
    token = escape(csrf)
    parts: list[str] = []
    for s in schedules:
        project, flow = escape(s.project_name), escape(s.flow_id)
        project_url = "/ui/projects/" + quoted(s.project_name)
        rules = slas.get(s.id) or ()
        sla = (
            "; ".join(f"{escape(rule.describe())} ({escape(', '.join(rule.actions).lower())})" for rule in rules)
            or '<span class="muted">none</span>'
        )
        actions = ""
        if can_change.get(s.project_id):
            actions = (
                f'\n        <form method="post" action="/ui/schedules/{s.id}/enabled" class="inline">\n'
                f'          <input type="hidden" name="csrf.token" value="{token}">\n'
                f'          <input type="hidden" name="enabled" value="{"false" if s.enabled else "true"}">\n'
                f'          <button type="submit">{"Pause" if s.enabled else "Resume"}'
                f'<span class="visually-hidden"> {flow}</span></button>\n        </form>\n'
                f'        <button type="button" class="sla-edit" data-schedule="{s.id}" data-flow="{flow}">SLA'
                f'<span class="visually-hidden"> of {flow}</span></button>\n'
                f'        <button type="button" class="danger remove-schedule" data-schedule="{s.id}"'
                f' data-flow="{flow}">Remove<span class="visually-hidden"> {flow}</span></button>\n      '
            )
        paused, row_class = ("", "") if s.enabled else ('<span class="tag">paused</span>', ' class="paused"')
        next_fire = time_html(s.next_fire) if s.enabled else '<span class="muted">paused</span>'
        parts.append(
            f'    <tr data-schedule="{s.id}"{row_class}>\n'
            f'      <td><a href="{project_url}">{project}</a> /\n'
            f'        <a href="{project_url}/flows/{quoted(s.flow_id)}">{flow}</a>\n        {paused}</td>\n'
            f"      <td><code>{escape(s.cron)}</code></td>\n"
            f"      <td>{escape(s.timezone)}</td>\n"
            f"      <td>{next_fire}</td>\n"
            f"      <td>{time_html(s.last_fire)}</td>\n"
            f"      <td>{escape(s.submit_user)}</td>\n"
            f'      <td class="wrap small">{sla}</td>\n'
            f'      <td><div class="row-actions">{actions}</div></td>\n'
            "    </tr>\n"
        )
    return Markup("".join(parts))
