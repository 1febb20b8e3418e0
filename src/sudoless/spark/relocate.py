"""Making a venv's files work from wherever the archive is unpacked: console scripts, activate scripts and the
library search paths of ELF files, all rewritten as they go into the archive (the venv itself is untouched).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sudoless.spark.elf import is_elf, read_dynamic, rewrite_paths

TRAMPOLINE = (
    "#!/bin/sh\n"
    '\'\'\'exec\' "$(dirname -- "$(readlink -f -- "$0")")/{python}" "$0" "$@"\n'
    "' '''\n"
    "# sudoless pack: runs the python next to this script, wherever the environment was unpacked\n"
)
ACTIVATE_LINE = 'VIRTUAL_ENV="$(cd -- "$(dirname -- "${BASH_SOURCE[0]:-${(%):-%x}}")/.." && pwd)"'
ACTIVATE_FISH_LINE = "set -gx VIRTUAL_ENV (builtin realpath (dirname (status -f))/..)"


def fix_script(data: bytes, venv: Path) -> bytes | None:
    """A console script with a shebang into the venv, rewritten to the trampoline; None if not one."""
    if not data.startswith(b"#!"):
        return None
    first, _, rest = data.partition(b"\n")
    target = first[2:].strip().decode("utf-8", "surrogateescape")
    if not target.startswith(f"{venv}/bin/") or " " in target:
        return None
    return TRAMPOLINE.format(python=target.rsplit("/", 1)[-1]).encode() + rest


def fix_activate(name: str, data: bytes) -> bytes:
    lines = data.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    for index, line in enumerate(lines):
        stripped = line.strip()
        if name == "bin/activate" and stripped.startswith("VIRTUAL_ENV="):
            lines[index] = ACTIVATE_LINE + "\n"
        elif name == "bin/activate.fish" and stripped.startswith("set -gx VIRTUAL_ENV "):
            lines[index] = ACTIVATE_FISH_LINE + "\n"
    return "".join(lines).encode("utf-8", "surrogateescape")


def fix_elf(data: bytes, name: str, roots: dict[str, str], notes: list[str]) -> bytes:
    """Rewrite RUNPATH entries that point into a packed tree (``roots``: absolute dir -> archive dir)."""
    info = read_dynamic(data)
    if info is None or not info.paths:
        return data
    here = os.path.dirname(name)
    fixed: list[str] = []
    changed = False
    for entry in info.runpath.split(":"):
        for absolute, inside in roots.items():
            if entry == absolute or entry.startswith(absolute + "/"):
                target = inside + entry[len(absolute) :]
                entry = "$ORIGIN/" + os.path.relpath(target or ".", here or ".")
                changed = True
                break
        fixed.append(entry)
    if not changed:
        return data
    patched = bytearray(data)
    if not rewrite_paths(patched, info, ":".join(fixed)):
        notes.append(f"{name}: RUNPATH {info.runpath} could not be made relative (no room); it stays absolute")
        return data
    return bytes(patched)


def strip_debug(data: bytes) -> bytes:
    """``data`` without its debug sections, through binutils' ``strip`` when it is installed (else as is)."""
    tool = shutil.which("strip")
    if tool is None or not is_elf(data):
        return data
    with tempfile.TemporaryDirectory(prefix="sudoless-strip-") as scratch:
        source, target = Path(scratch, "in"), Path(scratch, "out")
        source.write_bytes(data)
        done = subprocess.run(
            [tool, "--strip-debug", "-o", str(target), str(source)], capture_output=True, timeout=300, check=False
        )
        return target.read_bytes() if done.returncode == 0 and target.is_file() else data
