"""Loading Azkaban projects: every example project, synthetic broken projects, and project zips.

The example projects are tests/fixtures/azkaban: projects written for these tests with the structures of
Azkaban's own test projects, each expected to give the flows or the error Azkaban gives for that structure
(see that folder's README.md).
"""

from __future__ import annotations

import stat
import tempfile
import zipfile
from pathlib import Path

import pytest

from sudoless.errors import ArchiveError, InputError, NotFoundError, ProjectError
from sudoless.flows.formats import load_project, load_project_dir
from sudoless.flows.formats.archive import unpack_zip
from sudoless.flows.model import Flow, Project
from support.files import AZKABAN_PROJECTS  # noqa: E402


@pytest.fixture
def examples() -> Path:
    return AZKABAN_PROJECTS


def load_example(examples: Path, rel: str) -> Project:
    return load_project_dir(examples / rel, Path(rel).name)


def graph(flow: Flow) -> dict[str, tuple[str, ...]]:
    return {name: node.dependencies for name, node in flow.nodes.items()}


def shape(project: Project) -> dict[str, tuple[bool, dict[str, tuple]]]:
    """Everything the loader derives from a project's files, independent of where they were unpacked."""
    return {
        fid: (
            flow.embedded,
            {
                n: (node.type, node.dependencies, node.subflow, node.condition, dict(node.props), dict(node.shared))
                for n, node in flow.nodes.items()
            },
        )
        for fid, flow in project.flows.items()
    }


def write_project(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def zip_dir(source: Path, dest: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                archive.write(path, prefix + path.relative_to(source).as_posix())
    return dest


# --- every example project -------------------------------------------------------------------------------

F1_CONDITIONAL_END = {1: "jobD", 2: "jobD", 3: "jobC", 4: "jobC", 5: "jobC", 6: "jobD", 7: "jobD"}

#: (directory, flow version, top-level flows, embedded flow ids), per the examples' README.
VALID = [
    ("f1-command-hello", "1.0", ["command"], []),
    ("f1-embedded", "1.0", ["innerFlow", "jobe"], []),
    ("f1-embedded2", "1.0", ["innerFlow", "innerFlow2", "jobf", "jobg", "pipeline1_2", "pipelineFlow"], []),
    ("f1-execpropstest", "1.0", ["job3", "job4"], []),
    ("f1-exectest1", "1.0", ["job-pass", "job-retry", "job-retry-fail", "job10", "job2d"], []),
    ("f1-exectest2-failures", "1.0", ["failflow"], []),
    *[(f"f1-conditional/conditional_flow{n}", "1.0", [end], []) for n, end in F1_CONDITIONAL_END.items()],
    ("f2-basic", "2.0", ["basic_flow"], []),
    (
        "f2-embedded",
        "2.0",
        ["embedded_flow"],
        ["embedded_flow:embedded_flow1", "embedded_flow:embedded_flow1:embedded_flow2"],
    ),
    (
        "f2-embedded-deep",
        "2.0",
        ["valid_dag_2"],
        [
            "valid_dag_2:local_emb_2",
            "valid_dag_2:valid_dag_3",
            "valid_dag_2:valid_dag_4",
            "valid_dag_2:valid_dag_5",
            "valid_dag_2:valid_dag_5:valid_dag_6",
        ],
    ),
    ("f2-conditional", "2.0", [f"conditional_flow{n}" for n in (1, 2, 3, 4, 5, 6, 8)], []),
    ("f2-props-precedence", "2.0", ["job3"], ["job3:innerflow"]),
    ("f2-multiple-flows", "2.0", ["basic_flow", "basic_flow2"], []),
    ("f2-nested-project-file", "2.0", ["basic_flow", "basic_flow2"], []),
    ("f2-multiple-end-nodes", "2.0", ["basic_flow"], []),
    ("f2-fail-multiple-end-nodes", "2.0", ["fail_basic_flow"], []),
    ("az-examples-flow20", "2.0", ["basic", "embedded"], ["embedded:embedded_flow"]),
    ("az-examples-conditional", "2.0", ["sample"], []),
    ("az-examples-flow-trigger", "2.0", ["flow_trigger", "regular"], []),
]

#: (directory, exact texts the one-line ProjectError must contain); each text names the file it is about.
INVALID = [
    (
        "f1-invalid-embedded-cycle",
        [
            "selfreference.job: Embedded flow cycle found in selfreference->selfreference",
            "innerFlow.job: Embedded flow cycle found in ",
            "jobe.job: Embedded flow cycle found in ",
        ],
    ),
    ("f2-invalid/cyclefoundyamltest", ["cycle_found.flow: Cycles found at "]),
    (
        "f2-invalid/dependencyundefinedyamltest",
        [
            "dependency_undefined.flow: Failed to validate nodeBean for dependency_undefined.flow. Duplicate "
            "nodes found or dependency undefined or ROOT used as a name.",
        ],
    ),
    (
        "f2-invalid/duplicatenodenamesyamltest",
        [
            "duplicate_nodename.flow: Failed to validate nodeBean for duplicate_nodename.flow. Duplicate nodes "
            "found or dependency undefined or ROOT used as a name.",
        ],
    ),
    (
        "f2-invalid/invalidconditionalflowyamltest",
        [
            "condition_on_descendant.flow: Invalid condition for jobA: should not define condition on its "
            "descendant node jobD.",
            "empty_operand.flow: Invalid condition for jobB: operand is an empty string.",
            "invalid_variable_substitution.flow: Invalid condition for jobB: cannot resolve the condition. "
            "Please check the syntax for supported conditions.",
            "job_not_exist.flow: Invalid condition for jobB: jobC doesn't exist in the flow.",
            "multiple_condition_on_job_status_macros.flow: Invalid condition for jobB: cannot combine more than "
            "one conditionOnJobStatus macros.",
        ],
    ),
    (
        "f2-invalid/invalidflowversiontest",
        ["basic_flow.project: Invalid azkaban-flow-version in the project YAML file."],
    ),
    (
        "f2-invalid/noflowversiontest",
        ["no_flow_version.project: azkaban-flow-version is not specified in the project YAML file."],
    ),
    (
        "f2-invalid/invalidjobpropsyamltest",
        ["invalid_jobprops.flow: shell_pwd: Xms value has exceeded the allowed limit (max Xms = 1G)"],
    ),
]


def test_every_example_project_is_covered(examples: Path) -> None:
    found = set()
    for path in examples.iterdir():
        if path.is_dir():
            if path.name in ("f1-conditional", "f2-invalid"):
                found |= {f"{path.name}/{sub.name}" for sub in path.iterdir() if sub.is_dir()}
            else:
                found.add(path.name)
    assert found == {rel for rel, *_ in VALID} | {rel for rel, _ in INVALID}
    assert len(found) == 33


@pytest.mark.parametrize(("rel", "version", "top", "embedded"), VALID, ids=[row[0] for row in VALID])
def test_example_loads_with_its_flows(
    examples: Path, rel: str, version: str, top: list[str], embedded: list[str]
) -> None:
    project = load_example(examples, rel)
    assert project.flow_version == version
    assert project.name == Path(rel).name
    assert project.top_flows == top
    assert sorted(fid for fid, flow in project.flows.items() if flow.embedded) == embedded
    assert sorted(project.flows) == sorted(top + embedded)
    for fid, flow in project.flows.items():
        assert flow.name == fid
        for node in flow.nodes.values():
            assert set(node.dependencies) <= set(flow.nodes), (fid, node.name)
            if node.is_flow:
                assert node.type == "flow"
                assert node.subflow in project.flows
    # load_project on a directory is the same as load_project_dir.
    assert shape(load_project(examples / rel)) == shape(project)


@pytest.mark.parametrize(("rel", "texts"), INVALID, ids=[row[0] for row in INVALID])
def test_invalid_example_gives_azkabans_reason(examples: Path, rel: str, texts: list[str]) -> None:
    with pytest.raises(ProjectError) as caught:
        load_example(examples, rel)
    message = str(caught.value)
    assert type(caught.value) is ProjectError
    assert "\n" not in message and "\r" not in message
    assert message.startswith(f"{Path(rel).name}/")
    for text in texts:
        assert text in message
    if len(texts) == 1:
        assert " more: " not in message


def test_example_cycle_is_a_real_cycle_of_the_flow(examples: Path) -> None:
    with pytest.raises(ProjectError) as caught:
        load_example(examples, "f2-invalid/cyclefoundyamltest")
    chain = str(caught.value).split("Cycles found at ", 1)[1].split(">>")
    edges = {("shell_echo", "shell_pwd"), ("shell_pwd", "shell_bash"), ("shell_bash", "shell_echo")}
    assert chain[0] == chain[-1]
    assert set(chain) == {"shell_echo", "shell_pwd", "shell_bash"}
    assert {(a, b) for a, b in zip(chain, chain[1:], strict=False)} == edges


# --- flows, nodes and edges of the examples ---------------------------------------------------------------

INNER_FLOW = {
    "innerFlow": ("innerJobB", "innerJobC"),
    "innerJobA": (),
    "innerJobB": ("innerJobA",),
    "innerJobC": ("innerJobA",),
}
BASIC3 = {"shell_end": ("shell_pwd", "shell_echo", "shell_bash"), "shell_echo": (), "shell_pwd": (), "shell_bash": ()}
BASIC2 = {"shell_end": ("shell_pwd", "shell_echo"), "shell_echo": (), "shell_pwd": ()}
JOBE = {"joba": (), "jobb": ("joba",), "jobc": ("joba",), "jobd": ("joba",), "jobe": ("jobb", "jobc", "jobd")}

GRAPHS = [
    ("f1-command-hello", "command", {"command": ()}),
    (
        "f1-exectest1",
        "job10",
        {
            "job1": (),
            "job2": ("job1",),
            "job3": ("job2",),
            "job4": ("job2",),
            "job5": ("job3", "job4"),
            "job6": ("job1",),
            "job7": ("job5", "job6"),
            "job8": ("job7",),
            "job9": ("job7",),
            "job10": ("job8", "job9"),
        },
    ),
    ("f1-exectest1", "job2d", {"job1": (), "job2d": ("job1",)}),
    ("f1-exectest1", "job-pass", {"job-pass": ()}),
    ("f1-exectest1", "job-retry", {"job-retry": ()}),
    ("f1-exectest1", "job-retry-fail", {"job-retry-fail": ()}),
    ("f1-embedded", "jobe", JOBE),
    ("f1-embedded", "innerFlow", INNER_FLOW),
    ("f1-embedded2", "innerFlow", INNER_FLOW),
    ("f1-embedded2", "innerFlow2", {"innerFlow2": ("innerJobA",), "innerJobA": ()}),
    ("f1-embedded2", "jobf", {**JOBE, "joba1": (), "jobf": ("jobe", "joba1")}),
    ("f1-embedded2", "jobg", {**JOBE, "joba1": (), "jobg": ("jobe", "joba1")}),
    ("f1-embedded2", "pipeline1_2", {"pipeline1_1": (), "pipeline1_2": ("pipeline1_1",)}),
    (
        "f1-embedded2",
        "pipelineFlow",
        {
            "pipeline1": (),
            "pipeline2": ("pipeline1",),
            "pipelineEmbeddedFlow3": ("pipeline2",),
            "pipelineEmbeddedFlow4": ("pipeline2",),
            "pipeline4": ("pipelineEmbeddedFlow3", "pipelineEmbeddedFlow4"),
            "pipelineFlow": ("pipeline4",),
        },
    ),
    ("f1-execpropstest", "job3", {"job2": (), "innerflow": ("job2",), "job3": ("innerflow",)}),
    ("f1-execpropstest", "job4", {"job1": (), "job4": ("job1",)}),
    (
        "f1-exectest2-failures",
        "failflow",
        {
            "myjob1": (),
            "myjob2-fail20": ("myjob1",),
            "myjob2-fail30": ("myjob1",),
            "myjob2-pass50": ("myjob1",),
            "myjob3": ("myjob2-pass50",),
            "myjob4": ("myjob2-fail20",),
            "myjob5": ("myjob4", "myjob2-fail30"),
            "failflow": ("myjob3", "myjob5"),
        },
    ),
    (
        "f1-conditional/conditional_flow1",
        "jobD",
        {"jobA": (), "jobB": ("jobA",), "jobC": ("jobA",), "jobD": ("jobB", "jobC")},
    ),
    ("f1-conditional/conditional_flow3", "jobC", {"jobA": (), "jobB": (), "jobC": ("jobA", "jobB")}),
    (
        "f1-conditional/conditional_flow7",
        "jobD",
        {"jobA": (), "jobB": ("jobA",), "jobC": ("jobA",), "jobD": ("jobA", "jobB", "jobC")},
    ),
    ("f2-basic", "basic_flow", BASIC3),
    ("f2-multiple-flows", "basic_flow", BASIC3),
    ("f2-multiple-flows", "basic_flow2", BASIC2),
    ("f2-nested-project-file", "basic_flow", BASIC2),
    ("f2-nested-project-file", "basic_flow2", BASIC3),
    ("f2-multiple-end-nodes", "basic_flow", {"jobA": (), "jobB": (), "jobC": ()}),
    ("f2-fail-multiple-end-nodes", "fail_basic_flow", {"jobD": ("jobA",), "jobA": (), "jobB": (), "jobC": ()}),
    (
        "f2-embedded",
        "embedded_flow",
        {
            "shell_end": ("shell_pwd", "shell_echo", "embedded_flow1"),
            "shell_pwd": (),
            "shell_echo": (),
            "embedded_flow1": (),
        },
    ),
    (
        "f2-embedded",
        "embedded_flow:embedded_flow1",
        {
            "shell_end": ("shell_echo", "embedded_flow2"),
            "shell_echo": (),
            "embedded_flow2": ("shell_bash",),
            "shell_bash": (),
        },
    ),
    ("f2-embedded", "embedded_flow:embedded_flow1:embedded_flow2", {"shell_end": ("shell_pwd",), "shell_pwd": ()}),
    (
        "f2-embedded-deep",
        "valid_dag_2",
        {
            "task_2_1": (),
            "local_emb_2": (),
            "task_2_2": ("task_2_1",),
            "valid_dag_3": ("task_2_1",),
            "_end_": ("valid_dag_4", "valid_dag_5", "local_emb_2"),
            "valid_dag_5": ("task_2_2",),
            "valid_dag_4": ("valid_dag_3",),
        },
    ),
    ("f2-embedded-deep", "valid_dag_2:local_emb_2", {"task_2a": ()}),
    (
        "f2-embedded-deep",
        "valid_dag_2:valid_dag_3",
        {
            "task_3_1": (),
            "task_3_2": ("task_3_1",),
            "task_3_5": ("task_3_2", "task_3_4"),
            "task_3_4": ("task_3_3",),
            "task_3_3": (),
        },
    ),
    (
        "f2-embedded-deep",
        "valid_dag_2:valid_dag_4",
        {"task_4_1": (), "task_4_3": ("task_4_1",), "task_4_2": ("task_4_1",)},
    ),
    (
        "f2-embedded-deep",
        "valid_dag_2:valid_dag_5",
        {"task_5_1": (), "valid_dag_6": ("task_5_2", "task_5_1"), "task_5_2": (), "task_5_3": ("valid_dag_6",)},
    ),
    (
        "f2-embedded-deep",
        "valid_dag_2:valid_dag_5:valid_dag_6",
        {
            "task_6_1": (),
            "task_6_2": ("task_6_1",),
            "task_6_5": ("task_6_2",),
            "task_6_3": ("task_6_2",),
            "task_6_4": ("task_6_3",),
        },
    ),
    ("f2-props-precedence", "job3", {"job2": (), "innerflow": ("job2",), "job3": ("innerflow",)}),
    ("f2-props-precedence", "job3:innerflow", {"job4": ("job1",), "job1": ()}),
    ("az-examples-flow20", "basic", {"jobC": ("jobA", "jobB"), "jobA": (), "jobB": ()}),
    ("az-examples-flow20", "embedded", {"jobC": ("embedded_flow",), "embedded_flow": ()}),
    ("az-examples-flow20", "embedded:embedded_flow", {"jobB": ("jobA",), "jobA": ()}),
    ("az-examples-flow-trigger", "flow_trigger", BASIC2),
    ("az-examples-flow-trigger", "regular", BASIC2),
    ("az-examples-conditional", "sample", {"JobA": (), "JobB": ("JobA",), "JobC": ("JobA",), "JobD": ("JobB", "JobC")}),
]


@pytest.mark.parametrize(("rel", "flow_id", "edges"), GRAPHS, ids=[f"{r}:{f}" for r, f, _ in GRAPHS])
def test_example_flow_nodes_and_dependencies(
    examples: Path, rel: str, flow_id: str, edges: dict[str, tuple[str, ...]]
) -> None:
    flow = load_example(examples, rel).flows[flow_id]
    assert graph(flow) == edges
    assert sorted(flow.end_nodes) == sorted(n for n in edges if all(n not in d for d in edges.values()))


#: (directory, flow id, node, flow it embeds)
SUBFLOWS = [
    ("f1-embedded", "jobe", "jobb", "innerFlow"),
    ("f1-embedded", "jobe", "jobc", "innerFlow"),
    ("f1-embedded", "jobe", "jobd", "innerFlow"),
    ("f1-embedded2", "jobf", "jobb", "innerFlow"),
    ("f1-embedded2", "jobf", "jobd", "innerFlow2"),
    ("f1-embedded2", "pipeline1_2", "pipeline1_1", "innerFlow2"),
    ("f1-embedded2", "pipelineFlow", "pipelineEmbeddedFlow3", "innerFlow"),
    ("f1-execpropstest", "job3", "innerflow", "job4"),
    ("f2-embedded", "embedded_flow", "embedded_flow1", "embedded_flow:embedded_flow1"),
    ("f2-embedded", "embedded_flow:embedded_flow1", "embedded_flow2", "embedded_flow:embedded_flow1:embedded_flow2"),
    ("f2-embedded-deep", "valid_dag_2:valid_dag_5", "valid_dag_6", "valid_dag_2:valid_dag_5:valid_dag_6"),
    ("f2-props-precedence", "job3", "innerflow", "job3:innerflow"),
]


@pytest.mark.parametrize(
    ("rel", "flow_id", "node", "subflow"), SUBFLOWS, ids=[f"{r}:{f}:{n}" for r, f, n, _ in SUBFLOWS]
)
def test_example_embedded_flow_nodes(examples: Path, rel: str, flow_id: str, node: str, subflow: str) -> None:
    project = load_example(examples, rel)
    embedding = project.flows[flow_id].nodes[node]
    assert (embedding.type, embedding.subflow, embedding.is_flow) == ("flow", subflow, True)
    plain = [n.name for f in project.flows.values() for n in f.nodes.values() if n.type != "flow"]
    assert all(
        project.flows[f].nodes[n].subflow is None for f in project.flows for n in project.flows[f].nodes if n in plain
    )


def test_f1_embedded_jobe_nodes(examples: Path) -> None:
    project = load_example(examples, "f1-embedded")
    jobe = project.flow("jobe")
    assert list(jobe.nodes) == ["joba", "jobb", "jobc", "jobd", "jobe"]
    assert {n: node.type for n, node in jobe.nodes.items()} == {
        "joba": "javaprocess",
        "jobb": "flow",
        "jobc": "flow",
        "jobd": "flow",
        "jobe": "javaprocess",
    }
    assert dict(jobe.nodes["jobb"].props) == {"type": "flow", "flow.name": "innerFlow", "dependencies": "joba"}
    assert jobe.start_nodes == ["joba"]
    assert jobe.end_nodes == ["jobe"]
    assert jobe.levels() == {"joba": 0, "jobb": 1, "jobc": 1, "jobd": 1, "jobe": 2}
    assert jobe.source == "jobe.job"
    assert jobe.embedded is False and project.flows["innerFlow"].embedded is False


def test_f2_embedded_ids_are_embedded_and_not_listed(examples: Path) -> None:
    project = load_example(examples, "f2-embedded")
    outer = project.flow("embedded_flow")
    one = project.flows["embedded_flow:embedded_flow1"]
    two = project.flows["embedded_flow:embedded_flow1:embedded_flow2"]
    assert (outer.embedded, one.embedded, two.embedded) == (False, True, True)
    assert project.top_flows == ["embedded_flow"]
    assert dict(outer.props) == {"flow-level-parameter": "value"}
    assert dict(one.props) == {"flow-level-parameter": "value"}
    assert dict(two.props) == {"flow-level-parameter": "value"}
    assert {f.source for f in (outer, one, two)} == {"embedded_flow.flow"}
    # The same node names at three levels are three different nodes.
    assert outer.nodes["shell_end"].dependencies != one.nodes["shell_end"].dependencies
    assert dict(two.nodes["shell_pwd"].props) == {"command": "pwd", "type": "command"}
    assert dict(one.nodes["shell_echo"].props) == {"command": 'echo "one level down"', "type": "command"}
    with pytest.raises(NotFoundError):
        project.flow("embedded_flow:embedded_flow1")


def test_f2_embedded_deep_configs_are_strings(examples: Path) -> None:
    project = load_example(examples, "f2-embedded-deep")
    assert dict(project.flows["valid_dag_2"].props) == {"prop1": "foo"}
    assert dict(project.flows["valid_dag_2:valid_dag_3"].props) == {"p3": "flow3_prop"}
    assert dict(project.flows["valid_dag_2:valid_dag_5"].props) == {"k5": "v5"}
    assert dict(project.flows["valid_dag_2:valid_dag_5:valid_dag_6"].props) == {"k6": "v6"}
    assert dict(project.flows["valid_dag_2:valid_dag_3"].nodes["task_3_5"].props) == {
        "class": "org.example.metrics.Compaction",
        "driver-memory": "2g",
        "execution-jar": "lib/compaction.jar",
        "executor-cores": "2",
        "num-executors": "6",
        "queue": "default",
        "type": "spark",
    }
    assert project.flows["valid_dag_2:valid_dag_4"].nodes["task_4_2"].type == "hadoopJava"
    assert project.flows["valid_dag_2"].end_nodes == ["_end_"]


def test_f2_yaml_scalars_become_strings(examples: Path) -> None:
    flow = load_example(examples, "f2-multiple-end-nodes").flow("basic_flow")
    assert dict(flow.nodes["jobA"].props) == {"seconds": "0", "fail": "false", "type": "test"}
    assert dict(flow.nodes["jobC"].props) == {"type": "test"}
    assert all(not node.shared for node in flow.nodes.values())


def test_f2_nested_project_file_loads_flows_from_every_directory(examples: Path) -> None:
    project = load_example(examples, "f2-nested-project-file")
    assert project.flows["basic_flow"].source == "subdirectory1/basic_flow.flow"
    assert project.flows["basic_flow2"].source == "subdirectory1/subdirectory2/basic_flow2.flow"
    assert (
        project.flows["basic_flow2"].nodes["shell_bash"].props["command"] == "sh ./subdirectory1/subdirectory2/greet.sh"
    )


def test_flow_trigger_is_read_apart_from_the_flow(examples: Path) -> None:
    project = load_example(examples, "az-examples-flow-trigger")
    trigger = project.flow("flow_trigger")
    assert trigger.trigger is not None and trigger.trigger.cron == "0 30 6 * * ?"
    assert [d.type for d in trigger.trigger.dependencies] == ["file", "flow"]
    assert project.flow("regular").trigger is None
    assert dict(trigger.props) == {}
    assert dict(project.flow("regular").props) == {"flow-level-parameter": "value"}
    assert dict(trigger.nodes["shell_pwd"].props) == {"command": "sleep 1", "type": "command"}
    assert all("trigger" not in key for node in trigger.nodes.values() for key in node.props)


def test_f1_execpropstest_properties_inherited_by_directory(examples: Path) -> None:
    project = load_example(examples, "f1-execpropstest")
    root = {
        "props3": "moo3",
        "props4": "moo4",
        "props5": "moo5",
        "props1": "shared1",
        "props2": "shared2",
        "props6": "shared6",
    }
    subdir = {**root, "props4": "shared4", "props8": "shared8"}
    job3, job4 = project.flow("job3"), project.flow("job4")
    nodes = {**job3.nodes, **job4.nodes}
    assert {name: dict(node.shared) for name, node in nodes.items()} == {
        "job1": root,
        "job3": root,
        "innerflow": root,
        "job2": subdir,
        "job4": subdir,
    }
    assert {name: node.source for name, node in nodes.items()} == {
        "job1": "job1.job",
        "job3": "job3.job",
        "innerflow": "innerflow.job",
        "job2": "subdir/job2.job",
        "job4": "subdir/job4.job",
    }
    # A job's own file stays separate from what it inherits.
    assert dict(nodes["job2"].props) == {"type": "test", "props2": "job2", "props7": "job7"}
    assert dict(nodes["innerflow"].props) == {
        "type": "flow",
        "flow.name": "job4",
        "dependencies": "job2",
        "props5": "innerflow5",
        "props6": "innerflow6",
        "props8": "innerflow8",
    }
    assert dict(job3.props) == {}


def test_f1_properties_files_in_one_directory_chain_in_name_order(examples: Path) -> None:
    jobs = load_example(examples, "f1-exectest1").flow("job10").nodes
    assert {name: dict(node.shared) for name, node in jobs.items()} == {
        name: {"a": "1", "b": "2", "c": "0"} for name in jobs
    }
    joba = load_example(examples, "f1-embedded2").flow("jobf").nodes["joba"]
    assert dict(joba.shared) == {f"param{i}": f"test{1 + (i > 4)}.{i}" for i in range(1, 9)}
    assert joba.props["param1"] == "joba.1"


def test_f2_props_precedence_configs(examples: Path) -> None:
    project = load_example(examples, "f2-props-precedence")
    assert dict(project.flow("job3").props) == {
        "props3": "moo3",
        "props4": "moo4",
        "props5": "moo5",
        "props1": "shared1",
        "props2": "shared2",
        "props6": "shared6",
    }
    assert dict(project.flows["job3:innerflow"].props) == {
        "props5": "innerflow5",
        "props6": "innerflow6",
        "props8": "innerflow8",
    }
    assert dict(project.flows["job3:innerflow"].nodes["job4"].props) == {
        "props4": "shared4",
        "props8": "job8",
        "props9": "job9",
        "type": "test",
    }


CONDITIONS = [
    (
        "f1-conditional/conditional_flow1",
        "jobD",
        {
            "jobA": None,
            "jobB": "${jobA:azkaban.server.name} == 'foo'",
            "jobC": "${jobA:azkaban.server.name} == 'bar'",
            "jobD": "${jobA:azkaban.server.name} == 'foo'",
        },
    ),
    (
        "f1-conditional/conditional_flow2",
        "jobD",
        {
            "jobA": None,
            "jobB": "${jobA:key1} == 'value1'",
            "jobC": "${jobA:key3} == 'value3'",
            "jobD": "${jobA:key2} == 'value2'",
        },
    ),
    ("f1-conditional/conditional_flow3", "jobC", {"jobA": None, "jobB": None, "jobC": "one_failed"}),
    ("f1-conditional/conditional_flow4", "jobC", {"jobA": None, "jobB": None, "jobC": "all_failed"}),
    ("f1-conditional/conditional_flow5", "jobC", {"jobA": None, "jobB": None, "jobC": "one_success"}),
    (
        "f1-conditional/conditional_flow6",
        "jobD",
        {
            "jobA": None,
            "jobB": "${jobA:props} == 'foo'",
            "jobC": "${jobA:props} == 'bar'",
            "jobD": "one_success && ${jobA:props} == 'foo'",
        },
    ),
    (
        "f1-conditional/conditional_flow7",
        "jobD",
        {
            "jobA": None,
            "jobB": "${jobA:unknownprops} == 'foo'",
            "jobC": "${jobA:unknownprops} == 'bar'",
            "jobD": "one_success",
        },
    ),
    (
        "f2-conditional",
        "conditional_flow6",
        {
            "jobA": None,
            "jobB": "${jobA:props} == 'foo'",
            "jobC": "${jobA:props} == 'bar'",
            "jobD": "one_success && ${jobA:props} == 'foo'",
        },
    ),
    (
        "f2-conditional",
        "conditional_flow8",
        {
            "jobA": None,
            "jobB": "${jobA:key1} == 'value1'",
            "jobC": "${jobA:key3} == 'value3'",
            "jobD": "${jobA:key2} == 'value2'",
        },
    ),
    (
        "az-examples-conditional",
        "sample",
        {"JobA": None, "JobB": "${JobA:param1} == 1", "JobC": "${JobA:param1} == 2", "JobD": "one_success"},
    ),
]


@pytest.mark.parametrize(("rel", "flow_id", "conditions"), CONDITIONS, ids=[f"{r}:{f}" for r, f, _ in CONDITIONS])
def test_example_conditions(examples: Path, rel: str, flow_id: str, conditions: dict[str, str | None]) -> None:
    flow = load_example(examples, rel).flow(flow_id)
    assert {name: node.condition for name, node in flow.nodes.items()} == conditions


def test_invalid_example_zipped_names_the_zip(examples: Path, tmp_path: Path) -> None:
    archive = zip_dir(examples / "f2-invalid/invalidflowversiontest", tmp_path / "upload.zip")
    with pytest.raises(ProjectError) as caught:
        load_project(archive)
    assert str(caught.value) == (
        "upload.zip/basic_flow.project: Invalid azkaban-flow-version in the project YAML file."
    )


# --- synthetic invalid projects ---------------------------------------------------------------------------

PROJECT = "azkaban-flow-version: 2.0\n"

#: (files, the exact one-line message); the project directory is named "proj".
SYNTHETIC_EXACT = [
    pytest.param(
        {"a/x.job": "type=noop\n", "b/x.job": "type=noop\n", "end.job": "type=noop\ndependencies=x\n"},
        "proj/a/x.job, b/x.job: Duplicate job names found 'x'. (and 1 more: end.job: end has ambiguous dependency x)",
        id="f1-duplicate-job-two-dirs",
    ),
    pytest.param(
        {"a.job": "type=noop\ndependencies=missing\n"},
        "proj/a.job: a cannot find dependency missing",
        id="f1-undefined-dependency",
    ),
    pytest.param({"a.job": "type=noop\ndependencies=a\n"}, "proj/a.job: a has a self cycle", id="f1-self-cycle"),
    pytest.param(
        {"a.job": "command=echo hi\n", "b.job": "type=noop\ndependencies=a\n"},
        "proj/a.job: Job doesn't have type set 'a'.",
        id="f1-missing-type",
    ),
    pytest.param(
        {"ROOT.job": "type=noop\n", "b.job": "type=noop\n"},
        "proj/ROOT.job: ROOT is not allowed as a name. Pick some other name.",
        id="f1-root-name",
    ),
    pytest.param(
        {"a.job": "type=flow\nflow.name=nowhere\n"},
        "proj/a.job: Flow a depends on nowhere but can't be found.",
        id="f1-unknown-flow-name",
    ),
    pytest.param(
        {"a.job": "type=flow\nflow.name=a\n"}, "proj/a.job: Embedded flow cycle found in a->a", id="f1-embeds-itself"
    ),
    pytest.param(
        {"a.job": "type=javaprocess\nXmx=3G\n"},
        "proj/a.job: a: Xmx value has exceeded the allowed limit (max Xmx = 2G)",
        id="f1-xmx-limit",
    ),
    pytest.param(
        {"a.job": "type=noop\n", "b.job": "type=noop\ndependencies=a\ncondition=${zz:x} == 'y'\n"},
        "proj/b.job: Invalid condition for b: zz doesn't exist in the flow.",
        id="f1-bad-condition",
    ),
    pytest.param(
        {"a.job": "type=noop\nx=\\u12\n"},
        "proj/a.job: line 2: malformed \\uxxxx encoding ('\\\\u12'); a \\u escape needs four hex digits",
        id="f1-bad-escape-in-job",
    ),
    pytest.param(
        {"common.properties": "x=\\uZZZZ\n", "a.job": "type=noop\n"},
        "proj/common.properties: line 1: malformed \\uxxxx encoding ('\\\\uZZZZ'); a \\u escape needs four hex digits",
        id="f1-bad-escape-in-properties",
    ),
    pytest.param(
        {"a.project": PROJECT, "b.project": PROJECT, "f.flow": "nodes: []\n"},
        "proj/a.project, b.project: Duplicate project YAML files found in the project directory. Only one is allowed.",
        id="f2-two-project-files",
    ),
    pytest.param(
        {
            "p.project": PROJECT,
            "one/f.flow": "nodes:\n  - {name: a, type: noop}\n",
            "two/f.flow": "nodes:\n  - {name: b, type: noop}\n",
        },
        "proj/two/f.flow: Duplicate flows found in the project with name f (also one/f.flow)",
        id="f2-same-flow-name-two-dirs",
    ),
    pytest.param(
        {"p.project": PROJECT, "f.flow": "nodes:\n  - {name: a, type: noop, dependsOn: [b]}\n"},
        "proj/f.flow: Failed to validate nodeBean for f.flow. Duplicate nodes found or dependency "
        "undefined or ROOT used as a name.",
        id="f2-undefined-dependency",
    ),
    pytest.param(
        {"p.project": PROJECT, "f.flow": "nodes:\n  - {name: a, type: noop}\n  - {name: a, type: noop}\n"},
        "proj/f.flow: Failed to validate nodeBean for f.flow. Duplicate nodes found or dependency "
        "undefined or ROOT used as a name.",
        id="f2-duplicate-node",
    ),
    pytest.param(
        {"p.project": PROJECT, "f.flow": "nodes:\n  - {name: ROOT, type: noop}\n"},
        "proj/f.flow: Failed to validate nodeBean for f.flow. Duplicate nodes found or dependency "
        "undefined or ROOT used as a name.",
        id="f2-root-node",
    ),
    pytest.param(
        {
            "p.project": PROJECT,
            "f.flow": "nodes:\n  - name: e\n    type: flow\n    nodes:\n"
            "      - {name: a, type: noop, dependsOn: [zz]}\n",
        },
        "proj/f.flow: Failed to validate nodeBean for f.flow. Duplicate nodes found or dependency "
        "undefined or ROOT used as a name.",
        id="f2-embedded-undefined-dependency",
    ),
    pytest.param(
        {"p.project": PROJECT, "f.flow": "nodes:\n  - {name: a, type: noop, dependsOn: [a]}\n"},
        "proj/f.flow: Cycles found at a>>a",
        id="f2-self-cycle",
    ),
    pytest.param(
        {"p.project": "azkaban-flow-version: '2.0'\n", "f.flow": "nodes: []\n"},
        "proj/p.project: Invalid azkaban-flow-version in the project YAML file.",
        id="f2-version-string",
    ),
    pytest.param(
        {"p.project": "azkaban-flow-version: 2\n", "f.flow": "nodes: []\n"},
        "proj/p.project: Invalid azkaban-flow-version in the project YAML file.",
        id="f2-version-int",
    ),
    pytest.param(
        {"p.project": "other: 1\n", "f.flow": "nodes: []\n"},
        "proj/p.project: azkaban-flow-version is not specified in the project YAML file.",
        id="f2-version-missing",
    ),
    pytest.param(
        {"p.project": PROJECT, "f.flow": 'nodes:\n  - {name: "a\\nb", type: noop, dependsOn: ["a\\nb"]}\n'},
        "proj/f.flow: flow f: node name 'a\\nb' is not allowed: it holds the control character U+000A; "
        "rename it (and 1 more: f.flow: Cycles found at a\\nb>>a\\nb)",
        id="f2-line-break-in-name-stays-one-line",
    ),
]

#: (files, the start of the one-line message): for messages that end in a parser's own wording.
SYNTHETIC_PREFIX = [
    pytest.param(
        {"p.project": PROJECT, "f.flow": "nodes:\n  - name: a\n    type: noop\n   bad: [\n"},
        "proj/f.flow: Error loading flow yaml file f.flow: line 4: ",
        id="f2-bad-yaml-indent",
    ),
    pytest.param(
        {"p.project": PROJECT, "f.flow": "nodes:\n  - name: a\n\ttype: noop\n"},
        "proj/f.flow: Error loading flow yaml file f.flow: line 3: ",
        id="f2-bad-yaml-tab",
    ),
    pytest.param(
        {"p.project": "azkaban-flow-version: 2.0\nfoo: bar: baz\n", "f.flow": "nodes: []\n"},
        "proj/p.project: Error loading project yaml file: line 2: ",
        id="f2-bad-yaml-project",
    ),
    pytest.param(
        {"p.project": b"\xff\xfe\x00azkaban", "f.flow": "nodes: []\n"},
        "proj/p.project: Error loading project yaml file: ",
        id="f2-binary-project",
    ),
    pytest.param(
        {"p.project": PROJECT, "f.flow": b"nodes:\n  - {name: \xff}\n"},
        "proj/f.flow: Error loading flow yaml file f.flow: ",
        id="f2-binary-flow",
    ),
    pytest.param(
        {"p.project": PROJECT, "f.flow": "nodes:\n  - {name: a}\n"},
        "proj/f.flow: node 'a' of f has no type",
        id="f2-missing-type",
    ),
]


def _load_invalid(tmp_path: Path, files: dict[str, str | bytes]) -> str:
    with pytest.raises(ProjectError) as caught:
        load_project_dir(write_project(tmp_path / "proj", files))
    message = str(caught.value)
    assert type(caught.value) is ProjectError
    assert "\n" not in message and "\r" not in message
    return message


@pytest.mark.parametrize(("files", "expected"), SYNTHETIC_EXACT)
def test_synthetic_invalid_project_exact_message(tmp_path: Path, files: dict[str, str | bytes], expected: str) -> None:
    assert _load_invalid(tmp_path, files) == expected


@pytest.mark.parametrize(("files", "prefix"), SYNTHETIC_PREFIX)
def test_synthetic_invalid_project_message_start(tmp_path: Path, files: dict[str, str | bytes], prefix: str) -> None:
    message = _load_invalid(tmp_path, files)
    assert message.startswith(prefix)
    assert len(message) > len(prefix)


CYCLES = [
    pytest.param(
        {
            "a.job": "type=noop\ndependencies=c\n",
            "b.job": "type=noop\ndependencies=a\n",
            "c.job": "type=noop\ndependencies=b\n",
            "d.job": "type=noop\ndependencies=c\n",
        },
        "Cyclical dependency found at ",
        id="flow1",
    ),
    pytest.param(
        {
            "p.project": PROJECT,
            "f.flow": "nodes:\n  - {name: d, type: noop, dependsOn: [c]}\n"
            "  - {name: a, type: noop, dependsOn: [c]}\n"
            "  - {name: b, type: noop, dependsOn: [a]}\n"
            "  - {name: c, type: noop, dependsOn: [b]}\n",
        },
        "Cycles found at ",
        id="flow2",
    ),
]


@pytest.mark.parametrize(("files", "reason"), CYCLES)
def test_synthetic_longer_cycle(tmp_path: Path, files: dict[str, str], reason: str) -> None:
    message = _load_invalid(tmp_path, files)
    assert reason in message
    chain = message.split(reason, 1)[1].split(">>")
    # Each step is "x depends on y": a depends on c, c on b, b on a.
    assert chain[0] == chain[-1]
    assert len(chain) == 4
    assert {(x, y) for x, y in zip(chain, chain[1:], strict=False)} == {("a", "c"), ("c", "b"), ("b", "a")}


def test_flow1_invalid_job_still_counts_as_duplicate(tmp_path: Path) -> None:
    message = _load_invalid(
        tmp_path, {"a/x.job": "command=echo\n", "b/x.job": "type=noop\n", "y.job": "type=noop\ndependencies=x\n"}
    )
    assert "a/x.job, b/x.job: Duplicate job names found 'x'." in message
    assert "y.job: y has ambiguous dependency x" in message


def test_flow1_embedded_cycle_below_the_flow(tmp_path: Path) -> None:
    message = _load_invalid(
        tmp_path,
        {
            "a.job": "type=noop\ndependencies=ea\n",
            "ea.job": "type=flow\nflow.name=b\n",
            "b.job": "type=noop\ndependencies=eb\n",
            "eb.job": "type=flow\nflow.name=c\n",
            "c.job": "type=noop\ndependencies=ec\n",
            "ec.job": "type=flow\nflow.name=b\n",
        },
    )
    assert message == (
        "proj/a.job: Embedded flow cycle found in b->c->b (and 2 more: b.job: Embedded flow "
        "cycle found in b->c->b; c.job: Embedded flow cycle found in c->b->c)"
    )


@pytest.mark.timeout(20)
def test_flow1_deeply_shared_embedded_flows_load_quickly(tmp_path: Path) -> None:
    # Flow fN embeds f(N-1) four times: walking every embedding path would take 4**N steps.
    files = {"f0.job": "type=noop\n"}
    for i in range(1, 25):
        files |= {f"f{i}_{k}.job": f"type=flow\nflow.name=f{i - 1}\n" for k in range(4)}
        files[f"f{i}.job"] = "type=noop\ndependencies=" + ",".join(f"f{i}_{k}" for k in range(4)) + "\n"
    project = load_project_dir(write_project(tmp_path / "proj", files))
    assert project.top_flows == sorted(f"f{i}" for i in range(25))
    assert project.flow("f24").nodes["f24_3"].subflow == "f23"


def test_flow1_hidden_files_are_ignored(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "proj",
        {
            "a.job": "type=noop\n",
            "common.properties": "shared=1\n",
            ".hidden.job": "dependencies=missing\n",
            "._leak.properties": "leak=yes\n",
            "__MACOSX/._a.job": b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X",
            "__MACOSX/._x.job": "dependencies=a\n",
            "__MACOSX/._p.project": b"\x00\x05\x16\x07",
        },
    )
    project = load_project_dir(root)
    assert project.flow_version == "1.0"
    assert project.top_flows == ["a"]
    assert graph(project.flow("a")) == {"a": ()}
    assert dict(project.flow("a").nodes["a"].shared) == {"shared": "1"}


def test_flow2_hidden_files_are_ignored(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "proj",
        {
            "p.project": PROJECT,
            "f.flow": "nodes:\n  - {name: a, type: noop}\n",
            ".hidden.flow": "nodes: [\n",
            ".other.project": "azkaban-flow-version: 1.0\n",
            "__MACOSX/._f.flow": b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X",
            "__MACOSX/._p.project": b"\x00\x05\x16\x07",
        },
    )
    project = load_project_dir(root)
    assert project.flow_version == "2.0"
    assert project.top_flows == ["f"]
    assert graph(project.flow("f")) == {"a": ()}


def test_flow1_properties_chain_by_name_and_directory(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "proj",
        {
            "b.properties": "x=b\ny=b\n",
            "a.properties": "x=a\nz=a\n",
            "top.job": "type=noop\ndependencies=low\n",
            "sub/c.properties": "y=c\n",
            "sub/low.job": "type=noop\n",
        },
    )
    nodes = load_project_dir(root).flow("top").nodes
    assert dict(nodes["top"].shared) == {"x": "b", "y": "b", "z": "a"}
    assert dict(nodes["low"].shared) == {"x": "b", "y": "c", "z": "a"}


def test_flow1_root_node_adds_a_flow(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "proj", {"a.job": "type=noop\nroot.node=true\n", "b.job": "type=noop\ndependencies=a\n"}
    )
    project = load_project_dir(root)
    assert project.top_flows == ["a", "b"]
    assert graph(project.flow("a")) == {"a": ()}


def test_empty_directory_has_no_flows_and_a_warning(tmp_path: Path) -> None:
    project = load_project_dir(write_project(tmp_path / "proj", {"README.txt": "nothing here\n"}))
    assert project.flows == {} and "no flows found" in project.warnings[0]
    assert str(tmp_path) not in project.warnings[0]


# --- zips -------------------------------------------------------------------------------------------------


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make load_project unpack under tmp_path, so a test can see everything it wrote."""
    path = tmp_path / "scratch"
    path.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


@pytest.mark.parametrize("rel", [row[0] for row in VALID])
def test_zip_of_example_loads_the_same_flows(examples: Path, tmp_path: Path, scratch: Path, rel: str) -> None:
    expected = load_example(examples, rel)
    project = load_project(zip_dir(examples / rel, tmp_path / "upload.zip"))
    assert project.name == "upload"
    assert project.flow_version == expected.flow_version
    assert project.top_flows == expected.top_flows
    assert shape(project) == shape(expected)
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize("rel", ["f1-embedded", "f2-nested-project-file"])
def test_zip_with_a_top_folder_loads_the_same_flows(examples: Path, tmp_path: Path, rel: str) -> None:
    expected = load_example(examples, rel)
    project = load_project(zip_dir(examples / rel, tmp_path / "upload.zip", prefix="folder/"))
    assert project.top_flows == expected.top_flows
    assert {fid: graph(f) for fid, f in project.flows.items()} == {fid: graph(f) for fid, f in expected.flows.items()}


def _symlink(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


UNSAFE = [
    pytest.param(
        lambda out: ("../evil.job", "type=noop\n"), "entry '../evil.job' points outside the project", id="dot-dot"
    ),
    pytest.param(lambda out: ("sub/../../evil.job", "type=noop\n"), "points outside the project", id="dot-dot-inside"),
    pytest.param(lambda out: ("..\\evil.job", "type=noop\n"), "points outside the project", id="backslash"),
    pytest.param(lambda out: (f"{out}/evil.job", "type=noop\n"), "points outside the project", id="absolute"),
    pytest.param(
        lambda out: (_symlink("evil.job", f"{out}/evil.job"), ""), "entry 'evil.job' is a symbolic link", id="symlink"
    ),
    pytest.param(lambda out: (_symlink("link", str(out)), ""), "entry 'link' is a symbolic link", id="symlink-dir"),
]


def _unsafe_zip(tmp_path: Path, make) -> tuple[Path, Path]:
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.job", "type=noop\n")
        zf.writestr(*make(outside))
        zf.writestr("link/evil.job", "type=noop\n")
    return archive, outside


@pytest.mark.parametrize(("make", "reason"), UNSAFE)
def test_unsafe_zip_is_refused_through_load_project(tmp_path: Path, scratch: Path, make, reason: str) -> None:
    archive, outside = _unsafe_zip(tmp_path, make)
    with pytest.raises(ArchiveError) as caught:
        load_project(archive)
    assert str(caught.value).startswith("evil.zip: ")
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)
    assert list(outside.iterdir()) == []
    assert list(scratch.iterdir()) == []
    assert sorted(p.name for p in tmp_path.rglob("*evil*")) == ["evil.zip"]


@pytest.mark.parametrize(("make", "reason"), UNSAFE)
def test_unsafe_zip_writes_nothing(tmp_path: Path, make, reason: str) -> None:
    archive, outside = _unsafe_zip(tmp_path, make)
    out = tmp_path / "out"
    with pytest.raises(ArchiveError, match="evil.zip: "):
        unpack_zip(archive, out / "project")
    assert list(out.iterdir()) == []
    assert list(outside.iterdir()) == []


def test_zip_larger_than_max_bytes_is_refused(tmp_path: Path, scratch: Path) -> None:
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.job", "type=noop\n")
        zf.writestr("data.bin", b"\0" * 5000)
    with pytest.raises(ArchiveError) as caught:
        load_project(archive, max_bytes=4096)
    assert str(caught.value).startswith("big.zip: unpacks to more than 4096 bytes")
    assert list(scratch.iterdir()) == []
    assert load_project(archive, max_bytes=8192).top_flows == ["a"]


def test_zip_with_too_many_entries_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(5):
            zf.writestr(f"j{i}.job", "type=noop\n")
    with pytest.raises(ArchiveError, match="many.zip: 5 entries, more than the quota of 4 files per project version"):
        unpack_zip(archive, tmp_path / "out", max_files=4)
    assert not (tmp_path / "out").exists()


def test_not_a_zip(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ArchiveError, match="corrupt.zip: not a readable zip file"):
        load_project(corrupt)
    other = tmp_path / "project.tar"
    other.write_bytes(b"")
    with pytest.raises(InputError, match="not a directory or .zip file"):
        load_project(other)
    with pytest.raises(InputError, match="no such file or directory"):
        load_project(tmp_path / "missing.zip")
