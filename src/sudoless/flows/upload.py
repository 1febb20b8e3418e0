"""Uploading a project: validate a directory or zip and store it as the project's next version.

Nothing is stored unless the whole project validates. The files stored become the version's unpacked copy in the
project cache, and their parse its loaded model (:mod:`sudoless.flows.versions`): a version is unpacked and
parsed once, at its upload, not again at its first submission. The flow triggers the new version declares are
brought in line with it (:mod:`sudoless.flows.triggers.sync`), which is why this sits above them.
"""

from __future__ import annotations

import logging
import tempfile
from itertools import repeat
from pathlib import Path
from typing import Any

from sudoless.config import Settings
from sudoless.errors import InputError
from sudoless.flows.formats import load_project_dir
from sudoless.flows.formats.archive import pack_dir, unpack_zip
from sudoless.flows.formats.flow1 import SUFFIXES as FLOW1_FILES
from sudoless.flows.model import Flow, Project
from sudoless.flows.notify import recipients
from sudoless.flows.triggers.sync import sync_project_triggers
from sudoless.flows.versions import remember
from sudoless.flows.workspace import project_cache, version_folder
from sudoless.store import Store

__all__ = ["flow_graph", "upload_project"]

#: how a Flow 2.0 project file's name ends (:func:`~sudoless.flows.formats.flow2.find_project_file`)
PROJECT_FILE = ".project"

log = logging.getLogger(__name__)


def flow_graph(flow: Flow) -> dict[str, Any]:
    """A flow as JSON: what the store keeps per version for the API and the UI."""
    try:
        notify = recipients.flow_recipients(recipients.flow_notify_props(flow)).to_json()
    except InputError as error:
        raise InputError(f"{flow.source or flow.name}: flow {flow.name}: {error}") from None
    return {
        "name": flow.name,
        "source": flow.source,
        "props": dict(flow.props),
        "notify": notify,
        "nodes": [
            {
                "name": n.name,
                "type": n.type,
                "in": list(n.dependencies),
                "condition": n.condition,
                "subflow": n.subflow,
                "source": n.source,
            }
            for n in flow.nodes.values()
        ],
        "trigger": flow.trigger.to_json() if flow.trigger else None,
    }


def upload_project(
    store: Store,
    settings: Settings,
    path: Path,
    user: str,
    name: str | None = None,
    description: str = "",
    project_id: int | None = None,
    log_event: bool = True,
) -> tuple[int, int, Project]:
    """Validate a project directory or zip and store it as the project's next version.

    Nothing is stored unless the whole project validates; the previous version stays current.
    ``project_id`` names the project to add the version to (an import's, which may be inactive); without
    it the active project called ``name`` is used, created for ``user`` when missing. ``log_event`` False
    keeps the upload out of the project's event log (an import brings the original's).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or directory; give an Azkaban project folder or zip")
    cache = project_cache(settings)
    cache.mkdir(parents=True, exist_ok=True)
    # In the project cache, so that the files unpacked here become the version's cached copy by a rename
    with tempfile.TemporaryDirectory(dir=cache, prefix=".upload-") as scratch:
        # What is parsed is the files stored, as a run gets them (a folder's links are not packed), in a folder
        # named as the upload (its findings say "<folder>/<file>: ...")
        unpacked = Path(scratch) / "unpacked"
        unpacked.mkdir()
        if path.is_dir():
            files = unpacked / path.resolve().name
            # pack_dir applies check_archive's rules itself, and hands back the Flow 1.0 files' bytes it copied,
            # so that neither the zip nor those files are read again (a tenth of a 300-job upload's CPU)
            packed = pack_dir(
                path,
                Path(scratch) / f"{name or files.name}.zip",
                copy_to=files,
                max_bytes=settings.project_max_bytes,
                max_files=settings.project_max_files,
                keep=(*FLOW1_FILES, PROJECT_FILE),
            )
            archive, contents = packed.archive, packed.kept
            # no .project file packed: Flow 1.0, without walking the copy to look for one
            flow1_only = not any(map(str.endswith, contents, repeat(PROJECT_FILE)))
        elif path.suffix.lower() == ".zip" and path.is_file():
            archive, contents, flow1_only = path, {}, False
            files = unpack_zip(path, unpacked / path.stem, settings.project_max_bytes, settings.project_max_files)
        else:
            raise InputError(f"{path}: not a directory or .zip file; give an Azkaban project folder or zip")
        project = load_project_dir(
            files,
            name or (path.resolve().name if path.is_dir() else path.stem),
            settings.max_job_xms,
            settings.max_job_xmx,
            contents,
            flow1_only,
        )
        flows = {fid: (flow.embedded, flow_graph(flow)) for fid, flow in project.flows.items()}
        if project_id is None:
            project_id = store.projects.id_of(project.name, create_as=user, description=description)
        version = store.projects.add_version(project_id, archive, flows, project.flow_version, user, log_event)
        project = _keep_unpacked(store, settings, project_id, version, files, project)
    sync_project_triggers(store, settings, project_id, project, user)
    return project_id, version, project


def _keep_unpacked(
    store: Store, settings: Settings, project_id: int, version: int, files: Path, project: Project
) -> Project:
    """Make ``files`` (the stored archive's files: the zip unpacked, or the folder copied as it was packed)
    the version's cached copy, and ``project`` (their parse, validated) its cached model, so that its first
    submission neither unpacks nor parses it again (:func:`sudoless.flows.executions.project_dir`). Returns
    ``project`` rooted there.

    A folder already there holds the same files (its name holds the archive's MD5) and is kept. If the rename
    fails otherwise, the version is stored all the same, and its first submission unpacks it from the store.
    """
    target = project_cache(settings) / version_folder(project_id, version, store.projects.digest(project_id, version))
    try:
        files.rename(target)
    except OSError as exc:
        if not target.is_dir():
            log.warning("project %s version %s: not kept unpacked at %s (%s)", project_id, version, target, exc)
            return project
    return remember(target, project, settings.max_job_xms, settings.max_job_xmx)
