"""Chart geometry: the last runs as bars (oldest first, height by duration) and success rates per flow."""

from __future__ import annotations

from sudoless.server.ui.charts import run_bars, success_rates
from sudoless.store.executions import ExecutionRecord
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
