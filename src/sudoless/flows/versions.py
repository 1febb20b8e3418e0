"""Loaded project versions, kept in memory: a stored version never changes, so its files are parsed once.

Every submission (the command line, the server, each schedule's slot, flow triggers, retries) needs the model
of the version it runs, and parsing a project's files again for each cost 40% of a submission (20 ms for a
20-job flow on a loaded machine; a project of 1,000 jobs costs 50 times that): a scheduler firing 1,000
schedules in a minute spent most of it there (benchmarks/README.md, schedule_burst.py).

An entry is keyed by the unpacked folder and checked against the folder's inode and change time, so a
version unpacked again (after ``sudoless clean`` took it) is parsed again. The folder's name holds the archive's
MD5 (:func:`~sudoless.flows.workspace.version_folder`), so a database made again at the same place, whose project 1
version 1 is other files, never finds the former one's parse. An upload leaves the parse it validated here
(:func:`remember`): the version is parsed once, at its upload, in the process that uploaded it. The models are frozen
dataclasses, shared by every caller. The cache holds at most :data:`MAX_VERSIONS` versions and
:data:`MAX_NODES` nodes in all, least recently used first out, so a few huge flows cannot fill the memory.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

from sudoless.flows.formats import load_project_dir
from sudoless.flows.model import Project

__all__ = ["MAX_NODES", "MAX_VERSIONS", "forget_all", "load_cached", "remember"]

MAX_VERSIONS = 64
MAX_NODES = 100_000

#: (folder, project name, the Xms and Xmx limits it was checked against)
_Key = tuple[str, str, str, str]
_entries: OrderedDict[_Key, tuple[tuple[int, int], int, Project]] = OrderedDict()
_nodes = 0
_lock = threading.Lock()


def load_cached(directory: Path, name: str, max_xms: str = "1G", max_xmx: str = "2G") -> Project:
    """The project in ``directory`` (an unpacked stored version, which nothing writes to) named ``name``,
    parsed at its first use with the JVM size limits its upload was checked against (the settings'
    ``max_job_xms`` and ``max_job_xmx``: with the parser's defaults, a version uploaded under raised limits
    would fail to load in every process but the uploader's); loading errors are raised as
    :func:`load_project_dir` raises them."""
    stamp = _stamp(directory)
    key = (str(directory), name, max_xms, max_xmx)
    with _lock:
        found = _entries.get(key)
        if found is not None and found[0] == stamp:
            _entries.move_to_end(key)
            return found[2]
    project = load_project_dir(directory, name, max_xms, max_xmx)
    _keep(key, stamp, project)
    return project


def remember(directory: Path, project: Project, max_xms: str = "1G", max_xmx: str = "2G") -> Project:
    """Keep ``project``, parsed by the upload that stored the version whose unpacked copy is now ``directory``
    (the same files: see :func:`sudoless.flows.upload.upload_project`), as that folder's parse under the
    project's name, so that the version's submissions and runs in this process parse nothing. Returns it with
    ``root`` at ``directory``, as :func:`load_cached` would have. ``max_xms`` and ``max_xmx`` are the limits
    the upload checked it against."""
    project = replace(project, root=directory)
    _keep((str(directory), project.name, max_xms, max_xmx), _stamp(directory), project)
    return project


def _stamp(directory: Path) -> tuple[int, int]:
    info = os.stat(directory)
    return info.st_ino, info.st_ctime_ns


def _keep(key: _Key, stamp: tuple[int, int], project: Project) -> None:
    global _nodes
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


def forget_all() -> None:
    """Empty the cache (tests that rewrite a version's folder in place)."""
    global _nodes
    with _lock:
        _entries.clear()
        _nodes = 0
