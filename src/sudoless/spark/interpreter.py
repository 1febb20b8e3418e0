"""What ``--with-python`` adds to an archive: the venv's base interpreter, its shared library and its standard
library, laid out so that the archive root is itself a Python prefix.

A venv is already laid out like a prefix (``bin/``, ``lib/pythonX.Y/site-packages``). Without
``pyvenv.cfg``, a real interpreter binary in ``bin/`` finds its standard library next to itself
(``../lib/pythonX.Y/os.py``), so the archive becomes: the real binary as ``bin/pythonX.Y``, ``libpython``
in ``lib/``, the standard library (minus tests, IDLE, tkinter, build files and the base's own site
packages) in ``lib/pythonX.Y``, and the venv's packages in the site directory the base interpreter uses
for a prefix (``site-packages``, or ``dist-packages`` on Debian). Absolute RUNPATHs are rewritten to
``$ORIGIN``-relative ones (:mod:`sudoless.spark.elf`).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sudoless.errors import InputError

_PROBE = r"""
import json, os, site, sys, sysconfig
placeholder = "/@prefix@"
print(json.dumps({
    "version": "%d.%d" % sys.version_info[:2],
    "base_prefix": sys.base_prefix,
    "base_exec_prefix": sys.base_exec_prefix,
    "executable": os.path.realpath(sys.executable),
    "stdlib": sysconfig.get_path("stdlib", vars={"installed_base": sys.base_prefix, "base": sys.base_prefix}),
    "platstdlib": sysconfig.get_path("platstdlib", vars={"platbase": sys.base_exec_prefix,
                                                          "installed_platbase": sys.base_exec_prefix}),
    "venv_purelib": sysconfig.get_path("purelib"),
    "libdir": sysconfig.get_config_var("LIBDIR") or "",
    "instsoname": sysconfig.get_config_var("INSTSONAME") or "",
    "prefix_sites": site.getsitepackages([placeholder]),
}))
"""

_SITES = "import json, site; print(json.dumps(site.getsitepackages(['/@prefix@'])))"

#: standard-library folders a Spark executor never needs (names at the top of lib/pythonX.Y).
STDLIB_SKIP_TOP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "site-packages", "dist-packages", "lib2to3"}
#: folder names skipped anywhere in the standard library (the per-package test suites).
STDLIB_SKIP_ANY = {"__pycache__", "test", "tests", "idle_test"}
#: CPython's own test extension modules in lib-dynload.
_TEST_EXTENSIONS = ("_test", "_ctypes_test", "_xxtestfuzz", "xxlimited", "xxsubtype")


@dataclass(frozen=True)
class BaseInterpreter:
    """The interpreter a venv was made from, as the venv's own python reports it."""

    version: str
    base_prefix: Path
    executable: Path
    stdlib: Path
    platstdlib: Path
    venv_purelib: Path
    libpython: Path | None
    site_dir: str  # relative to the prefix, e.g. lib/python3.11/site-packages

    @property
    def stdlib_dir(self) -> str:
        return f"lib/python{self.version}"


def probe_interpreter(venv: Path) -> BaseInterpreter:
    python = venv / "bin" / "python"
    try:
        done = subprocess.run(
            [str(python), "-I", "-c", _PROBE], capture_output=True, text=True, timeout=120, check=False
        )
    except OSError as exc:
        raise InputError(
            f"{python}: cannot run the venv's python ({exc.strerror}); is its base interpreter gone?"
        ) from None
    if done.returncode != 0:
        raise InputError(f"{python}: the venv's python failed: {' '.join(done.stderr.strip().splitlines()[-1:])}")
    raw = json.loads(done.stdout)
    version = raw["version"]
    libpython = Path(raw["libdir"]) / raw["instsoname"] if raw["instsoname"] else None
    if libpython is not None and not libpython.is_file():
        libpython = None
    # Inside a venv, Debian's site module answers with the venv layout; the base interpreter says where a
    # prefix of its own keeps packages (dist-packages there).
    base_sites = subprocess.run(
        [raw["executable"], "-I", "-c", _SITES], capture_output=True, text=True, timeout=120, check=False
    )
    prefix_sites = json.loads(base_sites.stdout) if base_sites.returncode == 0 else raw["prefix_sites"]
    sites = [p[len("/@prefix@/") :] for p in prefix_sites if p.startswith("/@prefix@/")]
    preferred = [p for p in sites if f"python{version}" in p and not p.startswith("local/")]
    site_dir = (preferred or sites or [f"lib/python{version}/site-packages"])[0]
    return BaseInterpreter(
        version=version,
        base_prefix=Path(raw["base_prefix"]),
        executable=Path(raw["executable"]),
        stdlib=Path(raw["stdlib"]),
        platstdlib=Path(raw["platstdlib"]),
        venv_purelib=Path(raw["venv_purelib"]),
        libpython=libpython,
        site_dir=site_dir,
    )


def stdlib_files(base: BaseInterpreter) -> list[tuple[str, Path]]:
    """(path inside the archive, source) for every standard-library file shipped, sorted."""
    chosen: dict[str, Path] = {}
    for root in dict.fromkeys([base.stdlib, base.platstdlib]):
        if not root.is_dir():
            continue
        for source in sorted(root.rglob("*")):
            relative = source.relative_to(root)
            parts = relative.parts
            if parts[0] in STDLIB_SKIP_TOP or parts[0].startswith("config-") or STDLIB_SKIP_ANY & set(parts):
                continue
            if source.is_dir() or source.suffix in (".pyc", ".a") or source.name.startswith(_TEST_EXTENSIONS):
                continue
            chosen.setdefault(f"{base.stdlib_dir}/{relative.as_posix()}", source)
    return sorted(chosen.items())
