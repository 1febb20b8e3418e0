"""Job processes started with posix_spawn (sudoless.flows.spawn): what Popen gave them, they still get."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from sudoless.flows import sandbox as sandbox_module
from sudoless.flows.sandbox import JobSandbox
from sudoless.flows.spawn import JobProcess, own_working_folder, spawn_job

T = TypeVar("T")


def on_own_thread(work: Callable[[], T]) -> T:
    """Run ``work`` on a fresh thread that has a working folder of its own, as the spawning thread has."""
    result: list[T] = []
    errors: list[BaseException] = []

    def body() -> None:
        assert own_working_folder()
        try:
            result.append(work())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def output(process: JobProcess) -> str:
    data = process.stdout.read()
    process.stdout.close()
    return data.decode()


def test_a_job_runs_in_its_folder_in_a_session_of_its_own_and_the_runner_stays_where_it_was(tmp_path: Path):
    here = os.getcwd()
    process = on_own_thread(
        lambda: spawn_job(["sh", "-c", "pwd; cat; echo err >&2; ps -o sid= -p $$"], dict(os.environ), tmp_path)
    )
    assert process is not None
    text = output(process)
    assert process.wait() == 0
    lines = text.split()
    assert lines[0] == str(tmp_path)
    assert lines[1] == "err"  # stderr into the same pipe; stdin was /dev/null (cat read nothing)
    assert int(lines[2]) == process.pid  # the leader of its own session
    assert os.getcwd() == here


def test_the_program_is_searched_in_the_jobs_path_and_a_relative_one_in_its_folder(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "only-in-the-job-path"
    tool.write_text("#!/bin/sh\necho found it\n")
    tool.chmod(0o755)
    (tmp_path / "local.sh").write_text("#!/bin/sh\necho local\n")
    (tmp_path / "local.sh").chmod(0o755)
    env = {**os.environ, "PATH": f"/nonexistent:{bin_dir}:{os.environ['PATH']}"}
    found = on_own_thread(lambda: spawn_job(["only-in-the-job-path"], env, tmp_path))
    assert found is not None and output(found) == "found it\n" and found.wait() == 0
    local = on_own_thread(lambda: spawn_job(["./local.sh"], dict(os.environ), tmp_path))
    assert local is not None and output(local) == "local\n" and local.wait() == 0
    with pytest.raises(FileNotFoundError):
        on_own_thread(lambda: spawn_job(["only-in-the-job-path"], dict(os.environ), tmp_path))
    with pytest.raises(FileNotFoundError):
        on_own_thread(lambda: spawn_job(["true"], dict(os.environ), tmp_path / "gone"))
    (tmp_path / "not-executable").write_text("#!/bin/sh\n")
    with pytest.raises(PermissionError):
        on_own_thread(lambda: spawn_job(["./not-executable"], dict(os.environ), tmp_path))


def _tool(folder: Path, name: str, says: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tool = folder / name
    tool.write_text(f"#!/bin/sh\necho {says}\n")
    tool.chmod(0o755)
    return tool


def test_a_remembered_search_follows_a_program_that_moved_and_relative_path_folders_are_not_remembered(
    tmp_path: Path,
):
    first, second = tmp_path / "first", tmp_path / "second"
    tool = _tool(first, "moving-tool", "here")
    second.mkdir()
    env = {**os.environ, "PATH": f"{first}:{second}:{os.environ['PATH']}"}
    before = on_own_thread(lambda: spawn_job(["moving-tool"], env, tmp_path))
    assert before is not None and output(before) == "here\n" and before.wait() == 0
    tool.rename(second / "moving-tool")  # within the second the search is remembered for
    after = on_own_thread(lambda: spawn_job(["moving-tool"], env, tmp_path))
    assert after is not None and output(after) == "here\n" and after.wait() == 0
    # PATH=bin:...: each job's own bin folder first, whatever a job in another folder found
    _tool(tmp_path / "a" / "bin", "per-folder-tool", "a")
    _tool(tmp_path / "b" / "bin", "per-folder-tool", "b")
    _tool(first, "per-folder-tool", "fallback")
    (tmp_path / "c").mkdir()
    relative = {**os.environ, "PATH": f"bin:{first}:{os.environ['PATH']}"}
    for folder, says in (("c", "fallback"), ("a", "a"), ("b", "b"), ("c", "fallback")):
        started = on_own_thread(lambda f=folder: spawn_job(["per-folder-tool"], relative, tmp_path / f))
        assert started is not None and output(started) == f"{says}\n" and started.wait() == 0


def test_inherited_descriptors_are_closed_and_ignored_signals_reset(tmp_path: Path):
    read, write = os.pipe()
    # a free number of the kernel's choosing: dup2 onto a fixed one would close whatever this test process
    # (a live server, a client's socket) already holds there
    inherited = os.dup(write)
    os.set_inheritable(inherited, True)  # as the server's listening socket is
    try:
        process = on_own_thread(
            lambda: spawn_job(
                ["sh", "-c", "ls /proc/self/fd; grep SigIgn /proc/self/status"], dict(os.environ), tmp_path
            )
        )
        assert process is not None
        text = output(process)
        assert process.wait() == 0
    finally:
        for fd in (read, write, inherited):
            os.close(fd)
    listing, status = text.split("SigIgn:")
    assert {int(fd) for fd in listing.split()} <= {0, 1, 2, 3}  # 3: ls's own view of the folder
    assert not int(status.split()[0], 16) & (1 << (signal.SIGPIPE - 1)), "Python ignores SIGPIPE; the job must not"


def test_a_descriptor_made_inheritable_after_a_start_does_not_reach_the_next_job(tmp_path: Path):
    """Every start lists the descriptors again: one made inheritable between two starts, by a number the
    first start saw close-on-exec or by a new one, reaches neither job; stdin, stdout and stderr are the job's."""
    listing = ["sh", "-c", "ls /proc/self/fd"]

    def descriptors() -> set[int]:
        process = on_own_thread(lambda: spawn_job(listing, dict(os.environ), tmp_path))
        assert process is not None
        text = output(process)
        assert process.wait() == 0
        return {int(fd) for fd in text.split()}

    kept = os.open(os.devnull, os.O_RDONLY)  # close-on-exec, as Python opens every descriptor
    try:
        assert descriptors() <= {0, 1, 2, 3}  # 3: ls's own view of the folder
        os.set_inheritable(kept, True)
        made = os.dup(kept)
        os.set_inheritable(made, True)
        try:
            assert os.get_inheritable(kept) and os.get_inheritable(made)
            assert descriptors() <= {0, 1, 2, 3}
        finally:
            os.close(made)
    finally:
        os.close(kept)


def test_a_start_succeeds_with_a_descriptor_above_the_limit_of_open_files(tmp_path: Path):
    """A descriptor numbered at or above the limit (valgrind keeps its own there; a limit lowered after it was
    opened): posix_spawn refuses to close one, so a close-on-exec one is left to exec, not asked to close."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    spare = [os.open(os.devnull, os.O_RDONLY) for _ in range(8)]
    # above the highest number here (free by definition), so that only it is at the limit; close-on-exec
    high = os.dup2(spare[0], max(map(int, os.listdir("/proc/self/fd"))) + 1, inheritable=False)
    for fd in spare:  # numbers left free below it for the job's pipe and the listing
        os.close(fd)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (high, hard))
        try:
            process = on_own_thread(lambda: spawn_job(["sh", "-c", "echo started"], dict(os.environ), tmp_path))
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        assert process is not None
        assert output(process) == "started\n"
        assert process.wait() == 0
    finally:
        os.close(high)


def test_poll_and_wait_give_the_exit_code_or_the_signal(tmp_path: Path):
    failing = on_own_thread(lambda: spawn_job(["sh", "-c", "exit 3"], dict(os.environ), tmp_path))
    assert failing is not None
    output(failing)
    assert failing.wait() == 3 and failing.poll() == 3
    sleeping = on_own_thread(lambda: spawn_job(["sleep", "30"], dict(os.environ), tmp_path))
    assert sleeping is not None
    assert sleeping.poll() is None
    os.killpg(sleeping.pid, signal.SIGTERM)
    assert sleeping.wait() == -signal.SIGTERM
    sleeping.stdout.close()


@pytest.mark.parametrize("own_folder", [True, False])
def test_a_start_handed_over_is_followed_on_its_output_at_once(
    tmp_path: Path, own_folder: bool, monkeypatch: pytest.MonkeyPatch
):
    """``JobSandbox.begin``: the caller waits on the output while the spawning thread starts the process and
    reports the start itself; the answer is in by the time the output ends, a failed start's error with it.
    Without a working folder of its own the spawning thread starts it with ``Popen``, into the same pipe."""
    if not own_folder:
        monkeypatch.setattr(sandbox_module, "own_working_folder", lambda: False)
    sandbox = JobSandbox(tmp_path / "home", tmp_path, enabled=False)
    reports: list[tuple[int, str]] = []
    try:
        pending = sandbox.begin(["sh", "-c", "pwd; echo err >&2"], dict(os.environ), tmp_path, started(reports))
        assert pending is not None
        assert pending.stdout.read().decode().split() == [str(tmp_path), "err"]
        pending.stdout.close()
        assert pending.ready()
        process = pending.process()
        assert process.wait() == 0
        assert reports == [(process.pid, "sandboxed-spawn")]

        failed = sandbox.begin(["no-such-program-here"], dict(os.environ), tmp_path, started(reports))
        assert failed is not None
        assert failed.stdout.read() == b""  # nothing else holds the pipe: its end comes at once
        failed.stdout.close()
        with pytest.raises(FileNotFoundError):
            failed.process()
        assert len(reports) == 1  # a start that failed is not reported
    finally:
        sandbox.close()
    descriptors = len(os.listdir("/proc/self/fd"))
    with pytest.raises(RuntimeError, match="closed"):
        sandbox.begin(["true"], dict(os.environ), tmp_path, started(reports))
    assert len(os.listdir("/proc/self/fd")) == descriptors  # the refused start left no pipe open


def started(reports: list[tuple[int, str]]) -> Callable[[int], None]:
    return lambda pid: reports.append((pid, threading.current_thread().name))
