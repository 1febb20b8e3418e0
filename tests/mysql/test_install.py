"""``sudoless mysql install``: the loader check on real binaries, the library lookup and private package
lists against the real apt, the tarball line where apt-get is missing, and the whole path as an
unprivileged user who cannot see /usr/sbin: install, init, start, write, stop, start, read back, stop.

The apt tests fetch packages from the machine's apt sources (about 10 MB); CI has the network.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sudoless.config import Settings
from sudoless.mysql.apt import Apt, extract, package_files, upstream_version
from sudoless.mysql.install import complete_libraries, find_library_packages, library_dirs, tarball_instructions
from sudoless.mysql.loader import elf_files, missing_libraries, parse_ldd
from support.osuser import explain, try_as_user
from support.services import unavailable

if TYPE_CHECKING:
    from mysql.conftest import Cli

SUDOLESS = Path(sys.executable).with_name("sudoless")
HIDDEN_SBIN = "/usr/local/bin:/usr/bin:/bin"  # the user's PATH: no /usr/sbin, no /usr/local/mysql/bin
INSTALL_TIMEOUT = 900


def _needs_apt() -> None:
    missing = [tool for tool in ("apt-get", "apt-cache", "dpkg-deb") if shutil.which(tool) is None]
    if missing:
        unavailable(f"needs {', '.join(missing)} (Debian or Ubuntu)")


def _dependency_of(binary: Path) -> tuple[str, Path]:
    """A library ``binary`` really needs (not the C library or the loader), and where the loader finds it."""
    done = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True)
    for line in done.stdout.splitlines():
        match = re.match(r"\s*(lib\S+\.so\.\d+)\s+=>\s+(/\S+)", line)
        if match and not match.group(1).startswith(("libc.", "libm.", "libpthread.", "libdl.")):
            return match.group(1), Path(match.group(2))
    pytest.skip(f"{binary} needs no library besides the C library")


def test_the_loader_names_a_missing_library_until_its_folder_is_on_the_path(tmp_path: Path) -> None:
    """A real binary whose needed library is renamed in its dynamic section (same length, so the ELF stays
    valid): ldd reports it not found, and finds it once a folder holding it is on the library path."""
    if shutil.which("ldd") is None:
        unavailable("needs ldd (libc-bin)")
    original = Path(shutil.which("ls") or "/bin/ls").resolve()
    soname, library = _dependency_of(original)
    renamed = soname[:3] + "zzz" + soname[6:]
    data = original.read_bytes()
    assert data.count(soname.encode() + b"\0") >= 1
    patched = tmp_path / "bin" / "ls"
    patched.parent.mkdir()
    patched.write_bytes(data.replace(soname.encode() + b"\0", renamed.encode() + b"\0"))
    patched.chmod(0o755)
    script = tmp_path / "bin" / "script"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)

    assert missing_libraries([original]) == {}
    assert missing_libraries([script]) == {}, "a script has no libraries to miss"
    assert elf_files([tmp_path / "bin"]) == [patched]
    assert missing_libraries([patched, original]) == {renamed: [patched]}

    libs = tmp_path / "libs"
    libs.mkdir()
    shutil.copy2(library, libs / renamed)
    assert missing_libraries([patched], [libs]) == {}


def test_parse_ldd() -> None:
    output = (
        "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibaio.so.1 => not found\n"
        "\tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x00007f)\n\tliburing.so.2 => not found\n"
        "\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n"
    )
    assert parse_ldd(output) == ["libaio.so.1", "liburing.so.2"]
    assert parse_ldd("\tnot a dynamic executable\n") == []


def test_upstream_version() -> None:
    assert upstream_version("1:10.11.19-0+deb12u1") == "10.11.19"
    assert upstream_version("1:10.6.18-0ubuntu0.22.04.1") == "10.6.18"
    assert upstream_version("11.4.4+maria~deb12") == "11.4.4"


def test_tarball_line_where_apt_get_is_missing(tmp_path: Path) -> None:
    """No apt-get on PATH: one line naming the archive's tarball and the folder to unpack it in, exit 2."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {**os.environ, "PATH": str(bin_dir), "SUDOLESS_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [str(SUDOLESS), "mysql", "install", "--version", "10.11.10"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    if os.uname().machine == "x86_64":
        url = (
            "https://archive.mariadb.org/mariadb-10.11.10/bintar-linux-systemd-x86_64/"
            "mariadb-10.11.10-linux-systemd-x86_64.tar.gz"
        )
        assert url in lines[0]
        assert f"-C {tmp_path / 'home' / 'mysql' / 'dist' / '10.11.10'}" in lines[0]
    assert not (tmp_path / "home").exists(), "nothing is written when nothing can be installed"
    assert "full version" in tarball_instructions(Settings(home=tmp_path), "10.11")


def test_init_on_a_terminal_offers_the_install(tmp_path: Path) -> None:
    """With no server visible, init on a terminal asks whether to fetch MariaDB; 'n' leaves the one line and
    exit 2, and nothing in the home."""
    env = {**os.environ, "SUDOLESS_HOME": str(tmp_path / "home"), "SUDOLESS_MYSQL_PATH": str(tmp_path), "TERM": "dumb"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: sudoless on the pseudo-terminal
        os.execve(str(SUDOLESS), [str(SUDOLESS), "mysql", "init"], env)
    output = b""
    deadline = time.monotonic() + 60
    while b"Fetch MariaDB" not in output and time.monotonic() < deadline:
        if select.select([fd], [], [], 1.0)[0]:
            output += os.read(fd, 4096)
    assert b"(no root needed)? [Y/n]" in output, output
    os.write(fd, b"n\n")
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 2, output
    assert b"run 'sudoless mysql install'" in output, output
    assert not (tmp_path / "home" / "mysql" / "dist").exists()


@pytest.mark.slow
def test_a_missing_library_is_found_in_the_servers_dependencies(tmp_path: Path) -> None:
    """Given libaio.so.1 as missing, the lookup fetches the package that holds it (libaio1, or libaio1t64
    on newer releases), confirmed by its file list, and unpacks it into a library folder."""
    _needs_apt()
    apt, known = Apt.for_home(tmp_path, print)
    server = Apt.package_name("mariadb-server-core", known)
    candidates = apt.dependencies([server])
    fetched: dict[str, Path] = {}
    debs = tmp_path / "debs"
    debs.mkdir()
    found = find_library_packages(apt, ["libaio.so.1"], candidates, fetched, debs)
    assert len(found) == 1 and found[0].name.startswith("libaio1"), (found, sorted(fetched))
    assert any(Path(member).name == "libaio.so.1" for member in package_files(found[0]))
    tree = tmp_path / "tree"
    extract(found[0], tree)
    assert any((directory / "libaio.so.1").exists() for directory in library_dirs(tree)), library_dirs(tree)


@pytest.mark.slow
def test_the_install_loop_fetches_what_the_loader_misses(tmp_path: Path) -> None:
    """The whole library round on a real binary: ls made to need libelogind.so.0 instead of libselinux.so.1
    (same length; libelogind0 is the alternative to libsystemd0 among MariaDB's dependencies, so it is a
    candidate, and hosts with systemd lack it). The loop finds the package, unpacks it, and the loader is
    satisfied with the unpacked folder on the library path."""
    _needs_apt()
    original = Path(shutil.which("ls") or "/bin/ls").resolve()
    data = original.read_bytes()
    if b"libselinux.so.1\0" not in data or Path("/lib/x86_64-linux-gnu/libelogind.so.0").exists():
        pytest.skip("needs an ls linked to libselinux.so.1 on a host without libelogind.so.0 (Debian with systemd)")
    tree, debs = tmp_path / "tree", tmp_path / "debs"
    debs.mkdir()
    patched = tree / "usr" / "bin" / "ls"
    patched.parent.mkdir(parents=True)
    patched.write_bytes(data.replace(b"libselinux.so.1\0", b"libelogind.so.0\0"))
    patched.chmod(0o755)
    assert set(missing_libraries([patched], library_dirs(tree))) == {"libelogind.so.0"}

    apt, known = Apt.for_home(tmp_path, print)
    server = Apt.package_name("mariadb-server-core", known)
    steps: list[str] = []
    used = complete_libraries(apt, tree, [patched], [server], debs, steps.append)
    assert used == ["libelogind0"], (used, steps)
    assert steps == ["the loader cannot find libelogind.so.0; fetching them"]
    assert missing_libraries([patched], library_dirs(tree)) == {}


@pytest.mark.slow
def test_private_package_lists_for_a_machine_that_never_ran_apt_get_update(tmp_path: Path) -> None:
    _needs_apt()
    lists = tmp_path / "lists"
    apt = Apt.private(lists)
    assert not lists.exists() or not apt.mariadb_names()
    apt.update(lists)
    assert "mariadb-server-core" in apt.mariadb_names() or any(
        name.startswith("mariadb-server-core-") for name in apt.mariadb_names()
    )
    assert apt.versions(Apt.package_name("mariadb-server-core", apt.mariadb_names()))


@pytest.mark.slow
@pytest.mark.rootless
@pytest.mark.timeout(INSTALL_TIMEOUT + 600)
def test_install_then_a_server_with_no_system_server_visible(cli: Cli) -> None:
    _needs_apt()
    env = {"SUDOLESS_MYSQL_PATH": HIDDEN_SBIN}

    def sudoless(args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return try_as_user(cli.user, f"{cli.bin}/sudoless {args}", timeout, env)

    def ok(args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        done = sudoless(args, timeout)
        assert done.returncode == 0, explain(f"sudoless {args}", done)
        return done

    home = cli.user.home / ".sudoless"
    try:
        refused = sudoless("mysql init")
        assert refused.returncode == 2, explain("init with no server visible should exit 2", refused)
        assert refused.stderr.strip().count("\n") == 0, explain("init: not one line", refused)
        assert "sudoless mysql install" in refused.stderr, refused.stderr
        assert not (home / "mysql" / "default").exists()

        began = time.monotonic()
        installed = json.loads(ok("mysql install --json", INSTALL_TIMEOUT).stdout)
        print(
            f"sudoless mysql install as {cli.user.name}: {time.monotonic() - began:.1f} s "
            f"(reported {installed['seconds']} s), library packages {installed['library_packages']}"
        )
        root = Path(installed["root"])
        assert installed["already"] is False and root.parent == home / "mysql" / "dist", installed
        assert not list(root.parent.glob(".partial-*")), "the scratch folder is gone"
        again = json.loads(ok("mysql install --json").stdout)
        assert again["already"] is True and again["root"] == installed["root"]

        created = json.loads(ok("mysql init --json").stdout)
        assert Path(created["server"]).is_relative_to(root), created
        assert Path(created["client"]).is_relative_to(root), created
        ok("mysql start")
        ok(
            'mysql shell -- -e "CREATE TABLE sudoless.notes (id INT PRIMARY KEY, body TEXT); '
            "INSERT INTO sudoless.notes VALUES (1, 'written before a restart')\""
        )
        ok("mysql stop")
        ok("mysql start")
        status = json.loads(ok("mysql status --json").stdout)
        assert status["state"] == "running"
        assert status["uptime_seconds"] == round(status["uptime_seconds"], 2), status
        read = ok("mysql shell -- --batch --skip-column-names -e 'SELECT body FROM sudoless.notes WHERE id = 1'")
        assert read.stdout.strip() == "written before a restart", read.stdout
        stopped = json.loads(ok("mysql stop --json").stdout)
        assert stopped["method"] == "SHUTDOWN", stopped
    finally:
        sudoless("mysql stop")
