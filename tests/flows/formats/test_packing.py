"""The zip a folder upload stores: what ``zipfile`` would write, entry for entry and byte for byte, with short files
stored rather than deflated."""

from __future__ import annotations

import io
import os
import random
import zipfile
from pathlib import Path

import pytest

from sudoless.flows.formats import archive
from sudoless.flows.formats.archive import STORED_BELOW, pack_dir, unpack_zip


def _folder(root: Path) -> dict[str, tuple[bytes, bool]]:
    """A folder of files of every kind the packing treats apart: short and long, text and noise, empty, executable,
    nested, a name that is not ASCII. Returns its files by project path: (bytes, executable)."""
    rnd = random.Random(7)
    files = {
        "a.job": (b"type=command\ncommand=true\n", False),
        "b.job": (b"type=command\ncommand=true\ndependencies=a\n" * 8, False),
        "empty.properties": (b"", False),
        "run.sh": (b"#!/bin/sh\necho hi\n", True),
        "sub/deep/\u00e9t\u00e9.job": (b"type=command\ncommand=echo \xc3\xa9\n", False),
        "sub/noise.bin": (rnd.randbytes(70_000), False),
        "sub/text.txt": (b"".join(b"line %d of a longer file\n" % i for i in range(5_000)), True),
        "edge/under.txt": (b"x" * (STORED_BELOW - 1), False),
        "edge/at.txt": (b"x" * STORED_BELOW, False),
    }
    for name, (data, executable) in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o755 if executable else 0o644)
    return files


def _as_zipfile_writes(files: dict[str, tuple[bytes, bool]]) -> bytes:
    """The zip ``zipfile`` writes for ``files`` in the order of their parts, as pack_dir describes its entries."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as written:
        for name in sorted(files, key=lambda name: tuple(name.split("/"))):
            data, executable = files[name]
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_STORED if len(data) < STORED_BELOW else zipfile.ZIP_DEFLATED
            written.writestr(info, data)
    return out.getvalue()


@pytest.mark.parametrize("writer", ["own", "zipfile"])
def test_the_packed_zip_is_what_zipfile_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str) -> None:
    """pack_dir writes a folder's zip itself (one pass, no header written twice); a folder beyond its limits is
    zipped by ``zipfile``: both give the bytes ``zipfile`` gives, so a version's MD5 says the same whichever wrote
    it, and both unpack to the folder's files and modes."""
    files = _folder(tmp_path / "p")
    if writer == "zipfile":
        monkeypatch.setattr(archive, "_SMALL_FILES", 0)
    packed = pack_dir(tmp_path / "p", tmp_path / "p.zip", copy_to=tmp_path / "copy", keep=(".job",))
    assert packed.archive.read_bytes() == _as_zipfile_writes(files)
    assert packed.kept == {name: data for name, (data, _) in files.items() if name.endswith(".job")}
    unpacked = unpack_zip(packed.archive, tmp_path / "unpacked")
    for root in (unpacked, tmp_path / "copy"):
        found = {
            path.relative_to(root).as_posix(): (path.read_bytes(), bool(path.stat().st_mode & 0o100))
            for path in root.rglob("*")
            if path.is_file()
        }
        assert found == files


def test_short_files_are_stored_and_longer_ones_deflated(tmp_path: Path) -> None:
    """A file shorter than STORED_BELOW (a short .job file, which deflates to about its own size) is stored as it is;
    from STORED_BELOW bytes on, deflated."""
    files = _folder(tmp_path / "p")
    with zipfile.ZipFile(pack_dir(tmp_path / "p", tmp_path / "p.zip").archive) as packed:
        methods = {info.filename: info.compress_type for info in packed.infolist()}
        assert packed.testzip() is None
    assert methods == {
        name: zipfile.ZIP_STORED if len(data) < STORED_BELOW else zipfile.ZIP_DEFLATED
        for name, (data, _) in files.items()
    }
    assert methods["a.job"] == methods["edge/under.txt"] == zipfile.ZIP_STORED
    assert methods["edge/at.txt"] == methods["b.job"] == zipfile.ZIP_DEFLATED


def test_an_empty_folder_packs_to_an_empty_zip(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    packed = pack_dir(tmp_path / "p", tmp_path / "p.zip")
    assert packed.archive.read_bytes() == _as_zipfile_writes({})
    assert sorted(os.listdir(tmp_path)) == ["p", "p.zip"]


@pytest.mark.parametrize("listed", [0, 1, 99_999, 100_000, 100_001, 300_000])
def test_a_file_is_read_to_its_end_whatever_size_was_listed(tmp_path: Path, listed: int) -> None:
    """pack_dir reads each file with ``os.read`` from the size its listing gave: a file grown or shrunk since is
    read to its end all the same, as ``open(path, "rb").read()`` reads it."""
    data = random.Random(5).randbytes(100_000) + b"x" * (2 << 20)
    path = tmp_path / "f"
    path.write_bytes(data)
    assert archive._read_file(str(path), listed) == data
    path.write_bytes(b"")
    assert archive._read_file(str(path), listed) == b""
