"""``concurrentOption=pipeline``: an execution whose jobs wait for the same flow's previous execution.

Azkaban's levels: 1, a job waits until the same job in the previous execution has finished; 2, until
that job's children there have finished (an embedded-flow child counts as a whole, which is stricter
than Azkaban's "its start nodes"); 3, until the previous execution's end nodes have finished, that is,
all of it. Once the previous execution is over, nothing waits any more.
"""

from __future__ import annotations

from collections.abc import Sequence

from sudoless.store import Store
from sudoless.store.status import FINISHED, TERMINAL_FLOW, Status


class Pipeline:
    """What the previous execution's jobs are doing, refreshed from the store when the runner asks."""

    def __init__(self, store: Store, previous: int | None, level: int | None) -> None:
        self.store = store
        self.previous = previous
        self.level = level or 1
        self.statuses: dict[str, Status] | None = None

    @property
    def active(self) -> bool:
        return self.previous is not None

    def refresh(self) -> None:
        """Re-read the previous execution; stop waiting for it once it has ended."""
        if self.previous is None:
            return
        if self.store.executions.get(self.previous).status in TERMINAL_FLOW:
            self.previous = None
            return
        self.statuses = {run.nested_id: run.status for run in self.store.job_runs.of(self.previous)}

    def allows(self, nested_id: str, children: Sequence[str], end_nodes: Sequence[str]) -> bool:
        if self.previous is None:
            return True
        if self.statuses is None:
            self.refresh()
            if self.previous is None:
                return True
        assert self.statuses is not None
        waits_for = {1: [nested_id], 2: list(children)}.get(self.level, list(end_nodes))
        return all(self.statuses.get(n, Status.SUCCEEDED) in FINISHED for n in waits_for)
