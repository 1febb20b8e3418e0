"""Hostile job and flow names through the AJAX upload and a run over real HTTP: refused with an error naming
the file and the name, or run with every file they cause inside the execution directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.live import Client, LiveServer, make_zip, unique
from support.tokens import run_token

TOKEN = run_token("web")  # in parametrized ids: the same in every pytest worker
PROJECT_FILE = "azkaban-flow-version: 2.0\n"


def flow_file(node: str) -> str:
    return f"nodes:\n  - name: {json.dumps(node)}\n    type: command\n    config:\n      command: echo ran\n"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (f"../../../../../../../../../tmp/{TOKEN}", "holds '/'"),
        (f"{TOKEN}\x00", "U+0000"),
        (f"{TOKEN}\x07", "U+0007"),
        ("..", "is a directory name"),
        (TOKEN.ljust(10_000, "x"), "10000 characters long"),
    ],
)
def test_hostile_names_are_refused_at_upload(admin: Client, name: str, reason: str) -> None:
    project = unique("names")
    admin.create_project(project)
    answer = json.loads(admin.upload(project, make_zip({"p.project": PROJECT_FILE, "f.flow": flow_file(name)})).text)
    assert "is not allowed" in answer["error"] and reason in answer["error"], answer
    assert "f.flow: flow f: node name" in answer["error"]
    assert not list(Path("/tmp").glob(f"*{TOKEN}*"))


def test_look_alike_names_run_inside_the_execution_directory(live: LiveServer, admin: Client) -> None:
    project = unique("names")
    admin.create_project(project)
    node = f"\uff0e\uff0e\u2215\uff0e\uff0e\u2215tmp\u2215{TOKEN}"  # FULLWIDTH FULL STOP, DIVISION SLASH
    flow = f"{TOKEN}\u2215flow"
    upload = admin.upload(project, make_zip({"p.project": PROJECT_FILE, f"{flow}.flow": flow_file(node)}))
    assert "error" not in json.loads(upload.text), upload.text
    exec_id = admin.execute(project, flow)
    assert admin.wait(exec_id)["status"] == "SUCCEEDED"
    workdir = live.settings.executions_dir / str(exec_id)
    derived = [p for p in workdir.rglob(f"*{TOKEN}*") if p.suffix in (".props", ".output")]
    assert derived and all(p.parent == workdir / ".jobs" for p in derived), derived
    home = live.settings.home
    outside = [
        p
        for p in [*home.rglob(f"*{TOKEN}*"), *Path("/tmp").glob(f"*{TOKEN}*")]
        if not p.is_relative_to(workdir) and p.suffix != ".flow"
    ]
    assert outside == []
