"""Which shared libraries the dynamic loader cannot find for a set of binaries, asked of the loader itself.

``ldd`` prints one line per library the loader would map, ``libaio.so.1 => not found`` for each it cannot;
that answer, not a guess from package names, decides which libraries ``sudoless mysql install`` fetches.
A library found only in a folder of our own counts as found when that folder is on ``LD_LIBRARY_PATH``,
as it will be when the server runs (see :func:`sudoless.mysql.dist.server_environment`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from sudoless.config import process_environment
from sudoless.errors import InputError

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$", re.MULTILINE)
#: what ldd says of a file the loader does not load: a script, a static binary, another architecture's file.
_NOT_DYNAMIC = ("not a dynamic executable", "statically linked")


def is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as file:
            return file.read(4) == b"\x7fELF"
    except OSError:
        return False


def elf_files(directories: Iterable[Path]) -> list[Path]:
    """The ELF files directly in ``directories`` (the executables of a ``bin/``, not its scripts)."""
    return sorted(
        path
        for directory in directories
        if directory.is_dir()
        for path in directory.iterdir()
        if path.is_file() and not path.is_symlink() and is_elf(path)
    )


def parse_ldd(output: str) -> list[str]:
    """The sonames ldd reported as not found, in its order."""
    return _NOT_FOUND.findall(output)


def missing_libraries(files: Iterable[Path], library_dirs: Sequence[Path] = ()) -> dict[str, list[Path]]:
    """Each soname the loader cannot find, with the files that need it, with ``library_dirs`` first on the
    library path. Empty when everything resolves.
    """
    ldd = shutil.which("ldd")
    if ldd is None:
        raise InputError(
            "ldd is not installed, so the server's libraries cannot be checked; install the C "
            "library's tools (libc-bin on Debian) or pass --basedir DIR of a server you unpacked"
        )
    env = process_environment()
    if library_dirs:
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            [*map(str, library_dirs), *filter(None, [env.get("LD_LIBRARY_PATH", "")])]
        )
    missing: dict[str, list[Path]] = {}
    for file in files:
        done = subprocess.run(
            [ldd, str(file)], capture_output=True, text=True, timeout=60, check=False, env=env, stdin=subprocess.DEVNULL
        )
        output = done.stdout + done.stderr
        if done.returncode != 0 and not any(marker in output for marker in _NOT_DYNAMIC):
            last = output.strip().splitlines()[-1] if output.strip() else f"exit code {done.returncode}"
            raise InputError(f"ldd {file} failed: {last}")
        for soname in parse_ldd(output):
            missing.setdefault(soname, []).append(file)
    return missing
