"""The README is the user's first test: every command block in it runs, top to bottom, in a fresh copy of
the repository, with a new home and nothing on PATH but the system's, as the user running the suite (in CI:
an unprivileged user on the system Python, see tests/as_user.py).

The blocks run as one bash script, so what one block sets up (the activated venv, a file, a started server)
the next can use. Two kinds of line are not run as they stand:

- ``./dev test`` is this very run; it is skipped.
- a command whose comment says ``Ctrl-C`` serves until stopped (``./dev demo``, ``sudoless server``...): it
  runs in the background, the script goes on once it answers on its port (``--port N``, 8443 with
  ``--https``, else 8081; commands without a port once they have stayed up a few seconds), and it is stopped
  when another server takes its port or the script ends.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.services import unavailable
from support.worktree import REPO, copy_worktree

pytestmark = pytest.mark.slow

README = REPO / "README.md"
TIMEOUT = 30 * 60
CLEAN_PATH = "/usr/local/bin:/usr/bin:/bin"
FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass(frozen=True)
class Command:
    line: int  # 1-based, in README.md
    text: str  # continuation lines joined


def command_blocks(text: str) -> list[list[Command]]:
    """The ``sh`` blocks of a Markdown text, each as its commands (comment-only and blank lines dropped)."""
    blocks: list[list[Command]] = []
    current: list[Command] | None = None
    pending: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        fence = FENCE.match(line)
        if fence:
            if current is None and fence.group(1) in ("sh", "bash", "console"):
                current = []
            elif current is not None:
                blocks.append(current)
                current = None
            continue
        if current is None:
            continue
        if pending is not None:
            start, joined = pending
            joined += "\n" + line
        else:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            start, joined = number, line
        if line.endswith("\\"):
            pending = (start, joined)
        else:
            pending = None
            current.append(Command(start, joined))
    return blocks


def serving_port(command: str) -> int | None:
    """The port a serving command answers on, or None for one without (an executor)."""
    match = re.search(r"--port[ =](\d+)", command) or re.search(r"\bPORT=(\d+)", command)
    if match:
        return int(match.group(1))
    if "--https" in command:
        return 8443
    if "./dev demo" in command or re.search(r"\bsudoless server\b", command):
        return 8081
    return None


def script_for(blocks: list[list[Command]], logs: Path) -> str:
    """One bash script running every command, each announced with its README line."""
    lines = [
        "set -euo pipefail",
        "declare -A SERVED=()",
        'stop() { kill -- -"$1" 2>/dev/null || kill "$1" 2>/dev/null || true;'
        ' while kill -0 "$1" 2>/dev/null; do sleep 0.2; done; }',
        'stop_all() { for pid in "${SERVED[@]}"; do stop "$pid"; done; }',
        "trap stop_all EXIT",
        "trap 'echo \"README.md line $LINE failed: $COMMAND\" >&2' ERR",
        # A serving command: background it (in its own process group) and wait until it answers or dies.
        'serve() { local port=$1 log=$2; shift 2; [ -n "${SERVED[$port]:-}" ] && stop "${SERVED[$port]}";'
        ' set -m; bash -c "$*" >"$log" 2>&1 & SERVED[$port]=$!; set +m;'
        " for _ in $(seq 1 1800); do"
        '  kill -0 "${SERVED[$port]}" 2>/dev/null || { echo "exited early:"; tail -50 "$log"; return 1; } >&2;'
        '  if [ "$port" = none ]; then sleep 3; kill -0 "${SERVED[$port]}" 2>/dev/null && return 0; fi;'
        '  curl -sk -o /dev/null "http://127.0.0.1:$port/" && return 0;'
        '  curl -sk -o /dev/null "https://127.0.0.1:$port/" && return 0;'
        '  sleep 0.5; done; echo "no answer on port $port:" >&2; tail -50 "$log" >&2; return 1; }',
    ]
    for number, block in enumerate(blocks):
        for command in block:
            text = command.text
            lines.append(f"LINE={command.line}; COMMAND={shlex.quote(text.splitlines()[0])}")
            lines.append(f'echo "+ README.md:{command.line}: $COMMAND" >&2')
            if re.match(r"^\./dev test\b", text.strip()):
                lines.append("echo '  (skipped: this test run is ./dev test)' >&2")
            elif "Ctrl-C" in text:
                code = re.sub(r"\s+#.*$", "", text, flags=re.S).strip()
                port = serving_port(code)
                lines.append(f"serve {port or 'none'} {logs / f'serve-{command.line}.log'} {shlex.quote(code)}")
            else:
                lines.append(text)
        lines.append(f"echo '# block {number + 1} done' >&2")
    return "\n".join(lines) + "\n"


def test_readme_starts_with_the_two_commands() -> None:
    first = command_blocks(README.read_text())[0]
    assert [c.text.split("#")[0].strip() for c in first] == ["./dev demo", "./dev test"]


def test_command_blocks_parse_continuations_and_skip_comments() -> None:
    text = "intro\n```sh\n# a comment\nfoo --a \\\n    --b   # note\n\nbar\n```\n```python\nnot run\n```\n"
    assert command_blocks(text) == [[Command(4, "foo --a \\\n    --b   # note"), Command(7, "bar")]]
    assert serving_port("sudoless server --port 9000   # Ctrl-C stops") == 9000
    assert serving_port("sudoless cert --host localhost && sudoless server --https") == 8443
    assert serving_port("sudoless executor --db managed") is None


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stop_what_was_started(clone: Path, env: dict[str, str], root: Path) -> None:
    """The README leaves its MySQL server (and, if it failed half-way, a Spark cluster) running: stop them the
    way a user would, then end whatever still runs from the test's folder."""
    sudoless = clone / ".venv" / "bin" / "sudoless"
    if sudoless.exists():
        for command in (["mysql", "stop"], ["spark", "cluster", "stop"]):
            subprocess.run([str(sudoless), *command], cwd=clone, env=env, capture_output=True, timeout=300, check=False)
    for signal in ("-TERM", "-KILL"):
        subprocess.run(["pkill", signal, "-f", str(root)], capture_output=True, check=False)
        time.sleep(2)


@pytest.mark.timeout(TIMEOUT + 60)
def test_every_readme_command_runs_in_a_fresh_clone(tmp_path: Path) -> None:
    blocks = command_blocks(README.read_text())
    ports = {port for block in blocks for c in block if "Ctrl-C" in c.text and (port := serving_port(c.text))}
    busy = sorted(port for port in ports if not _port_free(port))
    if busy:
        unavailable(f"the README's servers need ports {busy}, which something else holds")
    clone = copy_worktree(tmp_path / "sudoless")
    home, logs = tmp_path / "home", tmp_path / "logs"
    home.mkdir()
    logs.mkdir()
    script = logs / "readme.sh"
    script.write_text(script_for(blocks, logs))
    env = {"HOME": str(home), "PATH": CLEAN_PATH, "LANG": "C.UTF-8", "USER": os.environ.get("USER", "user")}
    env.update({k: v for k, v in os.environ.items() if k.startswith(("PIP_", "http_", "https_", "no_proxy"))})
    try:
        done = subprocess.run(
            ["bash", str(script)], cwd=clone, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the README's commands ran over {TIMEOUT}s; last output:\n{str(exc.stderr)[-4000:]}")
    finally:
        stop_what_was_started(clone, env, tmp_path)
    trace = done.stderr[-6000:]
    assert done.returncode == 0, f"a README command failed (exit {done.returncode}):\n{trace}\n{done.stdout[-3000:]}"
    assert done.stderr.count("# block ") == len(blocks), trace
