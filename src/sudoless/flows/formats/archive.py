"""Safe unpacking of project zips: no path traversal, no links, bounded size and file count.

A project zip comes from users over HTTP, so every entry is checked before anything is written, and the
result appears atomically: the archive is unpacked into a temporary sibling directory that is renamed into
place only when every entry was written.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import struct
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from sudoless.descriptors import write_all
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
        _check_entry_name(name, info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"{name}: entry '{info.filename}' is a symbolic link; links are not allowed")
        total += info.file_size
        if total > max_bytes:
            raise ArchiveError(
                f"{name}: unpacks to more than {max_bytes} bytes, the quota per project version; {_RAISE}"
            )
    return infos


def _check_entry_name(name: str, entry: str) -> None:
    """Refuse an entry name that would be written outside the folder it is unpacked in (or, with a drive
    letter's colon, outside it on Windows)."""
    path = PurePosixPath(entry.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise ArchiveError(f"{name}: entry '{entry}' points outside the project; refusing to unpack")


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


#: the largest folder :func:`pack_dir` zips itself, by files and bytes; beyond either, ``zipfile`` writes the zip
#: (which adds the ZIP64 records a zip of more than 65,535 entries or 2 GiB needs)
_SMALL_FILES = 0xFFFF
_SMALL_BYTES = 1 << 30
_ZIP64_LIMIT = (1 << 31) - 1
#: files shorter than this are stored as they are, not deflated: a short ``.job`` file deflates to about its own
#: size, and setting zlib up for it (a 64 KiB table cleared) cost as much as the rest of its packing
STORED_BELOW = 256
#: a local file header, a central directory entry and the end record, as ``zipfile`` packs them
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")
#: ``zipfile``'s ZipInfo defaults: version 2.0 needed and made by, on this system
_VERSION = 20
_SYSTEM = 0 if sys.platform == "win32" else 3
#: 1980-01-01 00:00:00 (the fixed timestamp of every entry) in MS-DOS date and time
_DOS_DATE, _DOS_TIME = (0 << 9) | (1 << 5) | 1, 0
_UTF8_NAME = 0x800


class _ZipWriter:
    """A zip written in one pass, byte for byte what ``zipfile.ZipFile(..., "w", ZIP_DEFLATED)`` writes for the same
    entries added with ``writestr`` (a ``ZipInfo`` dated 1980-01-01, mode 0644 or 0755, deflated or stored as
    :func:`_method` says): ``zipfile`` spent most of a 300-file upload's packing in Python, writing each local header
    twice (a placeholder, then sought back to) and setting a compressor up per entry. Only for at most
    :data:`_SMALL_FILES` entries and an archive under 2 GiB, which need no ZIP64 record (:data:`_SMALL_BYTES` of
    files, deflate adding a few bytes per 16 KiB)."""

    __slots__ = ("central", "offset", "stream")

    def __init__(self, stream: io.BufferedRandom) -> None:
        self.stream = stream
        self.offset = 0
        self.central: list[bytes] = []

    def add(self, name: str, data: bytes, executable: bool) -> None:
        try:
            encoded, flags = name.encode("ascii"), 0
        except UnicodeEncodeError:
            encoded, flags = name.encode("utf-8"), _UTF8_NAME
        crc = zlib.crc32(data)
        size = len(data)
        method = _method(data)
        if method == zipfile.ZIP_STORED:
            packed, packed_size = data, size
        else:  # zipfile's compressobj(Z_DEFAULT_COMPRESSION, DEFLATED, -15) and flush, in one call
            packed = zlib.compress(data, -1, -15)
            packed_size = len(packed)
        header = _LOCAL.pack(
            b"PK\x03\x04", _VERSION, 0, flags, method, _DOS_TIME, _DOS_DATE, crc, packed_size, size,
            len(encoded), 0,
        )  # fmt: skip
        end = self.offset + len(header) + len(encoded) + packed_size
        if end > _ZIP64_LIMIT:  # a file grew past the sizes listed before packing
            raise ArchiveError(f"{name}: the project grew past 2 GiB while it was packed; upload it again")
        self.stream.write(header + encoded + packed)
        attributes = _mode(executable) << 16
        entry = _CENTRAL.pack(
            b"PK\x01\x02", _VERSION, _SYSTEM, _VERSION, 0, flags, method, _DOS_TIME, _DOS_DATE, crc, packed_size, size,
            len(encoded), 0, 0, 0, 0, attributes, self.offset,
        )  # fmt: skip
        self.central.append(entry + encoded)
        self.offset = end

    def close(self) -> None:
        directory = b"".join(self.central)
        count = len(self.central)
        self.stream.write(directory)
        self.stream.write(_END.pack(b"PK\x05\x06", 0, 0, count, count, len(directory), self.offset, 0))


class _ZipFileWriter:
    """The same entries written by ``zipfile``, for a folder too large for :class:`_ZipWriter`."""

    __slots__ = ("archive",)

    def __init__(self, stream: io.BufferedRandom) -> None:
        self.archive = zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED)

    def add(self, name: str, data: bytes, executable: bool) -> None:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = _mode(executable) << 16
        info.compress_type = _method(data)
        self.archive.writestr(info, data)

    def close(self) -> None:
        self.archive.close()


def _method(data: bytes) -> int:
    """How an entry of ``data`` is stored: deflated, unless shorter than :data:`STORED_BELOW` bytes."""
    return zipfile.ZIP_STORED if len(data) < STORED_BELOW else zipfile.ZIP_DEFLATED


def _mode(executable: bool) -> int:
    return 0o100755 if executable else 0o100644


class Packed:
    """What :func:`pack_dir` made: the zip, and the bytes of the files it was asked to keep by project path.
    (A plain class: a dataclass costs its module's import a code generation.)"""

    __slots__ = ("archive", "kept")

    def __init__(self, archive: Path, kept: dict[str, bytes]) -> None:
        self.archive = archive
        self.kept = kept


def pack_dir(
    source: Path,
    dest: Path,
    copy_to: Path | None = None,
    max_bytes: int | None = None,
    max_files: int | None = None,
    keep: tuple[str, ...] = (),
) -> Packed:
    """Zip a project directory deterministically (sorted entries, fixed timestamps), keeping exec bits; files of
    :data:`STORED_BELOW` bytes or more are deflated, shorter ones stored.

    Regular files only: links and what lies below a linked folder are left out. ``copy_to`` (a folder that
    must not exist) also receives every file as it is packed, with the mode :func:`unpack_zip` would give it
    made read-only, as :func:`~sudoless.flows.workspace.link_tree` makes it at the version's first run: the
    archive's files from the same bytes, without unpacking it again (an upload keeps them as the version's
    unpacked copy). A folder over ``max_files`` files or ``max_bytes`` bytes (the quotas :func:`check_members`
    applies to a zip, counted again on the bytes read, and its rule on entry names) is refused before a byte
    is written, or while writing when a file grew meanwhile, so an oversized folder is neither zipped nor
    copied, and the zip needs no second reading by :func:`check_archive`. The bytes of the files whose name
    ends with one of ``keep`` come back in :attr:`Packed.kept` (the upload parses ``.job`` and
    ``.properties`` files from them instead of reading the copy again).
    """
    files = _regular_files(source)
    if max_files is not None and len(files) > max_files:
        raise ArchiveError(
            f"{source.name}: {len(files)} files, more than the quota of {max_files} files per project version; {_RAISE}"
        )
    if max_bytes is not None and sum(size for *_, size in files) > max_bytes:
        raise ArchiveError(f"{source.name}: more than {max_bytes} bytes, the quota per project version; {_RAISE}")
    for parts, *_ in files:
        name = "/".join(parts)
        # os.walk's names are neither absolute nor "..": only a backslash (a separator to the rule) or a colon can
        # break it; named as check_archive named it, after the zip
        if "\\" in name or ":" in name:
            _check_entry_name(dest.name, name)
    tmp = dest.with_name(f".{dest.name}.tmp")
    copy_base = None
    if copy_to is not None:
        os.mkdir(copy_to, 0o700)  # as unpack_zip's staging folder
        copy_base = os.fspath(copy_to) + "/"
    kept: dict[str, bytes] = {}
    total = 0
    small = len(files) <= _SMALL_FILES and sum(size for *_, size in files) <= _SMALL_BYTES
    with open(tmp, "w+b") as stream:
        archive = _ZipWriter(stream) if small else _ZipFileWriter(stream)
        for parts, path, executable, size in files:
            name = "/".join(parts)
            data = _read_file(path, size)
            total += len(data)
            if max_bytes is not None and total > max_bytes:
                raise ArchiveError(
                    f"{source.name}: more than {max_bytes} bytes, the quota per project version; {_RAISE}"
                )
            archive.add(name, data, executable)
            if keep and name.endswith(keep):
                kept[name] = data
            if copy_base is not None:
                _write_copy(copy_base, name, len(parts) > 1, data, executable)
        archive.close()
    tmp.replace(dest)
    return Packed(dest, kept)


def _read_file(path: str, size: int) -> bytes:
    """The bytes of the file at ``path``, listed with ``size`` bytes, to its end (which may be further), as
    ``open(path, "rb").read()`` reads them without the file object (its set-up, and an ``fstat`` and ``ioctl``)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        first = os.read(fd, size + 1)
        if not first:
            return first
        chunks = [first]
        while chunk := os.read(fd, 1 << 20):  # to the end: a short read, or a file grown since it was listed
            chunks.append(chunk)
        return first if len(chunks) == 1 else b"".join(chunks)
    finally:
        os.close(fd)


def _write_copy(base: str, name: str, nested: bool, data: bytes, executable: bool) -> None:
    """Create ``name`` (its project path) under the folder ``base`` (ending with ``/``) with ``data``, read-only from
    the start (0444, 0555 when executable): what ``link_tree`` would otherwise change with one ``chmod`` a file at
    the version's first run. ``nested``: the file is in a subfolder, made when missing. The new file's descriptor
    writes whatever its mode; one ``open`` and ``write`` on strings instead of a file object."""
    target = base + name
    if nested:
        os.makedirs(os.path.dirname(target), exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o444)
    try:
        write_all(fd, data)
        if executable:
            os.fchmod(fd, 0o555)  # as unpack_zip's 0755 and link_tree's removal of the write bits, whatever the umask
    finally:
        os.close(fd)


def _regular_files(source: Path) -> list[tuple[tuple[str, ...], str, bool, int]]:
    """(path in the project as its parts, path, executable, size) of every regular file under ``source``, in the order
    of their parts, without following a link (``os.walk`` and one ``lstat`` a file: ``Path.rglob`` with
    ``is_file`` and ``is_symlink`` took four ``stat`` calls and ``pathlib``'s parsing for each)."""
    found = []
    for folder, _, names in os.walk(source):
        base = Path(folder).relative_to(source).parts
        prefix = folder if folder.endswith("/") else folder + "/"
        for name in names:
            path = prefix + name
            try:
                info = os.lstat(path)
            except OSError:  # gone since the folder was listed
                continue
            if stat.S_ISREG(info.st_mode):
                found.append(((*base, name), path, bool(info.st_mode & stat.S_IXUSR), info.st_size))
    found.sort(key=lambda item: item[0])
    return found
