"""The graph layout: layered left to right, no overlaps, embedded flows expanded inside their frames."""

from __future__ import annotations

import random
from typing import Any

import pytest

from sudoless.server.ui.layout import NODE_HEIGHT, NODE_WIDTH, layout_flow


def graph(edges: dict[str, list[str]], subflows: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "nodes": [
            {
                "name": name,
                "type": "flow" if name in (subflows or {}) else "command",
                "in": deps,
                "subflow": (subflows or {}).get(name),
            }
            for name, deps in edges.items()
        ]
    }


FLOWS = {
    "main": graph({"a": [], "b": ["a"], "sub": ["a"], "end": ["b", "sub", "a"]}, {"sub": "inner"}),
    "inner": graph({"x": [], "y": ["x"], "z": ["x"]}),
}


def random_dag(size: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    edges = {f"j{i}": [f"j{d}" for d in rng.sample(range(i), k=min(i, rng.randint(0, 3)))] for i in range(size)}
    return {"big": graph(edges)}


def check_geometry(layout: Any) -> None:
    nodes = {n["id"]: n for n in layout.nodes}
    for edge in layout.edges:
        a, b = nodes[edge["from"]], nodes[edge["to"]]
        assert a["layer"] < b["layer"], edge  # every edge points right
        xs = [x for x, _ in edge["points"]]
        assert xs == sorted(xs) and xs[0] == a["x"] + NODE_WIDTH and xs[-1] == b["x"]
    by_layer: dict[int, list[dict[str, Any]]] = {}
    for node in layout.nodes:
        by_layer.setdefault(node["layer"], []).append(node)
        assert node["x"] >= 0 and node["x"] + NODE_WIDTH <= layout.width
        assert node["y"] >= 0 and node["y"] + NODE_HEIGHT <= layout.height
    for column in by_layer.values():
        column.sort(key=lambda n: n["y"])
        for upper, lower in zip(column, column[1:], strict=False):
            assert upper["y"] + NODE_HEIGHT <= lower["y"], (upper["id"], lower["id"])  # no overlap


def test_layers_follow_the_longest_path() -> None:
    layout = layout_flow(FLOWS, "main")
    layers = {n["id"]: n["layer"] for n in layout.nodes}
    assert layers == {"a": 0, "b": 1, "sub": 1, "end": 2}
    assert [n["subflow"] for n in layout.nodes if n["id"] == "sub"] == ["inner"]
    check_geometry(layout)
    assert layout.frames == []


def test_an_expanded_embedded_flow_replaces_its_node_inside_a_frame() -> None:
    layout = layout_flow(FLOWS, "main", expanded=["sub"])
    ids = {n["id"] for n in layout.nodes}
    assert ids == {"a", "b", "sub:x", "sub:y", "sub:z", "end"}
    pairs = {(e["from"], e["to"]) for e in layout.edges}
    assert ("a", "sub:x") in pairs  # into the embedded flow's first job
    assert {("sub:y", "end"), ("sub:z", "end")} <= pairs  # out of its last ones
    assert ("a", "end") in pairs and ("a", "sub") not in pairs
    check_geometry(layout)
    (frame,) = layout.frames
    assert frame["id"] == "sub" and frame["flow"] == "inner"
    for node in layout.nodes:
        if node["id"].startswith("sub:"):
            assert node["group"] == "sub"
            assert frame["x"] < node["x"] and node["x"] + NODE_WIDTH < frame["x"] + frame["width"]
            assert frame["y"] < node["y"] and node["y"] + NODE_HEIGHT < frame["y"] + frame["height"]


def test_unknown_expansions_and_cycles_do_not_break_it() -> None:
    layout = layout_flow(FLOWS, "main", expanded=["nope", "a"])
    assert len(layout.nodes) == 4
    cyclic = {"c": graph({"p": ["q"], "q": ["p"], "r": ["q"]})}
    assert {n["id"] for n in layout_flow(cyclic, "c").nodes} == {"p", "q", "r"}
    assert layout_flow({}, "missing").nodes == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_hundred_jobs_lay_out_cleanly(seed: int) -> None:
    flows = random_dag(200, seed)
    layout = layout_flow(flows, "big")
    assert len(layout.nodes) == 200
    check_geometry(layout)
