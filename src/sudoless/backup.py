"""Backing up and restoring one sudoless installation: its database and its files, with a manifest.

A backup folder holds:

- ``db/<table>.jsonl.gz``: every table, read in one snapshot (:mod:`sudoless.store.dump`), so users,
  projects and every version's archive, executions, job runs, logs, schedules and settings agree with each
  other even when the backup is taken while flows run;
- ``files.tar.gz``: the database's folder of SUDOLESS_HOME (``data/<key>``, :mod:`sudoless.datadir`): the
  execution directories with what jobs wrote, and the first admin's password file. The project cache is
  left out: it is unpacked again from the versions in the database when a flow needs it;
- ``manifest.json``: what is in the backup, with the SHA-256 of every file, written last.

A backup is written into ``DIR.partial`` and renamed to ``DIR`` when complete, so a folder named like the
backup is never half of one; it is private (0700, files 0600): it holds password hashes and sessions.
:func:`restore` checks every checksum before it changes anything, refuses a database that holds rows unless
told to replace them, and writes all tables in one transaction. The configuration (``config.toml``, the
session secret) is the host's, not the data's, and is not part of a backup.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sudoless.config import Settings, ensure_home
from sudoless.errors import InputError, StateError
from sudoless.store import Store, store_for
from sudoless.store import dump as tables
from sudoless.store.revision import head_revision

__all__ = ["FORMAT", "Manifest", "backup", "read_manifest", "restore"]

log = logging.getLogger(__name__)

#: the layout of a backup folder this version writes and reads
FORMAT = 1
MANIFEST = "manifest.json"
FILES = "files.tar.gz"
#: folders of the database's data folder not worth a backup: the project cache is rebuilt from the database
SKIPPED = frozenset({"projects"})

#: ``progress(step, done, total)``: step is a table name or "files"; total is None where unknown
Progress = Callable[[str, int, "int | None"], None]


@dataclass(frozen=True)
class Manifest:
    """What a backup holds: the schema revision, row counts per table and every file with its SHA-256."""

    format: int
    created: int
    revision: str | None
    dialect: str
    tables: dict[str, int]
    files: dict[str, dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "created": self.created,
            "revision": self.revision,
            "dialect": self.dialect,
            "tables": self.tables,
            "files": self.files,
        }


def backup(settings: Settings, target: Path, progress: Progress | None = None, store: Store | None = None) -> Manifest:
    """Back up the installation ``settings`` name into the new folder ``target`` (see the module docstring)."""
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(f"{target}: already exists and is not an empty folder; give a new folder for the backup")
    partial = target.with_name(target.name + ".partial")
    try:
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir(mode=0o700, parents=True)
    except OSError as exc:
        raise InputError(
            f"{target}: cannot create the backup folder ({exc.strerror}); choose a folder you can write"
        ) from None
    own = store is None
    store = store or store_for(settings)
    try:
        dumps_progress = (lambda table, rows: progress(table, rows, None)) if progress else None
        revision, dumps = tables.dump(store, partial / "db", dumps_progress)
        _archive_files(settings.data_dir, partial / FILES, progress)
        files = {
            path.relative_to(partial).as_posix(): {"bytes": path.stat().st_size, "sha256": _sha256(path)}
            for path in sorted(partial.rglob("*"))
            if path.is_file()
        }
        manifest = Manifest(
            FORMAT, int(time.time() * 1000), revision, store.dialect, {d.table: d.rows for d in dumps}, files
        )
        (partial / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2, sort_keys=True) + "\n")
        for path in partial.rglob("*"):
            path.chmod(0o700 if path.is_dir() else 0o600)
        if target.exists():
            target.rmdir()
        partial.rename(target)
    except OSError as exc:  # a full disk, a file system gone read-only: nothing half-written stays
        shutil.rmtree(partial, ignore_errors=True)
        raise StateError(f"{target}: the backup could not be written ({exc}); nothing was kept") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        if own:
            store.close()
    return manifest


def read_manifest(source: Path) -> Manifest:
    """The manifest of the backup folder ``source``, after checking every file against its checksum."""
    source = Path(source)
    path = source / MANIFEST
    if not path.is_file():
        raise InputError(f"{source}: no {MANIFEST}; give a folder written by 'sudoless backup'")
    try:
        data = json.loads(path.read_text())
        manifest = Manifest(
            int(data["format"]),
            int(data["created"]),
            data["revision"],
            str(data["dialect"]),
            dict(data["tables"]),
            dict(data["files"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a sudoless backup manifest ({exc})") from None
    if manifest.format != FORMAT:
        raise InputError(f"{path}: backup format {manifest.format}; this sudoless reads format {FORMAT}")
    for name, facts in sorted(manifest.files.items()):
        file = source / name
        if not file.is_file():
            raise InputError(f"{source}: {name} is missing; the backup is incomplete")
        if _sha256(file) != facts["sha256"]:
            raise InputError(f"{source}: {name} does not match its checksum in {MANIFEST}; the backup is damaged")
    return manifest


def restore(
    settings: Settings,
    source: Path,
    replace: bool = False,
    progress: Progress | None = None,
    store: Store | None = None,
) -> Manifest:
    """Restore the backup folder ``source`` into the installation ``settings`` name.

    The database must hold no rows (a fresh home or database) unless ``replace``; its files go to its data
    folder, which must hold no execution directories unless ``replace``. Nothing changes when a check fails.
    """
    manifest = read_manifest(source)
    if manifest.revision != head_revision():
        raise StateError(
            f"{source}: the backup's schema is revision {manifest.revision}, this sudoless's is "
            f"{head_revision()}; restore it with the sudoless version that wrote it, then upgrade"
        )
    ensure_home(settings)
    own = store is None
    store = store or store_for(settings)
    try:
        holding = tables.nonempty_tables(store)
        executions = settings.data_dir / "executions"
        if not replace and holding:
            raise StateError(
                f"the database at {store.engine.url.render_as_string()} is not empty ("
                f"{', '.join(holding[:5])}{'...' if len(holding) > 5 else ''}); restore into a fresh "
                "home or database, or pass --replace to overwrite it"
            )
        if not replace and executions.is_dir() and any(executions.iterdir()):
            raise StateError(
                f"{executions} holds execution directories; restore into a fresh home, or pass "
                "--replace to overwrite them"
            )
        by_name = {name: rows for name, rows in manifest.tables.items()}
        dumps = [
            tables.TableDump(t.name, by_name[t.name], f"{t.name}.jsonl.gz")
            for t in tables.tables()
            if t.name in by_name
        ]
        tables.load(
            store,
            Path(source) / "db",
            dumps,
            replace,
            (lambda table, rows: progress(table, rows, by_name[table])) if progress else None,
        )
        if replace:
            for name in ("executions", *SKIPPED):
                shutil.rmtree(settings.data_dir / name, ignore_errors=True)
        _extract_files(Path(source) / FILES, settings.data_dir, progress)
    finally:
        if own:
            store.close()
    return manifest


def _archive_files(data_dir: Path, archive: Path, progress: Progress | None) -> None:
    """The data folder as a tar; hard links between execution directories stay links in it."""
    entries: list[Path] = []
    if data_dir.is_dir():
        for root, dirs, files in os.walk(data_dir):
            rel_root = Path(root).relative_to(data_dir)
            if rel_root == Path("."):
                dirs[:] = [d for d in dirs if d not in SKIPPED]
            dirs.sort()
            entries.extend(Path(root) / name for name in dirs)  # empty ones too; links to folders as links
            entries.extend(Path(root) / name for name in sorted(files))
    done = 0
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        for path in entries:
            name = path.relative_to(data_dir).as_posix()
            try:
                info = tar.gettarinfo(str(path), arcname=name)
            except FileNotFoundError:
                continue  # removed while we walked (a job's temporary file)
            if info.isreg():
                try:
                    with open(path, "rb") as handle:
                        tar.addfile(info, _Exactly(handle, info.size))
                except FileNotFoundError:
                    continue
            elif info.issym() or info.islnk() or info.isdir():
                tar.addfile(info)
            done += 1
            if progress is not None and done % 100 == 0:
                progress("files", done, len(entries))
    if progress is not None:
        progress("files", done, len(entries))


class _Exactly:
    """``size`` bytes of a file a running job may still be writing: cut where it grew, padded where it shrank,
    so the tar stays valid; the snapshot of a file that changes during the backup is as good as any."""

    def __init__(self, handle: IO[bytes], size: int) -> None:
        self.handle = handle
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.handle.read(n)
        if len(data) < n:
            data += b"\0" * (n - len(data))
        self.left -= n
        return data


def _extract_files(archive: Path, data_dir: Path, progress: Progress | None) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        for done, member in enumerate(members, start=1):
            target = (data_dir / member.name).resolve()
            if not target.is_relative_to(data_dir.resolve()) or member.name.startswith("/"):
                raise InputError(f"{archive}: entry {member.name!r} points outside the data folder")
            if member.islnk() or member.issym():
                linked = target.parent / member.linkname if member.issym() else data_dir / member.linkname
                if member.islnk() and not linked.resolve().is_relative_to(data_dir.resolve()):
                    raise InputError(f"{archive}: link {member.name!r} points outside the data folder")
            _extract_one(tar, member, data_dir)
            if progress is not None and done % 100 == 0:
                progress("files", done, len(members))
        if progress is not None:
            progress("files", len(members), len(members))


#: our checks above stand in for the extraction filters of newer Pythons (3.11.4+), which 3.11.0 lacks
_TRUSTED: dict[str, Any] = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}


def _extract_one(tar: tarfile.TarFile, member: tarfile.TarInfo, data_dir: Path) -> None:
    # The data filter of Python 3.12 is not in 3.11.0; the checks above do its job for our own archives.
    target = data_dir / member.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
        return
    if target.is_symlink() or target.is_file():
        target.unlink()
    tar.extract(member, data_dir, set_attrs=False, **_TRUSTED)
    if member.isreg():
        target.chmod(member.mode & 0o777)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
