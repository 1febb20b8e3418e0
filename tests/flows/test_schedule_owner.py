"""A schedule does not keep a right its owner lost: runtime properties that change what a job runs fire only
while the user who saved the schedule still has WRITE on the project (SQLite, MariaDB, PostgreSQL)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from flows.harness import write_project
from sudoless.accounts.permissions import Permission
from sudoless.accounts.users import Accounts
from sudoless.config import Settings
from sudoless.flows.options import ExecutionOptions
from sudoless.flows.scheduler import Scheduler
from sudoless.flows.upload import upload_project
from sudoless.store import Store
from sudoless.store.status import Status

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
REDEFINE = ExecutionOptions(runtime={"a": {"command": "touch /tmp/owner-lost-write"}})


def test_a_schedule_whose_owner_lost_write_no_longer_redefines_jobs(
    store: Store, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tag = f"{id(store) % 100_000}{tmp_path.name[-10:]}".replace("_", "")
    name, owner = f"owned-{tag}", f"owner{tag}"
    upload_project(
        store, settings, write_project(tmp_path / "p", {"a.job": "type=command\ncommand=true\n"}), "admin", name=name
    )
    record = store.projects.get(name=name)
    assert record is not None
    accounts = Accounts(store, settings, hasher=CHEAP)
    accounts.add_user(owner, "pw-of-the-owner")
    rights = Permission.READ | Permission.EXECUTE | Permission.SCHEDULE
    accounts.set_project_permission(record.id, owner, False, rights | Permission.WRITE)
    scheduler = Scheduler(store, settings)
    schedule = scheduler.schedule(name, "a", "0 0 * * * ?", options=REDEFINE, user=owner)
    submitted = []
    try:
        first = scheduler.get(schedule.id).next_fire
        submitted += scheduler.tick(first)
        assert len(submitted) == 1  # with WRITE the override fires

        accounts.set_project_permission(record.id, owner, False, rights)  # WRITE taken away
        second = scheduler.get(schedule.id).next_fire
        assert second > first
        with caplog.at_level(logging.ERROR, logger="sudoless.flows.scheduler"):
            assert scheduler.tick(second) == []
        line = next(r.getMessage() for r in caplog.records if "refused" in r.getMessage())
        assert f"owner '{owner}' has no WRITE on project {name}" in line
        assert "Changing what a job runs needs WRITE" in line and "'command' for job 'a'" in line
        assert scheduler.get(schedule.id).next_fire > second  # the slot is over, the schedule stays

        # an ordinary parameter still fires for the owner with EXECUTE alone
        store.executions.update(submitted[0], status=Status.KILLED, end_time=store.clock())
        scheduler.schedule(name, "a", "0 0 * * * ?", options=ExecutionOptions(runtime={"a": {"day": "x"}}), user=owner)
        submitted += scheduler.tick(scheduler.get(schedule.id).next_fire)
        assert len(submitted) == 2
    finally:
        for exec_id in submitted:
            store.executions.update(exec_id, status=Status.KILLED, end_time=store.clock())
        scheduler.remove(schedule.id)
