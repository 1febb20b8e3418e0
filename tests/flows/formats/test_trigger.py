"""The ``trigger:`` block of Flow 2.0 files: every rule of Azkaban's loader, and the ones sudoless adds.

Each case is a file of tests/fixtures/triggers, loaded three ways: through the library, through
``sudoless flow validate`` (a real subprocess) and, in tests/server/test_triggers.py, through an upload.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sudoless.errors import ProjectError
from sudoless.flows.formats import load_project_dir
from sudoless.flows.formats.trigger import MAX_WAIT_MINS, FlowTrigger
from support.files import FIXTURES

TRIGGERS = FIXTURES / "triggers"

#: Each refused file and the words its one-line reason must hold (Azkaban's own where it has one).
REJECTED = {
    "reject_no_max_wait": "max wait min cannot be null unless no dependency is defined",
    "reject_zero_max_wait": "max wait min must be at least 1 min(s)",
    "reject_negative_max_wait": "max wait min must be at least 1 min(s)",
    "reject_duplicate_dependency_name": "duplicate dependency.name landed found",
    "reject_duplicate_dependency_config": "duplicate dependency config second found",
    "reject_dependency_without_name": "dependency name is required",
    "reject_dependency_without_type": "dependency type is required for landed",
    "reject_invalid_cron": "flow trigger schedule value must be a valid cron expression",
    "reject_second_level_cron": "interval of flow trigger schedule has to be larger than 1 min",
    "reject_second_level_cron_offset": "interval of flow trigger schedule has to be larger than 1 min",
    "reject_no_schedule": "flow trigger schedule must not be null",
    "reject_schedule_extra_key": "flow trigger schedule must contain type and value only",
    "reject_unknown_dependency_type": "unknown dependency type 'kafka' (known: file, flow, http, sql)",
    "reject_bad_params": "param 'path' must be an absolute path",
    "reject_no_nodes": "has a trigger but no nodes",
}
#: The line each reason points at (1-based, in the fixture file).
LINES = {
    "reject_no_max_wait": 2,
    "reject_zero_max_wait": 3,
    "reject_duplicate_dependency_name": 12,
    "reject_dependency_without_name": 8,
    "reject_invalid_cron": 6,
    "reject_second_level_cron": 6,
    "reject_no_schedule": 2,
    "reject_unknown_dependency_type": 8,
}


def project_with(tmp_path: Path, case: str) -> Path:
    """A Flow 2.0 project of one fixture file (as ``<case>.flow``)."""
    root = tmp_path / case
    root.mkdir(parents=True)
    (root / "triggers.project").write_bytes((TRIGGERS / "triggers.project").read_bytes())
    (root / f"{case}.flow").write_bytes((TRIGGERS / f"{case}.flow").read_bytes())
    return root


def test_every_fixture_is_covered() -> None:
    names = {p.stem for p in TRIGGERS.glob("*.flow")}
    assert {n for n in names if n.startswith("reject_")} == set(REJECTED)


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_rejected(tmp_path: Path, case: str) -> None:
    with pytest.raises(ProjectError) as caught:
        load_project_dir(project_with(tmp_path, case))
    message = str(caught.value)
    assert "\n" not in message
    assert f"{case}.flow" in message and REJECTED[case] in message, message
    if case in LINES:
        assert f"{case}.flow line {LINES[case]}: flow trigger:" in message, message


def test_bad_params_reports_every_problem(tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as caught:
        load_project_dir(project_with(tmp_path, "reject_bad_params"))
    message = str(caught.value)
    assert "dependency landed: param 'path' must be an absolute path" in message
    assert "dependency cleanup: param 'query' must be one SELECT" in message


def test_accepts_every_built_in_type(tmp_path: Path) -> None:
    project = load_project_dir(project_with(tmp_path, "accept_all_types"))
    trigger = project.flows["accept_all_types"].trigger
    assert isinstance(trigger, FlowTrigger)
    assert trigger.cron == "0 15 2 * * ?" and trigger.max_wait_mins == 90
    assert [(d.name, d.type) for d in trigger.dependencies] == [
        ("landed", "file"),
        ("api_ready", "http"),
        ("loaded", "sql"),
        ("upstream", "flow"),
    ]
    assert trigger.dependencies[2].params == {
        "database": "warehouse",
        "query": "select 1 from loads where day_ms >= :period_start",
    }
    assert FlowTrigger.from_json(json.loads(json.dumps(trigger.to_json()))) == trigger
    assert list(project.flows["accept_all_types"].nodes) == ["report"]


@pytest.mark.parametrize(
    ("case", "wait"),
    [("accept_no_dependencies", None), ("accept_no_dependencies_with_wait", 5), ("accept_long_wait", MAX_WAIT_MINS)],
)
def test_accepted_waits(tmp_path: Path, case: str, wait: int | None) -> None:
    trigger = load_project_dir(project_with(tmp_path, case)).flows[case].trigger
    assert trigger is not None and trigger.max_wait_mins == wait


def test_flow_without_trigger_has_none(tmp_path: Path) -> None:
    root = project_with(tmp_path, "accept_no_dependencies")
    (root / "plain.flow").write_text("nodes:\n  - name: a\n    type: noop\n")
    assert load_project_dir(root).flows["plain"].trigger is None


def _validate(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUDOLESS_HOME": str(path.parent / "home")}
    return subprocess.run(
        [str(Path(sys.executable).with_name("sudoless")), "flow", "validate", str(path), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_flow_validate_reports_the_reason(tmp_path: Path, case: str) -> None:
    result = _validate(project_with(tmp_path, case))
    assert result.returncode == 2, result
    assert REJECTED[case] in result.stderr and f"{case}.flow" in result.stderr
    assert "Traceback" not in result.stderr


ACCEPTED = sorted(p.stem for p in TRIGGERS.glob("accept_*.flow"))


@pytest.mark.parametrize("case", ACCEPTED)
def test_flow_validate_accepts(tmp_path: Path, case: str) -> None:
    result = _validate(project_with(tmp_path, case))
    assert result.returncode == 0, result.stderr
    assert "valid Flow 2.0 project" in result.stdout
    described = json.loads(_validate(project_with(tmp_path / "json", case), "--json").stdout)
    trigger = load_project_dir(project_with(tmp_path / "lib", case)).flows[case].trigger
    assert trigger is not None and described["flows"][case]["trigger"] == trigger.to_json()
