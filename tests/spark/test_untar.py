"""Safe unpacking of environment archives, on interpreters with and without ``extractall(filter=...)``."""

from __future__ import annotations

import io
import stat
import tarfile
from pathlib import Path

import pytest

from sudoless.errors import InputError
from sudoless.spark.untar import extract_tar, extract_tar_into


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def file_member(name: str, data: bytes = b"x", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, data


def link_member(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def test_an_environment_unpacks_with_links_kept(tmp_path: Path) -> None:
    archive = make_tar(
        tmp_path / "env.tar.gz",
        [
            file_member("bin/python3.11", b"#!", 0o755),
            link_member("bin/python", "python3.11"),
            link_member("bin/base", "/usr/bin/python3"),
            file_member("lib/x.py", b"print(1)", 0o6777),
        ],
    )
    dest = tmp_path / "out"
    dest.mkdir()
    extract_tar(archive, dest)
    assert (dest / "bin" / "python").resolve() == (dest / "bin" / "python3.11").resolve()
    assert str((dest / "bin" / "base").readlink()) == "/usr/bin/python3"  # reported by verify, not refused
    mode = (dest / "lib" / "x.py").stat().st_mode
    assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_IWGRP | stat.S_IWOTH)


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ([file_member("../escape.txt")], "outside the folder"),
        ([file_member("/etc/evil")], "absolute path"),
        ([link_member("up", ".."), file_member("up/escape.txt")], "outside the folder"),
        ([link_member("etc", "/etc"), file_member("etc/evil")], "outside the folder"),
        ([link_member("hard", "../../etc/passwd", tarfile.LNKTYPE)], "hard link"),
    ],
    ids=["dotdot", "absolute", "through-relative-link", "through-absolute-link", "hard-link"],
)
def test_unsafe_members_are_refused_by_name(tmp_path: Path, members: list, words: str) -> None:
    archive = make_tar(tmp_path / "bad.tar.gz", members)
    dest = tmp_path / "deep" / "out"
    dest.mkdir(parents=True)
    with pytest.raises(InputError, match=words) as caught:
        extract_tar(archive, dest)
    assert str(archive) in str(caught.value)
    assert not (tmp_path / "deep" / "escape.txt").exists()


def test_a_device_file_is_refused(tmp_path: Path) -> None:
    info = tarfile.TarInfo("dev/null")
    info.type = tarfile.CHRTYPE
    archive = make_tar(tmp_path / "dev.tar.gz", [(info, None)])
    with pytest.raises(InputError, match="device file"):
        extract_tar(archive, tmp_path)


def test_a_failed_unpack_leaves_no_folder_behind(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "abc"
    bad = make_tar(tmp_path / "bad.tar.gz", [file_member("ok.txt"), file_member("../../x")])
    with pytest.raises(InputError):
        extract_tar_into(bad, target)
    assert not target.exists() and list((tmp_path / "cache").iterdir()) == []
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(InputError, match="not a readable tar archive"):
        extract_tar_into(tmp_path / "junk.tar.gz", target)
    assert list((tmp_path / "cache").iterdir()) == []
    extract_tar_into(make_tar(tmp_path / "good.tar.gz", [file_member("ok.txt", b"fine")]), target)
    assert (target / "ok.txt").read_text() == "fine"
