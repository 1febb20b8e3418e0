"""The numbers behind the UI's charts, computed on the server so the SVG is plain markup (readable without
JavaScript, and each bar carries a text title for screen readers and tooltips).

* :func:`run_bars`: a flow's recent runs as bars, height = duration, colour = outcome, oldest on the left.
* :func:`attempt_bars`: a job's recent attempts the same way, in a small chart of its details panel.
* :func:`success_rates`: per flow, the share of finished runs that succeeded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sudoless.store.executions import ExecutionRecord, ExecutionSummary
from sudoless.store.job_runs import JobAttempt
from sudoless.store.status import SUCCEEDED_LIKE, TERMINAL_FLOW, Status

__all__ = ["Bar", "Rate", "attempt_bars", "run_bars", "success_rates"]

CHART_WIDTH = 640
CHART_HEIGHT = 160
AXIS = 44


class Bar(NamedTuple):
    """One run's bar (a tuple: a chart makes 50 of them per page view, and a frozen dataclass costs
    several times more to build)."""

    exec_id: int
    x: float
    y: float
    width: float
    height: float
    status: Status
    duration: int
    submit_time: int


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    max_duration: int
    ticks: list[tuple[float, int]]  # (y, duration ms)
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    axis: int = AXIS


#: Round axis tops for durations: the chart's scale reads as whole seconds, minutes or hours.
_ROUND_MS = [
    s * 1000
    for s in (
        1,
        2,
        5,
        10,
        15,
        30,
        60,
        120,
        300,
        600,
        900,
        1800,
        3600,
        7200,
        3 * 3600,
        6 * 3600,
        12 * 3600,
        24 * 3600,
        48 * 3600,
    )
]


def _nice(value: int) -> int:
    """The smallest round duration (see ``_ROUND_MS``) at least ``value`` ms; whole days beyond two days."""
    for bound in _ROUND_MS:
        if bound >= value:
            return bound
    day = 24 * 3600 * 1000
    return -(-value // day) * day


def _chart(points: Sequence[tuple[int, Status, int, int]], slots: int, width: int, height: int, axis: int) -> Chart:
    """(id, status, duration, time) oldest first, drawn in ``slots`` equal columns of a width x height box."""
    top = _nice(max((p[2] for p in points), default=0))
    plot_height = height - 20
    slot = (width - axis) / max(slots, 1)
    bars = []
    for index, (ident, status, duration, moment) in enumerate(points):
        tall = max(2.0, plot_height * duration / top)
        bars.append(
            Bar(
                exec_id=ident,
                x=round(axis + index * slot + slot * 0.15, 1),
                y=round(10 + plot_height - tall, 1),
                width=round(slot * 0.7, 1),
                height=round(tall, 1),
                status=status,
                duration=duration,
                submit_time=moment,
            )
        )
    ticks = [(round(10 + plot_height * (1 - f), 1), int(top * f)) for f in (0.0, 0.5, 1.0)]
    return Chart(bars, top, ticks, width, height, axis)


def run_bars(runs: Sequence[ExecutionSummary | ExecutionRecord], now: int, slots: int = 50) -> Chart:
    """``runs`` newest first (as queried) drawn oldest first in ``slots`` equal columns."""
    ordered = list(reversed(runs[:slots]))
    points = [(r.id, r.status, max(r.duration(now), 0), r.submit_time) for r in ordered]
    return _chart(points, slots, CHART_WIDTH, CHART_HEIGHT, AXIS)


def attempt_bars(attempts: Sequence[JobAttempt], now: int, slots: int = 20) -> Chart:
    """A job's ``attempts`` newest first (as queried) as a small chart, oldest first; a running attempt
    counts up to ``now``. Each bar's ``exec_id`` is its execution's."""
    ordered = list(reversed(attempts[:slots]))
    points = [
        (a.exec_id, a.status, max((a.end_time if a.end_time >= 0 else now) - a.start_time, 0), a.start_time)
        for a in ordered
    ]
    return _chart(points, slots, 320, 90, 44)


@dataclass(frozen=True)
class Rate:
    flow_id: str
    succeeded: int
    finished: int
    running: int

    @property
    def percent(self) -> float | None:
        return 100.0 * self.succeeded / self.finished if self.finished else None


def success_rates(outcomes: Mapping[str, Mapping[Status, int]], flows: Sequence[str]) -> list[Rate]:
    """One :class:`Rate` per flow in ``flows`` (flows never run included, with no percentage)."""
    rates = []
    for flow_id in flows:
        counts = outcomes.get(flow_id, {})
        finished = sum(n for s, n in counts.items() if s in TERMINAL_FLOW)
        succeeded = sum(n for s, n in counts.items() if s in TERMINAL_FLOW and s in SUCCEEDED_LIKE)
        running = sum(n for s, n in counts.items() if s not in TERMINAL_FLOW)
        rates.append(Rate(flow_id, succeeded, finished, running))
    return rates
