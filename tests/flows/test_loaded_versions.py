"""An execution runs on the model its submission loaded: the version is parsed once, not again at run time."""

from __future__ import annotations

from pathlib import Path

from flows.harness import run_submitted, submit, write_project
from sudoless.config import Settings
from sudoless.flows import executions, executor, versions
from sudoless.flows.executions import project_dir
from sudoless.store import Store
from sudoless.store.status import Status


def test_a_version_is_parsed_once_for_its_submissions_and_runs(
    sqlite_store: Store, settings: Settings, tmp_path: Path, monkeypatch
):
    store = sqlite_store
    versions.forget_all()
    parsed: list[Path] = []
    original = versions.load_project_dir

    def counting(root: Path, name: str | None = None):  # type: ignore[no-untyped-def]
        parsed.append(root)
        return original(root, name)

    monkeypatch.setattr(versions, "load_project_dir", counting)
    monkeypatch.setattr(executor, "load_project_dir", counting)  # what a run parsed on its own
    project = write_project(tmp_path / "p", {"a.job": "type=noop\n", "b.job": "type=noop\ndependencies=a\n"})
    first = submit(store, settings, project, "b", name="once")
    assert run_submitted(store, settings, first).status == Status.SUCCEEDED
    record = store.executions.get(first)
    second = executions.submit_flow(store, settings, "once", "b", user="tester")
    second_run = run_submitted(store, settings, second)
    assert second_run.status == Status.SUCCEEDED and second_run.jobs == {"a": Status.SUCCEEDED, "b": Status.SUCCEEDED}
    assert parsed == [project_dir(store, settings, record.project_id, record.version)]
    assert second_run.props("b")["working.dir"] == str(settings.executions_dir / str(second))  # its own folder
