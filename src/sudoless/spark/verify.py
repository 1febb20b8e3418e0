"""``sudoless pack verify``: unpack an archive where nothing else is, run its python with an empty
environment, and import every top-level package it holds; say what fails and what points outside.

A venv archive that works on the build machine can still fail on an executor: its interpreter link may
point at a Python the executor does not have. Verification lists such links (``external``), so a
passing import on this machine is not mistaken for portability.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sudoless.errors import InputError
from sudoless.spark.untar import extract_tar

_IMPORT_ALL = r"""
import importlib, json, sys, traceback
failed = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failed[name] = f"{exc.__class__.__name__}: {exc}"
print(json.dumps({"executable": sys.executable, "prefix": sys.prefix, "version": sys.version.split()[0],
                  "failed": failed}))
"""


@dataclass(frozen=True)
class VerifyReport:
    """The outcome: packages imported, those that failed (name -> error), links leaving the archive, and the
    interpreter that ran."""

    archive: str
    ok: bool
    imported: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    external: dict[str, str] = field(default_factory=dict)
    executable: str = ""
    prefix: str = ""
    python_version: str = ""
    self_contained: bool = False
    error: str = ""

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _site_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("lib/python3*/*-packages") if p.is_dir())


def top_level_modules(root: Path) -> list[str]:
    """Importable top-level names in the archive's site directories (packages, modules, extensions)."""
    names: set[str] = set()
    for site in _site_dirs(root):
        for entry in site.iterdir():
            name = entry.name
            if name.endswith((".dist-info", ".egg-info", ".data", ".pth")) or name.startswith(".") or "-" in name:
                continue
            if entry.is_dir() and ((entry / "__init__.py").exists() or any(entry.glob("__init__.*.so"))):
                names.add(name)
            elif entry.suffix == ".py":
                names.add(entry.stem)
            elif entry.suffix == ".so":
                names.add(name.split(".", 1)[0])
    names.discard("__pycache__")
    return sorted(n for n in names if n.isidentifier())


def _external_links(root: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            if path.is_symlink():
                target = os.readlink(path)
                hop = Path(os.path.normpath(Path(folder, target)))
                if not hop.is_relative_to(root):
                    found[path.relative_to(root).as_posix()] = target
    return dict(sorted(found.items()))


def _retry_alone(python: Path, failed: dict[str, str], env: dict[str, str], cwd: str, timeout: float) -> dict[str, str]:
    """Import each failed name again in a fresh interpreter: some packages break only after another one
    (setuptools after distutils), which is not the archive's fault."""
    still: dict[str, str] = {}
    for name, error in failed.items():
        try:
            done = subprocess.run(
                [str(python), "-c", _IMPORT_ALL, name],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                cwd=cwd,
                check=False,
            )
            if done.returncode != 0:
                still[name] = (done.stderr.strip().splitlines() or [error])[-1]
            else:
                still.update(json.loads(done.stdout.strip().splitlines()[-1])["failed"])
        except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
            still[name] = error
    return still


def verify_archive(archive: Path, timeout: float = 300.0) -> VerifyReport:
    """Unpack ``archive`` into a temporary ``environment/`` and import its top-level packages there."""
    if not archive.is_file():
        raise InputError(f"{archive}: no such archive")
    with tempfile.TemporaryDirectory(prefix="sudoless-verify-") as scratch:
        root = Path(scratch) / "environment"
        root.mkdir()
        extract_tar(archive, root)
        external = _external_links(root)
        modules = top_level_modules(root)
        python = root / "bin" / "python"
        if not python.exists() and not python.is_symlink():
            return VerifyReport(str(archive), False, external=external, error="no bin/python in the archive")
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": scratch}
        try:
            done = subprocess.run(
                [str(python), "-c", _IMPORT_ALL, *modules],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                cwd=scratch,
                check=False,
            )
        except OSError as exc:
            return VerifyReport(
                str(archive), False, external=external, error=f"bin/python does not run: {exc.strerror}"
            )
        except subprocess.TimeoutExpired:
            return VerifyReport(str(archive), False, external=external, error=f"imports took over {timeout:.0f} s")
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
            return VerifyReport(str(archive), False, external=external, error=f"bin/python failed: {tail}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        failed = _retry_alone(python, result["failed"], env, scratch, timeout)
        executable = result["executable"]
        return VerifyReport(
            archive=str(archive),
            ok=not failed,
            imported=[m for m in modules if m not in failed],
            failed=failed,
            external=external,
            executable=executable.replace(scratch, "<unpacked>"),
            prefix=result["prefix"].replace(scratch, "<unpacked>"),
            python_version=result["version"],
            self_contained=not external,
        )
