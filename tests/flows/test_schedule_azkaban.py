"""Azkaban's schedule settings in the scheduler: the server's zone by default, endSchedTime and
backExecuteOnce. Time is an injected clock; nothing sleeps."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from flows.test_scheduler import IGNORE, Clock, executions, make_project, ms
from sudoless.config import Settings
from sudoless.errors import InputError
from sudoless.flows.scheduler import Scheduler
from sudoless.store import Store


def fresh(store: Store, settings: Settings, clock: Clock) -> Scheduler:
    scheduler = Scheduler(store, settings, clock)
    for old in scheduler.list():  # the database is shared by the tests of one back end
        scheduler.remove(old.id)
    return scheduler


def test_default_zone_is_the_servers(store: Store, settings: Settings, tmp_path: Path) -> None:
    zoned = dataclasses.replace(settings, timezone="America/Los_Angeles")
    scheduler = fresh(store, zoned, Clock(ms(2030, 1, 15, 10, 30)))
    project = make_project(store, zoned, tmp_path)
    schedule = scheduler.schedule(project, "a", "0 0 6 ? * *")  # 06:00 in Los Angeles is 14:00 UTC
    assert schedule.timezone == "America/Los_Angeles"
    assert schedule.next_fire == ms(2030, 1, 15, 14)
    assert scheduler.schedule(project, "a", "0 0 6 ? * *", "UTC").next_fire == ms(2030, 1, 16, 6)


def test_no_fire_after_the_end_time(store: Store, settings: Settings, tmp_path: Path) -> None:
    clock = Clock(ms(2030, 1, 15, 10, 30))
    scheduler = fresh(store, settings, clock)
    project = make_project(store, settings, tmp_path)
    schedule = scheduler.schedule(project, "a", "0 0 * ? * *", options=IGNORE, end_ms=ms(2030, 1, 15, 12, 30))
    assert schedule.end_time == ms(2030, 1, 15, 12, 30)
    assert len(scheduler.tick(ms(2030, 1, 15, 11))) == 1
    assert len(scheduler.tick(ms(2030, 1, 15, 12))) == 1
    assert scheduler.get(schedule.id).next_fire == -1  # 13:00 is after the end
    assert scheduler.tick(ms(2030, 1, 15, 13)) == []
    assert len(executions(store, project)) == 2
    with pytest.raises(InputError, match="end time 2030-01-15 10:00:00 UTC is before the first fire time"):
        scheduler.schedule(project, "a", "0 0 * ? * *", end_ms=ms(2030, 1, 15, 10))


def test_missed_slots_are_skipped_without_back_execute_once(store: Store, settings: Settings, tmp_path: Path) -> None:
    scheduler = fresh(store, settings, Clock(ms(2030, 1, 15, 10, 30)))
    project = make_project(store, settings, tmp_path)
    schedule = scheduler.schedule(project, "a", "0 0 * ? * *", options=IGNORE, back_execute_once=False)
    assert schedule.back_execute_once is False
    assert scheduler.tick(ms(2030, 1, 15, 14, 10)) == []  # down from 10:30 to 14:10: nothing runs
    after = scheduler.get(schedule.id)
    assert (after.last_fire, after.next_fire) == (-1, ms(2030, 1, 15, 15))
    assert len(scheduler.tick(ms(2030, 1, 15, 15, 0, 30))) == 1  # on time again: fires
    once = scheduler.schedule(project, "a", "0 0 * ? * *", options=IGNORE, back_execute_once=True)
    assert len(scheduler.tick(ms(2030, 1, 15, 18, 10))) == 1 and scheduler.get(once.id).back_execute_once
