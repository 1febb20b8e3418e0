"""The makespan through capped PyVRP probes: shorter longest routes than the cut they start from, every limit
kept, the step adapting to what each probe says, never a cap under the farthest bound."""

from __future__ import annotations

import time

import pytest

from routing.instances import random_problem
from sudoless.routing import check
from sudoless.routing.minmax import FIRST_STEP, MIN_STEP, Caps, Probe, ask, capped, lower_cap
from sudoless.routing.model import Problem
from sudoless.routing.split import cut
from sudoless.routing.tsp import giant_tour


def start(problem: Problem) -> list[list[int]]:
    return cut(problem, giant_tour(problem, seconds=0.3))


def longest(problem: Problem, routes: list[list[int]]) -> float:
    return max(problem.route_length(r) for r in routes)


@pytest.mark.parametrize("workers", [1, 2])
def test_probes_shorten_the_longest_route_of_the_cut_and_keep_every_limit(workers: int) -> None:
    problem = random_problem(90, 4, seed=3, objective="makespan", capacity=160.0)
    first = start(problem)
    assert check(problem, first).feasible
    routes, probes = lower_cap(problem, first, time.monotonic() + 3.0, seed=1, workers=workers)
    report = check(problem, routes)
    assert report.feasible, report.violations
    assert sorted(i for r in routes for i in r) == list(range(1, problem.n + 1))
    assert probes >= workers
    assert report.makespan < longest(problem, first) - 1e-6


def test_a_start_that_breaks_a_limit_is_first_made_feasible() -> None:
    # a fleet whose capacity barely covers the demand: the cut of the giant tour overloads a route
    problem = random_problem(60, 4, seed=7, objective="makespan", capacity=80.0)
    assert float(problem.demands.sum()) > 3 * 80.0
    first = start(problem)
    assert not check(problem, first).feasible
    caps = Caps(problem, first, time.monotonic() + 30.0)
    probe = caps.next(0, [])
    assert probe is not None and probe.cap == float("inf")  # no cap until some plan keeps every limit
    routes, _ = lower_cap(problem, first, time.monotonic() + 3.0, seed=1)
    assert check(problem, routes).feasible, check(problem, routes).violations


def test_a_probe_answers_with_routes_under_its_cap_or_says_it_failed() -> None:
    problem = random_problem(40, 3, seed=8, objective="makespan")
    first = start(problem)
    cap = 0.97 * longest(problem, first)
    found, ok = ask(capped(problem), Probe(cap, 2.0, 0, first))
    assert ok and longest(problem, found) <= cap + 1e-2  # PyVRP rounds distances to 1/1000
    alone = problem.with_(dispatchers=1)  # one route through 40 scattered points, no longer than there and back
    _, ok = ask(capped(alone), Probe(alone.farthest_bound(), 0.5, 0, [[i for r in first for i in r]]))
    assert not ok


def test_the_step_halves_on_a_failed_probe_grows_on_a_success_and_ignores_stale_probes() -> None:
    problem = random_problem(60, 3, seed=5, objective="makespan")
    first = start(problem)
    caps = Caps(problem, first, time.monotonic() + 30.0)
    before = caps.longest
    probe = caps.next(0, [])
    assert probe is not None and probe.cap == pytest.approx(before * (1 - FIRST_STEP))
    caps.take(probe, first, False)  # failed
    assert caps.step == pytest.approx(FIRST_STEP / 2) and caps.best == first
    stale = Probe(before * 0.999, 1.0, 0, first)  # a cautious cap above the current step's: says nothing
    caps.take(stale, first, False)
    assert caps.step == pytest.approx(FIRST_STEP / 2)
    better, _ = lower_cap(problem, first, time.monotonic() + 2.0, seed=2)
    assert longest(problem, better) < before
    caps.take(Probe(before * (1 - caps.step), 1.0, 0, first), better, True)
    assert caps.best == better and caps.longest == pytest.approx(longest(problem, better))
    assert caps.step == pytest.approx(FIRST_STEP)
    caps.step = MIN_STEP  # failures at the smallest step start over at a quarter of the first
    caps.take(Probe(caps.longest * (1 - MIN_STEP), 1.0, 0, better), better, False)
    assert caps.step == pytest.approx(FIRST_STEP / 4)


def test_a_second_probe_in_flight_asks_for_less_and_no_cap_goes_under_the_farthest_bound() -> None:
    problem = random_problem(50, 3, seed=2, objective="makespan")
    caps = Caps(problem, start(problem), time.monotonic() + 30.0)
    bold = caps.next(0, [])
    assert bold is not None
    cautious = caps.next(0, [bold])
    assert cautious is not None and bold.cap < cautious.cap < caps.longest
    caps.step = 0.99
    assert caps.next(0, []).cap == pytest.approx(problem.farthest_bound())  # type: ignore[union-attr]
