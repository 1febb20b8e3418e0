"""Chart geometry: the last runs as bars (oldest first, height by duration) and success rates per flow."""

from __future__ import annotations

from sudoless.server.ui.charts import run_bars, success_rates
from sudoless.server.ui.jobs import _chart_json, attempts_chart
from sudoless.store.executions import ExecutionRecord
from sudoless.store.job_runs import JobAttempt
from sudoless.store.status import Status


def run(exec_id: int, status: Status, duration: int, start: int = 1_000) -> ExecutionRecord:
    end = start + duration if status != Status.RUNNING else -1
    return ExecutionRecord(
        id=exec_id,
        project_id=1,
        project_name="p",
        flow_id="f",
        status=status,
        submit_user="u",
        submit_time=start,
        start_time=start,
        end_time=end,
        update_time=start,
        source="adhoc",
        version=1,
        options={},
        executor_id=None,
        control="",
        restarted_from=None,
    )


def test_bars_are_oldest_first_and_scaled_to_a_round_top() -> None:
    newest_first = [
        run(3, Status.FAILED, 90_000),
        run(2, Status.RUNNING, 0, start=10_000),
        run(1, Status.SUCCEEDED, 45_000),
    ]
    chart = run_bars(newest_first, now=40_000)
    assert [bar.exec_id for bar in chart.bars] == [1, 2, 3]
    assert chart.max_duration == 120_000  # 90 s rounds up to 2 minutes
    assert [bar.duration for bar in chart.bars] == [45_000, 30_000, 90_000]  # the running one: so far
    assert chart.bars[2].height == 2 * chart.bars[0].height
    assert all(b.x < c.x for b, c in zip(chart.bars, chart.bars[1:], strict=False))
    assert run_bars([], now=0).bars == []


def test_success_rate_counts_finished_runs_only() -> None:
    outcomes = {"a": {Status.SUCCEEDED: 3, Status.FAILED: 1, Status.RUNNING: 2}, "b": {Status.KILLED: 2}}
    rates = {rate.flow_id: rate for rate in success_rates(outcomes, ["a", "b", "never"])}
    assert (rates["a"].percent, rates["a"].finished, rates["a"].running) == (75.0, 4, 2)
    assert rates["b"].percent == 0.0
    assert rates["never"].percent is None


def test_a_jobs_attempts_chart_is_kept_only_while_every_attempt_has_ended() -> None:
    """The job panel's chart is kept when no bar grows with the time any more, by the attempts themselves: a
    running attempt counts to now on each view, and a new or changed attempt draws another chart."""
    ended = [
        JobAttempt(index, "j", 0, Status.SUCCEEDED, 1_000 * index, 1_000 * index + 500 * index) for index in (3, 2, 1)
    ]
    first = attempts_chart(ended, 10_000)
    assert first == _chart_json(ended, 10_000) and attempts_chart(list(ended), 99_000) is first
    changed = [ended[0]._replace(status=Status.FAILED), *ended[1:]]
    assert attempts_chart(changed, 10_000) == _chart_json(changed, 10_000) != first
    going = [JobAttempt(4, "j", 0, Status.RUNNING, 4_000, -1), *ended]
    early, late = attempts_chart(going, 10_000), attempts_chart(going, 70_000)
    assert early["bars"][-1]["title"] == "#4 RUNNING in 6.0s" and late["bars"][-1]["title"] == "#4 RUNNING in 1m 06s"
