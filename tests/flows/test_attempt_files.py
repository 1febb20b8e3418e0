"""The files of a job attempt in ``.jobs``: its properties file is written there and nowhere else.

A job may leave a symbolic link in ``.jobs`` named like a later attempt's files; the later attempt must then
fail with one line, and the link's target must stay untouched.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from sudoless.errors import JobError
from sudoless.flows.attempt import Attempt, context
from sudoless.flows.joblog import LogWriter
from sudoless.store import Store


def attempt_in(workdir: Path, nested_id: str = "a/b") -> Attempt:
    (workdir / ".jobs").mkdir(parents=True, exist_ok=True)
    return Attempt(1, nested_id, nested_id, "command", 0, "", workdir, "2.0")


def make_context(tmp_path: Path, attempt: Attempt):  # type: ignore[no-untyped-def]
    log = LogWriter(Store(f"sqlite:///{tmp_path / 'db.sqlite'}"), 1, attempt.nested_id, 0)
    return context(
        attempt, {"x": "1\n2", "env.GREETING": "hi"}, {"PATH": "/usr/bin"}, log, threading.Event(), lambda pid: None
    )


def test_properties_file_is_written_in_jobs(tmp_path: Path) -> None:
    attempt = attempt_in(tmp_path / "exec")
    ctx = make_context(tmp_path, attempt)
    props_file = Path(ctx.env["JOB_PROP_FILE"])
    assert props_file.parent == tmp_path / "exec" / ".jobs"
    assert props_file.read_text() == "env.GREETING=hi\nx=1\\n2\n"
    assert ctx.env["GREETING"] == "hi"


@pytest.mark.parametrize("suffix", [".props", ".output"])
def test_a_link_left_in_jobs_is_refused(tmp_path: Path, suffix: str) -> None:
    attempt = attempt_in(tmp_path / "exec")
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    (tmp_path / "exec" / ".jobs" / f"{attempt.stem}{suffix}").symlink_to(outside)
    with pytest.raises(JobError, match=r"job 'a/b': its files would leave .*\.jobs"):
        make_context(tmp_path, attempt)
    assert outside.read_text() == "keep me"


def test_plain_properties_and_no_env_properties(tmp_path: Path) -> None:
    """The common case's shortcuts (no value to escape, no ``env.*`` name): the same files and environment."""
    attempt = attempt_in(tmp_path / "exec", "job")
    log = LogWriter(Store(f"sqlite:///{tmp_path / 'db.sqlite'}"), 1, attempt.nested_id, 0)
    props = {"b": "2", "a": "x=y", "environment": "e", "my.env.x": "z"}
    ctx = context(attempt, props, {"PATH": "/usr/bin"}, log, threading.Event(), lambda pid: None)
    jobs = tmp_path / "exec" / ".jobs"
    assert Path(ctx.env["JOB_PROP_FILE"]).read_text() == "a=x=y\nb=2\nenvironment=e\nmy.env.x=z\n"
    assert ctx.env == {
        "PATH": "/usr/bin",
        "JOB_PROP_FILE": str(jobs / "job.0.props"),
        "JOB_OUTPUT_PROP_FILE": str(jobs / "job.0.output"),
        "JOB_NAME": "job",
        "JOB_ID": "job",
        "AZKABAN_EXEC_ID": "1",
    }
    assert ctx.output_file == jobs / "job.0.output"


def test_jobs_with_the_same_names_get_each_their_own_values_sorted(tmp_path: Path) -> None:
    """The names' order is remembered by the names as given: jobs with the same names, given in the same order
    or another, or with one more, each get a file of their own values, sorted as a fresh sort puts them."""
    log = LogWriter(Store(f"sqlite:///{tmp_path / 'db.sqlite'}"), 1, "j", 0)
    given = [
        {"type": "command", "command": "true", "azkaban.job.id": "j0", "b": "1"},
        {"type": "command", "command": "false", "azkaban.job.id": "j1", "b": "2"},
        {"b": "3", "azkaban.job.id": "j2", "command": "x", "type": "noop"},
        {"type": "command", "command": "true", "azkaban.job.id": "j3", "b": "4", "a": "5"},
    ]
    for index, props in enumerate(given):
        attempt = attempt_in(tmp_path / "exec", f"j{index}")
        ctx = context(attempt, props, {}, log, threading.Event(), lambda pid: None)
        expected = "".join(f"{name}={props[name]}\n" for name in sorted(props))
        assert Path(ctx.env["JOB_PROP_FILE"]).read_text() == expected


@pytest.mark.parametrize(
    "nested_id", ["job_0001", "a.b-c~d", "..", "", "a b", "a/b", "a:b", "ü", "Ａ", "x\x00y", "1%2", "l" * 151]
)
def test_an_attempts_files_are_named_as_percent_encoding_names_them(nested_id: str) -> None:
    """A plain name is its own encoding; any other is percent-encoded, as ``quote`` does."""
    import hashlib
    from urllib.parse import quote

    from sudoless.flows.attempt import attempt_stem

    encoded = quote(nested_id, safe="")
    if len(encoded) > 150:
        encoded = f"{encoded[:80]}~{hashlib.sha256(nested_id.encode()).hexdigest()[:24]}"
    assert attempt_stem(nested_id, 2) == f"{encoded}.2"
