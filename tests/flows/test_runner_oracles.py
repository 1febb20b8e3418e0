"""Azkaban's own expected outcomes for its example projects, on all three databases.

The oracles are the outcomes Azkaban's own FlowRunner tests assert for projects of these shapes; the
projects are tests/fixtures/azkaban (its README.md gives the tables);
where a row needs a harness input, runtime properties supply it: ``fail`` makes a ``test`` job fail and
``test.output.<key>`` makes it output ``<key>``.
"""

from __future__ import annotations

import pytest

from flows.harness import run_flow, write_project
from sudoless.store.status import Status
from support.files import AZKABAN_PROJECTS

S, F, C, K = Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.KILLED


def out(**values: str) -> dict[str, str]:
    return {f"test.output.{k}": v for k, v in values.items()}


CONDITIONAL = [
    # (flow, harness runtime properties, expected job statuses, expected flow status)
    (
        "conditional_flow1",
        {"jobA": out(**{"azkaban.server.name": "foo"})},
        {"jobA": S, "jobB": S, "jobC": C, "jobD": C},
        K,
    ),
    (
        "conditional_flow2",
        {"jobA": out(key1="value1", key2="value2", key3="value4")},
        {"jobA": S, "jobB": S, "jobC": C, "jobD": C},
        K,
    ),
    ("conditional_flow3", {}, {"jobA": S, "jobB": S, "jobC": C}, K),
    ("conditional_flow4", {"jobA": {"fail": "true"}, "jobB": {"fail": "true"}}, {"jobA": F, "jobB": F, "jobC": S}, S),
    ("conditional_flow5", {"jobB": {"fail": "true"}}, {"jobA": S, "jobB": F, "jobC": S}, S),
    ("conditional_flow6", {"jobA": out(props="foo")}, {"jobA": S, "jobB": S, "jobC": C, "jobD": S}, S),
]


@pytest.mark.parametrize(("flow", "runtime", "jobs", "final"), CONDITIONAL, ids=[c[0] for c in CONDITIONAL])
def test_conditional_flows_flow2(store, settings, flow, runtime, jobs, final):
    result = run_flow(store, settings, AZKABAN_PROJECTS / "f2-conditional", flow, runtime)
    assert result.jobs == jobs
    assert result.status == final


def test_conditional_flow8_flow2(store, settings):
    result = run_flow(
        store,
        settings,
        AZKABAN_PROJECTS / "f2-conditional",
        "conditional_flow8",
        {"jobA": out(key1="value1", key2="value2")},
    )
    assert (result.jobs["jobC"], result.jobs["jobD"], result.status) == (C, C, K)


F1_CONDITIONAL = [
    (f, "jobC" if f in ("conditional_flow3", "conditional_flow4", "conditional_flow5") else "jobD", r, j, s)
    for f, r, j, s in CONDITIONAL
] + [
    ("conditional_flow7", "jobD", {}, {"jobA": S, "jobB": C, "jobC": C, "jobD": S}, S),
]


@pytest.mark.parametrize(
    ("project", "flow", "runtime", "jobs", "final"), F1_CONDITIONAL, ids=[c[0] for c in F1_CONDITIONAL]
)
def test_conditional_flows_flow1(store, settings, project, flow, runtime, jobs, final):
    result = run_flow(store, settings, AZKABAN_PROJECTS / "f1-conditional" / project, flow, runtime)
    assert result.jobs == jobs
    assert result.status == final


RESOLUTION_RUNTIME = {
    "ROOT": {
        "props5": "execflow5",
        "props6": "execflow6",
        "props7": "execflow7",
        "runtime1": "runtime1-ROOT",
        "runtime2": "runtime2-ROOT",
    },
    "job2": {
        "job-prop-2": "job2-val-2",
        "props6": "job2-val-6",
        **out(props4="g2job4", props5="g2job5", props6="g2job6", props7="g2job7", props10="g2job10"),
    },
    "innerflow": {"props4": "innerflow-val-4", "props6": "innerflow-val-6", "props10": "innerflow-val-10"},
    "innerflow:job1": out(props4="g1job4", props10="g1job10"),
    "innerflow:job4": {
        "runtime1": "runtime1-job4",
        "props4": "innerflow-job4-val-4",
        "props5": "innerflow-job4-val-5",
        **out(props6="g4job6", props9="g4job9"),
    },
    "job3": {"prop-job3": "should-be-set-only-for-job3"},
}

RESOLVED = {
    "job2": dict(
        props1="shared1",
        props2="job2",
        props3="moo3",
        props4="shared4",
        props5="execflow5",
        props6="job2-val-6",
        props7="job7",
        props8="shared8",
        runtime1="runtime1-ROOT",
        runtime2="runtime2-ROOT",
        **{"job-prop-2": "job2-val-2"},
    ),
    "innerflow:job1": dict(
        props1="job1",
        props2="job2",
        props3="moo3",
        props4="innerflow-val-4",
        props5="innerflow5",
        props6="innerflow-val-6",
        props7="g2job7",
        props8="job8",
        props10="innerflow-val-10",
        runtime1="runtime1-ROOT",
        runtime2="runtime2-ROOT",
    ),
    "innerflow:job4": dict(
        props1="shared1",
        props2="shared2",
        props3="moo3",
        props4="innerflow-job4-val-4",
        props5="innerflow-job4-val-5",
        props6="innerflow-val-6",
        props7="g2job7",
        props8="job8",
        props9="job9",
        props10="g1job10",
        runtime1="runtime1-job4",
        runtime2="runtime2-ROOT",
    ),
    "job3": dict(
        props1="shared1",
        props2="shared2",
        props3="job3",
        props4="moo4",
        props5="execflow5",
        props6="g4job6",
        props7="execflow7",
        props9="g4job9",
        runtime1="runtime1-ROOT",
        runtime2="runtime2-ROOT",
        **{"prop-job3": "should-be-set-only-for-job3"},
    ),
}
ABSENT = {"job2": ["props10"], "job3": ["props10", "props8"]}


@pytest.mark.parametrize("project", ["f1-execpropstest", "f2-props-precedence"])
def test_property_resolution_oracle(store, settings, project):
    result = run_flow(store, settings, AZKABAN_PROJECTS / project, "job3", RESOLUTION_RUNTIME)
    assert result.status == S
    for job, expected in RESOLVED.items():
        props = result.props(job)
        assert {k: props.get(k) for k in expected} == expected, job
        for key in ABSENT.get(job, []):
            assert key not in props, (job, key)


def test_retries_pass_and_fail(store, settings):
    project = AZKABAN_PROJECTS / "f1-exectest1"
    passed = run_flow(store, settings, project, "job-retry")
    assert passed.status == S
    assert passed.attempts["job-retry"] == [F, F, F, S]
    failed = run_flow(store, settings, project, "job-retry-fail")
    assert failed.status == F
    assert failed.attempts["job-retry-fail"] == [F, F, F]
    assert "retry" in failed.log() and "attempt 2" in failed.log("job-retry-fail")


def test_exectest1_failing_branch(store, settings):
    result = run_flow(store, settings, AZKABAN_PROJECTS / "f1-exectest1", "job2d")
    assert result.jobs == {"job1": S, "job2d": F}
    assert result.status == F


def test_multiple_end_nodes_wait_for_the_last(store, settings):
    result = run_flow(
        store, settings, AZKABAN_PROJECTS / "f2-multiple-end-nodes", "basic_flow", {"jobC": {"seconds": "0.3"}}
    )
    assert result.jobs == {"jobA": S, "jobB": S, "jobC": S}
    assert result.status == S


def test_fail_with_multiple_end_nodes(store, settings):
    runtime = {"jobC": {"fail": "true"}, "jobA": {"seconds": "0.5"}, "jobB": {"seconds": "0.5"}}
    result = run_flow(store, settings, AZKABAN_PROJECTS / "f2-fail-multiple-end-nodes", "fail_basic_flow", runtime)
    assert result.jobs == {"jobA": S, "jobB": S, "jobC": F, "jobD": C}
    assert result.status == F


def test_command_hello_runs_three_commands_in_order(store, settings):
    result = run_flow(store, settings, AZKABAN_PROJECTS / "f1-command-hello", "command")
    assert result.status == S
    log = result.log("command")
    first, second = log.index("\nhello\n"), log.index("\nsecond of three commands\n")
    assert first < second < log.index("Command: pwd")


def test_embedded_flows_run_nested(store, settings):
    result = run_flow(store, settings, AZKABAN_PROJECTS / "f1-embedded2", "jobf")
    assert result.status == S
    for nested in ("jobb:innerJobA", "jobb:innerFlow", "jobd:innerFlow2", "jobb", "jobd", "jobe", "jobf"):
        assert result.jobs[nested] == S, nested
    assert result.props("jobb:innerJobA")["testprops"] == "moo"
    assert result.props("jobd:innerJobA")["jobdprop"] == "set-by-jobd"
    assert result.props("jobf")["param1"] == "test1.1"
    assert result.props("jobf")["param5"] == "test2.5"


def test_flow2_embedded_and_failure_action_config(store, settings, tmp_path):
    project = write_project(
        tmp_path / "p",
        {
            "p.project": "azkaban-flow-version: 2.0\n",
            "f.flow": """
config:
  failure.action: finish_all_possible
nodes:
  - name: bad
    type: test
    config: {fail: "true"}
  - name: after_bad
    type: noop
    dependsOn: [bad]
  - name: slow
    type: test
    config: {seconds: "0.3"}
  - name: sub
    type: flow
    dependsOn: [slow]
    nodes:
      - name: inner
        type: noop
""",
        },
    )
    result = run_flow(store, settings, project, "f")
    assert result.jobs == {"bad": F, "after_bad": C, "slow": S, "sub": S, "sub:inner": S}
    assert result.status == F
