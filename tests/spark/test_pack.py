"""Packing a venv: reproducible bytes, relocatable scripts and links, no caches, the interpreter bundled with
--with-python, the cache, verify, and the command line's exit codes."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from spark.support import sudoless_cli, unpack
from sudoless.errors import InputError
from sudoless.spark.elf import read_dynamic
from sudoless.spark.pack import MTIME, pack_env
from sudoless.spark.verify import verify_archive
from support.services import unavailable

CLEAN_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def test_same_venv_gives_identical_bytes(marker_venv: Path, tmp_path: Path) -> None:
    (marker_venv / "lib").joinpath("stray.pyc").write_bytes(b"cache")
    first = pack_env(marker_venv, tmp_path / "a.tar.gz")
    second = pack_env(marker_venv, tmp_path / "b.tar.gz")
    assert not first.cached and not second.cached
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    assert (tmp_path / "a.tar.gz").stat().st_mode & 0o777 == 0o644
    raw = (tmp_path / "a.tar.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\0\0\0\0"  # gzip mtime 0
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert all(m.mtime == MTIME and m.uid == 0 and m.gid == 0 and not m.uname for m in members)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert "bin/marker" in names and "pyvenv.cfg" in names


def test_scripts_activate_and_links_are_relative(marker_venv: Path, tmp_path: Path) -> None:
    pack_env(marker_venv, tmp_path / "env.tar.gz", exclude=["*.dist-info/RECORD"])
    with tarfile.open(tmp_path / "env.tar.gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        script = tar.extractfile("bin/marker").read().decode()  # type: ignore[union-attr]
        activate = tar.extractfile("bin/activate").read().decode()  # type: ignore[union-attr]
    assert str(marker_venv) not in script and script.startswith("#!/bin/sh\n")
    assert str(marker_venv) not in activate
    assert "bin/activate.csh" not in members
    assert not [n for n in members if n.endswith(".dist-info/RECORD")]
    links = {n: m.linkname for n, m in members.items() if m.issym()}
    assert links["bin/python"] == "python3" or not links["bin/python"].startswith(str(marker_venv))
    assert not [t for t in links.values() if t.startswith(str(marker_venv))]


def test_with_python_runs_without_the_base_interpreter_and_after_a_move(marker_venv: Path, tmp_path: Path) -> None:
    result = pack_env(marker_venv, tmp_path / "env.tar.gz", with_python=True)
    environment = unpack(result.path, tmp_path / "first")
    code = "import sys, ssl, sqlite3, json, sudoless_marker; print(sys.prefix, sys.executable, sudoless_marker.VALUE)"
    done = subprocess.run(
        [str(environment / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        env=CLEAN_ENV,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    prefix, executable, value = done.stdout.split()
    assert prefix == str(environment) and executable.startswith(str(environment)) and value == "42"
    info = read_dynamic((environment / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}").read_bytes())
    assert info is not None and all(not p.startswith("/") for p in info.runpath.split(":") if p)
    shutil.move(tmp_path / "first", tmp_path / "moved")
    moved = tmp_path / "moved" / "environment"
    for argv in ([str(moved / "bin" / "marker")], [str(moved / "bin" / "pip"), "--version"]):
        done = subprocess.run(argv, capture_output=True, text=True, env=CLEAN_ENV, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
    assert (
        "marker 42"
        in subprocess.run(
            [str(moved / "bin" / "marker")], capture_output=True, text=True, env=CLEAN_ENV, timeout=120, check=False
        ).stdout
    )
    assert str(moved) in done.stdout  # pip runs from the moved environment, not the build machine's python
    report = verify_archive(result.path)
    assert report.ok and report.self_contained and "sudoless_marker" in report.imported


def test_verify_names_what_fails_and_what_leaves_the_archive(marker_venv: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(marker_venv, broken, symlinks=True)
    site = next(broken.glob("lib/python3*/site-packages"))
    (site / "sudoless_broken.py").write_text("raise ImportError('deliberately broken')\n")
    report = verify_archive(pack_env(broken, tmp_path / "broken.tar.gz").path)
    assert not report.ok and "deliberately broken" in report.failed["sudoless_broken"]
    assert "sudoless_marker" in report.imported
    assert any(target.startswith("/") for target in report.external.values())  # the venv's base interpreter


def test_cache_reuses_an_archive_until_the_env_changes(marker_venv: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = pack_env(marker_venv, cache_home=home)
    again = pack_env(marker_venv, cache_home=home)
    assert not first.cached and again.cached and again.path == first.path
    extra = next(marker_venv.glob("lib/python3*/site-packages")) / "sudoless_cache_probe.py"
    extra.write_text("X = 1\n")
    try:
        changed = pack_env(marker_venv, cache_home=home)
    finally:
        extra.unlink()
    assert not changed.cached and changed.key != first.key


def test_not_a_venv_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a virtual environment"):
        pack_env(tmp_path, tmp_path / "x.tar.gz")
    done = sudoless_cli("pack", str(tmp_path), "-o", str(tmp_path / "x.tar.gz"), home=tmp_path / "home")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "not a virtual environment" in done.stderr


def test_cli_pack_and_verify(marker_venv: Path, tmp_path: Path) -> None:
    import json

    done = sudoless_cli("pack", str(marker_venv), "-o", str(tmp_path / "env.tar.gz"), "--json", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["bytes"] == (tmp_path / "env.tar.gz").stat().st_size
    checked = sudoless_cli("pack", "verify", str(tmp_path / "env.tar.gz"), "--json", home=tmp_path / "home")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "sudoless_marker" in json.loads(checked.stdout)["imported"]
    with gzip.open(tmp_path / "env.tar.gz") as stream:
        assert stream.read(1)


def test_with_python_from_the_system_interpreter(tmp_path: Path) -> None:
    """Debian's python keeps a prefix's packages in dist-packages and links libpython in statically: the
    archive must put the venv's packages where that interpreter looks, and ship no libpython."""
    system = Path("/usr/bin/python3")
    if not system.exists():
        unavailable("no system python at /usr/bin/python3")
    venv = tmp_path / "system-venv"
    subprocess.run([str(system), "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    (Path(purelib) / "sudoless_system_marker.py").write_text("VALUE = 7\n")
    result = pack_env(venv, tmp_path / "system.tar.gz", with_python=True)
    environment = unpack(result.path, tmp_path / "unpacked")
    done = subprocess.run(
        [
            str(environment / "bin" / "python"),
            "-c",
            "import sys, sudoless_system_marker as m; print(sys.prefix, m.VALUE)",
        ],
        capture_output=True,
        text=True,
        env=CLEAN_ENV,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(environment), "7"]
