"""Flow 2.0 files are read as strictly as Azkaban's bean binding: unknown keys and flows without nodes are
refused, each problem on its own with the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.harness import write_project
from sudoless.errors import ProjectError
from sudoless.flows.formats import load_project_dir
from sudoless.flows.formats.flow2 import BEAN_KEYS, load_flow2

PROJECT = {"p.project": "azkaban-flow-version: 2.0\n"}


def problems(tmp_path: Path, flow: str, name: str = "f.flow") -> list[str]:
    root = write_project(tmp_path / "p", {**PROJECT, name: flow})
    flows, errors = load_flow2(root, root / "p.project")
    assert not flows or not errors
    return errors


def test_misspelt_depends_on_names_file_line_and_key(tmp_path: Path) -> None:
    errors = problems(
        tmp_path, "nodes:\n  - name: a\n    type: noop\n  - name: b\n    type: noop\n    dependson: [a]\n"
    )
    assert errors == [
        f"f.flow line 6: unknown key 'dependson' in node 'b' (did you mean 'dependsOn'? keys are "
        f"case-sensitive); known keys: {', '.join(sorted(BEAN_KEYS))}"
    ]


def test_every_unknown_key_is_one_problem_at_every_level(tmp_path: Path) -> None:
    flow = (
        "confg:\n  x: 1\n"  # line 1, top level
        "nodes:\n"
        "  - name: outer\n    type: flow\n"
        "    nodes:\n"
        "      - name: inner\n        type: noop\n        retries: 2\n"  # line 9, embedded node
        "  - name: b\n    type: noop\n    depends: [outer]\n"
    )  # line 12
    errors = problems(tmp_path, flow)
    assert [e.split(":")[0] for e in errors] == ["f.flow line 1", "f.flow line 9", "f.flow line 12"]
    assert "'confg' in the flow" in errors[0]
    assert "'retries' in node 'inner'" in errors[1]
    assert "'depends' in node 'b'" in errors[2] and "did you mean" not in errors[2]
    with pytest.raises(ProjectError) as caught:
        load_project_dir(tmp_path / "p")
    assert "\n" not in str(caught.value) and "line 12" in str(caught.value)


def test_keys_inside_config_are_free_and_name_at_the_top_is_tolerated(tmp_path: Path) -> None:
    flow = (
        "config:\n  anything.goes: 1\nname: ignored\n"
        "nodes:\n  - name: a\n    type: noop\n    condition: all_success\n    config:\n      dependson: x\n"
    )
    assert problems(tmp_path, flow) == []


@pytest.mark.parametrize("flow", ["config:\n  a: b\n", "nodes:\n", "nodes: []\n", "", "# only a comment\n"])
def test_a_flow_without_nodes_is_refused(tmp_path: Path, flow: str) -> None:
    assert problems(tmp_path, flow) == ["f.flow: flow f has no nodes; give it a 'nodes:' list with at least one node"]


def test_an_embedded_flow_without_nodes_is_refused(tmp_path: Path) -> None:
    errors = problems(tmp_path, "nodes:\n  - name: sub\n    type: flow\n")
    assert errors[0] == "f.flow: embedded flow f:sub has no nodes; give it a 'nodes:' list with at least one node"


def test_the_example_projects_still_load() -> None:
    examples = Path(__file__).resolve().parents[3] / "examples"
    for project_file in sorted(examples.rglob("*.project")):
        assert load_project_dir(project_file.parent).flows
