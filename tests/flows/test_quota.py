"""The quota of an execution directory: real jobs writing real files, measured while the flow runs."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from flows.harness import run_flow, write_project
from sudoless.config import Settings, load_settings
from sudoless.flows.quota import DirQuota, written_bytes
from sudoless.store import Store
from sudoless.store.status import Status

#: three MiB of incompressible bytes, so that no file system stores them in fewer blocks
WRITE_3_MIB = "head -c 3145728 /dev/urandom > big.bin"


def test_a_job_writing_past_the_quota_fails_the_execution_with_the_reason_in_both_logs(
    sqlite_store: Store, settings: Settings, tmp_path: Path
) -> None:
    settings = replace(settings, execution_dir_max_mb=1)
    project = write_project(
        tmp_path / "p",
        {
            # the pause puts the job's end well after the runner's first measurement (at its start), so that
            # its end is measured rather than left to the 2 s timer
            "write.job": f"type=command\ncommand=sh -c '{WRITE_3_MIB}; sleep 0.3'\n",
            "after.job": "type=command\ncommand=echo after\ndependencies=write\n",
        },
    )
    run = run_flow(sqlite_store, settings, project, "after")
    assert run.status == Status.FAILED
    assert run.jobs == {"write": Status.FAILED, "after": Status.CANCELLED}
    for log in (run.log(), run.log("write")):
        line = next(line for line in log.splitlines() if "quota" in line)
        assert "over its quota of 1 MiB" in line and "SUDOLESS_EXECUTION_DIR_MAX_MB" in line, line


def test_a_running_job_over_the_quota_is_killed_by_the_timer(
    sqlite_store: Store, settings: Settings, tmp_path: Path
) -> None:
    settings = replace(settings, execution_dir_max_mb=1)
    project = write_project(
        tmp_path / "p",
        {
            "hog.job": f"type=command\ncommand=sh -c '{WRITE_3_MIB}; sleep 60'\n",
        },
    )
    started = time.monotonic()
    run = run_flow(sqlite_store, settings, project, "hog")
    assert time.monotonic() - started < 30  # not the 60 s the job would have slept
    assert run.status == Status.FAILED and run.jobs == {"hog": Status.FAILED}
    assert "killed: execution" in run.log("hog") and "over its quota of 1 MiB" in run.log("hog")
    assert "killing the running jobs" in run.log()


def test_the_project_s_linked_files_do_not_count_and_zero_means_no_quota(
    sqlite_store: Store, settings: Settings, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "p", {"data.bin": "x" * (3 << 20), "a.job": "type=command\ncommand=true\n"})
    assert run_flow(sqlite_store, replace(settings, execution_dir_max_mb=1), project, "a").status == Status.SUCCEEDED
    project = write_project(tmp_path / "q", {"a.job": f"type=command\ncommand=sh -c '{WRITE_3_MIB}'\n"})
    assert run_flow(sqlite_store, replace(settings, execution_dir_max_mb=0), project, "a").status == Status.SUCCEEDED


def test_written_bytes_counts_each_inode_once_and_skips_the_shared_ones(tmp_path: Path) -> None:
    cache, work = tmp_path / "cache", tmp_path / "work"
    cache.mkdir()
    (work / "sub").mkdir(parents=True)
    (cache / "shared.bin").write_bytes(b"s" * 100_000)
    (cache / "shared.bin").chmod(0o444)  # as the project cache's files are
    (work / "shared.bin").hardlink_to(cache / "shared.bin")
    assert written_bytes(work) == 0
    (work / "sub" / "own.bin").write_bytes(b"o" * 200_000)
    (work / "sub" / "again.bin").hardlink_to(work / "sub" / "own.bin")  # one file, two names, writable
    own = (work / "sub" / "own.bin").stat().st_blocks * 512
    assert written_bytes(work) == own >= 200_000
    quota = DirQuota(7, work, 0)
    assert quota.exceeded() is None and quota.cost == 0  # no quota: nothing measured

    quota = DirQuota(7, work, 1)
    assert quota.exceeded() is None and quota.used == own  # measured: under 1 MiB
    (work / "more.bin").write_bytes(b"m" * (2 << 20))
    assert quota.exceeded() is None and quota.used == own  # the timer is not due for 2 s: not measured
    reason = quota.exceeded(final=True)  # the end of the flow always is
    assert reason is not None and reason.startswith("execution 7's directory holds 2.")


def test_the_quota_is_a_setting_with_an_environment_variable(tmp_path: Path) -> None:
    loaded = load_settings({"SUDOLESS_HOME": str(tmp_path), "SUDOLESS_EXECUTION_DIR_MAX_MB": "12"})
    assert loaded.execution_dir_max_mb == 12
    assert Settings(home=tmp_path).execution_dir_max_mb == 4096
