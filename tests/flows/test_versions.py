"""A stored version is parsed once per process; a version unpacked again is parsed again; the cache is bounded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.harness import write_project
from sudoless.flows import versions


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    versions.forget_all()


def project(root: Path, jobs: int = 2) -> Path:
    return write_project(root, {f"j{i}.job": "type=noop\n" for i in range(jobs)})


def test_a_version_is_parsed_once_and_again_when_unpacked_again(tmp_path: Path) -> None:
    folder = project(tmp_path / "1.1")
    first = versions.load_cached(folder, "p")
    assert versions.load_cached(folder, "p") is first
    assert versions.load_cached(folder, "other").name == "other"  # the name is part of the key
    shutil.rmtree(folder)
    project(folder, jobs=3)  # what `sudoless clean` then a new unpack does
    again = versions.load_cached(folder, "p")
    assert again is not first
    assert sorted(again.flows) == ["j0", "j1", "j2"]


def test_the_cache_keeps_at_most_its_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(versions, "MAX_VERSIONS", 2)
    monkeypatch.setattr(versions, "MAX_NODES", 5)
    a, b, c = (project(tmp_path / name) for name in "abc")
    first = versions.load_cached(a, "p")
    versions.load_cached(b, "p")
    versions.load_cached(c, "p")  # three versions: the least recently used (a) goes
    assert versions.load_cached(b, "p") is versions.load_cached(b, "p")
    assert versions.load_cached(a, "p") is not first
    big = project(tmp_path / "big", jobs=6)  # more nodes than the cache holds: parsed, never kept
    assert versions.load_cached(big, "p") is not versions.load_cached(big, "p")
