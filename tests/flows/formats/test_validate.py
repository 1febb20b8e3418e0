"""The upload's checks shared by both formats, against their plain definitions: a name's characters, cycles."""

from __future__ import annotations

import random
import sys
import unicodedata

import pytest

from sudoless.flows.formats import validate
from sudoless.flows.formats.validate import find_cycle, name_problem


def test_a_printable_name_is_not_looked_at_character_by_character() -> None:
    """``name_problem`` takes a printable name as free of control characters without looking at each: for every
    code point, a name holding it is refused for a control character exactly when its category is Cc, Zl or Zp."""
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        problem = name_problem(f"a{char}b")
        control = unicodedata.category(char) in ("Cc", "Zl", "Zp")
        assert (problem is not None and "control character" in problem) == control, hex(code)


def _graphs(count: int) -> list[dict[str, list[str]]]:
    rnd = random.Random(3)
    graphs = []
    for _ in range(count):
        names = [f"n{i}" for i in range(rnd.randrange(0, 12))]
        graph = {}
        for index, name in enumerate(names):
            # mostly edges to earlier nodes (acyclic), now and then one forward, to itself, twice, or outside
            pool = names[:index] if rnd.random() < 0.7 else [*names, "missing"]
            graph[name] = [rnd.choice(pool) for _ in range(rnd.randrange(0, 4))] if pool else []
        graphs.append(graph)
    return graphs


def test_the_cycle_found_is_the_depth_first_walk_s(monkeypatch: pytest.MonkeyPatch) -> None:
    """``find_cycle`` skips its depth-first walk when Kahn's algorithm finds no cycle: on every graph it answers
    what the walk alone answers (None, or the same cycle), and the walk's verdict is Kahn's."""
    graphs = _graphs(3_000)
    found = [find_cycle(graph) for graph in graphs]
    acyclic = [validate._acyclic(graph) for graph in graphs]
    monkeypatch.setattr(validate, "_acyclic", lambda graph: False)
    walked = [find_cycle(graph) for graph in graphs]
    assert found == walked
    assert acyclic == [cycle is None for cycle in walked]
    assert sum(cycle is None for cycle in walked) > 1_000 and sum(cycle is not None for cycle in walked) > 500
    assert find_cycle({"a": ["a"]}) == ["a", "a"]
    assert find_cycle({"a": ["b", "b"], "b": []}) is None
