"""Loaded project versions, kept in memory: a stored version never changes, so its files are parsed once.

Every submission (the command line, the server, each schedule's slot, flow triggers, retries) needs the model
of the version it runs, and parsing a project's files again for each cost 40% of a submission (20 ms for a
20-job flow on a loaded machine; a project of 1,000 jobs costs 50 times that): a scheduler firing 1,000
schedules in a minute spent most of it there (benchmarks/README.md, schedule_burst.py).

An entry is keyed by the unpacked folder and checked against the folder's inode and change time, so a
version unpacked again (after ``sudoless clean`` took it) is parsed again. The models are frozen
dataclasses, shared by every caller. The cache holds at most :data:`MAX_VERSIONS` versions and
:data:`MAX_NODES` nodes in all, least recently used first out, so a few huge flows cannot fill the memory.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

from sudoless.flows.formats import load_project_dir
from sudoless.flows.model import Project

__all__ = ["MAX_NODES", "MAX_VERSIONS", "forget_all", "load_cached"]

MAX_VERSIONS = 64
MAX_NODES = 100_000

_Key = tuple[str, str]
_entries: OrderedDict[_Key, tuple[tuple[int, int], int, Project]] = OrderedDict()
_nodes = 0
_lock = threading.Lock()


def load_cached(directory: Path, name: str) -> Project:
    """The project in ``directory`` (an unpacked stored version, which nothing writes to) named ``name``,
    parsed at its first use; loading errors are raised as :func:`load_project_dir` raises them."""
    global _nodes
    info = os.stat(directory)
    stamp = (info.st_ino, info.st_ctime_ns)
    key = (str(directory), name)
    with _lock:
        found = _entries.get(key)
        if found is not None and found[0] == stamp:
            _entries.move_to_end(key)
            return found[2]
    project = load_project_dir(directory, name)
    size = sum(len(flow.nodes) for flow in project.flows.values())
    with _lock:
        old = _entries.pop(key, None)
        if old is not None:
            _nodes -= old[1]
        if size <= MAX_NODES:
            _entries[key] = (stamp, size, project)
            _nodes += size
            while len(_entries) > MAX_VERSIONS or _nodes > MAX_NODES:
                _, (_, dropped, _) = _entries.popitem(last=False)
                _nodes -= dropped
    return project


def forget_all() -> None:
    """Empty the cache (tests that rewrite a version's folder in place)."""
    global _nodes
    with _lock:
        _entries.clear()
        _nodes = 0
