"""The job types Azkaban ships and that its example projects use: command, noop, test, javaprocess.

The registry (:mod:`sudoless.flows.jobtypes`) names them; they know only the contract (:mod:`.context`).
"""

from __future__ import annotations

import json
import os
import time

from sudoless.flows.jobtypes.context import JobContext, JobResult
from sudoless.flows.jobtypes.process import run_process, split_command


def read_outputs(ctx: JobContext) -> dict[str, str]:
    """A job's output properties: a JSON object in ``$JOB_OUTPUT_PROP_FILE``, every value stringified."""
    if not os.access(ctx.output_file, os.F_OK):  # most jobs write none: a check costs less than a failed open
        return {}
    try:
        text = ctx.output_file.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return {}
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        ctx.log.line("JOB_OUTPUT_PROP_FILE does not hold a JSON object; output properties ignored", "WARN")
        return {}
    if not isinstance(data, dict):
        ctx.log.line("JOB_OUTPUT_PROP_FILE does not hold a JSON object; output properties ignored", "WARN")
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


def _deadline(ctx: JobContext) -> float | None:
    return time.monotonic() + ctx.timeout if ctx.timeout else None


def run_commands(ctx: JobContext, commands: list[list[str]]) -> JobResult:
    deadline = _deadline(ctx)
    for argv in commands:
        ctx.log.line(f"Command: {' '.join(argv)}")
        outcome = run_process(argv, ctx, deadline)
        if outcome.killed:
            return JobResult(False, killed=True, message="killed")
        if outcome.timed_out:
            return JobResult(False, message=f"timed out after {ctx.timeout:g} s")
        if outcome.returncode != 0:
            code = "could not start" if outcome.returncode is None else f"exit code {outcome.returncode}"
            return JobResult(False, message=f"command failed ({code}): {' '.join(argv)}")
    return JobResult(True, outputs=read_outputs(ctx))


class CommandJob:
    """``command``, then ``command.1``, ``command.2`` ... until the first missing index; each split on
    spaces and quotes and run without a shell; the first non-zero exit fails the job."""

    def run(self, ctx: JobContext) -> JobResult:
        keys = ["command"]
        index = 1
        while f"command.{index}" in ctx.props:
            keys.append(f"command.{index}")
            index += 1
        if not ctx.props.get("command", "").strip():
            ctx.log.line("command job without a 'command' property", "ERROR")
            return JobResult(False, message="no command")
        commands = [split_command(ctx.props[k]) for k in keys if ctx.props[k].strip()]
        return run_commands(ctx, commands)


class NoopJob:
    def run(self, ctx: JobContext) -> JobResult:
        return JobResult(True)


class TestJob:
    """Azkaban's test job type: sleeps ``seconds``; with ``fail=true`` fails unless ``passRetry`` is set
    and the attempt number exceeds it. Properties ``test.output.<key>`` become output properties, so a
    test can feed conditions and dependants without writing scripts."""

    def run(self, ctx: JobContext) -> JobResult:
        seconds = float(ctx.props.get("seconds", "0") or 0)
        ctx.started(None)
        if seconds > 0 and ctx.cancel.wait(seconds):
            return JobResult(False, killed=True, message="killed")
        fail = ctx.props.get("fail", "false").strip().lower() == "true"
        pass_retry = int(ctx.props.get("passRetry", "0") or 0)
        if fail and not (pass_retry > 0 and pass_retry < ctx.attempt):
            ctx.log.line(f"Test job set to fail (attempt {ctx.attempt})", "ERROR")
            return JobResult(False, message="fail=true")
        outputs = {k[len("test.output.") :]: v for k, v in ctx.props.items() if k.startswith("test.output.")}
        return JobResult(True, outputs=outputs)


_SLEEP_JAVA_JOB = "azkaban.test.executor.SleepJavaJob"


class JavaProcessJob:
    """``java [jvm.args] -Xms -Xmx -cp classpath java.class main.args``; Azkaban's own test class
    SleepJavaJob, which its example projects name, behaves like the test job type."""

    def run(self, ctx: JobContext) -> JobResult:
        main = ctx.props.get("java.class") or ctx.props.get("job.class") or ""
        if main == _SLEEP_JAVA_JOB:
            return TestJob().run(ctx)
        if not main:
            ctx.log.line("java job without java.class", "ERROR")
            return JobResult(False, message="no java.class")
        argv = ["java", *split_command(ctx.props.get("jvm.args", ""))]
        for key in ("Xms", "Xmx"):
            if ctx.props.get(key):
                argv.append(f"-{key}{ctx.props[key]}")
        if ctx.props.get("classpath"):
            argv += ["-cp", ctx.props["classpath"]]
        argv += [main, *split_command(ctx.props.get("main.args", ""))]
        return run_commands(ctx, [argv])
