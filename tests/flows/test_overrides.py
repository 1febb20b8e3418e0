"""Which runtime properties redefine a job (sudoless.flows.overrides): by key, job type and precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from sudoless.errors import PermissionDenied
from sudoless.flows.model import Flow, Node, Project
from sudoless.flows.overrides import execution_defining, redefinitions, require_write


def project() -> Project:
    """main = shell (command) -> inner (embedded flow: train (spark), solve (routes))."""
    inner = Flow("inner", {"train": Node("train", "spark", {}), "solve": Node("solve", "routes", {})}, embedded=True)
    main = Flow(
        "main",
        {
            "shell": Node("shell", "command", {"command": "echo ${date}"}),
            "sub": Node("sub", "flow", {}, ("shell",), subflow="inner"),
        },
    )
    return Project("p", Path("."), "2.0", {"main": main, "inner": inner})


@pytest.mark.parametrize(
    "key", ["type", "command", "command.3", "env.PATH", "working.dir", "user.to.proxy", " command "]
)
def test_common_keys_redefine_every_type(key: str) -> None:
    assert execution_defining(key, {"noop"})


@pytest.mark.parametrize(
    ("key", "kind", "defining"),
    [
        ("java.class", "javaprocess", True),
        ("jvm.args", "java", True),
        ("Xmx", "javaprocess", True),
        ("conf.spark.driver.extraJavaOptions", "spark", True),
        ("py-file", "spark", True),
        ("params", "spark", True),
        ("input", "routes", True),
        ("model", "decipher", True),
        ("config", "nn", True),
        ("date", "command", False),
        ("seed", "routes", False),
        ("time.limit", "decipher", False),
        ("input", "command", False),
        ("conf.x", "command", False),
        ("epochs", "nn", False),
    ],
)
def test_type_specific_keys(key: str, kind: str, defining: bool) -> None:
    assert execution_defining(key, {kind}) is defining


def test_precedence_decides_which_jobs_a_key_reaches() -> None:
    p = project()
    main = p.flows["main"]
    assert redefinitions(p, main, {"ROOT": {"date": "x", "py-file": "evil.py"}}) == ["flow-level 'py-file'"]
    assert redefinitions(p, main, {"sub": {"input": "x"}}) == ["'input' for job 'sub'"]
    assert redefinitions(p, main, {"sub:train": {"input": "x"}}) == []
    assert redefinitions(p, main, {"sub:train": {"class": "Evil"}}) == ["'class' for job 'sub:train'"]
    assert redefinitions(p, main, {"shell": {"class": "Evil", "date": "today"}}) == []
    # a path naming no node counts as the whole flow
    assert redefinitions(p, main, {"shell:nothing": {"jars": "x.jar"}}) == ["'jars' for job 'shell:nothing'"]


def test_require_write_names_the_properties_in_one_line() -> None:
    p = project()
    require_write(p, p.flows["main"], {"ROOT": {"date": "2026-12-06"}})
    with pytest.raises(PermissionDenied) as refused:
        require_write(p, p.flows["main"], {"ROOT": {"command": "sh", "env.X": "1"}, "shell": {"type": "noop"}})
    text = str(refused.value)
    assert text.startswith("Changing what a job runs needs WRITE permission on project p: ")
    assert "flow-level 'command'" in text and "'type' for job 'shell'" in text and "\n" not in text
