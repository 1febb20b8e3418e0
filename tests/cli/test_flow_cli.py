"""``sudoless flow ...`` as users run it: the real console script in a subprocess, its exit codes and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.harness import write_project
from sudoless.config import Settings
from sudoless.errors import NotFoundError
from sudoless.store import Store
from support.files import AZKABAN_PROJECTS

REPO = Path(__file__).resolve().parents[2]
SUDOLESS = Path(sys.executable).with_name("sudoless")


def sudoless(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUDOLESS_HOME": str(home)}
    env.pop("SUDOLESS_DB", None)
    return subprocess.run(
        [str(SUDOLESS), *args], env=env, capture_output=True, text=True, input=stdin, timeout=120, cwd=REPO
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_run_example_succeeds_with_json(tmp_path):
    result = sudoless(tmp_path, "flow", "run", "examples/etl-demo", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "SUCCEEDED"
    assert report["flow"] == "daily_etl"
    assert {job["id"] for job in report["jobs"]} >= {"extract_orders", "quality_gate:count_rows", "report"}
    shown = json.loads(sudoless(tmp_path, "flow", "show", str(report["execid"]), "--json").stdout)
    assert shown["status"] == "SUCCEEDED"
    log = sudoless(tmp_path, "flow", "log", str(report["execid"]), "transform")
    assert "transformed 160 rows" in log.stdout
    flow_log = sudoless(tmp_path, "flow", "log", str(report["execid"]))
    assert "finished: SUCCEEDED" in flow_log.stdout


def test_failed_flow_exits_1_and_restart_recovers(tmp_path):
    marker = tmp_path / "ok"
    project = write_project(
        tmp_path / "proj",
        {
            "a.job": "type=command\ncommand=echo a\n",
            "b.job": f"type=command\ndependencies=a\ncommand=test -e {marker}\n",
        },
    )
    failed = sudoless(tmp_path, "flow", "run", str(project), "--json")
    assert failed.returncode == 1
    exec_id = json.loads(failed.stdout)["execid"]
    marker.touch()
    again = sudoless(tmp_path, "flow", "restart", str(exec_id), "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["restartedFrom"] == exec_id
    assert {j["id"]: j["status"] for j in report["jobs"]} == {"a": "SKIPPED", "b": "SUCCEEDED"}


def test_restart_of_the_example_continues_with_the_files_its_skipped_jobs_wrote(tmp_path):
    failed = sudoless(tmp_path, "flow", "run", "examples/etl-demo", "-p", "data.dir=nowhere", "--json")
    assert failed.returncode == 1, failed.stderr
    first = json.loads(failed.stdout)
    jobs = {j["id"]: j["status"] for j in first["jobs"]}
    assert jobs["extract_orders"] == jobs["extract_customers"] == "SUCCEEDED" and jobs["transform"] == "FAILED"
    again = sudoless(tmp_path, "flow", "restart", str(first["execid"]), "-p", "data.dir=data", "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    statuses = {j["id"]: j["status"] for j in report["jobs"]}
    assert statuses["extract_orders"] == statuses["extract_customers"] == "SKIPPED"
    assert statuses["transform"] == statuses["load"] == statuses["report"] == "SUCCEEDED"
    log = sudoless(tmp_path, "flow", "log", str(report["execid"]), "transform")
    assert "transformed 160 rows" in log.stdout


def test_params_failure_action_and_disable(tmp_path):
    project = write_project(
        tmp_path / "proj",
        {
            "a.job": "type=command\ncommand=echo value=${x} node=${y}\n",
            "b.job": "type=command\ncommand=false\n",
            "end.job": "type=noop\ndependencies=a,b\n",
        },
    )
    result = sudoless(tmp_path, "flow", "run", str(project), "-p", "x=1", "-p", "a@y=2", "--disable", "b", "--json")
    assert result.returncode == 0, result.stderr
    exec_id = str(json.loads(result.stdout)["execid"])
    assert "value=1 node=2" in sudoless(tmp_path, "flow", "log", exec_id, "a").stdout
    failing = sudoless(
        tmp_path, "flow", "run", str(project), "-p", "x=1", "-p", "y=2", "--failure-action", "finishPossible", "--json"
    )
    assert failing.returncode == 1
    jobs = {j["id"]: j["status"] for j in json.loads(failing.stdout)["jobs"]}
    assert jobs == {"a": "SUCCEEDED", "b": "FAILED", "end": "CANCELLED"}


def test_validate_and_list(tmp_path):
    ok = sudoless(tmp_path, "flow", "validate", str(AZKABAN_PROJECTS / "f1-embedded2"), "--json")
    assert ok.returncode == 0
    assert sorted(json.loads(ok.stdout)["flows"]) == [
        "innerFlow",
        "innerFlow2",
        "jobf",
        "jobg",
        "pipeline1_2",
        "pipelineFlow",
    ]
    listed = sudoless(tmp_path, "flow", "list", str(AZKABAN_PROJECTS / "f2-embedded"), "--json")
    assert json.loads(listed.stdout)["embedded"] == [
        "embedded_flow:embedded_flow1",
        "embedded_flow:embedded_flow1:embedded_flow2",
    ]


def test_validate_lists_every_problem_one_per_line(tmp_path):
    project = write_project(
        tmp_path / "broken",
        {
            "a.job": "command=echo a\n",
            "b.job": "type=command\ndependencies=ghost\ncommand=echo b\n",
            "c.job": "type=command\ndependencies=c\ncommand=echo c\n",
        },
    )
    text = sudoless(tmp_path, "flow", "validate", str(project))
    assert text.returncode == 2 and text.stdout == "" and "Traceback" not in text.stderr
    assert text.stderr.splitlines() == [
        "sudoless: broken/a.job: Job doesn't have type set 'a'.",
        "sudoless: broken/b.job: b cannot find dependency ghost",
        "sudoless: broken/c.job: c has a self cycle",
    ]
    as_json = sudoless(tmp_path, "flow", "validate", str(project), "--json")
    assert as_json.returncode == 2 and as_json.stderr == ""
    document = json.loads(as_json.stdout)
    assert document["valid"] is False
    assert document["problems"] == [
        {"file": "broken/a.job", "line": None, "reason": "Job doesn't have type set 'a'."},
        {"file": "broken/b.job", "line": None, "reason": "b cannot find dependency ghost"},
        {"file": "broken/c.job", "line": None, "reason": "c has a self cycle"},
    ]


def test_validate_json_names_the_line_and_always_prints_a_document(tmp_path):
    project = write_project(
        tmp_path / "yamlbad",
        {
            "p.project": "azkaban-flow-version: 2.0\n",
            "f.flow": "nodes:\n  - name: a\n    type: noop\n  - name: [b\n",
        },
    )
    document = json.loads(sudoless(tmp_path, "flow", "validate", str(project), "--json").stdout)
    [problem] = document["problems"]
    assert problem["file"] == "yamlbad/f.flow" and problem["line"] == 5, problem
    missing = sudoless(tmp_path, "flow", "validate", str(tmp_path / "nowhere"), "--json")
    assert missing.returncode == 2
    assert json.loads(missing.stdout) == {
        "valid": False,
        "path": str(tmp_path / "nowhere"),
        "problems": [{"file": str(tmp_path / "nowhere"), "line": None, "reason": "no such file or directory"}],
    }


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["flow", "validate", "{ex}/f2-invalid/cyclefoundyamltest"], ["Cycles found at"]),
        (["flow", "validate", "{ex}/f2-invalid/invalidflowversiontest"], ["Invalid azkaban-flow-version"]),
        (["flow", "run", "{ex}/f1-invalid-embedded-cycle"], ["Embedded flow cycle found in"]),
        (["flow", "run", "{ex}/f2-invalid/dependencyundefinedyamltest"], ["Failed to validate nodeBean"]),
        (["flow", "run", "/no/such/project"], ["/no/such/project", "no such file"]),
        (["flow", "run", "{ex}/f2-multiple-flows"], ["choose one with --flow"]),
        (["flow", "run", "{ex}/f2-basic", "--flow", "nope"], ["Flow 'nope' cannot be found"]),
        (["flow", "run", "{ex}/f2-basic", "-p", "novalue"], ["-p novalue", "key=value"]),
        (["flow", "run", "{ex}/f2-basic", "--disable", "ghost"], ["ghost", "not in flow"]),
        (["flow", "show", "999"], ["Cannot find execution '999'"]),
        (["flow", "run", "{ex}/f2-basic", "--db", "mysql+pymysql://nobody@127.0.0.1:1/x"], ["cannot reach"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, fragments):
    examples = str(AZKABAN_PROJECTS)
    result = sudoless(tmp_path, *[a.replace("{ex}", examples) for a in args])
    assert_one_line_error(result, *fragments)


def test_invalid_upload_leaves_no_state(tmp_path):
    bad = sudoless(tmp_path, "flow", "run", str(AZKABAN_PROJECTS / "f2-invalid" / "cyclefoundyamltest"))
    assert bad.returncode == 2
    store = Store(f"sqlite:///{tmp_path / 'sudoless.db'}")
    with pytest.raises(NotFoundError):
        store.projects.id_of("cyclefoundyamltest")
    assert store.executions.latest() == []
    cache = Settings(home=tmp_path).data_dir / "projects"
    assert not cache.exists() or not any(cache.iterdir())
    store.close()


def test_run_follows_an_execution_another_executor_claimed_first(tmp_path, sqlite_store):
    """A `sudoless server` sharing the database may claim what `flow run` just queued: the command then
    follows it there to the end and reports its real status (it used to exit 1 with the flow still RUNNING)."""
    import threading

    from sudoless.cli.flow import _run_with_display
    from sudoless.config import Settings
    from sudoless.flows.executions import submit_flow
    from sudoless.flows.executor import Executor
    from sudoless.flows.upload import upload_project
    from sudoless.store.status import Status

    settings = Settings(home=tmp_path / "home")
    project = write_project(tmp_path / "proj", {"slow.job": "type=command\ncommand=sleep 1\n"})
    upload_project(sqlite_store, settings, project, "tester", name="proj")
    exec_id = submit_flow(sqlite_store, settings, "proj", "slow")
    server = Executor(sqlite_store, settings)
    assert sqlite_store.executions.claim(server.id, exec_id) == exec_id  # the server wins the race
    runner = threading.Thread(target=server.run_claimed, args=(exec_id,))
    runner.start()
    try:
        assert _run_with_display(sqlite_store, settings, exec_id, live=False) == Status.SUCCEEDED
    finally:
        runner.join()
