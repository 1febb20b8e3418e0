"""Load an Azkaban project from a directory or a zip into the model, whichever format it uses.

A project is Flow 2.0 when a ``.project`` file exists anywhere under its root, Flow 1.0 otherwise, as in
Azkaban's FlowLoaderFactory. Loading is all or nothing: every error found is reported in one
:class:`~sudoless.errors.ProjectError`, and nothing is returned for a project that does not validate.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sudoless.errors import InputError, ProjectError
from sudoless.flows.formats.archive import unpack_zip
from sudoless.flows.formats.flow1 import load_flow1
from sudoless.flows.formats.flow2 import find_project_file, load_flow2
from sudoless.flows.model import Project

__all__ = ["Problem", "load_project", "load_project_dir"]

_LINE = re.compile(r"(?:^|\s)line (\d+)\b")


@dataclass(frozen=True)
class Problem:
    """One finding of a project that does not load: the file it is in, the line where known, and why."""

    file: str
    line: int | None
    reason: str

    @classmethod
    def parse(cls, text: str) -> Problem:
        """Split a finding as the loaders write it (``file: reason``, ``file line N: reason``)."""
        file, sep, reason = text.partition(": ")
        if not sep:
            return cls(file="", line=None, reason=text)
        found = _LINE.search(file) or _LINE.search(reason)
        file = _LINE.sub("", file).strip()
        return cls(file=file, line=int(found.group(1)) if found else None, reason=reason)

    def as_dict(self) -> dict[str, str | int | None]:
        return {"file": self.file, "line": self.line, "reason": self.reason}


def load_project_dir(
    root: Path,
    name: str | None = None,
    max_xms: str = "1G",
    max_xmx: str = "2G",
    contents: Mapping[str, bytes] | None = None,
    no_project_file: bool = False,
) -> Project:
    """Load the unpacked project at ``root``; ``name`` defaults to the directory name. ``contents``: the bytes
    of its Flow 1.0 files (:data:`~sudoless.flows.formats.flow1.SUFFIXES`) by project path, when the caller
    has them in memory (they are the files' bytes, parsed instead of read again). ``no_project_file``: the caller
    knows that no file under ``root`` is named ``*.project`` (an upload, which packed them), so the project is
    Flow 1.0 without a walk of ``root`` to look for one."""
    root = root.resolve()
    if not root.is_dir():
        raise InputError(f"{root}: not a directory or .zip file; give an Azkaban project folder or zip")
    project_file, errors = (None, []) if no_project_file else find_project_file(root)
    if errors:
        raise _project_error(root, errors)
    if project_file is not None:
        flows, errors = load_flow2(root, project_file, max_xms, max_xmx)
        version = "2.0"
    else:
        flows, errors = load_flow1(root, max_xms, max_xmx, contents)
        version = "1.0"
    if errors:
        raise _project_error(root, errors)
    # Azkaban stores a project without flows (a first upload of shared files, say); it is only worth a word.
    warnings = (
        ()
        if flows
        else (
            "no flows found: a project needs .job files (Flow 1.0) or a .project file "
            "and .flow files (Flow 2.0) to have flows to run",
        )
    )
    return Project(name=name or root.name, root=root, flow_version=version, flows=flows, warnings=warnings)


def load_project(path: Path, name: str | None = None, max_bytes: int = 1 << 30) -> Project:
    """Load a project directory, or validate a zip by unpacking it into a temporary directory.

    For a zip the returned project's ``root`` no longer exists; callers that run flows unpack the stored
    archive themselves (see :mod:`sudoless.store`).
    """
    path = Path(path)
    if path.is_dir():
        return load_project_dir(path, name)
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if path.suffix.lower() != ".zip":
        raise InputError(f"{path}: not a directory or .zip file; give an Azkaban project folder or zip")
    scratch = Path(tempfile.mkdtemp(prefix="sudoless-load-"))
    try:
        # Unpacked under the zip's own name, so that error messages name the file the user gave.
        root = unpack_zip(path, scratch / path.name, max_bytes=max_bytes)
        return load_project_dir(root, name or path.stem)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _project_error(root: Path, errors: list[str]) -> ProjectError:
    # Names and values come from user files and may hold line breaks; each finding must stay one line.
    unique = list(dict.fromkeys(e.replace("\r", "\\r").replace("\n", "\\n") for e in errors))
    head = f"{root.name}/{unique[0]}"
    message = head if len(unique) == 1 else f"{head} (and {len(unique) - 1} more: {'; '.join(unique[1:])})"
    return ProjectError(message, tuple(f"{root.name}/{e}" for e in unique))
