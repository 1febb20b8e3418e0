"""Run the test suite the way our users run sudoless: as an unprivileged OS user, on the system's Python.

``./dev test`` calls this when it runs as root (CI does): the tests that need root (marked ``rootless``:
they create OS users of their own) run as root, and everything else runs here, as a fresh user, in a copy
of this working tree in its home, set up by ``./dev`` with the system Python (``/usr/bin/python3``; on
Debian 12 that is 3.11.2, the oldest Python the project claims). The output streams to the terminal; the
exit code is the suite's. The user and everything it left running are removed at the end.

    python tests/as_user.py [--python /usr/bin/python3] -- ./dev test -m "not rootless"
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.osuser import User, created_user, run, user_command  # noqa: E402
from support.worktree import copy_worktree  # noqa: E402

# What reaches the user from root's environment: how CI is flagged, where the services are, how many pytest
# workers to start and whether ./dev has already linted and type-checked this tree (then the user's run does not
# repeat it); PIP_* settings say how to reach the package registry.
PASSED = ("CI", "SUDOLESS_TEST_MARIADB", "SUDOLESS_TEST_POSTGRES", "SUDOLESS_TEST_WORKERS", "SUDOLESS_TEST_CHECKED")


def copy_for(user: User) -> Path:
    """This working tree in the user's home, owned by the user."""
    clone = copy_worktree(user.home / "sudoless")
    run("chown", ["chown", "-R", f"{user.name}:", str(clone)], timeout=300)
    return clone


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="/usr/bin/python3", help="the Python ./dev sets the venv up with")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="what to run in the copy, after --")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    if not Path(args.python).is_file():
        print(f"as_user: {args.python} not found; give the system Python with --python", file=sys.stderr)
        return 2
    with created_user(prefix="slci", tools=("git", "chown")) as user:
        clone = copy_for(user)
        env = {key: os.environ[key] for key in PASSED if key in os.environ}
        env.update({key: value for key, value in os.environ.items() if key.startswith("PIP_")})
        env["PYTHON"] = args.python
        script = f"cd {shlex.quote(str(clone))} && {shlex.join(command)}"
        print(
            f"as_user: running as {user.name} (uid {user.uid}) with {args.python}: {shlex.join(command)}",
            file=sys.stderr,
            flush=True,
        )
        return subprocess.run(user_command(user, script, env), cwd=user.home, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
