"""The makespan through its decision version: is there a plan whose every route is at most L long?

A min-max local search stalls on plateaus: only a move off the longest route counts, and most such moves
lengthen another route past it. The decision question instead is a distance-constrained VRP, which PyVRP
answers well (its max_distance constraint, stopped at the first feasible plan). Measured on kroA200 with 5
salesmen: PyVRP found every route at most 7,450 long in 4 s, where the min-max search of divide and conquer
stood at 7,652 after 60 s. So the cap is lowered below the best plan's longest route, probe after probe, each
warm-started from the best plan. A probe that succeeds lets the step grow; one that fails halves it. A failed
probe proves nothing (the same cap often succeeds with another seed), so the cap is never raised above the
best plan, and twice the farthest distance bounds it from below.

On several cores the probes run asynchronously, one per process: when one ends, the next starts from the best
plan at that moment. Of two probes in flight, the second asks for a third of the first's step, so one core
explores while the other banks a sure gain.
"""

from __future__ import annotations

import time
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from math import inf
from typing import Any

from sudoless.routing.check import check
from sudoless.routing.model import Objective, Problem
from sudoless.routing.pool import shared_problem, worker_pool
from sudoless.routing.pyvrp_adapter import PyVRPInstance

FIRST_STEP = 0.01  # the first probe asks for a longest route 1 % below the starting plan's
MAX_STEP = 0.04
MIN_STEP = 0.0005  # below, a probe's gain is not worth its time: the step starts over at FIRST_STEP / 4
CAUTION = 3.0  # a second probe in flight asks for this many times less
PROBE_SHARE = 0.1  # a probe may take this share of the budget at most ...
PROBE_SECONDS = 1.0  # ... and at least this many seconds

_WORKER: dict[str, Any] = {}  # in a worker process: its problem and that problem's capped PyVRP instance


@dataclass(frozen=True)
class Probe:
    """One question to PyVRP: a plan with every route at most ``cap``, from ``initial``."""

    cap: float
    seconds: float
    seed: int
    initial: list[list[int]]


class Caps:
    """The state of the search: the best plan, its value and longest route, and the step of the next cap."""

    def __init__(self, problem: Problem, routes: list[list[int]], deadline: float) -> None:
        self.problem = problem
        self.relaxed = problem.with_(min_stops=0)  # minimum stops are restored by the local search afterwards
        self.best = [list(r) for r in routes if r]
        lengths = [problem.route_length(r) for r in self.best]
        self.value = problem.score(lengths) if check(self.relaxed, self.best).feasible else inf
        self.longest = max(lengths, default=0.0)
        self.floor = problem.farthest_bound()
        self.deadline = deadline
        self.budget = max(0.0, deadline - time.monotonic())
        self.step = FIRST_STEP
        self.probes = 0

    def next(self, seed: int, running: list[Probe]) -> Probe | None:
        """The next probe, or None when the time is up or the best plan sits on the bound."""
        left = self.deadline - time.monotonic()
        if left < 0.2 or self.longest <= self.floor * (1 + 1e-9):
            return None
        step = self.step
        if any(p.cap <= self.longest * (1 - step) * (1 + 1e-9) for p in running):
            step /= CAUTION  # that cap is being asked already
        # a start that breaks a limit (a penalised cut) first gets any plan that keeps them all: no cap
        cap = inf if self.value == inf else max(self.floor, self.longest * (1 - step))
        seconds = min(left, max(PROBE_SECONDS, PROBE_SHARE * self.budget))
        self.probes += 1
        return Probe(cap, seconds, seed + self.probes, self.best)

    def take(self, probe: Probe, found: list[list[int]], ok: bool) -> None:
        """Keep ``found`` when it beats the best plan; adapt the step to what the probe says."""
        lengths = [self.problem.route_length(r) for r in found]
        value = self.problem.score(lengths) if found else inf
        bold = probe.cap <= self.longest * (1 - self.step) * (1 + 1e-9)  # asked at least the current step
        if ok and value < self.value - 1e-9 and check(self.relaxed, found).feasible:
            self.best, self.value, self.longest = found, value, max(lengths)
            if bold:
                self.step = min(MAX_STEP, self.step * 2)
        elif bold:
            self.step = self.step / 2 if self.step / 2 >= MIN_STEP else FIRST_STEP / 4


def capped(problem: Problem) -> PyVRPInstance:
    """The problem as PyVRP data for the probes: total distance, no minimum stops (built once per search: its
    matrix is the costly part)."""
    return PyVRPInstance(problem.with_(objective=Objective.TOTAL, min_stops=0))


def ask(instance: PyVRPInstance, probe: Probe) -> tuple[list[list[int]], bool]:
    """PyVRP's answer to one probe: routes, and whether every route keeps the cap and the other limits."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyVRP warns when its penalties saturate: an expected failed probe
        return instance.solve(probe.seconds, probe.seed, cap=probe.cap, initial=probe.initial, until_feasible=True)


def _ask_shared(probe: Probe) -> tuple[list[list[int]], bool]:
    """One probe in a worker process, on the PyVRP instance of the problem the worker holds."""
    problem = shared_problem()
    if _WORKER.get("problem") is not problem:
        _WORKER.update(problem=problem, instance=capped(problem))
    return ask(_WORKER["instance"], probe)


def lower_cap(
    problem: Problem, routes: list[list[int]], deadline: float, seed: int = 0, workers: int = 1
) -> tuple[list[list[int]], int]:
    """The best plan found by probing ever lower caps on the route length before ``deadline``, and the number
    of probes; ``routes`` is where it starts. With ``workers`` > 1 the probes run in that many processes."""
    caps = Caps(problem, routes, deadline)
    if workers <= 1:
        instance = capped(problem)
        while (probe := caps.next(seed, [])) is not None:
            caps.take(probe, *ask(instance, probe))
        return caps.best, caps.probes
    with worker_pool(problem, workers) as pool:
        running: dict[Future[tuple[list[list[int]], bool]], Probe] = {}
        while True:
            while len(running) < workers and (probe := caps.next(seed, list(running.values()))) is not None:
                running[pool.submit(_ask_shared, probe)] = probe
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                caps.take(running.pop(future), *future.result())
    return caps.best, caps.probes
