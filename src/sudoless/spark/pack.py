"""Relocatable, reproducible archives of a virtual environment, for ``spark-submit --archives env.tar.gz#environment``.

What goes in, relative to the archive root (which Spark unpacks as ``./environment``):

* every file of the venv except caches (``__pycache__``, ``*.pyc``) and ``--exclude`` globs;
* console scripts get a ``/bin/sh`` trampoline in place of their absolute shebang, so they run the
  ``python`` next to them wherever the archive is unpacked; ``activate`` and ``activate.fish`` compute the
  venv's location at run time (``activate.csh`` cannot, and is left out);
* symlinks inside the venv stay symlinks, made relative; symlinks leaving it are stored as the file they
  point to, except the interpreter links of a plain venv (``bin/python*``), which keep pointing at the
  base interpreter, as the venv itself does;
* with ``with_python``, the base interpreter too (see :mod:`sudoless.spark.interpreter`), so the archive
  runs where no Python is installed at all.

The archive is a function of its input: entries sorted, owners and mtimes fixed, gzip header without
time or name. Archives are cached in ``SUDOLESS_HOME/spark/archives`` under a key made of the options and
every packed file's path, size, mode and mtime; that cache has a size cap (see :mod:`sudoless.spark.cache`).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import io
import os
import shutil
import stat
import tarfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sudoless.errors import InputError
from sudoless.spark.cache import archives_dir, mark_used, trim
from sudoless.spark.elf import is_elf, read_dynamic
from sudoless.spark.gzipstream import ParallelGzipWriter
from sudoless.spark.interpreter import BaseInterpreter, probe_interpreter, stdlib_files
from sudoless.spark.relocate import fix_activate, fix_elf, fix_script, strip_debug

FORMAT_VERSION = "1"
MTIME = 946684800  # 2000-01-01: fixed, and after 1980 so that zip-minded tools accept it
CACHE_NAMES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
CACHE_SUFFIXES = (".pyc", ".pyo")
LEFT_OUT = {"bin/activate.csh"}
#: the names Spark's ``--archives`` unpacks as tar.gz
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


@dataclass(frozen=True)
class Member:
    """One archive entry: a directory, a symlink (``link``), a file from ``source`` or from ``data``."""

    name: str
    kind: str  # "dir", "file", "link"
    mode: int = 0o644
    source: Path | None = None
    data: bytes | None = None
    link: str = ""
    size: int = 0
    mtime_ns: int = 0
    #: drop debug sections (``strip --strip-debug``) from this ELF file: the base interpreter's build often
    #: keeps them, and they are most of libpython's size.
    strip: bool = False


@dataclass(frozen=True)
class PackResult:
    """A packed archive: where, how big, how many entries, the cache key, and whether it came from the cache."""

    path: Path
    bytes: int
    entries: int
    key: str
    cached: bool
    seconds: float
    with_python: bool
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "bytes": self.bytes,
            "entries": self.entries,
            "key": self.key,
            "cached": self.cached,
            "seconds": round(self.seconds, 3),
            "with_python": self.with_python,
            "notes": self.notes,
        }


def check_venv(venv: Path) -> Path:
    """The venv's absolute path; :class:`InputError` when ``venv`` is not a virtual environment."""
    if not venv.is_dir():
        raise InputError(f"{venv}: no such directory; give the virtual environment to pack")
    if not (venv / "pyvenv.cfg").is_file():
        raise InputError(f"{venv}: not a virtual environment (no pyvenv.cfg); create one with python3 -m venv")
    if not (venv / "bin" / "python").exists():
        raise InputError(f"{venv}: virtual environment without a working bin/python; recreate it")
    return venv.resolve()


def _excluded(name: str, patterns: Sequence[str]) -> bool:
    base = name.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(base, p) for p in patterns)


def _walk(root: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(relative name, entry) under ``root`` in sorted order, caches left out."""
    pending = [("", root)]
    while pending:
        prefix, folder = pending.pop()
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)
        subfolders = []
        for entry in entries:
            if entry.name in CACHE_NAMES or entry.name.endswith(CACHE_SUFFIXES):
                continue
            name = f"{prefix}{entry.name}"
            yield name, entry
            if entry.is_dir(follow_symlinks=False):
                subfolders.append((f"{name}/", Path(entry.path)))
        pending.extend(reversed(subfolders))


def _mode(st: os.stat_result) -> int:
    return 0o755 if st.st_mode & 0o111 else 0o644


def collect(venv: Path, with_python: bool = False, exclude: Sequence[str] = ()) -> tuple[list[Member], list[str]]:
    """Every entry of the archive, in archive order, and notes for the user (things left as they were)."""
    venv = check_venv(venv)
    notes: list[str] = []
    base: BaseInterpreter | None = probe_interpreter(venv) if with_python else None
    members: dict[str, Member] = {}
    roots = {str(venv): ""}
    site_from = site_to = ""
    if base is not None:
        roots[str(base.base_prefix / "lib")] = "lib"
        site_from = base.venv_purelib.relative_to(venv).as_posix() if base.venv_purelib.is_relative_to(venv) else ""
        site_to = base.site_dir
    for name, entry in _walk(venv):
        if name in LEFT_OUT or _excluded(name, exclude):
            continue
        if base is not None:
            if name == "pyvenv.cfg" or (name.startswith("bin/python") and entry.is_symlink()):
                continue  # replaced by the real interpreter below
            if site_from and site_to != site_from and (name == site_from or name.startswith(site_from + "/")):
                name = site_to + name[len(site_from) :]
        if entry.is_symlink():
            target = os.readlink(entry.path)
            resolved = Path(os.path.realpath(entry.path))
            if not target.startswith("/") and resolved.is_relative_to(venv):
                members[name] = Member(name, "link", 0o777, link=target)
            elif resolved.is_relative_to(venv):
                members[name] = Member(name, "link", 0o777, link=os.path.relpath(resolved, Path(venv, name).parent))
            elif name.startswith("bin/python") and base is None:
                members[name] = Member(name, "link", 0o777, link=target)  # the base interpreter, as in the venv
            elif resolved.is_file():
                st = resolved.stat()
                members[name] = Member(
                    name, "file", _mode(st), source=resolved, size=st.st_size, mtime_ns=st.st_mtime_ns
                )
            elif resolved.is_dir():
                notes.append(f"{name}: a link to the folder {resolved} outside the venv; left out")
            else:
                notes.append(f"{name}: a dangling link to {target}; left out")
            continue
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            members[name] = Member(name, "dir", 0o755)
        elif stat.S_ISREG(st.st_mode):
            members[name] = Member(
                name, "file", _mode(st), source=Path(entry.path), size=st.st_size, mtime_ns=st.st_mtime_ns
            )
    if base is not None:
        _add_interpreter(members, base)
        info = read_dynamic(base.executable.read_bytes())
        if info is not None and not info.paths and any(n.startswith("libpython") for n in info.needed):
            notes.append(
                f"{base.executable} finds libpython through the system's library path, not a RUNPATH: "
                "on a machine without it, run with LD_LIBRARY_PATH=./environment/lib"
            )
    ordered = [members[name] for name in sorted(members)]
    return _with_parents(ordered), notes


def _add_interpreter(members: dict[str, Member], base: BaseInterpreter) -> None:
    binary = f"bin/python{base.version}"
    st = base.executable.stat()
    members[binary] = Member(
        binary, "file", 0o755, source=base.executable, size=st.st_size, mtime_ns=st.st_mtime_ns, strip=True
    )
    for alias in ("python", "python3"):
        members[f"bin/{alias}"] = Member(f"bin/{alias}", "link", 0o777, link=f"python{base.version}")
    linked = read_dynamic(base.executable.read_bytes())
    needs_libpython = linked is not None and any(name.startswith("libpython") for name in linked.needed)
    if base.libpython is not None and needs_libpython:  # a static interpreter (Debian's) has it built in
        real = base.libpython.resolve()
        st = real.stat()
        name = f"lib/{base.libpython.name}"
        members[name] = Member(name, "file", 0o755, source=real, size=st.st_size, mtime_ns=st.st_mtime_ns, strip=True)
    for name, source in stdlib_files(base):
        if name in members:
            continue
        st = source.stat()
        members[name] = Member(
            name, "file", _mode(st), source=source, size=st.st_size, mtime_ns=st.st_mtime_ns, strip=name.endswith(".so")
        )


def _with_parents(members: list[Member]) -> list[Member]:
    """Add the directory entries a member's path implies, keeping the archive sorted."""
    names = {m.name for m in members}
    extra = []
    for member in members:
        parts = member.name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            parent = "/".join(parts[:depth])
            if parent not in names:
                names.add(parent)
                extra.append(Member(parent, "dir", 0o755))
    return sorted(members + extra, key=lambda m: m.name)


def fingerprint(members: Iterable[Member], options: Sequence[str]) -> str:
    """A cache key: the options and every entry's name, kind, mode, size, mtime and link target."""
    digest = hashlib.sha256(f"sudoless-pack {FORMAT_VERSION} {' '.join(options)}\n".encode())
    for m in members:
        digest.update(f"{m.name}\0{m.kind}\0{m.mode:o}\0{m.size}\0{m.mtime_ns}\0{m.link}\0{m.source}\n".encode())
    return digest.hexdigest()[:32]


def _content(member: Member, venv: Path, roots: dict[str, str], notes: list[str]) -> bytes:
    assert member.source is not None
    data = member.source.read_bytes()
    if member.strip:
        data = strip_debug(data)
    if member.name in ("bin/activate", "bin/activate.fish"):
        return fix_activate(member.name, data)
    if member.name.startswith("bin/") and not is_elf(data):
        return fix_script(data, venv) or data
    if is_elf(data):
        return fix_elf(data, member.name, roots, notes)
    return data


def write_archive(
    members: Sequence[Member], output: Path, venv: Path, roots: dict[str, str], notes: list[str], level: int = 4
) -> None:
    """Write ``members`` as a deterministic tar.gz at ``output`` (atomically, mode 0644)."""
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    try:
        with open(partial, "wb") as raw:
            gz = ParallelGzipWriter(raw, level=level)
            # typeshed asks every fileobj for read, seek and tell; a "w|" stream only ever writes and closes.
            with tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                for member in members:
                    info = tarfile.TarInfo(member.name)
                    info.mtime, info.uid, info.gid, info.uname, info.gname = MTIME, 0, 0, "", ""
                    info.mode = member.mode
                    if member.kind == "dir":
                        info.type = tarfile.DIRTYPE
                        tar.addfile(info)
                    elif member.kind == "link":
                        info.type, info.linkname = tarfile.SYMTYPE, member.link
                        tar.addfile(info)
                    else:
                        data = member.data if member.data is not None else _content(member, venv, roots, notes)
                        info.size = len(data)
                        tar.addfile(info, io.BytesIO(data))
            gz.close()
        partial.chmod(0o644)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)


def pack_env(
    venv: Path,
    output: Path | None = None,
    *,
    with_python: bool = False,
    exclude: Sequence[str] = (),
    cache_home: Path | None = None,
    cache_cap_bytes: int | None = None,
    level: int = 4,
) -> PackResult:
    """Pack ``venv`` into ``output`` (default: the cache). With ``cache_home`` (SUDOLESS_HOME), an archive
    already packed from the same content is reused; with ``cache_cap_bytes`` too, the cache is then trimmed
    to that size, least recently used archives first (never this one)."""
    began = time.monotonic()
    if output is not None and not output.name.endswith(ARCHIVE_SUFFIXES):
        raise InputError(
            f"-o {output}: the output must end in .tar.gz or .tgz (the archives Spark's --archives unpacks), "
            "e.g. -o env.tar.gz"
        )
    venv = check_venv(venv)
    members, notes = collect(venv, with_python=with_python, exclude=exclude)
    key = fingerprint(members, [f"with_python={with_python}", f"level={level}", *exclude])
    cached_path = archives_dir(cache_home) / f"env-{key}.tar.gz" if cache_home is not None else None
    target = output or cached_path
    if target is None:
        raise InputError("give an output file (-o env.tar.gz)")
    cached = cached_path is not None and cached_path.is_file()
    if cached and cached_path is not None:
        if target != cached_path:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cached_path, target)
            target.chmod(0o644)
    else:
        roots = {str(venv): ""}
        if with_python:
            base = probe_interpreter(venv)
            roots[str(base.base_prefix / "lib")] = "lib"
        target.parent.mkdir(parents=True, exist_ok=True)
        write_archive(members, target, venv, roots, notes, level=level)
        if cached_path is not None and target != cached_path:
            try:
                cached_path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(target, cached_path)  # the archive is never modified in place, so sharing is safe
                except OSError:
                    shutil.copyfile(target, cached_path)
            except PermissionError:  # in a flow job, whose sandbox lets it read the cache but not fill it
                cached_path = None
    if cached_path is not None and cached_path.is_file():
        mark_used(cached_path)
        if cache_home is not None and cache_cap_bytes is not None:
            with contextlib.suppress(PermissionError):  # the same sandbox: trimming is for unconfined runs
                trim(cache_home, cache_cap_bytes, keep=[cached_path])
    return PackResult(
        path=target,
        bytes=target.stat().st_size,
        entries=len(members),
        key=key,
        cached=cached,
        seconds=time.monotonic() - began,
        with_python=with_python,
        notes=notes,
    )
