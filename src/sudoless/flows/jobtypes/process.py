"""Running one OS process for a job: its own process group, output streamed to the log, cancel, timeout.

Each process starts a new session, so cancelling or timing out a job kills everything it started
(``bash -c 'a | b &'`` included) with one ``killpg``: SIGTERM first, SIGKILL after a grace period
(:func:`sudoless.processes.kill_group`).
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from dataclasses import dataclass

from sudoless.flows.jobtypes.context import JobContext
from sudoless.flows.sandbox import JOB_STREAMS, job_env
from sudoless.flows.spawn import JobProcess, PendingStart
from sudoless.processes import kill_group


@dataclass
class ProcessOutcome:
    returncode: int | None
    killed: bool = False
    timed_out: bool = False


def split_command(command: str) -> list[str]:
    """Azkaban's tokenizer: spaces separate, single or double quotes group, no shell features."""
    if "'" not in command and '"' not in command:  # most commands: the loop below would split on spaces alone
        return command.split()
    args: list[str] = []
    current: list[str] = []
    quote = ""
    started = False
    for char in command:
        if quote:
            if char == quote:
                quote = ""
            else:
                current.append(char)
        elif char in ("'", '"'):
            quote = char
            started = True
        elif char.isspace():
            if current or started:
                args.append("".join(current))
            current, started = [], False
        else:
            current.append(char)
    if current or started:
        args.append("".join(current))
    return args


def run_process(argv: list[str], ctx: JobContext, deadline: float | None) -> ProcessOutcome:
    """Run ``argv`` in ``ctx.workdir`` inside ``ctx.sandbox`` (with the server's settings taken out of its
    environment); return when it exits, is cancelled or passes ``deadline``."""
    try:
        pending = _start(argv, ctx)
        return _follow(pending, ctx, deadline)
    except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
        ctx.log.line(f"cannot start {argv[0]!r}: {exc.strerror or exc}", "ERROR")
        return ProcessOutcome(returncode=None)


def _start(argv: list[str], ctx: JobContext) -> PendingStart:
    """The process on its way: the sandbox's spawning thread starts it and reports the start
    (``ctx.started``) while this thread already waits on its output."""
    if ctx.sandbox is not None:
        pending = ctx.sandbox.begin(argv, ctx.env, ctx.workdir, ctx.started)
        if pending is not None:
            return pending
        proc: JobProcess | subprocess.Popen[bytes] = ctx.sandbox.start(argv, ctx.env, ctx.workdir)
    else:
        proc = subprocess.Popen(argv, env=job_env(ctx.env), cwd=ctx.workdir, **JOB_STREAMS)
    ctx.started(proc.pid)
    return PendingStart.started(proc)


def _follow(pending: PendingStart, ctx: JobContext, deadline: float | None) -> ProcessOutcome:
    """Stream the output to the log until the process ends, killing its group on cancel or timeout. What the
    start raised (the program not found ...) is raised here, once the output has ended or a kill needs the
    process."""
    fd = pending.stdout.fileno()
    proc: JobProcess | subprocess.Popen[bytes] | None = None
    killed = timed_out = False
    exited_at: float | None = None
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 0.05 if exited_at else 0.2)
            if ready:
                data = os.read(fd, 1 << 16)
                if not data:
                    break
                ctx.log.write(data)
            elif exited_at is not None and time.monotonic() - exited_at > 0.2:
                # The job's own process is gone; a background child keeps the pipe open. Stop reading.
                break
            past = deadline is not None and time.monotonic() > deadline
            if proc is None and (pending.ready() or ctx.cancel.is_set() or past):
                proc = pending.process()
            if proc is None:  # still starting, and nothing to act on yet
                ctx.log.flush_if_due()
                continue
            if exited_at is None and proc.poll() is not None:
                exited_at = time.monotonic()
            if ctx.cancel.is_set() and not killed:
                ctx.log.line("Kill has been called. Killing the job's process group.", "WARN")
                kill_group(proc.pid, reap=proc.poll)
                killed = True
            if deadline is not None and not killed and time.monotonic() > deadline:
                ctx.log.line(f"Job passed its timeout of {ctx.timeout:g} s. Killing its process group.", "ERROR")
                kill_group(proc.pid, reap=proc.poll)
                killed = timed_out = True
            ctx.log.flush_if_due()
        if proc is None:
            proc = pending.process()
    finally:
        pending.stdout.close()
    returncode = proc.wait()
    if killed:
        kill_group(proc.pid, grace=0)
    return ProcessOutcome(returncode=returncode, killed=killed and not timed_out, timed_out=timed_out)
