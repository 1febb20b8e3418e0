"""The ``spark`` job type inside a flow: a node submits the app to the shared cluster with its venv shipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.harness import run_flow, write_project
from spark.support import QUICK_CONF
from sudoless.config import Settings
from sudoless.store import Store
from sudoless.store.status import Status

pytestmark = pytest.mark.slow


def test_flow_node_submits_with_the_env(
    spark_cluster: str, marker_venv: Path, marker_app: Path, tmp_path: Path, sqlite_store: Store, settings: Settings
) -> None:
    conf = "".join(f"conf.{key}={value}\n" for key, value in QUICK_CONF.items())
    project = write_project(
        tmp_path / "project",
        {
            "app.py": marker_app.read_text(),
            "marker.job": (
                f"type=spark\npy-file=app.py\nmaster={spark_cluster}\nvenv={marker_venv}\n"
                f"executor-memory=512m\nenv.SUDOLESS_HOME={tmp_path / 'home'}\n{conf}"
            ),
            "broken.job": f"type=spark\npy-file=app.py\nmaster={spark_cluster}\nenv=missing.tar.gz\n"
            "dependencies=marker\n",
        },
    )
    result = run_flow(sqlite_store, settings, project, "broken")
    assert result.jobs["marker"] == Status.SUCCEEDED, result.log("marker")[-3000:]
    log = result.log("marker")
    rows = [line.split("RESULT ", 1)[1].split() for line in log.splitlines() if "RESULT " in line]
    assert len(rows) == 2 and all(row[0] == "42" and row[1].endswith("/environment/bin/python") for row in rows)
    assert "--archives" in log and "spark.pyspark.python=./environment/bin/python" in log
    assert result.jobs["broken"] == Status.FAILED and "missing.tar.gz: no such archive" in result.log("broken")
    assert result.status == Status.FAILED
