"""The statuses an execution or a job attempt goes through, as Azkaban names and numbers them.

They live with the store because the ``executions`` and ``job_runs`` rows hold them and the store's queries
filter on them (what is finished, what still runs); the flow runner, the scheduler and the server take
them from here.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FAILED_LIKE", "FINISHED", "SUCCEEDED_LIKE", "TERMINAL_FLOW", "Status"]


class Status(StrEnum):
    """Azkaban's execution statuses; the value is the wire string and :attr:`code` the stored number."""

    READY = "READY"
    DISPATCHING = "DISPATCHING"
    PREPARING = "PREPARING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    SUCCEEDED = "SUCCEEDED"
    KILLING = "KILLING"
    KILLED = "KILLED"
    EXECUTION_STOPPED = "EXECUTION_STOPPED"
    FAILED = "FAILED"
    FAILED_FINISHING = "FAILED_FINISHING"
    SKIPPED = "SKIPPED"
    DISABLED = "DISABLED"
    QUEUED = "QUEUED"
    FAILED_SUCCEEDED = "FAILED_SUCCEEDED"
    CANCELLED = "CANCELLED"

    @property
    def code(self) -> int:
        return _CODES[self]

    @classmethod
    def from_code(cls, code: int) -> Status:
        return _BY_CODE[code]

    @property
    def is_finished(self) -> bool:
        return self in FINISHED

    @property
    def is_success(self) -> bool:
        return self in SUCCEEDED_LIKE

    @property
    def is_failure(self) -> bool:
        return self in FAILED_LIKE


_CODES = {
    Status.READY: 10,
    Status.DISPATCHING: 15,
    Status.PREPARING: 20,
    Status.RUNNING: 30,
    Status.PAUSED: 40,
    Status.SUCCEEDED: 50,
    Status.KILLING: 55,
    Status.KILLED: 60,
    Status.EXECUTION_STOPPED: 65,
    Status.FAILED: 70,
    Status.FAILED_FINISHING: 80,
    Status.SKIPPED: 90,
    Status.DISABLED: 100,
    Status.QUEUED: 110,
    Status.FAILED_SUCCEEDED: 120,
    Status.CANCELLED: 125,
}
_BY_CODE = {code: status for status, code in _CODES.items()}

FINISHED = frozenset(
    {
        Status.EXECUTION_STOPPED,
        Status.FAILED,
        Status.KILLED,
        Status.SUCCEEDED,
        Status.SKIPPED,
        Status.FAILED_SUCCEEDED,
        Status.CANCELLED,
    }
)
SUCCEEDED_LIKE = frozenset({Status.SUCCEEDED, Status.FAILED_SUCCEEDED, Status.SKIPPED})
FAILED_LIKE = frozenset({Status.FAILED, Status.KILLED, Status.CANCELLED, Status.EXECUTION_STOPPED})
#: A flow in one of these is over; anything else counts as running (Azkaban's TERMINAL_STATUSES).
TERMINAL_FLOW = frozenset({Status.SUCCEEDED, Status.KILLED, Status.EXECUTION_STOPPED, Status.FAILED})
