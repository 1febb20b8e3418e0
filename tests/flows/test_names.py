"""Hostile job and flow names through the library's upload and a real run: each is refused at upload with
one line naming the file and the name, or runs with every file it causes inside the execution directory.

Names that cannot be file names (a ``/``, NUL, 10,000 characters) reach the loader through Flow 2.0 node
names; the rest are tried as Flow 2.0 flow names (the ``.flow`` file's name) and Flow 1.0 job names (the
``.job`` file's name) too. Each name carries a token, so that any file it caused is found by name. The
store is SQLite: names reach no database code here (tests/server/test_names.py runs them on all three), and
the live server of tests/server would claim executions queued in the shared database.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from flows.harness import run_flow, write_project
from sudoless.errors import ProjectError
from sudoless.flows.attempt import attempt_stem
from sudoless.flows.formats.validate import MAX_NAME
from sudoless.flows.upload import upload_project
from sudoless.store.status import Status
from support.tokens import run_token

TOKEN = run_token("tok")  # in parametrized ids: the same in every pytest worker

#: (name, why it is refused); a name of a node only (it cannot be a file name) is marked below.
REFUSED = [
    (f"../../../../../../../../tmp/{TOKEN}", "'/'"),
    (f"..\\..\\{TOKEN}", "'\\\\'"),
    ("..", "'..' is a directory name"),
    (f"{TOKEN}\x00x", "U+0000"),
    (f"{TOKEN}\x1bx", "U+001B"),
    (f"{TOKEN}\nx", "U+000A"),
    (f"{TOKEN}\u2028x", "U+2028"),
    (f"sub:{TOKEN}", "':'"),
    (TOKEN + "x" * 10_000, "characters long"),
    (TOKEN + "x" * (MAX_NAME + 1 - len(TOKEN)), "characters long"),
]
NODE_ONLY = {0, 3, 8}  # a '/', a NUL or 10,000 characters cannot be in a file name


def kinds(name: str, file_name: bool = True) -> list[str]:
    """Where ``name`` can be tried: a node always; a file name when it can be one that the loader reads
    (a ``.job`` or ``.flow`` file whose name starts with a dot is hidden, as in Azkaban)."""
    return ["node"] + (["job", "flow"] if file_name and not name.startswith(".") else [])


ACCEPTED = [
    f"\uff0e\uff0e\u2215\uff0e\uff0e\u2215tmp\u2215{TOKEN}",  # FULLWIDTH FULL STOP, DIVISION SLASH
    f"{TOKEN}\u2215x",
    f"...{TOKEN}",
    f"{TOKEN} with spaces",
    f"{TOKEN}\u202eright-to-left",
    TOKEN + "x" * (MAX_NAME - len(TOKEN)),
]


def flow2(node: str = "job", flow: str = "f") -> dict[str, str]:
    return {
        "p.project": "azkaban-flow-version: 2.0\n",
        f"{flow}.flow": f"nodes:\n  - name: {json.dumps(node)}\n    type: command\n"
        "    config:\n      command: echo ran\n",
    }


def escaped(root: Path, workdir: Path) -> list[Path]:
    """Files or folders named after the token outside ``workdir``, other than copies of the project's own
    files (the sources, the project cache): those the runner derived from a name that left the folder."""
    sources = {p.name for p in (root / "src").rglob("*")} if (root / "src").exists() else set()
    found = set(root.rglob(f"*{TOKEN}*")) | set(Path("/tmp").glob(f"*{TOKEN}*"))
    return sorted(p for p in found if not p.is_relative_to(workdir) and p.name not in sources)


@pytest.mark.parametrize(
    ("index", "kind"), [(i, k) for i, (name, _) in enumerate(REFUSED) for k in kinds(name, i not in NODE_ONLY)]
)
def test_hostile_names_are_refused_at_upload(sqlite_store, settings, tmp_path: Path, index: int, kind: str) -> None:
    name, reason = REFUSED[index]
    files = {
        "node": lambda: flow2(node=name),
        "flow": lambda: flow2(flow=name),
        "job": lambda: {f"{name}.job": "type=command\ncommand=echo ran\n"},
    }[kind]()
    source = write_project(tmp_path / "src" / "p", files)
    with pytest.raises(ProjectError) as refused:
        upload_project(sqlite_store, settings, source, "tester", name=f"names-{uuid.uuid4().hex[:8]}")
    message = str(refused.value)
    assert "\n" not in message, message
    if ("\\" in name or ":" in name) and kind != "node":  # the archive refuses such file names itself
        assert "points outside the project; refusing to unpack" in message, message
    else:
        where = {"node": "f.flow: flow f: node name", "flow": ".flow: flow name", "job": ".job: job name"}[kind]
        assert where in message and "is not allowed" in message and reason in message, message
    assert escaped(tmp_path, settings.executions_dir) == []


@pytest.mark.parametrize(("name", "kind"), [(name, k) for name in ACCEPTED for k in kinds(name)])
def test_other_names_run_inside_the_execution_directory(
    sqlite_store, settings, tmp_path: Path, name: str, kind: str
) -> None:
    files = {
        "node": lambda: flow2(node=name),
        "flow": lambda: flow2(flow=name),
        "job": lambda: {f"{name}.job": "type=command\ncommand=echo ran\n"},
    }[kind]()
    job = {"node": name, "flow": "job", "job": name}[kind]
    flow = {"node": "f", "flow": name, "job": name}[kind]
    outcome = run_flow(sqlite_store, settings, write_project(tmp_path / "src" / "p", files), flow)
    assert outcome.status == Status.SUCCEEDED and outcome.jobs == {job: Status.SUCCEEDED}, (
        outcome.jobs,
        outcome.log(job) if job in outcome.jobs else outcome.log(),
    )
    props = outcome.workdir / ".jobs" / f"{attempt_stem(job, 0)}.props"
    assert props.parent == outcome.workdir / ".jobs" and props.is_file()
    assert outcome.props(job)["azkaban.job.id"] == job
    assert escaped(tmp_path, outcome.workdir) == []


def test_attempt_files_stay_in_their_folder_whatever_the_id() -> None:
    for nested in ["../../x", "a/../../b", "..", "sub:..", "x" * 10_000, "\x00", "a:b/c"]:
        stem = attempt_stem(nested, 3)
        assert "/" not in stem and "\x00" not in stem and stem not in (".", "..") and len(stem) < 200
    assert attempt_stem("sub:job", 0) != attempt_stem("sub.job", 0)
