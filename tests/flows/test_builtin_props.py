"""Azkaban's built-in properties as a job sees them: working.dir, the job's files, the proxy user, the
project's last change, a real UUID, and start times in the server's time zone."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from flows.harness import run_flow, write_project
from sudoless.config import Settings, load_settings
from sudoless.errors import ConfigError
from sudoless.store.status import Status

SHOW = (
    "bash -c 'pwd > where.txt; echo ${working.dir} > said.txt; echo hello-from-job; "
    "echo meta > ${azkaban.job.metadata.file}'"
)


def test_working_dir_and_job_files_flow2(store, settings: Settings, tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "p",
        {
            "p.project": "azkaban-flow-version: 2.0\n",
            "f.flow": f'nodes:\n  - name: show\n    type: command\n    config:\n      command: "{SHOW}"\n',
        },
    )
    result = run_flow(store, settings, project, "f")
    assert result.status == Status.SUCCEEDED, result.log("show")
    props = result.props("show")
    assert Path(props["working.dir"]) == result.workdir
    assert (result.workdir / "said.txt").read_text().strip() == str(result.workdir)
    assert Path((result.workdir / "where.txt").read_text().strip()).resolve() == result.workdir.resolve()
    log_file = Path(props["azkaban.job.log.file"])
    assert log_file.parent == result.workdir / ".jobs"
    assert "hello-from-job" in log_file.read_text()
    assert log_file.read_text() == result.log("show")  # the same bytes as the store's copy
    assert Path(props["azkaban.job.metadata.file"]).read_text() == "meta\n"
    assert props["azkaban.job.attachment.file"].endswith(".attach")
    assert props["user.to.proxy"] == "tester"
    assert props["azkaban.flow.projectlastchangedby"] == "tester"
    assert int(props["azkaban.flow.projectlastchangeddate"]) > 1_600_000_000_000
    assert str(uuid.UUID(props["azkaban.flow.uuid"])) == props["azkaban.flow.uuid"]


def test_flow1_working_dir_is_the_job_folder_and_projects_may_set_both(
    store, settings: Settings, tmp_path: Path
) -> None:
    project = write_project(
        tmp_path / "p1",
        {
            "sub/a.job": "type=command\ncommand=bash -c 'echo ${working.dir} > said.txt'\n",
            "b.job": "type=command\ndependencies=a\nworking.dir=sub\nuser.to.proxy=etl\n"
            "command=bash -c 'echo ${working.dir} ${user.to.proxy} > b.txt'\n",
        },
    )
    result = run_flow(store, settings, project, "b")
    assert result.status == Status.SUCCEEDED, result.log("a")
    assert (result.workdir / "sub" / "said.txt").read_text().strip() == str(result.workdir / "sub")
    assert (result.workdir / "sub" / "b.txt").read_text().strip() == "sub etl"


def test_start_properties_in_the_server_zone(store, settings: Settings, tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"z.job": "type=noop\n"})
    zoned = dataclasses.replace(settings, timezone="America/Los_Angeles")
    props = run_flow(store, zoned, project, "z").props("z")
    assert props["azkaban.flow.start.timezone"] == "America/Los_Angeles"
    stamp = datetime.fromisoformat(props["azkaban.flow.start.timestamp"])
    local = stamp.astimezone(ZoneInfo("America/Los_Angeles"))
    assert stamp.utcoffset() == local.utcoffset() and stamp.utcoffset().total_seconds() < 0
    assert props["azkaban.flow.start.hour"] == f"{local:%H}" and props["azkaban.flow.start.day"] == f"{local:%d}"
    second = run_flow(store, zoned, project, "z").props("z")
    assert second["azkaban.flow.uuid"] != props["azkaban.flow.uuid"]


def test_timezone_setting_is_checked(tmp_path: Path) -> None:
    env = {"SUDOLESS_HOME": str(tmp_path), "SUDOLESS_TIMEZONE": "Mars/Olympus"}
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        load_settings(env)
    assert str(load_settings({**env, "SUDOLESS_TIMEZONE": "Asia/Tokyo"}).zone) == "Asia/Tokyo"
    assert load_settings({"SUDOLESS_HOME": str(tmp_path)}).zone is not None
