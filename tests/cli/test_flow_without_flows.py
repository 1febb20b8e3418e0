"""A project without flows on the command line: valid with a warning (Azkaban stores such a project), and
``flow run`` says why there is nothing to run, in one line."""

from __future__ import annotations

import json

from cli.test_flow_cli import assert_one_line_error, sudoless
from flows.harness import write_project


def test_validate_warns_and_run_explains(tmp_path) -> None:
    project = write_project(tmp_path / "shared", {"README.txt": "only files\n", "lib/x.sh": "echo\n"})
    checked = sudoless(tmp_path / "home", "flow", "validate", str(project))
    assert checked.returncode == 0 and "0 flow(s)" in checked.stdout
    assert checked.stderr.strip() == (
        "sudoless: warning: no flows found: a project needs .job files (Flow 1.0) "
        "or a .project file and .flow files (Flow 2.0) to have flows to run"
    )
    as_json = json.loads(sudoless(tmp_path / "home", "flow", "validate", "--json", str(project)).stdout)
    assert as_json["valid"] is True and as_json["flows"] == {} and "no flows found" in as_json["warnings"][0]
    assert_one_line_error(sudoless(tmp_path / "home", "flow", "run", str(project)), "shared: no flows found")
