"""Why a job did not run, in one sentence, from what the store already holds.

The runner does not record a reason when it ends a job without starting it (it writes only the status),
but the reason follows from the job's row and its execution: a disabled job is skipped; a job whose
parents failed is cancelled by its condition (``all_success`` unless it names another); a killed
execution cancels whatever had not started; and under ``FINISH_CURRENTLY_RUNNING`` a failure anywhere
stops every job that was still waiting. The UI shows this sentence where the job's (empty) log would be.
"""

from __future__ import annotations

from collections.abc import Mapping

from sudoless.flows.model import FailureAction
from sudoless.store.executions import ExecutionRecord
from sudoless.store.job_runs import JobRunRecord
from sudoless.store.status import Status

__all__ = ["why_not_run"]

NOT_RUN = frozenset({Status.CANCELLED, Status.KILLED, Status.SKIPPED, Status.DISABLED})
BROKE = frozenset({Status.FAILED, Status.KILLED, Status.EXECUTION_STOPPED})


def why_not_run(run: JobRunRecord, latest: Mapping[str, JobRunRecord], execution: ExecutionRecord) -> str | None:
    """The reason ``run`` never started, or None if it started (or may still start).

    ``latest`` maps each nested job id of the execution to its latest attempt (the parents' statuses).
    """
    if run.start_time >= 0 or run.status not in NOT_RUN:
        return None
    if run.status in (Status.SKIPPED, Status.DISABLED):
        return "Not run: the job was disabled for this execution."
    parents = [(p, latest[p].status) for p in run.parents if p in latest]
    broken = [f"{p} ({s.value})" for p, s in parents if s in BROKE]
    if run.condition and parents:
        states = ", ".join(f"{p} {s.value}" for p, s in parents)
        return f"Not run: its condition `{run.condition}` was false ({states})."
    if broken:
        return f"Not run: upstream job {', '.join(broken)} did not succeed."
    if execution.status in (Status.KILLED, Status.KILLING):
        return "Not run: the execution was killed before this job could start."
    cancelled = [p for p, s in parents if s == Status.CANCELLED]
    if cancelled:
        return f"Not run: upstream job {', '.join(cancelled)} was cancelled."
    action = (execution.options or {}).get("failure_action") or FailureAction.FINISH_CURRENTLY_RUNNING.value
    return f"Not run: another job failed, and under the failure action {action} no new job starts."
