"""``sudoless server`` and ``sudoless cert`` as processes: first start, start time, port in use, HTTPS."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from sudoless.config import Settings
from sudoless.errors import InputError
from sudoless.server.tls import check_pair, make_self_signed
from support.eventually import eventually

SUDOLESS = Path(sys.executable).with_name("sudoless")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUDOLESS_")}
    return {**env, "SUDOLESS_HOME": str(home)}


class Running:
    """A ``sudoless server`` process, stopped with SIGINT like Ctrl-C."""

    def __init__(self, home: Path, *args: str, scheme: str = "http", verify: bool | ssl.SSLContext = True) -> None:
        self.port = free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.verify = verify
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [str(SUDOLESS), "server", "--port", str(self.port), *args],
            env=env_for(home),
            stderr=subprocess.PIPE,
            text=True,
        )
        self.ready_after = self._wait()

    def _wait(self, timeout: float = 30.0) -> float:
        def answered() -> float:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.process.stderr.read()}")
            httpx.get(self.url + "/status", verify=self.verify, timeout=2)
            return time.monotonic() - self.started

        return eventually(
            answered,
            lambda _: True,
            timeout=timeout,
            interval=0.01,
            ignoring=(httpx.TransportError,),
            what=f"the server answering {self.url}/status",
        )

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        return code, self.process.stderr.read()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    if not SUDOLESS.exists():
        pytest.skip(f"the sudoless command is not installed next to {sys.executable}")
    return tmp_path / "home"


def test_first_start_creates_admin_once(home: Path) -> None:
    first = Running(home)
    code, err = first.stop()
    assert code == 0, err
    lines = err.splitlines()
    password = lines[0].removeprefix("sudoless: created user 'admin' with password ")
    assert lines[0] != password and len(password) == 20
    saved = Settings(home=home).admin_password_file
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert saved.read_text().strip() == password
    assert any(line.startswith(f"sudoless: serving {first.url}") for line in lines)
    # Second start: the admin exists; no password is shown; the saved one logs in.
    second = Running(home)
    login = httpx.post(second.url, data={"action": "login", "username": "admin", "password": password})
    assert "session.id" in json.loads(login.text)
    code, err = second.stop()
    assert code == 0 and "password" not in err


def test_port_in_use_is_one_line_and_exit_code_2(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(SUDOLESS), "server", "--port", str(port)],
            env=env_for(home),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr == (
        f"sudoless: port {port} is in use on 127.0.0.1; stop the program listening there "
        "or choose another port with --port\n"
    )


def test_https_with_the_cert_command(home: Path) -> None:
    made = subprocess.run(
        [str(SUDOLESS), "cert", "--host", "azkaban.example.test"],
        env=env_for(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    cert, key = home / "tls" / "server.crt", home / "tls" / "server.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    again = subprocess.run([str(SUDOLESS), "cert"], env=env_for(home), capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "already exists; use --force" in again.stderr
    trust = ssl.create_default_context(cafile=str(cert))
    server = Running(home, "--https", scheme="https", verify=trust)
    try:
        response = httpx.post(
            server.url,
            data={
                "action": "login",
                "username": "admin",
                "password": Settings(home=home).admin_password_file.read_text().strip(),
            },
            verify=trust,
        )
        assert "session.id" in json.loads(response.text)
        assert "Secure" in response.headers["set-cookie"]
        by_name = httpx.get(f"https://localhost:{server.port}/status", verify=trust)
        assert by_name.status_code == 200
        for answer in (response, by_name, httpx.get(f"https://localhost:{server.port}/index", verify=trust)):
            assert answer.headers["strict-transport-security"] == "max-age=31536000"  # HSTS under --https
        with pytest.raises(httpx.TransportError):  # plain HTTP is not served on the TLS port
            httpx.get(f"http://127.0.0.1:{server.port}/status", timeout=5).raise_for_status()
    finally:
        server.stop()


def test_self_signed_certificate(tmp_path: Path) -> None:
    cert_path, key_path = make_self_signed(tmp_path, ["build.example.org", "10.1.2.3"])
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["build.example.org", "localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["10.1.2.3", "127.0.0.1", "::1"]
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    check_pair(cert_path, key_path)
    other_cert, _ = make_self_signed(tmp_path / "other")
    with pytest.raises(InputError, match="not a PEM certificate and matching key"):
        check_pair(other_cert, key_path)
    context = ssl.create_default_context(cafile=str(cert_path))
    assert context.cert_store_stats()["x509"] == 1


def test_http_worker_processes_share_the_port_and_the_sessions(home: Path) -> None:
    """``--workers 3``: three processes answer on one port; a session made through one works through the
    others (sessions live in the database); Ctrl-C stops them all."""
    server = Running(home, "--workers", "3")
    password = Settings(home=home).admin_password_file.read_text().strip()
    session = httpx.post(server.url, data={"action": "login", "username": "admin", "password": password}).json()[
        "session.id"
    ]
    pids: set[int] = set()
    for _ in range(200):
        # A new connection each time: the kernel hands each accept to whichever process is waiting.
        with httpx.Client() as client:
            pids.add(client.get(server.url + "/status", params={"session.id": session}).json()["pid"])
            listing = client.get(server.url + "/index", params={"ajax": "fetchuserprojects", "session.id": session})
            assert listing.status_code == 200 and "projects" in listing.json(), listing.text
        if len(pids) == 3:
            break
    assert server.process.pid in pids and len(pids) == 3, pids
    code, err = server.stop()
    assert code == 0, err
    assert "3 HTTP processes" in err
    for pid in pids - {server.process.pid}:
        assert not Path(f"/proc/{pid}").exists(), f"worker {pid} outlived the server"


FROZEN = """
import gc, sys, threading, urllib.request
from pathlib import Path
from sudoless.config import Settings
from sudoless.server.serve import Server

server = Server(Settings(home=Path(sys.argv[1])), port=0, freeze_heap=sys.argv[2] == "1")
server.start()
after_start = gc.get_freeze_count()
thread = threading.Thread(target=server.serve, daemon=True)
thread.start()
server.wait_started(60)
after_workers = gc.get_freeze_count()
port = server.socket.getsockname()[1]
with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=60) as answer:
    assert answer.status == 200
after_api = gc.get_freeze_count()
kept = [[index] for index in range(20_000)]  # what a serving process keeps: its caches
gc.collect()
after_full = gc.get_freeze_count()
server.stop()
thread.join(60)
print(after_start, after_workers, after_api, after_full)
"""


@pytest.mark.parametrize("freeze", [True, False])
def test_a_started_server_keeps_its_start_up_heap_out_of_full_collections(home: Path, freeze: bool) -> None:
    """What start-up made is frozen (gc.freeze): a full collection of it stopped every request for 100-300 ms
    every few seconds, the p99 of benchmarks/server_latency.py on MariaDB. Once the executor and the
    scheduler run, what their start built is frozen too, and so is the JSON API once its first request built it,
    and what each full collection leaves. A test process serving in a thread opts out."""
    done = subprocess.run(
        [sys.executable, "-c", FROZEN, str(home), "1" if freeze else "0"],
        env=env_for(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    after_start, after_workers, after_api, after_full = map(int, done.stdout.split())
    if freeze:
        assert after_start > 10_000  # the modules, the application, the pool
        assert after_workers > after_start
        # the JSON API, built on its first request (FastAPI, Pydantic, the models): its p99 at 200 requests a
        # second was 47-82 ms while unfrozen, 9-14 ms frozen (benchmarks/README.md)
        assert after_api > after_workers + 10_000
        # and what a full collection finds alive, so that the next one walks only what came after it
        assert after_full >= after_api + 20_000
    else:
        assert after_start == after_workers == after_api == after_full == 0
