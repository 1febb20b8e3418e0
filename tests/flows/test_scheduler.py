"""The scheduler on the real databases: schedules, firing with claims, misfires, concurrency, and the SLA
checks (sudoless.flows.sla) of the executions it fires.

Time is an injected clock; nothing sleeps to wait for a cron tick.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from flows.harness import write_project
from sudoless.config import Settings
from sudoless.errors import InputError, NotFoundError
from sudoless.flows import versions
from sudoless.flows.executions import submit_flow
from sudoless.flows.executor import Executor
from sudoless.flows.options import ExecutionOptions
from sudoless.flows.schedule import CronExpression
from sudoless.flows.scheduler import Schedule, Scheduler
from sudoless.flows.sla import SlaRule
from sudoless.flows.upload import upload_project
from sudoless.store import Store
from sudoless.store.status import Status
from support.eventually import eventually

HOUR = 3_600_000
IGNORE = ExecutionOptions(concurrent_option="ignore")


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp()) * 1000


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


START = ms(2030, 1, 15, 10, 30)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def scheduler(store: Store, settings: Settings, clock: Clock) -> Scheduler:
    # the SLA tests' webhook receiver listens on loopback, which only a listed host may reach
    scheduler = Scheduler(store, replace(settings, webhook_hosts="127.0.0.1"), clock)
    for old in scheduler.list():  # the database is shared by the tests of one back end
        scheduler.remove(old.id)
    return scheduler


def make_project(store: Store, settings: Settings, tmp_path: Path, flows: dict[str, str] | None = None) -> str:
    """Upload a Flow 1.0 project of ``test`` jobs (name: dependencies) under a unique name."""
    name = f"sched-{uuid.uuid4().hex[:10]}"
    files = {}
    for job, deps in (flows or {"a": ""}).items():
        files[f"{job}.job"] = "type=test\nseconds=0\n" + (f"dependencies={deps}\n" if deps else "")
    upload_project(store, settings, write_project(tmp_path / name, files), "tester", name=name)
    return name


def executions(store: Store, project: str) -> list[int]:
    project_id = store.projects.id_of(project)
    return sorted(record.id for record in store.executions.latest(project_id, limit=1000))


# -- SLA rules as values ---------------------------------------------------------------------------------


def test_sla_rule_parses_azkaban_settings() -> None:
    assert SlaRule.parse(",SUCCESS,2:30,true,false") == SlaRule("", "SUCCESS", 9_000_000, ("EMAIL",))
    rule = SlaRule.parse(" load , succeed , 0:05 , FALSE , True ")
    assert rule == SlaRule("load", "SUCCESS", 300_000, ("KILL",))
    assert SlaRule.parse("sub:x,FINISH,12:00,true,true").actions == ("EMAIL", "KILL")
    assert SlaRule("", "finish", 1000, ["webhook", "KILL"]).actions == ("KILL", "WEBHOOK")
    assert SlaRule.from_json(rule.to_json()) == rule
    assert rule.duration_text == "0:05" and SlaRule("", "FINISH", 1500, ("KILL",)).duration_text == "1.5 s"
    assert json.loads(json.dumps(rule.to_json())) == {
        "job": "load",
        "kind": "SUCCESS",
        "duration_ms": 300_000,
        "actions": ["KILL"],
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (",SUCCESS,2:30,false,false", "no action set"),
        (",LATE,2:30,true,false", "SLA rule type 'LATE'"),
        (",SUCCESS,2h,true,false", "is not H:MM"),
        (",SUCCESS,2:30,yes,false", "emailAction must be true or false"),
        (",SUCCESS,2:30,true", "expected 5 comma-separated fields"),
    ],
)
def test_sla_rule_parse_errors(text: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason) as caught:
        SlaRule.parse(text)
    assert str(caught.value).startswith(f"Error parsing SLA setting '{text}'")


def test_options_carry_sla_fields() -> None:
    options = ExecutionOptions(
        sla=(SlaRule("", "FINISH", 60_000, ("EMAIL",)).to_json(),), sla_emails=("a@x",), sla_webhook="http://h/"
    )
    assert ExecutionOptions.from_json(json.loads(json.dumps(options.to_json()))) == options
    assert ExecutionOptions.from_json({}).sla == ()


# -- creating and changing schedules ---------------------------------------------------------------------


def test_schedule_upsert_keeps_the_id(
    scheduler: Scheduler, store: Store, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    project = make_project(store, settings, tmp_path, {"a": "", "b": ""})
    first = scheduler.schedule(project, "a", "0 0 * ? * *", user="alice")
    assert isinstance(first, Schedule)
    assert (first.cron, first.timezone, first.enabled, first.submit_user) == ("0 0 * ? * *", "UTC", True, "alice")
    assert (first.next_fire, first.last_fire, first.submit_time) == (ms(2030, 1, 15, 11), -1, START)
    clock.now += 1000
    again = scheduler.schedule(project, "a", "0  30 5 ? * MON-FRI", "Europe/Berlin", IGNORE, user="bob")
    assert again.id == first.id
    assert (again.cron, again.timezone, again.submit_user, again.options) == (
        "0 30 5 ? * MON-FRI",
        "Europe/Berlin",
        "bob",
        IGNORE,
    )
    assert again.next_fire == ms(2030, 1, 16, 4, 30)  # 05:30 CET
    other = scheduler.schedule(project, "b", "0 0 12 ? * *")
    assert other.id != first.id
    assert [s.id for s in scheduler.list(project)] == [first.id, other.id]
    assert scheduler.for_flow(project, "a") == again == scheduler.get(first.id)
    assert scheduler.for_flow(first.project_id, "b") == other
    assert scheduler.for_flow(project, "c") is None and scheduler.for_flow("no-such-project", "a") is None

    paused = scheduler.set_enabled(other.id, False)
    assert not paused.enabled
    assert scheduler.tick(ms(2030, 1, 15, 12, 0, 1)) == []
    clock.now = ms(2030, 1, 17, 13)
    resumed = scheduler.set_enabled(other.id, True)
    assert resumed.enabled and resumed.next_fire == ms(2030, 1, 18, 12)  # from now on: no burst

    removed = scheduler.remove(other.id)
    assert removed.flow_id == "b"
    with pytest.raises(NotFoundError, match=f"Schedule with ID {other.id} does not exist"):
        scheduler.get(other.id)
    with pytest.raises(NotFoundError, match=f"Schedule with ID {other.id} does not exist"):
        scheduler.remove(other.id)


@pytest.mark.parametrize(
    ("cron", "zone", "error", "message"),
    [
        ("0 61 * ? * *", "UTC", InputError, "minutes value 61 out of range"),
        ("0 0 2 * * *", "UTC", InputError, "day-of-month and day-of-week are both specified"),
        ("0 0 2 ? * * *", "Mars/Olympus", InputError, "unknown time zone"),
        ("0 0 3 ? * * 2029", "UTC", InputError, "has no fire time after 2030-01-15 10:30:00 UTC"),
    ],
)
def test_schedule_refuses_bad_expressions(
    scheduler: Scheduler,
    store: Store,
    settings: Settings,
    tmp_path: Path,
    cron: str,
    zone: str,
    error: type[Exception],
    message: str,
) -> None:
    project = make_project(store, settings, tmp_path)
    with pytest.raises(error, match=message):
        scheduler.schedule(project, "a", cron, zone)
    assert scheduler.list(project) == []


def test_schedule_needs_the_project_and_flow(
    scheduler: Scheduler, store: Store, settings: Settings, tmp_path: Path
) -> None:
    project = make_project(store, settings, tmp_path)
    with pytest.raises(NotFoundError, match="^Project nowhere does not exist$"):
        scheduler.schedule("nowhere", "a", "0 0 * ? * *")
    with pytest.raises(NotFoundError, match=f"^Flow zz cannot be found in project {project}$"):
        scheduler.schedule(project, "zz", "0 0 * ? * *")


def test_next_fire_in_the_schedules_zone(
    scheduler: Scheduler, store: Store, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    project = make_project(store, settings, tmp_path)
    clock.now = ms(2030, 1, 15, 12)  # 04:00 PST: today's 02:00 has passed
    winter = scheduler.schedule(project, "a", "0 0 2 ? * *", "America/Los_Angeles")
    assert winter.next_fire == ms(2030, 1, 16, 10)  # 02:00 PST = 10:00 UTC
    clock.now = ms(2030, 7, 15, 8)  # 01:00 PDT
    summer = scheduler.schedule(project, "a", "0 0 2 ? * *", "America/Los_Angeles")
    assert summer.next_fire == ms(2030, 7, 15, 9)  # 02:00 PDT = 09:00 UTC


# -- firing ----------------------------------------------------------------------------------------------


def test_tick_fires_exactly_the_due_schedules(
    scheduler: Scheduler, store: Store, settings: Settings, tmp_path: Path
) -> None:
    project = make_project(store, settings, tmp_path, {"a": "", "b": ""})
    options = ExecutionOptions(concurrent_option="ignore", runtime={"ROOT": {"day": "x"}}, parallel=3)
    hourly = scheduler.schedule(project, "a", "0 0 * ? * *", options=options, user="alice")
    noon = scheduler.schedule(project, "b", "0 0 12 ? * *", options=IGNORE)
    assert scheduler.tick(ms(2030, 1, 15, 10, 59, 59)) == []
    fired = scheduler.tick(ms(2030, 1, 15, 11))
    assert len(fired) == 1
    record = store.executions.get(fired[0])
    assert (record.flow_id, record.source, record.submit_user, record.status) == (
        "a",
        "schedule",
        "alice",
        Status.PREPARING,
    )
    assert ExecutionOptions.from_json(record.options) == options
    assert scheduler.get(hourly.id).last_fire == ms(2030, 1, 15, 11)
    assert scheduler.get(hourly.id).next_fire == ms(2030, 1, 15, 12)
    assert scheduler.tick(ms(2030, 1, 15, 11, 0, 30)) == []
    both = scheduler.tick(ms(2030, 1, 15, 12, 0, 30))
    assert sorted(store.executions.get(e).flow_id for e in both) == ["a", "b"]
    assert scheduler.get(noon.id).next_fire == ms(2030, 1, 16, 12)
    assert executions(store, project) == sorted(fired + both)


def race_ticks(schedulers: list[Scheduler], now: int) -> list[list[int]]:
    """Call ``tick(now)`` on each scheduler from its own thread, released at the same instant."""
    barrier = threading.Barrier(len(schedulers))
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def race(which: Scheduler) -> None:
        try:
            barrier.wait()
            results.append(which.tick(now))
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if errors:
        raise errors[0]
    return results


def test_two_schedulers_on_one_database_fire_each_slot_once(
    scheduler: Scheduler, store: Store, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    project = make_project(store, settings, tmp_path)
    schedule = scheduler.schedule(project, "a", "0 * * ? * *", options=IGNORE)
    other_store = Store(store.url)
    other = Scheduler(other_store, settings, clock)
    try:
        for round_ in range(20):
            results = race_ticks([scheduler, other], schedule.next_fire + round_ * 60_000)
            assert sorted(len(r) for r in results) == [0, 1], f"round {round_}: {results}"
            assert len(executions(store, project)) == round_ + 1
    finally:
        other_store.close()
    assert scheduler.get(schedule.id).next_fire == schedule.next_fire + 20 * 60_000


def test_a_restarted_scheduler_does_not_refire(
    scheduler: Scheduler, store: Store, settings: Settings, tmp_path: Path
) -> None:
    project = make_project(store, settings, tmp_path)
    scheduler.schedule(project, "a", "0 0 * ? * *", options=IGNORE)
    assert len(scheduler.tick(ms(2030, 1, 15, 11))) == 1
    reopened = Store(store.url)
    try:
        restarted = Scheduler(reopened, settings, lambda: ms(2030, 1, 15, 11, 0, 20))
        assert restarted.tick() == []
        assert len(restarted.tick(ms(2030, 1, 15, 12))) == 1
    finally:
        reopened.close()
    assert len(executions(store, project)) == 2


def test_misfire_after_downtime_fires_once(
    scheduler: Scheduler, store: Store, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = make_project(store, settings, tmp_path)
    schedule = scheduler.schedule(project, "a", "0 0 * ? * *", options=IGNORE)
    assert schedule.next_fire == ms(2030, 1, 15, 11)
    back = ms(2030, 1, 15, 14, 10)  # down from 10:30 to 14:10: the 11, 12, 13 and 14 o'clock slots passed
    with caplog.at_level(logging.WARNING, logger="sudoless.flows.scheduler"):
        fired = scheduler.tick(back)
    assert len(fired) == 1
    after = scheduler.get(schedule.id)
    assert (after.last_fire, after.next_fire) == (ms(2030, 1, 15, 14), ms(2030, 1, 15, 15))
    assert "missed its slots from 2030-01-15 11:00:00 UTC to 2030-01-15 14:00:00 UTC" in caplog.text
    assert "firing once" in caplog.text
    assert scheduler.tick(back) == []
    assert len(scheduler.tick(ms(2030, 1, 15, 15, 0, 45))) == 1  # late by less than the threshold: normal
    assert scheduler.get(schedule.id).last_fire == ms(2030, 1, 15, 15)
    assert len(executions(store, project)) == 2


def test_a_single_late_slot_and_slots_within_the_threshold(
    scheduler: Scheduler, store: Store, settings: Settings, tmp_path: Path
) -> None:
    project = make_project(store, settings, tmp_path)
    daily = scheduler.schedule(project, "a", "0 0 11 ? * *", options=IGNORE)
    assert len(scheduler.tick(ms(2030, 1, 15, 14))) == 1  # one slot, 3 h late: fired once
    assert scheduler.get(daily.id).next_fire == ms(2030, 1, 16, 11)
    scheduler.remove(daily.id)
    every_20s = scheduler.schedule(project, "a", "0/20 * * ? * *", options=IGNORE)
    first = every_20s.next_fire
    # due slots within the 60 s threshold fire one by one (first, +20 s, +40 s)
    assert len(scheduler.tick(first + 45_000)) == 3
    assert scheduler.get(every_20s.id).next_fire == first + 60_000


def test_per_second_schedule_after_a_week_down_is_cheap(
    scheduler: Scheduler, store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cheap counted in cron evaluations, not in seconds (a bound in seconds fails on a loaded machine): the
    look-back from now doubles its window until it holds a slot, a few evaluations (at most about log2 of the
    gap in seconds, 20 for a week); walking the 604,800 missed slots one by one would take as many."""
    project = make_project(store, settings, tmp_path)
    schedule = scheduler.schedule(project, "a", "* * * ? * *", options=IGNORE)
    back = schedule.next_fire + 7 * 24 * HOUR + 500
    evaluations = 0
    next_fire = CronExpression.next_fire

    def counted(expression: CronExpression, after: datetime) -> datetime | None:
        nonlocal evaluations
        evaluations += 1
        return next_fire(expression, after)

    monkeypatch.setattr(CronExpression, "next_fire", counted)
    assert len(scheduler.tick(back)) == 1
    assert 0 < evaluations <= 50, f"{evaluations} cron evaluations for one tick after a week down"
    after = scheduler.get(schedule.id)
    assert (after.last_fire, after.next_fire) == (back - 500, back + 500)


def test_concurrent_option_skip_ignore_pipeline(
    scheduler: Scheduler, store: Store, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = make_project(store, settings, tmp_path)
    schedule = scheduler.schedule(project, "a", "0 0 * ? * *")  # concurrentOption defaults to skip
    first = scheduler.tick(ms(2030, 1, 15, 11))
    assert len(first) == 1  # submitted and never run: still PREPARING
    with caplog.at_level(logging.WARNING, logger="sudoless.flows.scheduler"):
        assert scheduler.tick(ms(2030, 1, 15, 12)) == []
    assert "slot 2030-01-15 12:00:00 UTC skipped" in caplog.text and "already running" in caplog.text
    assert scheduler.get(schedule.id).next_fire == ms(2030, 1, 15, 13)
    store.executions.update(first[0], status=Status.SUCCEEDED, end_time=ms(2030, 1, 15, 12, 30))
    assert len(scheduler.tick(ms(2030, 1, 15, 13))) == 1  # no longer running

    scheduler.schedule(project, "a", "0 0 * ? * *", options=IGNORE)
    assert len(scheduler.tick(ms(2030, 1, 15, 14))) == 1  # in parallel with the 13:00 one
    pipeline = ExecutionOptions(concurrent_option="pipeline", pipeline_level=2)
    scheduler.schedule(project, "a", "0 0 * ? * *", options=pipeline)
    (piped,) = scheduler.tick(ms(2030, 1, 15, 15))
    options = ExecutionOptions.from_json(store.executions.get(piped).options)
    assert (options.concurrent_option, options.pipeline_level) == ("pipeline", 2)


def test_run_loop_survives_errors(
    scheduler: Scheduler,
    store: Store,
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    project = make_project(store, settings, tmp_path)
    scheduler.schedule(project, "a", "0 0 * ? * *", options=IGNORE)
    clock.now = ms(2030, 1, 15, 11)
    real_tick = scheduler.tick
    calls = []

    def flaky_tick(now_ms: int | None = None) -> list[int]:
        calls.append(now_ms)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        return real_tick(now_ms)

    monkeypatch.setattr(scheduler, "tick", flaky_tick)
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stop, 0.01))
    with caplog.at_level(logging.ERROR, logger="sudoless.flows.scheduler"):
        thread.start()
        try:
            eventually(lambda: len(executions(store, project)), 1)
        finally:
            stop.set()
            thread.join(10)
    assert not thread.is_alive()
    assert "scheduler tick failed" in caplog.text and "database hiccup" in caplog.text


# -- SLA -------------------------------------------------------------------------------------------------


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A tiny HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"content_type": self.headers["Content-Type"], **json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sla", received
    finally:
        server.shutdown()
        server.server_close()


def mine(reports: list[str], exec_id: int) -> list[str]:
    return [r for r in reports if r.startswith(f"Execution {exec_id} ")]


def test_sla_finish_rule_reported_once_with_webhook_and_kill(
    scheduler: Scheduler,
    store: Store,
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = webhook
    project = make_project(store, settings, tmp_path)
    schedule = scheduler.schedule(project, "a", "0 0 * ? * *", options=IGNORE)
    rule = SlaRule("", "FINISH", 1000, ("EMAIL", "KILL"))
    schedule = scheduler.set_sla(schedule.id, [rule], emails="ops@example.com; dev@example.com", webhook=url)
    assert (schedule.sla, schedule.sla_emails, schedule.webhook) == (
        (rule,),
        ("ops@example.com", "dev@example.com"),
        url,
    )
    clock.now = ms(2030, 1, 15, 11)
    (exec_id,) = scheduler.tick()
    assert ExecutionOptions.from_json(store.executions.get(exec_id).options).sla == (rule.to_json(),)
    assert mine(scheduler.check_slas(), exec_id) == []  # not started: not measured

    store.executions.update(exec_id, status=Status.RUNNING, start_time=clock.now - 2000)
    reports = mine(scheduler.check_slas(), exec_id)
    assert len(reports) == 1
    assert "the flow must finish within 1 s" in reports[0] and "flow status RUNNING" in reports[0]
    assert mine(scheduler.check_slas(), exec_id) == []
    assert mine(Scheduler(store, settings, clock).check_slas(), exec_id) == []  # recorded in the database
    assert store.executions.get(exec_id).control == "cancel"
    assert len(received) == 1
    payload = received[0]
    assert payload["content_type"] == "application/json"
    assert (payload["event"], payload["execution_id"], payload["rule"], payload["job"]) == (
        "sla_missed",
        exec_id,
        "FINISH",
        None,
    )
    assert payload["deadline"] == clock.now - 1000 and payload["emails"] == ["ops@example.com", "dev@example.com"]
    assert payload["message"] == reports[0]

    # The miss is in the flow log as soon as it is reported, while the execution runs, and only once.
    flow_log = store.logs.read(exec_id, "", 0, 0, 1 << 20).decode()
    assert flow_log.count("SLA missed: ") == 1 and reports[0] in flow_log and " WARN - SLA missed: " in flow_log
    store.executions.update(exec_id, status=Status.KILLED, end_time=clock.now)
    assert mine(scheduler.check_slas(), exec_id) == []
    assert store.logs.read(exec_id, "", 0, 0, 1 << 20).decode() == flow_log  # the end adds nothing
    assert len(received) == 1


def test_sla_miss_of_a_running_execution_is_in_its_flow_log_at_once(
    scheduler: Scheduler, store: Store, settings: Settings, tmp_path: Path
) -> None:
    name = f"sched-{uuid.uuid4().hex[:10]}"
    upload_project(
        store, settings, write_project(tmp_path / name, {"a.job": "type=test\nseconds=3\n"}), "tester", name=name
    )
    schedule = scheduler.schedule(name, "a", "0 0 * ? * *", options=IGNORE)
    scheduler.set_sla(schedule.id, [SlaRule("", "FINISH", 1000, ("EMAIL",))])
    (exec_id,) = scheduler.tick(ms(2030, 1, 15, 11))
    executor = Executor(store, settings)
    runner = threading.Thread(target=executor.claim_and_run, args=(exec_id,))
    runner.start()
    try:
        eventually(lambda: store.executions.get(exec_id).start_time, lambda start: start >= 0)
        (report,) = mine(scheduler.check_slas(store.executions.get(exec_id).start_time + 2000), exec_id)
        flow_log = store.logs.read(exec_id, "", 0, 0, 1 << 20).decode()
        assert store.executions.get(exec_id).status == Status.RUNNING  # so the line was there before the end
        assert f"SLA missed: {report}" in flow_log and "flow status RUNNING" in report
    finally:
        runner.join(30)
        executor.stop(wait=False)
    assert store.executions.get(exec_id).status == Status.SUCCEEDED
    assert mine(scheduler.check_slas(), exec_id) == []
    flow_log = store.logs.read(exec_id, "", 0, 0, 1 << 20).decode()
    assert flow_log.count("SLA missed: ") == 1  # the runner's lines and the miss share the log
    assert flow_log.index("SLA missed: ") < flow_log.index("finished: SUCCEEDED")


def test_sla_rules_decided_at_the_deadline_or_the_end(
    scheduler: Scheduler,
    store: Store,
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = webhook
    project = make_project(store, settings, tmp_path, {"extract": "", "load": "extract"})
    schedule = scheduler.schedule(project, "load", "0 0 * ? * *", options=IGNORE)
    scheduler.set_sla(
        schedule.id,
        [",SUCCESS,1:00,false,true", "extract,SUCCEED,0:10,true,false", "load,FINISH,0:30,false,true"],
        webhook=url,
    )
    (exec_id,) = scheduler.tick(ms(2030, 1, 15, 11))
    start = ms(2030, 1, 15, 11, 0, 5)
    store.executions.update(exec_id, status=Status.RUNNING, start_time=start)
    store.job_runs.update(exec_id, "extract", 0, status=Status.SUCCEEDED, start_time=start, end_time=start + 9 * 60_000)
    store.job_runs.update(exec_id, "load", 0, status=Status.RUNNING, start_time=start + 9 * 60_000)
    assert mine(scheduler.check_slas(start + 29 * 60_000), exec_id) == []  # before every deadline
    # 31 minutes in: extract succeeded within its 10 minutes; load has not finished within 30
    (load_miss,) = mine(scheduler.check_slas(start + 31 * 60_000), exec_id)
    assert "job load must finish within 0:30" in load_miss and "job status RUNNING" in load_miss
    assert store.executions.get(exec_id).control == "cancel"  # a job rule's KILL cancels the whole flow
    assert received == []  # KILL-only rules do not alert
    # the flow fails at 40 minutes: its 1-hour SUCCESS rule is known to be missed now, not at the deadline
    store.executions.update(exec_id, status=Status.FAILED, end_time=start + 40 * 60_000)
    (flow_miss,) = mine(scheduler.check_slas(start + 41 * 60_000), exec_id)
    assert "the flow must succeed within 1:00" in flow_miss and "flow status FAILED" in flow_miss
    assert mine(scheduler.check_slas(start + 2 * HOUR), exec_id) == []


def test_sla_met_by_a_flow_that_succeeds_in_time(
    scheduler: Scheduler, store: Store, settings: Settings, tmp_path: Path
) -> None:
    project = make_project(store, settings, tmp_path)
    schedule = scheduler.schedule(project, "a", "0 0 * ? * *", options=IGNORE)
    scheduler.set_sla(
        schedule.id, [SlaRule("", "SUCCESS", 60_000, ("EMAIL",)), SlaRule("a", "FINISH", 60_000, ("EMAIL",))]
    )
    (exec_id,) = scheduler.tick(ms(2030, 1, 15, 11))
    start = ms(2030, 1, 15, 11, 0, 1)
    store.executions.update(exec_id, status=Status.RUNNING, start_time=start)
    store.job_runs.update(exec_id, "a", 0, status=Status.SUCCEEDED, start_time=start, end_time=start + 30_000)
    store.executions.update(exec_id, status=Status.SUCCEEDED, end_time=start + 31_000)
    assert mine(scheduler.check_slas(start + HOUR), exec_id) == []
    assert store.executions.get(exec_id).control == ""


def test_set_sla_validation(scheduler: Scheduler, store: Store, settings: Settings, tmp_path: Path) -> None:
    project = make_project(store, settings, tmp_path, {"a": "", "b": "a"})
    schedule = scheduler.schedule(project, "b", "0 0 * ? * *")
    assert scheduler.job_ids(schedule.id) == ["a", "b"]
    with pytest.raises(InputError, match="SLA rule for job 'zz': flow b has no such job"):
        scheduler.set_sla(schedule.id, ["zz,SUCCESS,1:00,true,false"])
    with pytest.raises(InputError, match="expected an http:// or https:// URL"):
        scheduler.set_sla(schedule.id, [",SUCCESS,1:00,true,false"], webhook="ftp://x")
    with pytest.raises(NotFoundError, match="Schedule with ID 0 does not exist"):
        scheduler.set_sla(0, [])
    with_sla = scheduler.set_sla(schedule.id, ["a,SUCCESS,1:00,true,false"], emails=["x@y", "x@y z@y"])
    assert with_sla.sla == (SlaRule("a", "SUCCESS", HOUR, ("EMAIL",)),) and with_sla.sla_emails == ("x@y", "z@y")
    # rescheduling keeps the SLA; SLA rules given in the options replace it
    assert scheduler.schedule(project, "b", "0 30 * ? * *").sla == with_sla.sla
    rule = SlaRule("", "FINISH", HOUR, ("KILL",))
    replaced = scheduler.schedule(project, "b", "0 30 * ? * *", options=ExecutionOptions(sla=(rule.to_json(),)))
    assert replaced.sla == (rule,) and replaced.options.sla == ()
    cleared = scheduler.set_sla(schedule.id, [])
    assert (cleared.sla, cleared.sla_emails, cleared.webhook) == ((), (), None)


def test_a_hundred_schedules_due_in_one_minute_each_fire_once_at_their_slot(
    scheduler: Scheduler, store: Store, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    """Half the schedules share the minute's first second (the top of the hour is when most schedules
    fire), the others are spread over the minute; two schedulers on the database tick every half second
    through it. Each slot fires exactly once, at the first tick at or after it (benchmarks/schedule_burst.py
    measures 1,000 in real time)."""
    count = 100
    project = make_project(store, settings, tmp_path, {f"f{i:03d}": "" for i in range(count)})
    slots: dict[str, int] = {}
    for i in range(count):
        second = 0 if i % 2 else i % 60
        flow = f"f{i:03d}"
        scheduler.schedule(project, flow, f"{second} 31 * ? * *", timezone="UTC", options=IGNORE)
        slots[flow] = ms(2030, 1, 15, 10, 31, second)
    other_store = Store(store.url)
    other = Scheduler(other_store, settings, clock)
    fired_at: dict[int, int] = {}
    try:
        for step in range(-2, 122):  # 10:30:59.0 to 10:32:00.5, every 500 ms
            now = ms(2030, 1, 15, 10, 31) + step * 500
            for fired in race_ticks([scheduler, other], now):
                for exec_id in fired:
                    assert exec_id not in fired_at
                    fired_at[exec_id] = now
    finally:
        other_store.close()
    assert len(fired_at) == count
    by_flow: dict[str, int] = {}
    for exec_id, now in fired_at.items():
        flow = store.executions.get(exec_id).flow_id
        assert flow not in by_flow, f"{flow} fired twice"
        by_flow[flow] = exec_id
        assert 0 <= now - slots[flow] < 500, f"{flow}: slot {slots[flow]}, fired at {now}"
    assert set(by_flow) == set(slots)
    assert executions(store, project) == sorted(fired_at)
    for schedule in scheduler.list():
        assert schedule.last_fire == slots[schedule.flow_id]
        assert schedule.next_fire == slots[schedule.flow_id] + HOUR


def test_the_run_loop_wakes_at_the_next_slot(
    scheduler: Scheduler, store: Store, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    """Between passes the loop sleeps until the next slot when it is nearer than its interval, so a slot
    fires as it falls due, not up to an interval later."""
    assert scheduler._until_next_slot(1.0) == 1.0  # nothing scheduled
    project = make_project(store, settings, tmp_path)
    scheduler.schedule(project, "a", "0 31 * ? * *", timezone="UTC", options=IGNORE)
    clock.now = ms(2030, 1, 15, 10, 30, 59) + 700
    assert scheduler._until_next_slot(1.0) == pytest.approx(0.301)
    clock.now = ms(2030, 1, 15, 10, 30, 50)
    assert scheduler._until_next_slot(1.0) == 1.0
    clock.now = ms(2030, 1, 15, 10, 31, 1)  # due and not fired (a tick failed): no busy loop
    assert scheduler._until_next_slot(1.0) == 1.0


def test_one_tick_fires_a_batch_of_mixed_flows_and_concurrency_options(
    scheduler: Scheduler,
    store: Store,
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The slots of one tick are claimed and queued as one batch; each keeps the semantics it has alone: skip
    refuses while its flow runs (and a schedule's second slot in the tick sees its first as running), ignore
    runs beside it up to the per-flow cap, pipeline waits on the newest unfinished run (its own earlier slot
    included), a locked flow and a paused schedule do not run, and the other flows of the batch fire anyway."""
    flows = {name: "" for name in ("busy", "idle", "piped", "twice", "capped", "locked", "paused")}
    project = make_project(store, settings, tmp_path, flows)
    ticking = Scheduler(store, replace(settings, max_runs_per_flow=3), clock)
    at_10_31, every_20s = "0 31 10 ? * *", "0/20 * * ? * *"  # the clock is at 10:30:00
    pipeline = ExecutionOptions(concurrent_option="pipeline", pipeline_level=1)
    busy = scheduler.schedule(project, "busy", at_10_31)  # skip, the default
    idle = scheduler.schedule(project, "idle", at_10_31)
    scheduler.schedule(project, "piped", every_20s, options=pipeline)
    scheduler.schedule(project, "twice", every_20s)
    scheduler.schedule(project, "capped", every_20s, options=IGNORE)
    locked = scheduler.schedule(project, "locked", at_10_31, options=IGNORE)
    paused = scheduler.schedule(project, "paused", at_10_31, options=IGNORE)
    earlier = {flow: submit_flow(store, settings, project, flow, IGNORE) for flow in ("busy", "capped")}
    store.project_settings.set_flow_lock(store.projects.id_of(project), "locked", True, "frozen", "tester")
    scheduler.set_enabled(paused.id, False)
    now = ms(2030, 1, 15, 10, 31)  # the 20 s schedules: 10:30:20, 10:30:40 and 10:31:00, all within 60 s
    with caplog.at_level(logging.INFO, logger="sudoless.flows.scheduler"):
        fired = ticking.tick(now)
    by_flow: dict[str, list[int]] = {}
    for exec_id in fired:
        by_flow.setdefault(store.executions.get(exec_id).flow_id, []).append(exec_id)
    assert {flow: len(ids) for flow, ids in by_flow.items()} == {"idle": 1, "piped": 3, "twice": 1, "capped": 2}
    piped = [ExecutionOptions.from_json(store.executions.get(e).options).pipeline_execution for e in by_flow["piped"]]
    assert piped == [None, by_flow["piped"][0], by_flow["piped"][1]]
    assert "slot 2030-01-15 10:31:00 UTC skipped: Error submitting flow busy" in caplog.text
    assert "Flow capped has more than 3 concurrent runs" in caplog.text
    assert f"Flow locked for project {project} is locked" in caplog.text
    assert caplog.text.count("Flow twice is already running") == 2
    for flow in ("piped", "twice", "capped"):
        after = scheduler.for_flow(project, flow)
        assert after is not None and (after.last_fire, after.next_fire) == (now, now + 20_000)
    for schedule in (busy, idle, locked):  # fired or refused, the slot is over
        assert (scheduler.get(schedule.id).last_fire, scheduler.get(schedule.id).next_fire) == (now, now + 24 * HOUR)
    assert scheduler.get(paused.id).last_fire == -1
    assert sorted(executions(store, project)) == sorted([*earlier.values(), *fired])
    assert ticking.tick(now) == []


def test_a_thousand_schedules_due_at_once_with_two_schedulers_fire_each_slot_once(
    sqlite_store: Store, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    """A burst larger than a claim batch: 1,000 schedules of 20 projects due in the same second, two
    schedulers on one SQLite database racing through the minute. Every slot fires exactly once."""
    store, count, per_project = sqlite_store, 1000, 50
    scheduler = Scheduler(store, settings, clock)
    projects = [
        make_project(store, settings, tmp_path, {f"f{i:02d}": "" for i in range(per_project)}) for _ in range(20)
    ]
    for index in range(count):
        project, flow = projects[index // per_project], f"f{index % per_project:02d}"
        second = 0 if index % 4 else index % 60  # three in four at the minute's first second
        scheduler.schedule(project, flow, f"{second} 31 * ? * *", timezone="UTC", options=IGNORE)
    other_store = Store(store.url)
    other = Scheduler(other_store, settings, clock)
    fired: list[int] = []
    try:
        for step in range(0, 121):  # 10:31:00.0 to 10:32:00.0, every 500 ms
            for result in race_ticks([scheduler, other], ms(2030, 1, 15, 10, 31) + step * 500):
                fired.extend(result)
    finally:
        other_store.close()
    assert len(fired) == len(set(fired)) == count
    keys = [(record.project_name, record.flow_id) for record in map(store.executions.get, fired)]
    assert len(set(keys)) == count, "a slot fired twice"
    for schedule in scheduler.list():
        assert schedule.last_fire >= ms(2030, 1, 15, 10, 31) and schedule.next_fire == schedule.last_fire + HOUR


def test_the_projects_of_coming_slots_are_loaded_ahead(
    scheduler: Scheduler, store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project's version is parsed once per process; :meth:`Scheduler.prepare` does it for the schedules due
    within a minute, once, so that their slot (the first after a start, say) parses nothing."""
    soon, later = make_project(store, settings, tmp_path), make_project(store, settings, tmp_path)
    scheduler.schedule(soon, "a", "0 31 10 ? * *", options=IGNORE)  # the clock is at 10:30:00
    scheduler.schedule(later, "a", "0 0 11 ? * *", options=IGNORE)
    versions.forget_all()
    assert scheduler.prepare(ms(2030, 1, 15, 10, 30, 30)) == [store.projects.id_of(soon)]
    assert scheduler.prepare(ms(2030, 1, 15, 10, 30, 31)) == []

    def parse(*args: Any) -> None:
        raise AssertionError("a project was parsed in its slot")

    monkeypatch.setattr(versions, "load_project_dir", parse)
    assert len(scheduler.tick(ms(2030, 1, 15, 10, 31))) == 1
