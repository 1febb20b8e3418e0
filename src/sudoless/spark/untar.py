"""Unpacking environment archives safely on every Python the project supports.

``TarFile.extractall(filter=...)`` exists only from Python 3.11.4 on, and Debian 12's system Python is 3.11.2,
the interpreter a user without root has. So the checks of the ``"tar"`` filter (PEP 706) are made here, on
every member just before it is written: no absolute names, nothing outside the target folder (directly or
through a link unpacked earlier), no device files or FIFOs, and no set-user/group-id or group/other-writable
bits. Where the
interpreter has the filter too, it is applied on top.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

from sudoless.errors import InputError

_UNSAFE_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_IWGRP | stat.S_IWOTH


def _inside(root: str, path: str) -> bool:
    return os.path.commonpath([root, os.path.realpath(path)]) == root


def checked_members(tar: tarfile.TarFile, dest: Path, source: str) -> Iterator[tarfile.TarInfo]:
    """The members of ``tar``, each checked just before it is unpacked (so that a link unpacked earlier is
    followed, as the filter does), refused with an :class:`InputError` naming it when it is unsafe.

    Links may point anywhere (a venv's ``bin/python`` points at its base interpreter, which ``verify``
    reports); what is refused is a member whose own path, links followed, leaves ``dest``.
    """
    root = os.path.realpath(dest)
    for member in tar:
        where = f"{source}: member '{member.name}'"
        if os.path.isabs(member.name):
            raise InputError(f"{where} has an absolute path; rebuild the archive with relative names")
        if not _inside(root, os.path.join(root, member.name)):
            raise InputError(f"{where} would land outside the folder it is unpacked into")
        if member.ischr() or member.isblk() or member.isfifo():
            raise InputError(f"{where} is a device file or FIFO, which an environment never needs")
        if member.islnk() and not _inside(root, os.path.join(root, member.linkname)):
            raise InputError(f"{where} is a hard link to {member.linkname}, outside the archive")
        member.mode &= ~_UNSAFE_BITS
        yield member


def extract_tar(archive: Path, dest: Path) -> None:
    """Unpack ``archive`` (any compression tarfile reads) into the existing folder ``dest``.

    Raises :class:`InputError` for an unreadable or unsafe archive; what was unpacked so far stays in ``dest``
    for the caller to remove (callers unpack into a scratch folder and rename it into place).
    """
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = checked_members(tar, dest, str(archive))
            if hasattr(tarfile, "tar_filter"):
                tar.extractall(dest, members=members, filter="tar")
            else:
                tar.extractall(dest, members=members)  # each member checked as the filter would
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise InputError(f"{archive}: not a readable tar archive ({exc})") from None


def extract_tar_into(archive: Path, target: Path) -> None:
    """Unpack ``archive`` into ``target`` (which must not exist yet) all at once: a scratch folder beside it
    is renamed into place, and removed when unpacking fails, so no half-unpacked folder is ever left."""
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    partial.mkdir(parents=True, exist_ok=True)
    try:
        extract_tar(archive, partial)
        partial.replace(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
