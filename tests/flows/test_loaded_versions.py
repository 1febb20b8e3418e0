"""A version is unpacked and parsed once, at its upload: its submissions and runs reuse both.

The upload keeps the files it stored (a zip unpacked, a folder copied as it was packed) as the version's folder
in the project cache, and the parse it validated as that folder's model (:mod:`sudoless.flows.versions`).
"""

from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from flows.harness import run_submitted, submit, write_project
from sudoless.config import Settings
from sudoless.errors import ProjectError
from sudoless.flows import executions, executor, upload, versions
from sudoless.flows.executions import load_version, project_dir
from sudoless.flows.formats import flow1, load_project_dir
from sudoless.flows.formats.archive import unpack_zip
from sudoless.store import Store
from sudoless.store.status import Status

CHAIN = {"a.job": "type=command\ncommand=echo a\n", "sub/b.job": "type=command\ncommand=echo b\ndependencies=a\n"}


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    versions.forget_all()


def counted_parses(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The folders every parse of a project reads from now on: the upload's, the cache's, a restart's."""
    parsed: list[Path] = []
    original = load_project_dir

    def counting(root: Path, name: str | None = None, *limits: Any) -> object:
        parsed.append(root)
        return original(root, name, *limits)

    for module in (upload, versions, executor):
        monkeypatch.setattr(module, "load_project_dir", counting)
    return parsed


def tree(root: Path) -> dict[str, tuple[bytes, bool]]:
    """Every file under ``root``: its bytes and whether it is executable."""
    return {
        path.relative_to(root).as_posix(): (path.read_bytes(), bool(path.stat().st_mode & stat.S_IXUSR))
        for path in root.rglob("*")
        if path.is_file()
    }


def test_a_version_is_parsed_once_for_its_upload_submissions_and_runs(
    sqlite_store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_store
    parsed = counted_parses(monkeypatch)
    project = write_project(tmp_path / "p", {"a.job": "type=noop\n", "b.job": "type=noop\ndependencies=a\n"})
    first = submit(store, settings, project, "b", name="once")
    assert run_submitted(store, settings, first).status == Status.SUCCEEDED
    second = executions.submit_flow(store, settings, "once", "b", user="tester")
    second_run = run_submitted(store, settings, second)
    assert second_run.status == Status.SUCCEEDED and second_run.jobs == {"a": Status.SUCCEEDED, "b": Status.SUCCEEDED}
    assert [root.name for root in parsed] == ["p"]  # the upload's parse, of the files it stored
    assert second_run.props("b")["working.dir"] == str(settings.executions_dir / str(second))  # its own folder


def test_the_upload_leaves_the_stored_files_unpacked_and_its_parse_equal_to_a_fresh_one(
    sqlite_store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_store
    folder = write_project(tmp_path / "p", CHAIN)
    (folder / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (folder / "run.sh").chmod(0o755)
    os.symlink(folder / "a.job", folder / "linked.job")  # a folder's links are not packed: not in the version
    project_id, version, uploaded = upload.upload_project(store, settings, folder, "tester", name="files")

    def no_archive(*_: object) -> Path:
        raise AssertionError("the version was unpacked again")

    monkeypatch.setattr(store.projects, "write_archive", no_archive)
    cached = project_dir(store, settings, project_id, version)
    assert uploaded.root == cached
    loaded = load_version(store, settings, project_id, version, "files")
    assert loaded is uploaded
    assert sorted(loaded.flows["b"].nodes) == ["a", "b"]  # not linked.job
    assert loaded == load_project_dir(cached, "files")  # the cached parse is the files' parse
    monkeypatch.undo()
    archive = store.projects.write_archive(project_id, version, tmp_path / "stored.zip")
    assert tree(cached) == tree(unpack_zip(archive, tmp_path / "unpacked"))
    assert tree(cached)["run.sh"][1] and not tree(cached)["a.job"][1]

    zipped = tmp_path / "z.zip"
    with zipfile.ZipFile(zipped, "w") as out:
        for name, text in CHAIN.items():
            out.writestr(name, text)
    project_id, version, uploaded = upload.upload_project(store, settings, zipped, "tester", name="zipped")
    cached = project_dir(store, settings, project_id, version)
    assert load_version(store, settings, project_id, version, "zipped") is uploaded
    assert uploaded == load_project_dir(cached, "zipped")
    assert tree(cached) == {name: (text.encode(), False) for name, text in CHAIN.items()}
    assert not [p.name for p in cached.parent.iterdir() if p.name.startswith(".")]  # no scratch left


def test_a_new_version_is_parsed_anew_and_the_former_one_keeps_its_own(
    sqlite_store: Store, settings: Settings, tmp_path: Path
) -> None:
    store = sqlite_store
    folder = write_project(tmp_path / "p", CHAIN)
    project_id, first, _ = upload.upload_project(store, settings, folder, "tester", name="changing")
    (folder / "a.job").write_text("type=command\ncommand=echo changed\n")
    _, second, _ = upload.upload_project(store, settings, folder, "tester", name="changing")
    assert second == first + 1
    versions.forget_all()  # as a process that did not upload them: each parsed from its own folder
    for version, command in ((first, "echo a"), (second, "echo changed")):
        for _ in range(2):  # uploaded, then cached
            loaded = load_version(store, settings, project_id, version, "changing")
            assert loaded.flows["b"].nodes["a"].props["command"] == command
            assert loaded == load_project_dir(project_dir(store, settings, project_id, version), "changing")


def test_a_version_uploaded_under_raised_jvm_limits_loads_in_another_process(
    sqlite_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """A process that did not upload the version parses it against the same limits as the upload did (the
    settings'), not the parser's defaults (Xmx at most 2G), which would refuse it."""
    raised = replace(settings, max_job_xmx="8G")
    folder = write_project(tmp_path / "big", {"big.job": "type=command\ncommand=echo big\nXmx=4G\n"})
    project_id, version, _ = upload.upload_project(sqlite_store, raised, folder, "tester", name="big")
    versions.forget_all()  # as an executor process sharing the database
    loaded = load_version(sqlite_store, raised, project_id, version, "big")
    assert loaded.flows["big"].nodes["big"].props["Xmx"] == "4G"
    with pytest.raises(ProjectError, match="Xmx value has exceeded the allowed limit"):
        load_version(sqlite_store, settings, project_id, version, "big")  # the default limits still apply


def test_a_database_made_again_does_not_reuse_the_former_one_s_parse_or_files(
    settings: Settings, tmp_path: Path
) -> None:
    database = tmp_path / "again.db"
    seen = []
    for command in ("echo alpha", "echo beta"):
        for suffix in ("", "-wal", "-shm"):  # the database goes; the home and this process's cache stay
            database.with_name(database.name + suffix).unlink(missing_ok=True)
        store = Store(f"sqlite:///{database}")
        try:
            folder = write_project(tmp_path / command.split()[1], {"show.job": f"type=command\ncommand={command}\n"})
            project_id, version, _ = upload.upload_project(store, settings, folder, "tester", name="shared")
            loaded = load_version(store, settings, project_id, version, "shared")
            seen.append((project_id, version, loaded.flows["show"].nodes["show"].props["command"]))
            assert (
                (project_dir(store, settings, project_id, version) / "show.job")
                .read_text()
                .endswith(f"command={command}\n")
            )
            outcome = run_submitted(
                store, settings, executions.submit_flow(store, settings, "shared", "show", user="tester")
            )
            assert outcome.status == Status.SUCCEEDED and command.split()[1] in outcome.log("show")
        finally:
            store.close()
    assert seen == [(1, 1, "echo alpha"), (1, 1, "echo beta")]


def test_a_folder_upload_parses_the_bytes_it_copied_and_leaves_the_copy_read_only(
    sqlite_store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload of a folder parses its Flow 1.0 files from the bytes it packed and copied, not from the copy
    read again; the copy is made read-only as it is written (0444, 0555 when executable), which the version's
    first run would otherwise do with a ``chmod`` a file. A zip's files are read from what was unpacked."""
    read: list[str] = []
    original = flow1.read_properties_text

    def reading(path: str) -> str:
        read.append(os.path.basename(path))
        return original(path)

    monkeypatch.setattr(flow1, "read_properties_text", reading)
    folder = write_project(tmp_path / "p", {**CHAIN, "sub/common.properties": "greeting=hi\n"})
    (folder / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (folder / "run.sh").chmod(0o755)
    project_id, version, uploaded = upload.upload_project(sqlite_store, settings, folder, "tester", name="bytes")
    assert read == []
    assert uploaded == load_project_dir(uploaded.root, "bytes")  # the same parse as from the files
    assert uploaded.flows["b"].nodes["b"].shared == {"greeting": "hi"}
    modes = {
        path.relative_to(uploaded.root).as_posix(): stat.S_IMODE(path.stat().st_mode)
        for path in uploaded.root.rglob("*")
        if path.is_file()
    }
    assert modes == {"a.job": 0o444, "sub/b.job": 0o444, "sub/common.properties": 0o444, "run.sh": 0o555}
    assert sorted(read) == ["a.job", "b.job", "common.properties"]  # the comparison's own parse read them

    zipped = tmp_path / "z.zip"
    with zipfile.ZipFile(zipped, "w") as out:
        for name, text in CHAIN.items():
            out.writestr(name, text)
    read.clear()
    upload.upload_project(sqlite_store, settings, zipped, "tester", name="zipped")
    assert sorted(read) == ["a.job", "b.job"]


def test_a_folder_upload_looks_for_a_project_file_only_when_it_packed_one(
    sqlite_store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder whose packing met no ``*.project`` file is Flow 1.0 without a walk of its copy to look for one; one
    that holds such a file anywhere is looked at as before (here Flow 2.0, its project file in a subfolder)."""
    import sudoless.flows.formats as formats

    looked: list[str] = []
    original = formats.find_project_file

    def finding(root: Path) -> Any:
        looked.append(root.name)
        return original(root)

    monkeypatch.setattr(formats, "find_project_file", finding)
    _, _, plain = upload.upload_project(sqlite_store, settings, write_project(tmp_path / "p1", CHAIN), "tester")
    assert (looked, plain.flow_version, sorted(plain.flows)) == ([], "1.0", ["b"])
    flow2 = {
        "sub/p.project": "azkaban-flow-version: 2.0\n",
        "sub/f.flow": "nodes:\n  - name: a\n    type: command\n    config:\n      command: echo a\n",
        **CHAIN,
    }
    _, _, yaml = upload.upload_project(sqlite_store, settings, write_project(tmp_path / "p2", flow2), "tester")
    assert (looked, yaml.flow_version, sorted(yaml.flows)) == (["p2"], "2.0", ["f"])
