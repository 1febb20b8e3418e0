"""Process liveness, groups and daemons (:mod:`sudoless.processes`) on real processes: a live one, a zombie,
a dead pid, another user's, a process group with members in the background, a session leader."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sudoless.processes import (
    command_line,
    is_alive,
    is_running,
    kill_group,
    kill_session,
    lock_holder,
    read_pid,
    reap,
    signal_group,
    start_daemon,
    start_ticks,
    uptime_seconds,
    wait_until_gone,
)

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(SLEEP)
    yield process
    process.kill()
    process.wait()


@pytest.fixture
def zombie() -> Iterator[int]:
    """A child that has exited and is not reaped yet: ``waitid`` with WNOWAIT returns once it has exited
    and leaves it a zombie."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
    yield process.pid
    process.wait()


def state(pid: int) -> str:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2]


def test_a_live_process_is_alive_and_known_by_its_start(sleeper: subprocess.Popen[bytes]) -> None:
    ticks = start_ticks(sleeper.pid)
    assert is_alive(sleeper.pid)
    assert ticks is not None and is_running(sleeper.pid, ticks)
    assert not is_running(sleeper.pid, ticks + 1)  # the same pid with another start time: another process
    assert command_line(sleeper.pid) == [arg.encode() for arg in SLEEP]
    uptime = uptime_seconds(sleeper.pid)
    assert uptime is not None and 0 <= uptime < 60
    assert uptime == round(uptime, 2)  # no 0.31999999999993634 in ``mysql status --json``
    assert not wait_until_gone(sleeper.pid, ticks, 0.1)


def test_a_zombie_is_not_alive(zombie: int) -> None:
    assert state(zombie) == "Z"
    os.kill(zombie, 0)  # the kernel still has the pid: a signal test alone would call it alive
    assert not is_alive(zombie)
    assert not is_running(zombie, start_ticks(zombie))
    assert wait_until_gone(zombie, start_ticks(zombie), 0.0)


def test_reap_collects_an_exited_child_and_leaves_others_alone(zombie: int, sleeper: subprocess.Popen[bytes]) -> None:
    reap(sleeper.pid)
    assert is_alive(sleeper.pid)
    reap(zombie)
    assert not Path(f"/proc/{zombie}").exists()
    reap(zombie)  # no longer our child: nothing happens
    reap(1)


def test_a_dead_pid_is_not_alive() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert not is_alive(process.pid)
    assert start_ticks(process.pid) is None and uptime_seconds(process.pid) is None
    assert command_line(process.pid) is None
    assert wait_until_gone(process.pid, None, 0.0)
    assert not is_alive(0) and not is_alive(-1)  # process groups to kill(), never one process


def test_another_users_process_is_alive() -> None:
    assert is_alive(1)  # init: the kernel's first process, whoever runs the tests


def test_read_pid(tmp_path: Path) -> None:
    assert read_pid(tmp_path / "missing.pid") is None
    (tmp_path / "bad.pid").write_text("not a pid\n")
    assert read_pid(tmp_path / "bad.pid") is None
    (tmp_path / "good.pid").write_text("4242\n")
    assert read_pid(tmp_path / "good.pid") == 4242


def background_group(*prelude: str) -> tuple[subprocess.Popen[str], list[int]]:
    """A shell leading a session of its own with two background children; the children's pids."""
    script = "; ".join([*prelude, "sleep 60 & echo $!", "sleep 60 & echo $!", "wait"])
    shell = subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert shell.stdout is not None
    children = [int(shell.stdout.readline()) for _ in range(2)]
    return shell, children


def test_kill_group_ends_every_member() -> None:
    shell, children = background_group()
    ticks = [start_ticks(pid) for pid in children]
    assert all(is_alive(pid) for pid in children)
    kill_group(shell.pid, grace=10, reap=shell.poll)
    assert shell.wait(timeout=10) == -signal.SIGTERM
    # the children belong to init (or a subreaper) now, which reaps them in its own time
    assert all(wait_until_gone(pid, tick, 10) for pid, tick in zip(children, ticks, strict=True))
    assert not signal_group(shell.pid, 0)


def test_kill_group_kills_what_ignores_sigterm_after_the_grace() -> None:
    shell, children = background_group("trap '' TERM")  # ignored signals stay ignored in the children
    ticks = [start_ticks(pid) for pid in children]
    began = time.monotonic()
    kill_group(shell.pid, grace=0.5, reap=shell.poll)
    assert time.monotonic() - began >= 0.5
    assert shell.wait(timeout=10) == -signal.SIGKILL
    assert all(wait_until_gone(pid, tick, 10) for pid, tick in zip(children, ticks, strict=True))


def test_signal_group_of_no_group() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    process.wait()
    assert not signal_group(process.pid, signal.SIGTERM)
    kill_group(process.pid)  # nothing to do, no error


def test_kill_session_kills_a_session_leader_only(sleeper: subprocess.Popen[bytes]) -> None:
    assert not kill_session(sleeper.pid)  # our child in our session: a pid that is not the job's any more
    assert is_alive(sleeper.pid)
    leader = subprocess.Popen(SLEEP, start_new_session=True)
    assert kill_session(leader.pid)
    assert leader.wait(timeout=10) == -signal.SIGKILL
    assert not kill_session(leader.pid)


def test_start_daemon_leads_its_own_session_and_writes_its_output(tmp_path: Path) -> None:
    log = tmp_path / "daemon.log"
    log.write_text("earlier\n")
    code = "import os; print(os.getsid(0) == os.getpid(), os.getcwd())"
    daemon = start_daemon([sys.executable, "-c", code], log, cwd=tmp_path, env=os.environ)
    assert daemon.wait(timeout=30) == 0
    assert log.read_text() == f"True {tmp_path}\n"
    daemon = start_daemon([sys.executable, "-c", "print('again')"], log, cwd=tmp_path, env=os.environ, append=True)
    assert daemon.wait(timeout=30) == 0
    assert log.read_text() == f"True {tmp_path}\nagain\n"


def test_lock_holder_names_the_live_process_holding_a_lock(tmp_path: Path) -> None:
    path = tmp_path / "locked"
    assert lock_holder(path) is None  # no such file
    path.write_bytes(b"\0")
    assert lock_holder(path) is None
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import fcntl, os, sys, time\n"
                f"fd = os.open({str(path)!r}, os.O_RDWR)\n"
                "fcntl.lockf(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert lock_holder(path) == holder.pid
    finally:
        holder.kill()
        holder.wait()
    assert lock_holder(path) is None
    with open(path, "rb+") as own:  # our own lock: F_GETLK reports locks of other processes only
        fcntl.lockf(own, fcntl.LOCK_EX)
        assert lock_holder(path) is None


def test_usable_cpus_follows_the_affinity_mask() -> None:
    """A process pinned to one CPU (as taskset, a cgroup cpuset or Slurm pin a job) sizes its pools for one,
    whatever the machine has; the solver choice that follows (one PyVRP process, not one per machine CPU)
    is checked in the child too."""
    code = (
        "import os; from sudoless.processes import usable_cpus; from sudoless.routing.auto import choose; "
        "from sudoless.routing.model import Problem; import numpy as np; "
        "rng = np.random.default_rng(1); xy = rng.random((150, 2)) * 100; "
        "p = Problem(coords=xy, dispatchers=3); "
        "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); print(usable_cpus(), choose(p))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "engine"]
    from sudoless.processes import usable_cpus

    assert usable_cpus() == len(os.sched_getaffinity(0))
