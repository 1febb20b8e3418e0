"""The markup the list pages build in Python (times, status badges, the executions rows): the same text as
the templates' filters and macros gave, every stored value escaped."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime

from sudoless.flows.sla import SlaRule
from sudoless.server.ui.charts import run_bars
from sudoless.server.ui.rows import (
    chart_marks,
    execution_rows,
    grid_heads,
    grid_rows,
    recent_rows,
    run_chart,
    running_rows,
    schedule_rows,
    status_html,
)
from sudoless.server.ui.web import format_time, iso_time, new_environment, short_time
from sudoless.store.executions import ExecutionRecord, ExecutionSummary
from sudoless.store.schedules import ScheduleRow
from sudoless.store.status import Status


def test_times_read_as_datetime_writes_them() -> None:
    rng = random.Random(5)
    edges = [0, 1, 999, 1_000, 59_999, 86_399_999, 86_400_000, 951_782_400_000]  # 2000-02-29 among them
    for ms in edges + [rng.randrange(0, 4_102_444_800_000) for _ in range(20_000)]:
        moment = datetime.fromtimestamp(ms / 1000, UTC)
        assert iso_time(ms) == f"{moment:%Y-%m-%dT%H:%M:%SZ}"
        assert short_time(ms) == f"{moment:%m-%d %H:%M}"
        assert format_time(ms) == f'<time datetime="{moment:%Y-%m-%dT%H:%M:%SZ}">{moment:%Y-%m-%d %H:%M:%S} UTC</time>'
    assert format_time(-1) == format_time(None) == '<span class="muted">-</span>'


def test_a_status_badge_is_the_macros() -> None:
    macro = new_environment().from_string('{% from "macros.html" import status %}{{ status(s) }}')
    for value in Status:
        assert status_html(value) == macro.render(s=value)


def run(exec_id: int, status: Status, project: str = "p", flow: str = "f", user: str = "u") -> ExecutionSummary:
    end = -1 if status == Status.RUNNING else 5_000
    return ExecutionSummary(exec_id, 7, project, flow, status, user, 1_000, 2_000, end, "adhoc")


def test_execution_rows_escape_names_and_offer_cancel_only_where_allowed() -> None:
    hostile = "<b>\"x\"&'y'"
    rows = execution_rows(
        [
            run(3, Status.RUNNING, project="a b/c", flow=hostile, user=hostile),
            run(2, Status.SUCCEEDED),
            run(1, Status.RUNNING),
        ],
        now=9_000,
        cancellable={7: True},
        csrf='tok"en',
        back="/ui/executions?flow=<x>",
    )
    text = str(rows)
    assert "<b>" not in text and "&lt;b&gt;&quot;x&quot;&amp;&#x27;y&#x27;" in text
    assert '<a href="/ui/projects/a%20b%2Fc">a b/c</a>' in text
    assert 'href="/ui/projects/a%20b%2Fc/flows/%3Cb%3E%22x%22%26%27y%27"' in text
    assert 'value="tok&quot;en"' in text and 'value="/ui/executions?flow=&lt;x&gt;"' in text
    # cancel on the two running runs, not on the finished one
    assert text.count("/cancel") == 2 and 'action="/ui/executions/2/cancel"' not in text
    assert text.count("<tr ") == 3 and "7.0s" in text and "3.0s" in text  # 2,000 to 9,000 while running
    assert "Cancel" not in str(execution_rows([run(1, Status.RUNNING)], 9_000, {7: False}, "t", "/ui/executions"))


#: The flow page's chart and recent runs as its template drew them before they were built in Python.
CHART_TEMPLATE = """{% for y, value in chart.ticks %}
<line class="tick" x1="{{ chart.axis }}" x2="{{ chart.width }}" y1="{{ y }}" y2="{{ y }}"></line>
<text class="axis" x="{{ chart.axis - 4 }}" y="{{ y + 4 }}" text-anchor="end">{{ value|duration }}</text>
{% endfor %}
{% for bar in chart.bars %}
{% set said = "#" ~ bar.exec_id ~ " " ~ bar.status ~ " in " ~ (bar.duration|duration) %}
<a href="{{ url('executions', bar.exec_id) }}" aria-label="{{ said }}"><title>{{ said }}</title>
<rect class="bar {{ bar.status|status_class }}" x="{{ bar.x }}" y="{{ bar.y }}"
 width="{{ bar.width }}" height="{{ bar.height }}"></rect>
</a>
{% endfor %}"""
RECENT_TEMPLATE = """{% from "macros.html" import status %}{% for run in runs %}
<tr><td><a href="{{ url('executions', run.id) }}">#{{ run.id }}</a></td><td>{{ status(run.status) }}</td>
<td>{{ run.submit_user }}</td>
<td>{{ run.submit_time|when }}</td><td>{{ run.duration(now)|duration }}</td></tr>
{% endfor %}"""


def squeezed(html: str) -> str:
    return "".join(html.split())


def test_the_chart_and_recent_runs_read_as_the_template_drew_them() -> None:
    runs = [run(index, status, user=f"u<{index}>") for index, status in enumerate(Status, start=1)]
    chart = run_bars(runs, now=9_000)
    env = new_environment()
    assert squeezed(chart_marks(chart)) == squeezed(env.from_string(CHART_TEMPLATE).render(chart=chart))
    old = env.from_string(RECENT_TEMPLATE).render(runs=runs, now=9_000)
    assert squeezed(recent_rows(runs, 9_000)) == squeezed(old.replace("&#34;", "&quot;").replace("&#39;", "&#x27;"))


GRID_TEMPLATE = """{% for run in runs %}
{% set started = run.start_time if run.start_time >= 0 else run.submit_time %}
<th scope="col" class="grid-run" data-exec="{{ run.id }}"><a href="{{ url('executions', run.id) }}"
 class="grid-run-link" title="#{{ run.id }} {{ run.status }}"><span class="cell {{ run.status|status_class }}">
<span class="visually-hidden">#{{ run.id }} {{ run.status }}</span></span><time datetime="{{ started|iso }}"
 data-format="short">{{ started|short_utc }}</time></a></th>
{% endfor %}
{% for job in jobs %}
<tr data-job="{{ job.id }}"><th scope="row" class="grid-job job-name depth-{{ job.depth }}"
 title="{{ job.id }}">{{ job.name }}</th></tr>
{% endfor %}"""


def test_the_grid_heads_read_as_the_template_drew_them() -> None:
    runs = [run(1, Status.SUCCEEDED), run(2, Status.RUNNING)._replace(start_time=-1, submit_time=1_234_567)]
    jobs = [{"id": "a", "name": "a", "depth": 0}, {"id": "e:<b>", "name": "<b>", "depth": 1}]
    old = new_environment().from_string(GRID_TEMPLATE).render(runs=runs, jobs=jobs)
    new = grid_heads(runs) + grid_rows(jobs)
    assert squeezed(new) == squeezed(old) and "&lt;b&gt;" in new


#: The schedules page's rows as its template drew them before they were built in Python.
SCHEDULE_TEMPLATE = """{% from "macros.html" import csrf_field %}
    {% for s in schedules %}
    <tr data-schedule="{{ s.id }}"{% if not s.enabled %} class="paused"{% endif %}>
      <td><a href="{{ url('projects', s.project_name) }}">{{ s.project_name }}</a> /
        <a href="{{ url('projects', s.project_name, 'flows', s.flow_id) }}">{{ s.flow_id }}</a>
        {% if not s.enabled %}<span class="tag">paused</span>{% endif %}</td>
      <td><code>{{ s.cron }}</code></td>
      <td>{{ s.timezone }}</td>
      <td>{% if s.enabled %}{{ s.next_fire|when }}{% else %}<span class="muted">paused</span>{% endif %}</td>
      <td>{{ s.last_fire|when }}</td>
      <td>{{ s.submit_user }}</td>
<td class="wrap small">{% for rule in slas[s.id] %}{{ rule.describe() }} ({{ rule.actions|join(", ")|lower
}}){% if not loop.last %}; {% endif %}{% else %}<span class="muted">none</span>{% endfor %}</td>
      <td><div class="row-actions">
        {% if can_change[s.project_id] %}
        <form method="post" action="{{ url('schedules', s.id, 'enabled') }}" class="inline">
          {{ csrf_field(csrf) }}
          <input type="hidden" name="enabled" value="{{ 'false' if s.enabled else 'true' }}">
<button type="submit">{{ "Pause" if s.enabled else "Resume" }}<span class="visually-hidden"> {{ s.flow_id
}}</span></button>
        </form>
<button type="button" class="sla-edit" data-schedule="{{ s.id }}" data-flow="{{ s.flow_id }}">SLA<span
class="visually-hidden"> of {{ s.flow_id }}</span></button>
<button type="button" class="danger remove-schedule" data-schedule="{{ s.id }}" data-flow="{{ s.flow_id
}}">Remove<span class="visually-hidden"> {{ s.flow_id }}</span></button>
        {% endif %}
      </div></td>
    </tr>
    {% endfor %}"""


def test_schedule_rows_read_as_the_template_drew_them() -> None:
    base = ScheduleRow(
        id=4,
        project_id=7,
        project_name="a b",
        project_active=True,
        flow_id="<f>",
        cron="0 0 2 ? * *",
        timezone="Europe/Paris",
        enabled=True,
        options={},
        sla=None,
        submit_user="o'neil",
        submit_time=1,
        next_fire=86_400_000,
        last_fire=-1,
    )
    paused = dataclasses.replace(base, id=5, project_id=8, enabled=False, last_fire=3_600_000)
    rules = {4: (SlaRule("", "SUCCESS", 3_600_000, ("EMAIL", "KILL")), SlaRule("<j>", "FINISH", 60_000, ("EMAIL",)))}
    for can_change in ({7: True, 8: True}, {7: False, 8: True}, {7: False, 8: False}):
        old = new_environment().from_string(SCHEDULE_TEMPLATE)
        drawn = old.render(schedules=[base, paused], slas={4: rules[4], 5: ()}, can_change=can_change, csrf='t"k')
        built = schedule_rows([base, paused], rules, can_change, 't"k')
        assert squeezed(built) == squeezed(drawn.replace("&#34;", "&quot;").replace("&#39;", "&#x27;"))


#: The status page's running executions as its template drew them before they were built in Python.
RUNNING_TEMPLATE = """{% from "macros.html" import status %}{% for run in running %}
<tr><td><a href="{{ url('executions', run.id) }}">#{{ run.id }}</a></td>
<td>{{ run.project_name }} / {{ run.flow_id }}</td><td>{{ status(run.status) }}</td>
<td>{{ run.submit_user }}</td><td>{{ run.submit_time|when }}</td><td>{{ run.duration(now)|duration }}</td></tr>
{% endfor %}"""


def test_the_running_rows_read_as_the_template_drew_them() -> None:
    hostile = "<b>\"x\"&'y'"
    running = [
        ExecutionRecord(
            id=index,
            project_id=7,
            project_name=hostile,
            version=1,
            flow_id=f"f<{index}>",
            status=status,
            submit_user=hostile,
            submit_time=1_000,
            start_time=-1 if status == Status.PREPARING else 2_000,
            end_time=-1,
            update_time=2_000,
            source="adhoc",
            options={},
            executor_id=None,
            control="",
            restarted_from=None,
        )
        for index, status in enumerate((Status.RUNNING, Status.PREPARING, Status.PAUSED, Status.KILLING), start=1)
    ]
    old = new_environment().from_string(RUNNING_TEMPLATE).render(running=running, now=9_000)
    new = running_rows(running, 9_000)
    assert squeezed(new) == squeezed(old.replace("&#34;", "&quot;").replace("&#39;", "&#x27;")) and "&lt;b&gt;" in new


def test_kept_rows_are_only_those_that_no_longer_change() -> None:
    """A finished run's row is kept built and reads the same at any time; a run still going, or over without
    an end time (its duration counts to now), is built on each view."""
    done, going = run(1, Status.SUCCEEDED), run(2, Status.RUNNING)
    endless = run(3, Status.FAILED)._replace(end_time=-1)
    for rows in (
        lambda now: execution_rows([done, going, endless], now, {}, "t", "/ui/executions"),
        lambda now: recent_rows([done, going, endless], now),
    ):
        early, late = str(rows(9_000)), str(rows(69_000))
        assert early.count("3.0s") == 1 and late.count("3.0s") == 1  # the finished run: 2,000 to 5,000
        assert "7.0s" in early and "1m 07s" in late  # the two others: 2,000 to now, each
        assert early.count("7.0s") == 2 and late.count("1m 07s") == 2


def test_a_kept_chart_is_only_one_of_settled_runs_and_follows_them() -> None:
    """A flow page's chart is kept while every run in it is settled, by the runs themselves: a run still going
    is drawn to now on each view, and a new run or a run that changed draws another chart."""
    settled = [run(index, Status.SUCCEEDED)._replace(end_time=2_000 + index * 1_000) for index in range(3, 0, -1)]

    def drawn(runs: list[ExecutionSummary], now: int) -> tuple[object, str]:
        chart = run_bars(runs, now)
        return chart, str(chart_marks(chart))

    first = run_chart(settled, 9_000)
    assert (first[0], str(first[1])) == drawn(settled, 9_000)
    assert run_chart(list(settled), 99_000) is first  # kept: the same whatever the time
    newer = [run(4, Status.FAILED), *settled]
    assert (lambda c: (c[0], str(c[1])))(run_chart(newer, 9_000)) == drawn(newer, 9_000) != drawn(settled, 9_000)
    changed = [settled[0]._replace(status=Status.KILLED), *settled[1:]]
    assert str(run_chart(changed, 9_000)[1]) == drawn(changed, 9_000)[1] != str(first[1])
    going = [run(5, Status.RUNNING), *settled]
    early, late = run_chart(going, 9_000), run_chart(going, 69_000)
    assert str(early[1]) == drawn(going, 9_000)[1] and str(late[1]) == drawn(going, 69_000)[1]
    assert "#5 RUNNING in 7.0s" in early[1] and "#5 RUNNING in 1m 07s" in late[1]


def test_kept_grid_heads_follow_the_run() -> None:
    """A grid head is kept by its run's fields: the same run later in another status reads that status."""
    going = run(9, Status.RUNNING)
    assert "#9 RUNNING" in grid_heads([going])
    assert "#9 SUCCEEDED" in grid_heads([going._replace(status=Status.SUCCEEDED, end_time=6_000)])
