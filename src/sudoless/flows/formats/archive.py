"""Safe unpacking of project zips: no path traversal, no links, bounded size and file count.

A project zip comes from users over HTTP, so every entry is checked before anything is written, and the
result appears atomically: the archive is unpacked into a temporary sibling directory that is renamed into
place only when every entry was written.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from sudoless.errors import ArchiveError

_RAISE = (
    "make the project smaller, or have an admin raise project_max_mb / project_max_files "
    "(SUDOLESS_PROJECT_MAX_MB, SUDOLESS_PROJECT_MAX_FILES)"
)


def check_members(archive: zipfile.ZipFile, name: str, max_bytes: int, max_files: int) -> list[zipfile.ZipInfo]:
    """Return the entries to extract, refusing anything unsafe before a byte is written."""
    infos = archive.infolist()
    if len(infos) > max_files:
        raise ArchiveError(
            f"{name}: {len(infos)} entries, more than the quota of {max_files} files per project version; {_RAISE}"
        )
    total = 0
    for info in infos:
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
            raise ArchiveError(f"{name}: entry '{info.filename}' points outside the project; refusing to unpack")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"{name}: entry '{info.filename}' is a symbolic link; links are not allowed")
        total += info.file_size
        if total > max_bytes:
            raise ArchiveError(
                f"{name}: unpacks to more than {max_bytes} bytes, the quota per project version; {_RAISE}"
            )
    return infos


def check_archive(source: Path, max_bytes: int, max_files: int) -> None:
    """Refuse ``source`` when it breaks a rule of :func:`check_members`, without unpacking it."""
    try:
        with zipfile.ZipFile(source) as archive:
            check_members(archive, source.name, max_bytes, max_files)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"{source.name}: not a readable zip file ({exc})") from None


def unpack_zip(source: Path, dest: Path, max_bytes: int = 1 << 30, max_files: int = 20_000) -> Path:
    """Unpack ``source`` into the new directory ``dest`` (which must not exist) and return ``dest``."""
    if dest.exists():
        raise ArchiveError(f"{dest}: already exists; refusing to unpack over it")
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"{source.name}: not a readable zip file ({exc})") from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        with archive:
            written = 0
            for info in check_members(archive, source.name, max_bytes, max_files):
                target = staging / info.filename.replace("\\", "/")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(target, "wb") as out:
                    # The declared sizes were checked; count real bytes too, since headers can lie.
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > max_bytes:
                            raise ArchiveError(
                                f"{source.name}: unpacks to more than {max_bytes} bytes, "
                                f"the quota per project version; {_RAISE}"
                            )
                        out.write(chunk)
                mode = (info.external_attr >> 16) & 0o777
                if mode & 0o100:
                    target.chmod(0o755)
        staging.rename(dest)
    except zipfile.BadZipFile as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ArchiveError(f"{source.name}: corrupt zip ({exc})") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def pack_dir(
    source: Path,
    dest: Path,
    copy_to: Path | None = None,
    max_bytes: int | None = None,
    max_files: int | None = None,
) -> Path:
    """Zip a project directory deterministically (sorted entries, fixed timestamps), keeping exec bits.

    Regular files only: links and what lies below a linked folder are left out. ``copy_to`` (a folder that
    must not exist) also receives every file as it is packed, with the mode :func:`unpack_zip` would give it:
    the archive's files from the same bytes, without unpacking it again (an upload keeps them as the
    version's unpacked copy). A folder over ``max_files`` files or ``max_bytes`` bytes (the quotas
    :func:`check_members` applies to a zip) is refused before a byte is written, so an oversized folder is
    neither zipped nor copied.
    """
    files = _regular_files(source)
    if max_files is not None and len(files) > max_files:
        raise ArchiveError(
            f"{source.name}: {len(files)} files, more than the quota of {max_files} files per project version; {_RAISE}"
        )
    if max_bytes is not None and sum(size for *_, size in files) > max_bytes:
        raise ArchiveError(f"{source.name}: more than {max_bytes} bytes, the quota per project version; {_RAISE}")
    tmp = dest.with_name(f".{dest.name}.tmp")
    if copy_to is not None:
        os.mkdir(copy_to, 0o700)  # as unpack_zip's staging folder
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for parts, path, executable, _ in files:
            name = "/".join(parts)
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as stream:
                data = stream.read()
            archive.writestr(info, data)
            if copy_to is not None:
                target = copy_to.joinpath(*parts)
                if len(parts) > 1:
                    target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "xb") as out:
                    out.write(data)
                    if executable:
                        os.fchmod(out.fileno(), 0o755)
    tmp.replace(dest)
    return dest


def _regular_files(source: Path) -> list[tuple[tuple[str, ...], str, bool, int]]:
    """(path in the project as its parts, path, executable, size) of every regular file under ``source``, in the order
    of their parts, without following a link (``os.walk`` and one ``lstat`` a file: ``Path.rglob`` with
    ``is_file`` and ``is_symlink`` took four ``stat`` calls and ``pathlib``'s parsing for each)."""
    found = []
    for folder, _, names in os.walk(source):
        base = Path(folder).relative_to(source).parts
        for name in names:
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
            except OSError:  # gone since the folder was listed
                continue
            if stat.S_ISREG(info.st_mode):
                found.append(((*base, name), path, bool(info.st_mode & stat.S_IXUSR), info.st_size))
    found.sort(key=lambda item: item[0])
    return found
