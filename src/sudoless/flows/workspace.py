"""An execution's directory: hard links to the one unpacked, read-only copy of its project version.

Azkaban copies the whole project into every execution's directory, so a 150 MB project run daily costs 4.5 GB
a month. Here a version is unpacked once into the project cache (``projects/<id>.<version>.<archive MD5>`` in
the database's folder, :mod:`sudoless.datadir`) and an execution's directory gets folders of its own, whose files
are hard links to the cache's. A job may create, replace and delete files anywhere in its directory; the shared files
themselves are made read-only (0444, 0555 when executable), so a job that opens one for writing in place gets
EACCES instead of changing the copy every later execution links to. Writing a project file therefore means
replacing it (write a new file, rename it over), which is what editors, ``sed -i`` and most tools do.
Copy-on-write at ``open`` would need a FUSE or overlay mount, which a user without root does not have.

A restarted execution starts from a copy of the failed one's directory instead (:func:`continue_workdir`), so
that what its succeeded, now skipped, jobs wrote is there. Files still shared with the cache are linked again
(they are read-only anyway); every other file is the old run's own and is copied, never linked: a job of the
new run that appends to or rewrites one in place must not change the old run's file through a shared inode.

Modes bind the server's own Unix user but not root: a server run as root (which sudoless is not meant for)
shares files a job could change. Where a link cannot be made (another file system, a file system without
hard links), the file is copied, and the copy is the execution's own (writable).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sudoless.config import Settings

#: errors of os.link that mean "links do not work here", after which copying is the only way.
_NO_LINKS = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}
_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
_VERSION_FOLDER = re.compile(r"([0-9]+)\.([0-9]+)(?:\.([0-9a-f]{32}))?")


@dataclass(frozen=True)
class Prepared:
    """What preparing a directory did: files linked, files copied and the bytes those copies took."""

    linked: int = 0
    copied: int = 0
    copied_bytes: int = 0


def project_cache(settings: Settings) -> Path:
    """Where unpacked project versions are cached, one folder each (:func:`version_folder`), in the
    database's own folder (project ids are the database's)."""
    return settings.data_dir / "projects"


def version_folder(project_id: int, version: int, digest: str) -> str:
    """The name of a stored version's folder in the project cache: ``<project id>.<version>.<archive MD5>``.

    Ids and version numbers alone name a version of one database only while that database lives: deleted and
    created again at the same place (the same folder, :mod:`sudoless.datadir`), it numbers its projects from 1
    again, and a folder named ``1.1`` would hand its first run the former database's files. The archive's MD5
    (:meth:`~sudoless.store.light.projects.LightProjectQueries.digest`) tells the two apart."""
    return f"{project_id}.{version}.{digest}"


def parse_version_folder(name: str) -> tuple[int, int, str | None] | None:
    """(project id, version, archive MD5) of a project cache folder's name, the MD5 None for the
    ``<id>.<version>`` of older sudoless versions; None for any other name (a download in progress)."""
    found = _VERSION_FOLDER.fullmatch(name)
    return None if found is None else (int(found[1]), int(found[2]), found[3])


def set_aside(workdir: Path) -> Path:
    """Rename ``workdir`` to a free ``.former-<name>-<n>`` next to it, out of the way of the execution
    that must use its name (and out of retention's sight, which judges only folders named by an id)."""
    n = 1
    while os.path.lexists(aside := workdir.with_name(f".former-{workdir.name}-{n}")):
        n += 1
    os.rename(workdir, aside)
    return aside


def prepare_workdir(source: Path, workdir: Path) -> Prepared:
    """Give ``workdir`` the files of the unpacked project ``source`` (see the module's docstring).

    The directory appears complete or not at all: it is filled under a temporary name and renamed.
    An existing ``workdir`` is left as it is (a run sets a former database's aside first, :func:`set_aside`).
    """
    return _staged(workdir, lambda staging: link_tree(source, staging))


def continue_workdir(previous: Path, source: Path, workdir: Path) -> Prepared:
    """Give ``workdir`` a copy of ``previous`` (an earlier execution's directory of the same project version,
    unpacked at ``source``): what the earlier run's jobs wrote, created, replaced or deleted stays so.

    A file that is still a link to ``source``'s (same inode) is linked to it again; every other file is
    copied, so the two runs share no writable inode. The runner's own folders (``.jobs``, ``.tmp``) are left
    behind. Complete or absent, like :func:`prepare_workdir`.
    """
    return _staged(workdir, lambda staging: _copy_run(previous, source, staging))


def _staged(workdir: Path, fill: Callable[[Path], Prepared]) -> Prepared:
    if workdir.exists():
        return Prepared()
    workdir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{workdir.name}.", dir=workdir.parent))
    try:
        done = fill(staging)
        staging.chmod(0o755)
        staging.rename(workdir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return done


#: folders of an execution directory that belong to its runner (job property files, the sandbox's TMPDIR).
RUNNER_FOLDERS = frozenset({".jobs", ".tmp"})


def _copy_run(previous: Path, source: Path, dest: Path) -> Prepared:
    linked = copied = copied_bytes = 0
    pending = [Path()]
    while pending:
        rel = pending.pop()
        with os.scandir(previous / rel) as entries:
            for entry in entries:
                if not rel.parts and entry.name in RUNNER_FOLDERS:
                    continue
                target = dest / rel / entry.name
                if entry.is_dir(follow_symlinks=False):
                    os.mkdir(target, 0o755)
                    pending.append(rel / entry.name)
                    continue
                if entry.is_symlink():
                    os.symlink(os.readlink(entry.path), target)
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue  # a FIFO or socket a job left: nothing a later job can read back
                shared = source / rel / entry.name
                from_cache = _same_file(entry, shared)
                if from_cache:
                    try:
                        os.link(shared, target)
                        linked += 1
                        continue
                    except OSError as exc:
                        if exc.errno not in _NO_LINKS:
                            raise
                shutil.copyfile(entry.path, target)
                # The old run's own file keeps its mode; a cache file copied here becomes this run's (writable).
                mode = stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode)
                os.chmod(target, (mode | stat.S_IWUSR) if from_cache else mode)
                copied += 1
                copied_bytes += os.path.getsize(target)
    return Prepared(linked, copied, copied_bytes)


def _same_file(entry: os.DirEntry[str], other: Path) -> bool:
    try:
        theirs = os.stat(other, follow_symlinks=False)
    except OSError:
        return False
    mine = entry.stat(follow_symlinks=False)
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


def link_tree(source: Path, dest: Path) -> Prepared:
    """Mirror ``source`` into the existing folder ``dest``: new folders, files hard-linked to ``source``'s
    (made read-only first, as their mode is shared with every link), copied where linking fails."""
    linked = copied = copied_bytes = 0
    can_link = True
    pending = [(str(source), str(dest))]
    while pending:
        src_dir, dst_dir = pending.pop()
        with os.scandir(src_dir) as entries:
            for entry in entries:
                target = os.path.join(dst_dir, entry.name)
                if entry.is_dir(follow_symlinks=False):
                    os.mkdir(target, 0o755)
                    pending.append((entry.path, target))
                    continue
                if entry.is_symlink():  # archives carry none; a directory project might
                    os.symlink(os.readlink(entry.path), target)
                    continue
                mode = entry.stat(follow_symlinks=False).st_mode
                if can_link:
                    if mode & _WRITE_BITS:
                        os.chmod(entry.path, stat.S_IMODE(mode) & ~_WRITE_BITS)
                    try:
                        os.link(entry.path, target)
                        linked += 1
                        continue
                    except OSError as exc:
                        if exc.errno not in _NO_LINKS:
                            raise
                        can_link = exc.errno == errno.EMLINK  # only that one file is out of links
                shutil.copyfile(entry.path, target)
                os.chmod(target, 0o755 if mode & stat.S_IXUSR else 0o644)
                copied += 1
                copied_bytes += os.path.getsize(target)
    return Prepared(linked, copied, copied_bytes)
